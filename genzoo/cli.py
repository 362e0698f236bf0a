"""The ``genzoo`` command line: list, summary, train, resume, sample, analyze.

Errors that a user can fix (bad config, missing data, a checkpoint from another model, NaN losses)
are printed as one line naming the cause and the fix, with exit code 2, instead of a traceback.
"""
from __future__ import annotations

import inspect
import json
import os
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__
from .analysis.registry import ANALYSES as ANALYSIS_NAMES

if TYPE_CHECKING:
    from .config import RunConfig


_ERROR_CLASSES = (("genzoo.data.types", "DataError"), ("genzoo.training.checkpoint", "CheckpointError"),
                  ("genzoo.training.loop", "NonFiniteLossError"), ("genzoo.training.runlock", "RunInUseError"))


def _user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions printed as one line. Only modules already imported are asked: an error class whose
    module was never imported cannot have been raised, and importing it would import torch (seconds)."""
    from .config import ConfigError
    loaded = [getattr(sys.modules[m], name) for m, name in _ERROR_CLASSES if m in sys.modules]
    return (ConfigError, *loaded)


def first_sentence(text: str) -> str:
    """The first sentence of a help text: up to a full stop followed by a capital letter, so abbreviations
    such as "ed. ch. 1" or "e.g. 16" do not end it (click's own short help stops at the first ".")."""
    first = " ".join(inspect.cleandoc(text or "").split("\n\n")[0].split())
    match = re.search(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\bcf)\.\s+(?=[A-Z])", first)
    return first[:match.start() + 1] if match else first


class _Command(click.Command):
    def get_short_help_str(self, limit: int = 45) -> str:  # type: ignore[override]
        """The whole first sentence, wrapped by the formatter, instead of click's cut at 45 characters."""
        return self.short_help or first_sentence(self.help or "")


class _Group(click.Group):
    command_class = _Command

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except Exception as e:
            trainer = sys.modules.get("genzoo.training.loop")   # only training raises it: no import here
            if trainer is not None and isinstance(e, trainer.TrainingInterrupted):
                click.echo(f"genzoo: stopped by {e}", err=True)
                sys.exit(e.exit_code)
            if isinstance(e, _user_errors()):
                click.echo(f"genzoo: error: {e}", err=True)
                sys.exit(2)
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genzoo")
def cli() -> None:
    """Train, sample, evaluate and explore generative models (Foster, Géron ch. 17, PixelCNN)."""


@cli.command("list")
def list_cmd() -> None:
    """Recipes, model families and datasets."""
    from .catalog import DATASETS, FAMILIES
    from .config import available_recipes, load_recipe

    recipes = []
    for name in available_recipes():
        raw = load_recipe(name)
        recipes.append((name, f"family={raw['model']['family']}",
                        f"data={(raw.get('data') or {}).get('name', 'fashion-mnist')}"))
    sections = [("Recipes", recipes),
                ("Model families", [(name, doc) for name, (_, doc) in FAMILIES.items()]),
                ("Datasets", [(name, doc) for name, (_, doc) in DATASETS.items()])]
    for i, (title, rows) in enumerate(sections):
        click.echo(("\n" if i else "") + f"{title}:")
        click.echo("\n".join("  " + _columns(row, rows) for row in rows))


def _columns(row: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """``row`` with every column but the last padded to the widest entry of that column in ``rows``."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(row) - 1)]
    return "  ".join([cell.ljust(w) for cell, w in zip(row, widths)] + [row[-1]])


@cli.command("studio")
@click.option("--runs", "runs_dir", type=click.Path(path_type=Path),
              help="The runs folder to serve (default: $GENZOO_RUNS or runs/).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but localhost lets other machines use the studio.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Requests served at once (default: the machine's cores, at most 4); each uses one intra-op thread.")
def studio_command(runs_dir: Path | None, host: str, port: int, workers: int | None) -> None:
    """A local web app and JSON API to browse, compare, sample and explore the runs of a folder.

    Runs, curves, galleries, evaluation numbers, sampling with every option the model declares, and where the model
    has them the latent map, sliders, interpolation, attribute arithmetic and the human-in-the-loop writer."""
    from .config import ConfigError

    runs_dir = runs_dir or Path(os.environ.get("GENZOO_RUNS", "runs"))
    if not runs_dir.is_dir():
        raise ConfigError(f"no runs folder {runs_dir} (give one with --runs; `genzoo train RECIPE` makes runs/)")
    try:
        import uvicorn

        from .studio.app import create_app
    except ImportError as e:
        raise ConfigError(f"genzoo studio needs FastAPI and uvicorn ({e.name} is missing): "
                          f"pip install -e '.[studio]'") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        anywhere = host in ("0.0.0.0", "::")
        click.echo(f"genzoo: warning: the studio is bound to {host}, not localhost: other machines that reach "
                   f"this address can browse the runs and use this machine's CPU"
                   + (" (bound to every address, it answers any Host name: no guard against DNS rebinding; bind "
                      "one address to keep it)" if anywhere else ""), err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"genzoo studio: serving {runs_dir} at http://{shown}:{port}/ (Ctrl-C stops it)")
    import torch

    # One intra-op thread per request and one request per core: concurrent users share the machine without
    # oversubscribing it, and a single request is not at the mercy of OpenMP threads collapsing under other load.
    threads = workers or max(1, min(4, os.cpu_count() or 1))
    torch.set_num_threads(1)
    hosts = ("*",) if host in ("0.0.0.0", "::") else (host,)     # the Host names the studio answers to
    uvicorn.run(create_app(runs_dir, threads=threads, hosts=hosts), host=host, port=port, log_level="warning")


@cli.command("runs")
@click.argument("root", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
def runs_command(root: Path | None, as_json: bool) -> None:
    """List the runs under ROOT (default: runs/): recipe, family, modality, step, throughput, eval headline."""
    from .run_index import as_rows, list_runs

    root = root or Path(os.environ.get("GENZOO_RUNS", "runs"))
    entries = list_runs(root)
    if as_json:
        click.echo(json.dumps(as_rows(entries), indent=2))
        return
    if not entries:
        click.echo(f"no runs under {root} (a run folder holds config.yaml; `genzoo train RECIPE` makes one)")
        return
    rows = [("run", "recipe", "family", "modality", "step", "epoch", "stopped by", "throughput", "eval")]
    for e in entries:
        rows.append((Path(e.path).name, e.recipe, e.family, e.modality.split(" ")[0], str(e.step or "-"),
                     f"{e.epoch}" if e.epoch is not None else "-", e.stopped_by or "(running or killed)",
                     e.throughput or "-", ", ".join(f"{k} {v:g}" for k, v in e.metrics.items()) or e.problem or "-"))
    click.echo("\n".join(_columns(r, rows) for r in rows))


@cli.command()
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override any config field.")
def summary(recipe: str, overrides: tuple[str, ...]) -> None:
    """Per-layer table of RECIPE's networks, then "Total params" and "Trainable params"."""
    cfg = _config(recipe, list(overrides))
    from .models import model_families

    family = model_families()[cfg.model["family"]]
    if any(not cfg.model.get(k) for k in family.data_sized):   # sized by its data: read it (or --set the size)
        from .data import load_data

        cfg.model = family.configure(dict(cfg.model), load_data(cfg.data, family.data_hints(cfg.model)).spec)
    from .runs import build_model_with_stages

    click.echo(build_model_with_stages(cfg.model).summary())


def _train_options(f):
    for opt in reversed([
        click.option("--dataset", help="Dataset name (see `genzoo list`)."),
        click.option("--data-dir", type=click.Path(), help="Folder holding the dataset's files."),
        click.option("--epochs", type=int, help="Epochs to train (replaces a recipe's step budget)."),
        click.option("--max-steps", type=int, help="Stop after N optimizer steps."),
        click.option("--batch-size", type=int),
        click.option("--seed", type=int),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override any config field, e.g. --set model.z_dim=16 --set checkpoint_every=500."),
        click.option("--out", type=click.Path(path_type=Path), help="Run folder (default runs/NNNN_RECIPE)."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
    ]):
        f = opt(f)
    return f


@cli.command()
@click.argument("recipe")
@_train_options
def train(recipe: str, dataset, data_dir, epochs, max_steps, batch_size, seed, overrides, out, no_progress) -> None:
    """Train RECIPE (a recipe name or a YAML file) into a new run folder."""
    cfg = _config(recipe, list(overrides), dataset=dataset, data_dir=data_dir, epochs=epochs,
                  max_steps=max_steps, batch_size=batch_size, seed=seed)
    from . import runs  # torch: only once the config is known to be good

    run_dir, result = runs.train(cfg, out, progress=not no_progress, log=_log if _is_main() else None)
    if result.get("samples") is not None or _is_main():
        click.echo(json.dumps({"run": str(run_dir), **result}, indent=2))


def _config(recipe: str, overrides: list[str], **flags) -> RunConfig:
    """The resolved config, checked (recipe, --set keys and values, family and dataset names) without torch."""
    from .catalog import check_names
    from .config import config_from_recipe

    cfg = config_from_recipe(recipe, overrides, **flags)
    check_names(cfg.model.get("family"), cfg.data.name)
    return cfg


def _check_run(run_dir: Path) -> None:
    """Fail on a folder that is not a trained run (no config, no checkpoint, another family) before torch."""
    from .training.checkpoint import run_checkpoint

    run_checkpoint(run_dir)


def _is_main() -> bool:
    import os
    return os.environ.get("RANK", "0") == "0"


def _log(message: str) -> None:
    click.echo(message, err=True)


def _command_threads() -> None:
    """Intra-op threads for a sampling/evaluation command, chosen for the machine's current load."""
    from .training.threads import set_threads_for_command

    set_threads_for_command()


@cli.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--epochs", type=int, help="New total number of epochs.")
@click.option("--max-steps", type=int, help="New total number of steps.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Change a field that may change on resume: budgets (max_minutes, max_cpu_minutes), learning rates "
                   "(optim.NAME.lr), grad_clip, precision, logging and checkpoint cadence, num_threads.")
@click.option("--no-progress", is_flag=True)
def resume(run_dir: Path, epochs, max_steps, overrides, no_progress) -> None:
    """Continue RUN_DIR from its newest checkpoint, exactly where it stopped."""
    from . import runs

    result = runs.resume(run_dir, epochs, max_steps, progress=not no_progress, overrides=list(overrides),
                         log=_log if _is_main() else None)
    if _is_main():
        click.echo(json.dumps({"run": str(run_dir), **result}, indent=2))


@cli.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-n", "--num", default=64, show_default=True, help="Number of images.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path),
              help="Output folder (default RUN_DIR/samples): writes KIND-SEED.png and KIND-SEED.safetensors (point "
                   "models: KIND-SEED.csv), KIND = sample, complete, trajectory, interpolate or buffer. A path ending "
                   "in .png is taken as the grid's file name.")
@click.option("--label", type=int, help="Class label for conditional models (default: cycle through classes).")
@click.option("--no-ema", is_flag=True, help="Use the raw weights even when EMA weights exist.")
@click.option("--nrow", type=int, default=8, show_default=True)
@click.option("--sampler", help="Autoregressive models: cached (fast) | naive (a full pass per pixel). "
                                "Diffusion models: ddpm (ancestral, HOML eq. 17-8) | ddim.")
@click.option("--temperature", type=float,
              help="Autoregressive models: divide the logits by T (and scale mixture logistics by T); T < 1 is safer. "
                   "Flows: draw z ~ N(0, T²I).")
@click.option("--steps", type=int, help="Diffusion: number of denoising steps (default: the recipe's; T = the full chain). "
                                       "Energy-based models: Langevin steps from uniform noise (default model.sample_steps).")
@click.option("--eta", type=float, help="Diffusion, DDIM: 0 = deterministic, 1 = DDPM-like noise.")
@click.option("--guidance", type=float,
              help="Conditional diffusion: classifier-free guidance scale (1 = conditional, 0 = unconditional, >1 guided).")
@click.option("--complete", "complete", is_flag=True,
              help="Autoregressive and diffusion models: keep the top of -n held-out images and generate the rest; "
                   "the grid shows original | given part | completion per image.")
@click.option("--start-row", type=int, help="With --complete: first generated row (default: half the height).")
@click.option("--mask", type=click.Choice(["bottom", "top", "left", "right", "center"]),
              help="Diffusion: inpaint this region of held-out images (implies --complete; bottom = --complete).")
@click.option("--resample", type=int,
              help="Diffusion inpainting: RePaint resampling — repeat each step this many times (default 1).")
@click.option("--trajectory", is_flag=True,
              help="Diffusion: per image a row of x_t from T to 0 and a row of the predicted x_0 (noise disappearing). "
                   "Energy-based models: per image a row of its Langevin chain from noise to sample.")
@click.option("--interpolate", is_flag=True,
              help="Diffusion: -n/10 rows of 10 images from spherically interpolated starting noise (DDIM, eta 0).")
@click.option("--split", default="test", show_default=True, help="With --complete/--mask: the split to take images from.")
@click.option("--from-buffer", is_flag=True,
              help="Energy-based models: show -n chains from the training replay buffer instead of new chains.")
@click.option("--prompt", "prompts", multiple=True,
              help="Text models: the seed text (the book's seed_text); with --next-words or --fill-mask, repeat it "
                   "for several prompts (default: Fig. 6.10's; for --fill-mask, four fortune-like prompts). "
                   "Question generators: the document to ask about.")
@click.option("--top-k", type=int, help="Text models: draw each token from the k likeliest only.")
@click.option("--top-p", type=float, help="GPT: draw each token from the nucleus, the likeliest tokens whose "
                                          "probabilities sum to p (Holtzman et al. 2020).")
@click.option("--no-kv-cache", is_flag=True, help="GPT: a full forward pass over the context per token instead of "
                                                  "the key/value cache (the same tokens, slower; for measuring).")
@click.option("--max-tokens", type=int, help="Text models: stop a text after this many tokens (default the model's).")
@click.option("--next-words", is_flag=True, help="Text models: the 10 likeliest next words after each --prompt "
                                                 "(Foster Fig. 6.10).")
@click.option("--interactive", is_flag=True, help="Text models: write with the model in the terminal; it shows its "
                                                  "top 10 next words, you pick one or type your own.")
@click.option("--fill-mask", is_flag=True, help="Masked language models: the 10 likeliest tokens at each [MASK] of "
                                                "each --prompt, with their probabilities.")
@click.option("--answer", "answers", multiple=True,
              help="Question generators: an answer in the --prompt document to ask about — its words or a token "
                   "range START:END; repeat for several (default: the spans the answer tagger chooses).")
@click.option("--beam", type=int, help="Question generators: beam width (1 = greedy, the book's).")
@click.option("--threshold", type=float, help="Question generators: the tagger probability above which a word is "
                                              "part of a chosen answer (default the model's, 0.5).")
@click.option("--truncation", type=float, help="Style-based generators: psi in [0, 1] (w = w_mean + psi (w - w_mean); "
                                               "1 = none). BigGAN-style: the threshold t > 0 of the truncated normal z.")
def sample(run_dir: Path, num: int, seed: int, out: Path | None, label: int | None, no_ema: bool, nrow: int,
           sampler: str | None, temperature: float | None, steps: int | None, eta: float | None,
           guidance: float | None, complete: bool, start_row: int | None, mask: str | None, resample: int,
           trajectory: bool, interpolate: bool, split: str, from_buffer: bool, prompts: tuple[str, ...],
           top_k: int | None, top_p: float | None, no_kv_cache: bool, max_tokens: int | None, next_words: bool,
           interactive: bool, fill_mask: bool, answers: tuple[str, ...], beam: int | None,
           threshold: float | None, truncation: float | None) -> None:
    """Draw -n images from RUN_DIR's newest checkpoint: a labelled PNG grid and a .safetensors tensor file."""
    from .config import ConfigError
    from .paths import output_file

    if num < 1:
        raise ConfigError("-n must be >= 1")
    modes = [name for name, on in (("--complete/--mask", complete or mask is not None), ("--trajectory", trajectory),
                                   ("--interpolate", interpolate), ("--from-buffer", from_buffer),
                                   ("--next-words", next_words), ("--interactive", interactive),
                                   ("--fill-mask", fill_mask)) if on]
    if len(modes) > 1:
        raise ConfigError(f"choose one of {', '.join(modes)}")
    kind = ("complete" if complete or mask is not None else "trajectory" if trajectory else
            "interpolate" if interpolate else "buffer" if from_buffer else "next-words" if next_words else
            "interactive" if interactive else "fill-mask" if fill_mask else "sample")
    tables = next_words or fill_mask      # several prompts, each a table
    if len(prompts) > 1 and not tables:
        raise ConfigError("give one --prompt to sample from (several prompts go with --next-words or --fill-mask)")
    # refused now, not after the sampling; a file name of any writer's kind is a file, anything else a folder
    out = output_file(out, run_dir / "samples", f"{kind}-{seed}.png", file_suffixes=(".png", ".txt", ".csv"))
    _check_run(run_dir)

    from .run_context import RunContext
    from .tasks import Request, Text, run_task, write_artifact

    _command_threads()
    options = {"sampler": sampler, "temperature": temperature, "steps": steps, "eta": eta, "guidance": guidance,
               "resample": resample, "top_k": top_k, "top_p": top_p, "kv_cache": False if no_kv_cache else None,
               "max_tokens": max_tokens,
               "prompt": prompts[0] if prompts and not tables else None, "answer": list(answers) or None,
               "beam": beam, "threshold": threshold, "truncation": truncation}
    ctx = RunContext(run_dir, use_ema=not no_ema)
    if interactive:
        from .tasks.generation import interactive_writer

        text = interactive_writer(ctx.model, prompts[0] if prompts else "", read=lambda q: click.prompt(
            q, default="", show_default=False), show=click.echo, seed=seed)
        artifact = Text([text], title=f"{ctx.recipe}: written with the model (--interactive)")
    else:
        request = Request(n=num, seed=seed, label=label, nrow=nrow, options=options, split=split,
                          start_row=start_row, mask=mask, prompts=list(prompts), progress=_chunk_progress(num))
        artifact = run_task(ctx, kind, request)
    result = write_artifact(artifact, out)
    if isinstance(artifact, Text):   # text is for reading: print it before the JSON line
        click.echo(artifact.text)
    click.echo(json.dumps({k: v for k, v in result.items() if k != "tables"}))


@cli.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
@click.option("--direction", help="AB (domain A to B) or BA; with your own IMAGES, the domain they are of "
                                  "(default: every direction the model learned, on held-out images).")
@click.option("-n", "--num", default=8, show_default=True, help="Held-out images per direction (without IMAGES).")
@click.option("--split", default="test", show_default=True, help="Where the held-out images come from.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Output .png file or folder (default RUN_DIR/samples/translate-DIRECTION.png).")
@click.option("--no-ema", is_flag=True, help="Use the raw weights even when EMA weights exist.")
def translate(run_dir: Path, images: tuple[Path, ...], direction: str | None, num: int, split: str,
              out: Path | None, no_ema: bool) -> None:
    """Translate images with RUN_DIR's two-domain model (CycleGAN, pix2pix): your IMAGES files, or -n held-out
    images of each direction. Writes the evaluation grid (original, translated, reconstructed and identity for a
    CycleGAN, the true counterpart when the data is paired) as a PNG and every image as .safetensors."""
    from .config import ConfigError
    from .paths import output_file

    if num < 1:
        raise ConfigError("-n must be >= 1")
    name = f"translate-{direction or 'all'}{'-files' if images else ''}.png"
    out = output_file(out, run_dir / "samples", name)
    _check_run(run_dir)
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        raise ConfigError(f"no such image file: {', '.join(missing)}")

    from .run_context import RunContext
    from .tasks import Request, run_task, write_artifact

    _command_threads()
    ctx = RunContext(run_dir, use_ema=not no_ema)
    request = Request(n=num, split=split, options={"direction": direction})
    if images:
        import torch

        from .data import transforms as T
        from .data.folders import read_image_files

        c, h, _ = ctx.model.sample_item_shape
        request.images = T.scale(torch.from_numpy(read_image_files(list(images), h, c)), ctx.model.data_range)
        request.image_names = [p.name for p in images]
        request.n = len(images)
    click.echo(json.dumps(write_artifact(run_task(ctx, "translate", request), out)))


def _chunk_progress(total: int):
    """A progress bar on stderr for draws of more than one chunk (none for a single chunk)."""
    from tqdm import tqdm

    from .sampling import DEFAULT_CHUNK

    if total <= DEFAULT_CHUNK:
        return None
    bars: list = []   # made at the first chunk, so a refused request prints no bar

    def update(done: int, n: int) -> None:
        if not bars:
            bars.append(tqdm(total=n, desc="sampling", unit="img", mininterval=1.0, dynamic_ncols=True))
        bars[0].update(done - bars[0].n)
        if done >= n:
            bars[0].close()
    return update


@cli.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("what", type=click.Choice([*ANALYSIS_NAMES, "all"]))
@click.option("--out", type=click.Path(path_type=Path),
              help="Output folder (default RUN_DIR/analysis): writes NAME.png and NAME.json per analysis.")
@click.option("--split", default="test", show_default=True, help="Data split to analyse.")
@click.option("-n", "--num", type=int,
              help="Size of the analysis: images (reconstructions 10, nearest 8, arithmetic 5), points "
                   "(latent-scatter/histograms 5000), grid side (latent-grid 15), steps (interpolate 10).")
@click.option("--seed", default=0, show_default=True)
@click.option("--attribute", help="Attribute name (arithmetic) or class index for label-based vectors.")
@click.option("--prompt", help="attention: the text whose attention maps to draw (default: the start of a held-out "
                               "text, -n tokens).")
def analyze(run_dir: Path, what: str, out: Path | None, split: str, num: int | None, seed: int,
            attribute: str | None, prompt: str | None) -> None:
    """The book's ch. 3-4 analyses of a trained run, written as PNGs (and JSON numbers)."""
    from .paths import check_writable_output

    check_writable_output(out if out is not None else run_dir / "analysis", "--out folder")
    _check_run(run_dir)
    from .analysis import run_analysis

    _command_threads()
    result = run_analysis(run_dir, what, out_dir=out, split=split, n=num, seed=seed, attribute=attribute,
                          prompt=prompt)
    click.echo(json.dumps(result, indent=2, default=str))


@cli.command("eval")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--metrics", default="auto", show_default=True,
              help="Comma-separated from elbo, iwae, nll, vlb, fid, kid, pr, is, memorization, recon; "
                   "auto = every one that applies.")
