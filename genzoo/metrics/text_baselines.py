"""Count-based baselines for the text models' held-out scores: unigram, add-k bigram and interpolated
Kneser-Ney bigram, fitted on the training token stream and scored on the held-out stream.

The support of every model is the ids ``1 .. vocab_size - 1`` (0 is the tokenisers' reserved id and never
occurs); an unknown token (``<unk>``) is an ordinary id, so held-out words outside the vocabulary are
scored as the language models score them. Each model scores the same positions: every held-out token
that has a predecessor (``test_ids[1:]``), so the numbers compare with a recurrent model that predicts
each token from the ones before it.

* **unigram**: add-one (Laplace) counts, ``p(w) = (c(w) + 1) / (N + V)``.
* **bigram, add-k**: ``p(w | v) = (c(v, w) + k) / (c(v) + k V)``, ``k = 0.01`` by default.
* **bigram, interpolated Kneser-Ney** (Chen & Goodman 1998, one discount): ``p(w | v) = max(c(v, w) - d, 0)
  / c(v) + d N1+(v •) / c(v) · p_cont(w)``, with ``p_cont(w) = max(N1+(• w) - d, 0) / N1+(• •) + d ·
  |{w : N1+(• w) > 0}| / N1+(• •) / V`` (continuation counts, themselves interpolated with the uniform
  distribution so an unseen word keeps some mass); a context never seen in training uses ``p_cont``.
  ``d = n1 / (n1 + 2 n2)`` from the numbers of bigram types seen once and twice (Ney et al. 1994), or given.

Reported per model: cross-entropy in nats per token, perplexity ``e^nats``, bits per token, and bits per
character = bits per token / ``chars_per_token`` when that is given. :func:`chars_per_token` counts the
characters of the cleaned held-out text as the character-level tokeniser sees it: every token's characters
plus one separating space, so a word model's and a character model's bits per character are over the
same characters.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def chars_per_token(tokens: Sequence[str]) -> float:
    """Characters per word token of a space-joined text: ``(Σ len(token) + len(tokens)) / len(tokens)``
    (each token and the space that follows it)."""
    if not tokens:
        raise ValueError("no tokens")
    return (sum(len(t) for t in tokens) + len(tokens)) / len(tokens)


def _stream(ids, vocab_size: int, name: str) -> np.ndarray:
    a = np.asarray(ids, dtype=np.int64).reshape(-1)
    if a.size < 2:
        raise ValueError(f"the {name} stream needs at least 2 tokens, got {a.size}")
    if a.min() < 1 or a.max() >= vocab_size:
        raise ValueError(f"the {name} stream has ids outside 1..{vocab_size - 1} (0 is reserved): "
                         f"min {a.min()}, max {a.max()}")
    return a


def _pair_counts(prev: np.ndarray, nxt: np.ndarray, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique bigram keys ``prev · V + next`` and their counts."""
    return np.unique(prev * vocab_size + nxt, return_counts=True)


