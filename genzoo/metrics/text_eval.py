"""Held-out scores of a language model next to the unigram and bigram baselines on the same split.

Protocol (``genzoo eval`` metric ``perplexity``): every position of the held-out stream after the first
``window`` tokens (with ``eval --limit N``: of its first N windows) is predicted once, from the ``window``
tokens before it (the book's generation context; a
model trained on every position of its windows is read at its last one, with full context). Reported in nats per token, perplexity, bits
per token and bits per character (each token's characters plus one separating space, what the character
tokeniser sees). The same positions are scored by the baselines of :mod:`genzoo.metrics.text_baselines`,
fitted on the run's training split with the run's tokeniser.

Two views, because the book's story marker is 20 ``|`` tokens of which 19 are predictable from the first
(and they are a third to a half of a corpus of short texts): ``all`` positions, and ``text`` -- the positions
that are not the 2nd to 20th token of a marker.
"""
from __future__ import annotations

from typing import Any

import torch

from .text_baselines import scores, unigram_bigram_baselines


@torch.no_grad()
def held_out_perplexity(model: Any, test, train, batch_size: int = 1024) -> dict[str, Any]:
    """Scores of ``model`` on the :class:`~genzoo.data.tokens.TokenSet` ``test`` and of the baselines fitted on
    ``train`` (the same tokeniser), over the same positions (module docstring)."""
    from ..data.text import STOP_TOKEN

    model.eval()
    w = test.window
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
    lengths = torch.tensor([0] + [len(t) + 1 for t in tok.tokens], dtype=torch.float64)
    out: dict[str, Any] = {"positions": int(selected.sum()), "text_positions": int(text_mask.sum()),
                           "window": w, "tokenizer": tok.kind, "vocab_size": tok.vocab_size}
    unk = tok.unknown_id
    if unk is not None:
        out["unknown_rate"] = float((scored[selected] == unk).double().mean())
    # the baselines score stream[1:] given the previous token: hand them the same positions
    stream, train_ids = ids[lo - 1:hi].numpy(), train.tokens.numpy()
    for view, mask in (("all", selected), ("text", text_mask)):
        chars = float(lengths[scored[mask]].mean())
        if tok.kind == "char":
            chars = 1.0
        model_nats = float(-logp[mask].mean())
        base = unigram_bigram_baselines(train_ids, stream, tok.vocab_size, chars_per_token=chars,
                                        mask=mask.numpy())
        out[view] = {"model": scores(model_nats, chars), "chars_per_token": chars,
                     **{k: v for k, v in base.items() if k in ("unigram", "bigram_add_k", "bigram_kneser_ney")}}
    return out