@click.option("--split", default="test", show_default=True, help="Held-out split (the reference set).")
@click.option("--num-samples", default=10_000, show_default=True, help="Generated images for fid/kid/pr/is.")
@click.option("--iwae-k", default=64, show_default=True, help="Importance samples of the IWAE bound.")
@click.option("--iwae-images", default=1000, show_default=True, help="Held-out images for the IWAE bound.")
@click.option("--vlb-images", default=1000, show_default=True, help="Held-out images for the diffusion bound.")
@click.option("--vlb-t", default=50, show_default=True,
              help="Diffusion bound: draws of t per image for the Monte-Carlo sum (0 = all T terms, exact).")
@click.option("--features", type=click.Choice(["genzoo", "inception"]), default="genzoo", show_default=True,
              help="Feature network: genzoo's own classifier for the dataset, or Inception-v3 (needs weights).")
@click.option("--feature-epochs", default=5, show_default=True, help="Epochs when the feature net is trained.")
@click.option("--limit", type=int, help="Evaluate on the first N held-out images (text: windows) only (quick checks).")
@click.option("--seed", default=0, show_default=True)
@click.option("--truncation", type=float, help="Truncation-trick generators: draw the samples of fid/kid/pr/is at "
                                               "this psi or threshold; results go to RUN_DIR/eval-truncation-T.json.")
