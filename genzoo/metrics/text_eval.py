"""Held-out scores of a language model next to the unigram and bigram baselines on the same split.

Protocol (``genzoo eval`` metric ``perplexity``): every position of the held-out stream after the first
``window`` tokens (with ``eval --limit N``: of its first N windows) is predicted once, from the ``window``
tokens before it (the book's generation context; a
model trained on every position of its windows is read at its last one, with full context). ``window`` is the
run's data window, which is the model's own context: an LSTM's window, a GPT's context length (both come from
``data.text.window`` through ``configure``), so an LSTM and a GPT of the same window are scored on the same
positions with the same context, and one ``genzoo compare`` table holds both. Reported in nats per token, perplexity, bits
per token and bits per character (each token's characters plus one separating space, what the character
tokeniser sees). The same positions are scored by the baselines of :mod:`genzoo.metrics.text_baselines`,
fitted on the run's training split with the run's tokeniser.

Two views, because the book's story marker is 20 ``|`` tokens of which 19 are predictable from the first
(and they are a third to a half of a corpus of short texts): ``all`` positions, and ``text`` -- the positions
that are not the 2nd to 20th token of a marker.

Masked language models (``genzoo eval`` metric ``masked``, :func:`held_out_masked`): the held-out stream is cut
into consecutive windows of the model's length, and the windows are masked ``repeats`` times (10: a small
held-out split gives ten times the masked positions, each window under ten independent masks) by the model's
own rule (BERT's 15 % with 80/10/10) from one generator seeded by ``seed`` -- the same masked positions for
every run with the same tokeniser, window and rule, whatever it was trained with. Reported at the selected positions: accuracy of the
most probable token, cross-entropy (nats and bits per token, and its exponential), by what became of the
token (``[MASK]``, random, kept) and over all, beside a unigram baseline on the same positions (add-one counts
of the training split's eligible tokens: its accuracy is that of always guessing the most frequent word).
Pseudo-perplexity (Salazar et al. 2020) is not computed: it costs a forward pass per token, and is no more
comparable with the left-to-right models' perplexity than this cross-entropy is.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from .text_baselines import scores, unigram_bigram_baselines


@torch.no_grad()
def held_out_perplexity(model: Any, test, train, batch_size: int = 1024) -> dict[str, Any]:
    """Scores of ``model`` on the :class:`~genzoo.data.tokens.TokenSet` ``test`` and of the baselines fitted on
    ``train`` (the same tokeniser), over the same positions (module docstring)."""
    from ..config import ConfigError
    from ..data.text import STOP_TOKEN

    model.eval()
    w = test.window
    context = getattr(model.config, "window", w)
    if context != w:
        raise ConfigError(f"the model reads {context} tokens but the held-out windows have {w}: evaluate it with "
                          f"the data window it was trained with (data.text.window={context})")
    ids = test.tokens
    targets = torch.unique(test.starts) + w             # the positions predicted: the last token of each window
    if not len(targets):
        raise ValueError(f"{test.source}: no held-out window of {w + 1} tokens to score")
    lo, hi = int(targets[0]), int(targets[-1]) + 1
    offsets = torch.arange(-w, 1)
    logp = torch.zeros(hi - lo, dtype=torch.float64)
    for chunk in targets.split(batch_size):              # position p is predicted from ids[p - w : p]
        win = ids[chunk.unsqueeze(1) + offsets].to(model.device)
        logits = model.next_token_logits(win[:, :-1]).float()
        logp[chunk - lo] = logits.log_softmax(-1).gather(1, win[:, -1:]).squeeze(1).cpu().double()
    selected = torch.zeros(hi - lo, dtype=torch.bool)
    selected[targets - lo] = True                       # all of them, or the windows `eval --limit` kept
    scored, prev = ids[lo:hi], ids[lo - 1:hi - 1]       # in stream order
    tok = test.tokenizer
    stop = tok.word_index.get(STOP_TOKEN)
    text_mask = selected & ~((scored == stop) & (prev == stop))   # not the 2nd..20th token of a story marker
    lengths = torch.tensor(tok.token_chars(), dtype=torch.float64)
    out: dict[str, Any] = {"positions": int(selected.sum()), "text_positions": int(text_mask.sum()),
                           "window": w, "tokenizer": tok.kind, "vocab_size": tok.vocab_size}
    unk = tok.unknown_id
    if unk is not None:
        out["unknown_rate"] = float((scored[selected] == unk).double().mean())
    # the baselines score stream[1:] given the previous token: hand them the same positions
    stream, train_ids = ids[lo - 1:hi].numpy(), train.tokens.numpy()
    for view, mask in (("all", selected), ("text", text_mask)):
        chars = float(lengths[scored[mask]].mean())
        model_nats = float(-logp[mask].mean())
        base = unigram_bigram_baselines(train_ids, stream, tok.vocab_size, chars_per_token=chars,
                                        mask=mask.numpy())
        out[view] = {"model": scores(model_nats, chars), "chars_per_token": chars,
                     **{k: v for k, v in base.items() if k in ("unigram", "bigram_add_k", "bigram_kneser_ney")}}
    return out


KINDS = ("mask", "random", "kept")


@torch.no_grad()
def held_out_masked(model: Any, test, train, seed: int = 0, repeats: int = 10, batch_size: int = 256) -> dict[str, Any]:
    """Masked-token accuracy and cross-entropy of the masked language model ``model`` on the
    :class:`~genzoo.data.tokens.TokenSet` ``test``, beside the unigram baseline fitted on ``train`` (module
    docstring)."""
    model.eval()
    w = model.config.window
    ids = test.tokens
    n = len(ids) // w
    if n < 1:
        raise ValueError(f"the held-out split has {len(ids)} tokens, fewer than one window of {w}")
    windows = ids[:n * w].view(n, w).repeat(repeats, 1)
    m = model.mask(windows, torch.Generator().manual_seed(seed))
    n = len(windows)
    logps, hits = [], []
    for s in range(0, n, batch_size):
        inputs, selected = m.inputs[s:s + batch_size].to(model.device), m.selected[s:s + batch_size].to(model.device)
        logp = model.masked_logits(inputs, selected).float().log_softmax(-1).cpu()
        target = windows[s:s + batch_size][selected.cpu()]
        logps.append(logp.gather(1, target[:, None]).squeeze(1))
        hits.append(logp.argmax(-1) == target)
    logp, hit = torch.cat(logps).double(), torch.cat(hits)
    targets, kind = windows[m.selected.cpu()], m.kind.cpu()[m.selected.cpu()].long()
    # the unigram baseline over the tokens that can be targets: no padding, story markers or specials
    train_ids = train.tokens
    eligible = (train_ids != 0) & (train_ids != model.config.stop_id)
    counts = torch.bincount(train_ids[eligible], minlength=model.config.vocab_size).double()
    support = torch.zeros_like(counts, dtype=torch.bool)
    support[1:model.config.mask_id] = True
    support[model.config.stop_id] = False
    uni = torch.where(support, (counts + 1) / (counts[support].sum() + support.sum()), torch.zeros_like(counts))
    uni_logp, uni_guess = uni.log()[targets], int(uni.argmax())

    def view(mask: torch.Tensor) -> dict[str, Any]:
        if not mask.any():
            return {"positions": 0}
        nats, base = float(-logp[mask].mean()), float(-uni_logp[mask].mean())
        return {"positions": int(mask.sum()), "accuracy": float(hit[mask].double().mean()), "nats_per_token": nats,
                "accuracy_stderr": float(hit[mask].double().std() / math.sqrt(int(mask.sum()))),
                "bits_per_token": nats / math.log(2), "perplexity": math.exp(nats),
                "unigram": {"accuracy": float((targets[mask] == uni_guess).double().mean()), "nats_per_token": base,
                            "bits_per_token": base / math.log(2), "perplexity": math.exp(base)}}

    tok = test.tokenizer
    out: dict[str, Any] = {"windows": n // repeats, "window": w, "tokens": n // repeats * w, "repeats": repeats,
                           "mask_seed": seed,
                           "rule": {"rate": model.config.mask_rate, "mask": model.config.mask_token,
                                    "random": model.config.random_token},
                           "unigram_guess": tok.index_word.get(uni_guess, ""), "all": view(torch.ones_like(hit))}
    for i, name in enumerate(KINDS):
        out[name] = view(kind == i)
    if tok.unknown_id is not None:
        out["unknown_rate"] = float((targets == tok.unknown_id).double().mean())
    return out
