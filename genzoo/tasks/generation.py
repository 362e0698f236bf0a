"""Generation tasks: sample, complete/inpaint, trajectory, interpolate, replay buffer.

Each task needs one declared capability (:mod:`genzoo.models.capabilities`), takes the options that the
capability's method accepts (its keyword-only parameters: ``--temperature``, ``--steps``, …), and returns an
artifact (:mod:`genzoo.tasks.artifacts`). Nothing here names a model family: a new family gets every task its
capabilities allow. ``genzoo sample`` is a thin layer over :func:`run_task`; Python and the studio call it too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import ConfigError
from ..models.capabilities import (AsksQuestions, Capability, Completes, FillsMask, Inpaints, Interpolates, NextToken,
                                   ReplayBuffer, Samples, Trajectories, accepted_options, supports, why_not)
from ..sampling import GRID_LIMIT, sample_in_chunks
from .artifacts import Artifact, ImageGrid, Text

MASKS = ("bottom", "top", "left", "right", "center")


@dataclass
class Request:
    """What a caller asks of a task. ``options`` are the model's own (None or absent = the model's default)."""

    n: int = 64
    seed: int = 0
    label: int | None = None
    nrow: int = 8
    options: dict[str, Any] = field(default_factory=dict)
    split: str = "test"                 # completion/inpainting: where the images come from
    start_row: int | None = None
    mask: str | None = None
    prompts: list[str] = field(default_factory=list)   # next-words, fill-mask: the prompts to tabulate
    top: int = 10
    progress: Callable[[int, int], None] | None = None
    images: Tensor | None = None        # translation: the caller's images (model space) instead of held-out ones
    image_names: list[str] | None = None

    def given_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.options.items() if v is not None}


class Task:
    """One generation task: ``needs`` a capability, reads its options from ``method``'s signature."""

    kind: ClassVar[str]
    needs: ClassVar[type[Capability]]
    method: ClassVar[str]
    what: ClassVar[str]              # for messages: "sampling", "a trajectory", …
    flag: ClassVar[str]              # the genzoo sample flag that asks for it
    one_picture: ClassVar[bool] = True
    fields: ClassVar[tuple[str, ...]] = ()   # the Request fields besides n, seed, label that it reads

    def capability(self, req: Request) -> type[Capability]:
        return self.needs

    def method_name(self, req: Request) -> str:
        return self.method

    def check(self, model: Any, req: Request) -> None:
        """Refuse, before any work, a request this model cannot serve (naming what it can)."""
        reason = why_not(model, self.capability(req))
        if reason is not None:
            raise ConfigError(f"{self.what}: {reason}")
        accepted = accepted_options(getattr(model, self.method_name(req)))
        unknown = [k for k in req.given_options() if k not in accepted]
        if unknown:
            raise ConfigError(self._not_accepted(model, unknown, accepted))
        opts = req.given_options()
        if opts.get("temperature") is not None and opts["temperature"] <= 0:
            raise ConfigError("--temperature must be > 0")
        if opts.get("steps") is not None and opts["steps"] < 1:
            raise ConfigError("--steps must be >= 1")
        if opts.get("resample") is not None and opts["resample"] < 1:
            raise ConfigError("--resample must be >= 1")
        if self.one_picture and req.n > GRID_LIMIT:
            raise ConfigError(f"-n {req.n}: {self.what} draws one picture, of at most {GRID_LIMIT} images; plain "
                              f"sampling takes any -n")
        model.check_options(opts)

    def run(self, ctx: Any, req: Request) -> Artifact:
        raise NotImplementedError

    def _not_accepted(self, model: Any, unknown: list[str], accepted: list[str]) -> str:
        """Which options do not apply, what this task takes, and which other task of the model takes them."""
        flags = ", ".join(option_flag(k) for k in unknown)
        takes = ", ".join(option_flag(k) for k in accepted) or "no options"
        text = (f"{flags} {'does' if len(unknown) == 1 else 'do'} not apply to {self.what} with model family "
                f"{model.family!r} ({self.what} takes {takes})")
        elsewhere = [t for t in TASKS.values() if t is not self and supports(model, t.needs)
                     and set(unknown) <= set(accepted_options(getattr(model, t.method)))]
        if elsewhere:
            text += f"; {flags} {'applies' if len(unknown) == 1 else 'apply'} to " + " and ".join(
                f"{t.what} ({t.flag})" for t in elsewhere)
        return text