def eval_cmd(run_dir: Path, metrics: str, split: str, num_samples: int, iwae_k: int, iwae_images: int,
             vlb_images: int, vlb_t: int, features: str, feature_epochs: int, limit: int | None, seed: int,
             truncation: float | None) -> None:
    """Evaluate RUN_DIR under genzoo's fixed protocol and write RUN_DIR/eval.json."""
    _check_run(run_dir)
    from .metrics.evaluate import evaluate_run

    _command_threads()
    result = evaluate_run(run_dir, metrics, split=split, num_samples=num_samples, iwae_k=iwae_k,
                          iwae_images=iwae_images, vlb_images=vlb_images, vlb_t=vlb_t, features=features, feature_epochs=feature_epochs, limit=limit,
                          seed=seed, truncation=truncation, log=lambda m: click.echo(m, err=True))
    click.echo(json.dumps(result, indent=2))


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="Output folder: also write OUT/report.md and OUT/report.html (table, sample grids and curves side "
                   "by side). A path ending in .md or .html names the report itself (both are written).")
def compare(run_dirs: tuple[Path, ...], out: Path | None) -> None:
    """Print one table of the eval.json of each RUN_DIR (run `genzoo eval` on them first)."""
    from .metrics.compare import compare_runs, report_paths
    from .paths import check_writable_output

    if out is not None:
        for path in report_paths(out):
            check_writable_output(path, "report file", folder=False)
    result = compare_runs(list(run_dirs), out)
    click.echo(result["text"])
    if result.get("note"):
        click.echo(result["note"])
    for key in ("markdown", "html"):
        if key in result:
            click.echo(f"{key}: {result[key]}")