def _lookup(keys: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``counts`` of each ``query`` key (0 where absent), by binary search in the sorted ``keys``."""
    pos = np.searchsorted(keys, query).clip(0, len(keys) - 1)
    return np.where(keys[pos] == query, counts[pos], 0)


def kneser_ney_discount(train_ids, vocab_size: int) -> float:
    """``n1 / (n1 + 2 n2)`` over the training bigram types (0.75 when there are too few to tell)."""
    a = _stream(train_ids, vocab_size, "training")
    _, c = _pair_counts(a[:-1], a[1:], vocab_size)
    n1, n2 = int((c == 1).sum()), int((c == 2).sum())
    return n1 / (n1 + 2 * n2) if n1 and n2 else 0.75


def bigram_log_probs(train_ids, query_prev, query_next, vocab_size: int, *, method: str = "kneser-ney",
                     k: float = 0.01, discount: float | None = None) -> np.ndarray:
    """Natural-log ``p(next | prev)`` for each query pair under a bigram model fitted on ``train_ids``
    (``method``: ``"kneser-ney"`` or ``"add-k"``); vectorised over the queries."""
    a = _stream(train_ids, vocab_size, "training")
    prev, nxt = np.asarray(query_prev, dtype=np.int64), np.asarray(query_next, dtype=np.int64)
    v = vocab_size - 1                                     # the support: ids 1..V-1
    keys, counts = _pair_counts(a[:-1], a[1:], vocab_size)
    c_pair = _lookup(keys, counts, prev * vocab_size + nxt).astype(np.float64)
    context = np.bincount(a[:-1], minlength=vocab_size).astype(np.float64)    # c(v) as a context
    c_prev = context[prev]
    if method == "add-k":
        if k <= 0:
            raise ValueError(f"add-k smoothing needs k > 0, got {k}")
        return np.log((c_pair + k) / (c_prev + k * v))
    if method != "kneser-ney":
        raise ValueError(f"bigram method must be 'kneser-ney' or 'add-k', got {method!r}")
    d = kneser_ney_discount(a, vocab_size) if discount is None else float(discount)
    if not 0 < d < 1:
        raise ValueError(f"the Kneser-Ney discount must be in (0, 1), got {d}")
    key_prev, key_next = keys // vocab_size, keys % vocab_size
    followers = np.bincount(key_prev, minlength=vocab_size).astype(np.float64)     # N1+(v •)
    preceders = np.bincount(key_next, minlength=vocab_size).astype(np.float64)     # N1+(• w)
    types = float(len(keys))                                                        # N1+(• •)
    seen_words = float((preceders[1:] > 0).sum())
    p_cont = np.maximum(preceders - d, 0) / types + d * seen_words / types / v
    p_cont[0] = 0.0
    pc = p_cont[nxt]
    safe = np.maximum(c_prev, 1.0)
    p = np.where(c_prev > 0, np.maximum(c_pair - d, 0) / safe + d * followers[prev] / safe * pc, pc)
    return np.log(p)


def unigram_log_probs(train_ids, query, vocab_size: int) -> np.ndarray:
    """Natural-log add-one unigram probabilities of the ``query`` ids."""
    a = _stream(train_ids, vocab_size, "training")
    counts = np.bincount(a, minlength=vocab_size).astype(np.float64)
    return np.log((counts[np.asarray(query, dtype=np.int64)] + 1) / (len(a) + vocab_size - 1))


def scores(nats_per_token: float, chars_per_token: float | None = None) -> dict[str, float]:
    """Cross-entropy ``nats_per_token`` as nats, perplexity, bits per token and (given the characters per
    token) bits per character."""
    out = {"nats_per_token": nats_per_token, "perplexity": math.exp(nats_per_token),
           "bits_per_token": nats_per_token / math.log(2)}
    if chars_per_token:
        out["bits_per_char"] = out["bits_per_token"] / chars_per_token
    return out


def unigram_bigram_baselines(train_ids, test_ids, vocab_size: int, chars_per_token: float | None = None, *,
                             k: float = 0.01, discount: float | None = None, mask=None) -> dict:
    """Held-out scores of the unigram, add-k bigram and Kneser-Ney bigram models fitted on ``train_ids``,
    over the positions ``test_ids[1:]`` (module docstring): ``{"unigram": {...}, "bigram_add_k": {...},
    "bigram_kneser_ney": {...}, "tokens_scored": n, "settings": {...}}``.

    ``mask`` (booleans, one per position of ``test_ids[1:]``) scores only the positions marked True -- e.g.
    to leave out the 19 story-marker tokens after a story's first ``|``, which any model predicts almost
    for free and which are a large share of a corpus of short stories (pass ``chars_per_token`` measured
    over the same positions then)."""
    train = _stream(train_ids, vocab_size, "training")
    test = _stream(test_ids, vocab_size, "held-out")
    prev, nxt = test[:-1], test[1:]
    if mask is not None:
        keep = np.asarray(mask, dtype=bool).reshape(-1)
        if keep.shape != nxt.shape:
            raise ValueError(f"mask has {keep.size} entries, the held-out stream {nxt.size} scored positions")
        if not keep.any():
            raise ValueError("mask selects no position")
        prev, nxt = prev[keep], nxt[keep]
    d = kneser_ney_discount(train, vocab_size) if discount is None else float(discount)
    results = {
        "unigram": -unigram_log_probs(train, nxt, vocab_size).mean(),
        "bigram_add_k": -bigram_log_probs(train, prev, nxt, vocab_size, method="add-k", k=k).mean(),
        "bigram_kneser_ney": -bigram_log_probs(train, prev, nxt, vocab_size, discount=d).mean(),
    }
    out: dict = {name: scores(float(v), chars_per_token) for name, v in results.items()}
    out["tokens_scored"] = int(len(nxt))
    out["settings"] = {"vocab_size": vocab_size, "train_tokens": int(len(train)), "add_k": k,
                       "kneser_ney_discount": d, "unigram_smoothing": "add-one",
                       "chars_per_token": chars_per_token}
    return out