# Options whose genzoo sample flag is not --NAME (a switch that turns a default off).
_FLAGS = {"kv_cache": "--no-kv-cache"}


def option_flag(name: str) -> str:
    """The ``genzoo sample`` flag that sets the option ``name`` (``top_k`` → ``--top-k``)."""
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


def condition_for(model: Any, req: Request) -> Tensor | None:
    """``--label``'s one-hot condition for ``req.n`` items (None: the model's default, classes in turn)."""
    if req.label is None:
        return None
    k = getattr(model.config, "num_classes", 0)
    if not k:
        raise ConfigError("--label needs a class-conditional model (model.num_classes > 0)")
    if not 0 <= req.label < k:
        raise ConfigError(f"--label must be in [0, {k - 1}]")
    return F.one_hot(torch.full((req.n,), req.label), k).float()


def describe(ctx: Any, req: Request) -> str:
    return f"{ctx.recipe}, seed {req.seed}" + ("" if req.label is None else f", class {req.label}")


class SampleTask(Task):
    kind, needs, method, what, flag, one_picture = "sample", Samples, "sample", "sampling", "the default", False

    def run(self, ctx: Any, req: Request) -> Artifact:
        model = ctx.model
        g = torch.Generator().manual_seed(req.seed)
        samples = sample_in_chunks(model, req.n, generator=g, condition=condition_for(model, req),
                                   progress=req.progress, **req.given_options())
        cycled = "" if req.label is not None or not getattr(model.config, "num_classes", 0) else ", classes in turn"
        first = f" (the first {GRID_LIMIT} shown)" if req.n > GRID_LIMIT else ""
        return model.samples_artifact(samples, title=f"{describe(ctx, req)}: {req.n} samples{cycled}{first}",
                                      nrow=req.nrow, shown=GRID_LIMIT)


class CompleteTask(Task):
    """Keep part of held-out images and generate the rest: the rows from ``start_row`` down (``Completes``) or a
    ``mask`` region (``Inpaints``). The grid shows original | given part (grey where generated) | completion."""

    kind, needs, method, what, flag = "complete", Completes, "complete", "completion/inpainting", "--complete/--mask"
    fields = ("split", "start_row", "mask")

    def capability(self, req: Request) -> type[Capability]:
        return Completes if req.mask in (None, "bottom") else Inpaints

    def method_name(self, req: Request) -> str:
        return "complete" if req.mask in (None, "bottom") else "inpaint"

    def check(self, model: Any, req: Request) -> None:
        if req.mask is not None and req.mask not in MASKS:
            raise ConfigError(f"--mask must be one of {', '.join(MASKS)}, got {req.mask!r}")
        if req.start_row is not None and req.mask not in (None, "bottom"):
            raise ConfigError("--start-row applies to --complete and --mask bottom")
        super().check(model, req)

    def run(self, ctx: Any, req: Request) -> Artifact:
        model = ctx.model
        g = torch.Generator().manual_seed(req.seed)
        batch = ctx.batch(req.split, req.n)
        condition = condition_for(model, req)
        if condition is not None:
            condition = condition[:len(batch)]          # --label: one row per image actually taken
        elif getattr(model.config, "num_classes", 0) and batch.y is not None:
            condition = model.condition_of(batch)       # complete each image under its own label
        h = batch.x.shape[-2]
        start = h // 2 if req.start_row is None else req.start_row
        if not 0 <= start <= h:
            raise ConfigError(f"--start-row must be in [0, {h}]")
        opts = req.given_options()
        if self.capability(req) is Completes:
            known = torch.ones(batch.x.shape, dtype=torch.float32)
            known[:, :, start:] = 0
            done = model.complete(batch.x, start, generator=g, condition=condition, **opts)
            region = f"rows {start}-{h - 1}"
        else:
            known = model.mask(len(batch), req.mask, req.start_row)
            done = model.inpaint(batch.x, known, generator=g, condition=condition, **opts)
            region = f"the {req.mask} region"
        original = model.to_unit(batch.x).float().cpu()
        given = original * known + 0.5 * (1 - known)  # grey where the model has to fill in
        images = torch.stack([original, given, done.float().cpu()], dim=1).flatten(0, 1)
        return ImageGrid(images, nrow=3, col_labels=["original", "given", "completion"],
                         title=f"{describe(ctx, req)}: {req.split} images, {region} generated (grey in 'given')")