@cli.command("feature-net")
@click.option("--dataset", default="fashion-mnist", show_default=True)
@click.option("--data-dir", help="Dataset folder (default: $GENZOO_DATA, system locations).")
@click.option("--shape", default="1,28,28", show_default=True, help="C,H,W the generated images have.")
@click.option("--epochs", default=5, show_default=True)
@click.option("--retrain", is_flag=True, help="Train again even when a shipped or cached network exists (the "
              "result is cached; eval prefers the shipped one unless GENZOO_SHIPPED_FEATURE_NETS=0).")
def feature_net(dataset: str, data_dir: str | None, shape: str, epochs: int, retrain: bool) -> None:
    """Train (or show) genzoo's feature network for DATASET: the book's ch. 2 CNN, shipped or cached."""
    from .config import ConfigError, DataConfig
    from .metrics.features import load_feature_net, spec_for, train_feature_net

    try:
        c, h, w = (int(v) for v in shape.split(","))
    except ValueError:
        raise ConfigError(f"--shape must be C,H,W (e.g. 1,28,28), got {shape!r}") from None
    cfg = DataConfig(name=dataset, data_dir=data_dir)
    spec = spec_for(cfg, (c, h, w), epochs=epochs)
    net = None if retrain else load_feature_net(spec, data_dir)
    if net is None:
        net = train_feature_net(spec, cfg, log=lambda m: click.echo(m, err=True))
    click.echo(json.dumps(net.meta, indent=2))


