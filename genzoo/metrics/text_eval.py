"""Held-out scores of a language model next to the unigram and bigram baselines on the same split.

Protocol (``genzoo eval`` metric ``perplexity``): every position of the held-out stream after the first
``window`` tokens is predicted once, from the ``window`` tokens before it (the book's generation context; a
model trained on every position of its windows is read at its last one, with full context). ``window`` is the
run's data window, which is the model's own context: an LSTM's window, a GPT's context length (both come from
``data.text.window`` through ``configure``), so an LSTM and a GPT of the same window are scored on the same
positions with the same context, and one ``genzoo compare`` table holds both. ``max_positions`` (``genzoo eval
--limit N``) scores the first N of those positions only. Reported in nats per token, perplexity, bits
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
def held_out_perplexity(model: Any, test, train, batch_size: int = 1024,
                        max_positions: int | None = None) -> dict[str, Any]:
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
    if max_positions is not None:
        ids = ids[:w + max_positions]
    offsets = torch.arange(w + 1)
    logps = []
    for start in range(0, len(ids) - w, batch_size):   # position p is predicted from ids[p - w : p]
        pos = torch.arange(start, min(start + batch_size, len(ids) - w))
        win = ids[pos.unsqueeze(1) + offsets].to(model.device)
        logits = model.next_token_logits(win[:, :-1]).float()
        logps.append(logits.log_softmax(-1).gather(1, win[:, -1:]).squeeze(1).cpu())
    logp = torch.cat(logps).double()
    scored = ids[w:w + len(logp)]                       # the positions predicted, in stream order
    tok = test.tokenizer
    stop = tok.word_index.get(STOP_TOKEN)
    prev = ids[w - 1:w - 1 + len(logp)]
    text_mask = ~((scored == stop) & (prev == stop))    # not the 2nd..20th token of a story marker
    lengths = torch.tensor(tok.token_chars(), dtype=torch.float64)
    out: dict[str, Any] = {"positions": int(len(logp)), "text_positions": int(text_mask.sum()),
                           "window": w, "tokenizer": tok.kind, "vocab_size": tok.vocab_size}
    unk = tok.unknown_id
    if unk is not None:
        out["unknown_rate"] = float((scored == unk).double().mean())
    # the baselines score stream[1:] given the previous token: hand them the same positions
    stream, train_ids = ids[w - 1:w + len(logp)].numpy(), train.tokens.numpy()
    for view, mask in (("all", torch.ones_like(text_mask)), ("text", text_mask)):
        chars = float(lengths[scored[mask]].mean())
        model_nats = float(-logp[mask].mean())
        base = unigram_bigram_baselines(train_ids, stream, tok.vocab_size, chars_per_token=chars,
                                        mask=mask.numpy())
        out[view] = {"model": scores(model_nats, chars), "chars_per_token": chars,
                     **{k: v for k, v in base.items() if k in ("unigram", "bigram_add_k", "bigram_kneser_ney")}}
    return out