class TrajectoryTask(Task):
    kind, needs, method, what, flag = "trajectory", Trajectories, "trajectory", "a trajectory", "--trajectory"

    def run(self, ctx: Any, req: Request) -> Artifact:
        model = ctx.model
        g = torch.Generator().manual_seed(req.seed)
        traj = model.trajectory(req.n, 10, generator=g, condition=condition_for(model, req), **req.given_options())
        labelled_rows = any(traj.row_labels)
        return ImageGrid(traj.images, nrow=len(traj.steps), col_labels=[traj.step_label(t) for t in traj.steps],
                         row_labels=list(traj.row_labels) * req.n if labelled_rows else None,
                         title=f"{describe(ctx, req)}: {traj.description}", info={"steps_shown": list(traj.steps)})


class InterpolateTask(Task):
    kind, needs, method, what, flag = "interpolate", Interpolates, "interpolate", "interpolation", "--interpolate"

    def run(self, ctx: Any, req: Request) -> Artifact:
        model = ctx.model
        g = torch.Generator().manual_seed(req.seed)
        pairs, points = max(1, req.n // 10), 10
        condition = condition_for(model, req)
        images = model.interpolate(pairs, points, generator=g,
                                   condition=None if condition is None else condition[:pairs], **req.given_options())
        return ImageGrid(images, nrow=points, col_labels=[f"{w:.2f}" for w in torch.linspace(0, 1, points).tolist()],
                         row_labels=[f"pair {i + 1}" for i in range(pairs)],
                         title=f"{describe(ctx, req)}: {model.interpolation}; header: weight of the second draw")


class BufferTask(Task):
    kind, needs, method, what, flag = "buffer", ReplayBuffer, "buffer_samples", "the replay buffer", "--from-buffer"

    def run(self, ctx: Any, req: Request) -> Artifact:
        images = ctx.model.buffer_samples(req.n, generator=torch.Generator().manual_seed(req.seed))
        return ImageGrid(images, nrow=req.nrow, title=f"{describe(ctx, req)}: {req.n} random chains of the training "
                                                      f"replay buffer")


# Foster 1st ed. Fig. 6.10's prompts (the top-10 next-word tables of the Aesop LSTM).
BOOK_PROMPTS = ["the fox and the stag . there was a", "the dog and the hare . a dog was lying",
                "the eagle and the sea .", "the fox and the snake . one day a fox",
                "the farmer and his sheep . a farmer was", "the lion said ,", "the lion said , and"]


class PromptTablesTask(Task):
    """One table per prompt (:meth:`table`). A prompt the model cannot read (a word outside its vocabulary) is
    reported in its table, not fatal -- another corpus lacks some of the default prompts' words; when every
    prompt the caller gave is unreadable, the first reason is the error."""

    one_picture = False
    fields = ("prompts", "top")
    default_prompts: ClassVar[list[str]]
    title: ClassVar[str]             # formatted with top=

    def table(self, model: Any, prompt: str, top: int) -> tuple[str, dict[str, Any]]:
        """The table of one prompt as text, and as JSON fields."""
        raise NotImplementedError

    def run(self, ctx: Any, req: Request) -> Artifact:
        tables, rows, errors = [], [], []
        for prompt in req.prompts or self.default_prompts:
            try:
                text, row = self.table(ctx.model, prompt, req.top)
            except ConfigError as e:
                text, row = f'"{prompt}" → cannot be read: {e}', {"error": str(e)}
                errors.append(e)
            tables.append(text)
            rows.append({"prompt": prompt, **row})
        if req.prompts and len(errors) == len(rows):
            raise errors[0]
        return Text(tables, title=f"{ctx.recipe}: {self.title.format(top=req.top)}", info={"tables": rows})


def _shown(top: list[tuple[str, float]]) -> str:
    return ", ".join(f"{w or '(end)'} {100 * p:.1f}%" for w, p in top)


class NextWordsTask(PromptTablesTask):
    """Foster Fig. 6.10: the ``top`` likeliest next tokens and their probabilities after each prompt."""

    kind, needs, method, what, flag = "next-words", NextToken, "top_next", "next-word tables", "--next-words"
    default_prompts, title = BOOK_PROMPTS, "the {top} likeliest next tokens (Foster Fig. 6.10)"

    def table(self, model: Any, prompt: str, top: int) -> tuple[str, dict[str, Any]]:
        best = model.top_next(prompt, top)
        return f'"{prompt}" → {_shown(best)}', {"next": [[w, round(p, 4)] for w, p in best]}


# Prompts for the fill-mask tables when none is given (words of the fortunes corpora).
MASK_PROMPTS = ['the [MASK] said , " what is it ? "', "you will be [MASK] by a tall dark stranger .",
                "q: what do you call a man with no [MASK] ?", "there was a young [MASK] who said ,"]


class FillMaskTask(PromptTablesTask):
    """BERT's cloze test (Devlin et al. 2019; Foster 1st ed. §9): for each ``[MASK]`` of each prompt, the
    ``top`` likeliest tokens with their probabilities."""

    kind, needs, method, what, flag = "fill-mask", FillsMask, "fill_mask", "fill-mask tables", "--fill-mask"
    default_prompts, title = MASK_PROMPTS, "the {top} likeliest tokens at each [MASK]"

    def table(self, model: Any, prompt: str, top: int) -> tuple[str, dict[str, Any]]:
        fills = model.fill_mask(prompt, top)
        lines = [f'"{prompt}"'] + [f"  [MASK] {i + 1} → {_shown(best)}" for i, best in enumerate(fills)]
        return "\n".join(lines), {"masks": [[[w, round(p, 4)] for w, p in best] for best in fills]}


class QuestionsTask(Task):
    """Foster 1st ed. ch. 6 (Listing 6.9): questions for a document. ``--prompt`` is the document; its answer spans
    are the ``--answer`` options (words of the document or ``START:END`` token ranges) or, without them, the spans
    the answer tagger chooses. Without ``--prompt``, the first ``-n`` held-out items, each asked about its reference
    answer and shown beside its reference question. This is what ``genzoo sample`` does for a model that asks
    questions and does not sample."""

    kind, needs, method, what, flag = "questions", AsksQuestions, "questions", "question generation", "the default"
    one_picture = False
    fields = ("split",)

    def check(self, model: Any, req: Request) -> None:
        document = req.options.get("prompt")
        super().check(model, Request(**{**req.__dict__, "options": {k: v for k, v in req.options.items()
                                                                     if k != "prompt"}}))
        if document is not None and not document.strip():
            raise ConfigError("--prompt is empty: give the document's text")
        if req.options.get("answer") and document is None:
            raise ConfigError("--answer needs the document it is part of: give it with --prompt")

    def run(self, ctx: Any, req: Request) -> Artifact:
        from ..data.qa import qa_words

        model = ctx.model
        opts = {k: v for k, v in req.given_options().items() if k != "prompt"}
        document = req.options.get("prompt")
        references: list[str | None]
        if document is not None:
            docs, spans, references = [qa_words(document)], None, [None]
            source = "the --prompt document"
        else:
            data = ctx.data(req.split)
            items = range(min(req.n, len(data)))
            docs = [data.words_of(i) for i in items]
            spans = [[tuple(data.spans[i].tolist())] for i in items]
            references = [" ".join(data.references[i]) for i in items]
            source = f"the first {len(docs)} {req.split} items, each at its reference answer"
        results = model.questions(docs, spans, **opts)
        lines, rows = [], []
        for doc, ref in zip(results, references):
            for q in doc["questions"]:
                a, b = q["span"]
                lines.append(f"[{a}:{b}] {q['answer']}\n  → {q['question']}" + (f"\n  reference: {ref}" if ref else ""))
                rows.append({**q, "reference": ref, "chosen_by": doc["chosen_by"]})
        if document is not None:
            probs = results[0]["probabilities"]
            lines.insert(0, "answer probability per word: " + " ".join(
                f"{w}:{p:.2f}" for w, p in zip(results[0]["words"], probs)))
        beam = opts.get("beam", model.config.beam)
        how = "greedy" if beam == 1 else f"beam search, width {beam}"
        return Text(lines, title=f"{ctx.recipe}: questions for {source} ({how})", info={"questions": rows})


TASKS: dict[str, Task] = {t.kind: t for t in (SampleTask(), CompleteTask(), TrajectoryTask(), InterpolateTask(),
                                               BufferTask(), NextWordsTask(), FillMaskTask(), QuestionsTask())}



def default_task(model: Any) -> str:
    """What ``genzoo sample`` does without a mode flag: sample, or for a model that cannot sample the first task it
    declares whose flag is "the default" (a question generator asks questions)."""
    if isinstance(model, Samples):
        return "sample"
    return next((k for k, t in TASKS.items() if t.flag == "the default" and supports(model, t.needs)), "sample")


def gallery_task(model: Any) -> Task | None:
    """The task the trainer draws progress galleries with for a model that cannot sample (a translator's grid of
    fixed held-out images), or None."""
    return next((t for t in TASKS.values() if getattr(t, "gallery", False) and supports(model, t.needs)), None)


def available_tasks(model: Any) -> list[str]:
    """The tasks this model can serve."""
    return [k for k, t in TASKS.items() if supports(model, t.needs)]


def run_task(ctx: Any, kind: str, req: Request) -> Artifact:
    """Check ``req`` against the run's model and run task ``kind`` (inference mode, with sampler progress bars
    on a terminal)."""
    from ..schedulers.samplers import sampler_progress

    if kind not in TASKS:
        raise ConfigError(f"unknown task {kind!r}; tasks: {', '.join(TASKS)}")
    if req.n < 1:
        raise ConfigError("-n must be >= 1")
    if kind == "sample":
        kind = default_task(ctx.model)
    task = TASKS[kind]
    task.check(ctx.model, req)
    with torch.inference_mode(), sampler_progress():
        return task.run(ctx, req)


def interactive_writer(model: Any, prompt: str, read: Callable[[str], str], show: Callable[[str], None],
                       top: int = 10, max_tokens: int = 200, seed: int = 0) -> str:
    """Foster ch. 6's human-in-the-loop writer: after each step the model shows its ``top`` likeliest next
    tokens; the person types a number to take one, a word of the vocabulary, Enter to let the model draw
    (temperature 1), or ``q`` to stop. Returns the text written (the prompt included)."""
    if not supports(model, NextToken):
        raise ConfigError(why_not(model, NextToken) or "")
    tok = model.need_tokenizer()
    words = tok.split(prompt) if prompt else []
    g = torch.Generator().manual_seed(seed)
    for _ in range(max_tokens):
        text = " ".join(words)
        choices = model.top_next(text, top)
        show(f"\n{tok.decode(tok.encode(text), tidy=True) if words else '(start)'}")
        show("  ".join(f"[{i}] {w or '(end)'} {100 * p:.1f}%" for i, (w, p) in enumerate(choices)))
        answer = read("pick a number, type a word, Enter for the model's draw, q to stop").strip()
        if answer.lower() == "q":
            break
        if answer == "":
            ids = model.sample(1, generator=g, prompt=text or None, max_tokens=1, temperature=1.0)[0].tolist()
            word = tok.index_word.get(ids[-1], "") if ids and ids[-1] else ""
        elif answer.isdigit() and int(answer) < len(choices):
            word = choices[int(answer)][0]
        else:
            try:
                tok.encode(answer, unknown="error")
            except ConfigError as e:
                show(str(e))
                continue
            word = answer.lower()
        if not word or word == "|":
            break          # the story marker: the model would start a new story
        words.append(word)
    return tok.decode(tok.encode(" ".join(words)), tidy=True) if words else ""