@cli.command()
@click.option("--samples", default=10, show_default=True, help="New outfits to draw from the naive-Bayes model.")
@click.option("--smoothing", default=1.0, show_default=True, help="Additive smoothing of the multinomial model.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON (6 significant digits) instead.")
def irm(samples: int, smoothing: float, seed: int, as_json: bool) -> None:
    """Foster 1st ed. ch. 1: the multinomial and naive-Bayes models of the 50 "Irm" outfits, with the book's numbers."""
    from .analysis.irm import format_irm, irm_results, round_floats
    from .config import ConfigError

    if samples < 0 or smoothing < 0:
        raise ConfigError("--samples and --smoothing must be >= 0")
    result = irm_results(samples, smoothing, seed)
    click.echo(json.dumps(round_floats(result), indent=2) if as_json else format_irm(result))


@cli.command("planet-pixel")
@click.option("--dataset", default="fashion-mnist", show_default=True)
@click.option("--data-dir", help="Dataset folder (default: $GENZOO_DATA, system locations).")
@click.option("--shape", default="1,28,28", show_default=True, help="C,H,W to resize the images to.")
@click.option("--levels", default=256, show_default=True, help="Values per pixel channel (the book: a 256-colour palette).")
@click.option("-n", "--num", default=10, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path),
              help="Output folder (default: the current folder): writes planet-pixel.png. A path ending in .png "
                   "is taken as the file name.")
def planet_pixel(dataset: str, data_dir: str | None, shape: str, levels: int, num: int, seed: int,
                 out: Path | None) -> None:
    """Foster 1st ed. ch. 1 "Planet Pixel": naive Bayes over pixels. Top row: training images; bottom row:
    images whose every pixel is drawn independently from its own histogram. Prints the test bits/dim."""
    from .paths import output_file

    out = output_file(out, Path("."), "planet-pixel.png")
    import torch

    from .analysis.grid import save_grid
    from .config import ConfigError, DataConfig
    from .data import load_images
    from .data.loader import make_batch
    from .data.types import DataError
    from .metrics.baselines import independent_pixel_bits
    from .models.categorical import pixel_naive_bayes_sample

    try:
        c, h, w = (int(v) for v in shape.split(","))
    except ValueError:
        raise ConfigError(f"--shape must be C,H,W (e.g. 1,28,28), got {shape!r}") from None
    if not 2 <= levels <= 256 or num < 1:
        raise ConfigError("--levels must be in [2, 256] and -n >= 1")
    cfg = DataConfig(name=dataset, data_dir=data_dir, quantize=levels if levels < 256 else None)

    def integers(split: str):
        data = load_images(cfg, (c, h, w), split=split)
        x = make_batch(data, torch.arange(len(data)), cfg, "01", torch.device("cpu")).x
        return torch.round(x * (levels - 1)).long()

    train = integers("train")
    samples = pixel_naive_bayes_sample(train, levels, num, generator=torch.Generator().manual_seed(seed))
    grid = torch.cat([train[:num], samples]).float() / (levels - 1)
    save_grid(grid, out, nrow=num, scale=2 if w <= 32 else 1,
              row_labels=["training\nimages", "naive Bayes\nsamples"],
              title=f"Planet Pixel ({dataset}, {levels} levels): every pixel of a sample drawn independently from "
                    f"its own histogram")
    try:
        bits = independent_pixel_bits(train, integers("test"), levels)
    except DataError:   # a dataset without a test split: no held-out number
        bits = None
    click.echo(json.dumps({"grid": str(out), "training_images": len(train), "levels": levels,
                           "test_bits_per_dim": bits, "uniform_bits_per_dim": math.log2(levels)}, indent=2))


def _csv(text: str | None, kind: type, option: str) -> tuple | None:
    """A comma-separated option value as a tuple of ``kind`` (None when not given)."""
    from .config import ConfigError

    if text is None:
        return None
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option} must be a comma-separated list of {kind.__name__}s, got {text!r}") from None


@cli.command("style-transfer")
@click.argument("content")
@click.argument("style", required=False)
@click.option("--out", type=click.Path(path_type=Path),
              help="Output folder or .png file (default style-transfer/CONTENT-STYLE.png); a JSON of what was used "
                   "is written beside it.")
@click.option("--model", "model_run", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A trained style-net run (genzoo train style-net-…): stylise CONTENT in one pass instead.")
@click.option("--features", default="auto", show_default=True,
              help="auto (ImageNet VGG19 if --vgg/$GENZOO_VGG19 is given, else vgg19-random) | vgg19-imagenet | "
                   "vgg19-random | vgg19-random-max | bookcnn-emoji.")
@click.option("--vgg", help="VGG19 ImageNet weights: torchvision's vgg19-dcbb9e9d.pth, a .safetensors of it, or "
                            "Keras' vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (default $GENZOO_VGG19).")
@click.option("--size", default=256, show_default=True, help="Pixels on the content image's long side.")
@click.option("--iterations", default=10, show_default=True,
              help="L-BFGS calls of --max-eval evaluations each (the book: 1000 of 20).")
@click.option("--max-eval", default=20, show_default=True, help="Loss evaluations per iteration (the book's maxfun).")
@click.option("--snapshots", help="Iterations to save, e.g. 1,5,10 (Fig. 5.18: 1,200,400).")
@click.option("--content-weight", type=float, help="Default: 1 with ImageNet VGG19 (Fig. 5.18), 15·128²/(H·W) with vgg19-random.")
@click.option("--style-weight", type=float, help="Default 100 (Fig. 5.18).")
@click.option("--tv-weight", type=float, help="Default: 20 with ImageNet VGG19 (Fig. 5.18), 0.1·128²/(H·W) otherwise.")
@click.option("--content-layer", help="Default block5_conv2 (Listing 5.9); block4_conv2 with vgg19-random.")
@click.option("--style-layers", help="Comma-separated; default block1_conv1,…,block5_conv1 (Listing 5.10).")
@click.option("--style-layer-weights", help="One factor per style layer, e.g. 4,2,1,0.5,0.25 for finer style.")
@click.option("--style-norm", default="book", show_default=True,
              help="book (the Keras code: 4·3²·(HW)² for every layer) | gatys (4·N_l²·M_l², the text's formula).")
@click.option("--init", default="content", show_default=True, help="content (the book) | noise.")
@click.option("--seed", default=0, show_default=True, help="Random feature network's weights and --init noise.")
def style_transfer(content: str, style: str | None, out: Path | None, model_run: Path | None, features: str,
                   vgg: str | None, size: int, iterations: int, max_eval: int, snapshots: str | None,
                   content_weight: float | None, style_weight: float | None, tv_weight: float | None,
                   content_layer: str | None, style_layers: str | None, style_layer_weights: str | None,
                   style_norm: str, init: str, seed: int) -> None:
    """Neural style transfer (Gatys et al. 2015; Foster 1st ed. ch. 5): CONTENT repainted in the style of STYLE by
    L-BFGS on the pixels. CONTENT and STYLE are image files or offline names (astronaut, chelsea, coffee, rocket,
    china, flower, starry_night, fruits, baboon, …)."""
    from .config import ConfigError
    from .paths import output_file

    if model_run is None and style is None:
        raise ConfigError("give a STYLE image (a file or an offline name such as starry_night), or --model RUN "
                          "of a trained style-net")
    name = f"{Path(content).stem}-{Path(style).stem if style else model_run.name}.png"
    out = output_file(out, Path("style-transfer"), name)
    _command_threads()
    if model_run is not None:
        from .style_transfer.command import run_feedforward

        result = run_feedforward(model_run, content, out, size, log=_log)
    else:
        from .style_transfer.command import TransferOptions, run_transfer

        opts = TransferOptions(content, style, out, features, vgg, size, iterations, max_eval,
                               _csv(snapshots, int, "--snapshots") or (), content_weight, style_weight, tv_weight,
                               content_layer, _csv(style_layers, str, "--style-layers"),
                               _csv(style_layer_weights, float, "--style-layer-weights"), style_norm, init, seed)
        result = run_transfer(opts, log=_log)
    click.echo(json.dumps(result, indent=2))


def main() -> None:
    from .runtime import tune_allocator

    tune_allocator()   # keep freed tensor memory for the next step (genzoo/runtime.py: 1.16 M → 86 k page faults)
    cli(prog_name="genzoo")


if __name__ == "__main__":
    main()
