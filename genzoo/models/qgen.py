"""The question–answer generator of Foster 1st ed. ch. 6 (Listings 6.6-6.9), after Wang, Yuan & Trischler (2017),
"A joint model for question answering and question generation".

Two parts share one word embedding and are trained jointly with teacher forcing (the sum of two cross-entropies,
the notebook's ``loss_weights=[1, 1]``):

* the **answer tagger** (Listing 6.6): ``Embedding(V, 100)`` → ``Bidirectional(GRU(100))`` over the document →
  ``Dense(2, softmax)`` per token: is this word part of an answer?
* the **question encoder–decoder** (Listing 6.7): the tagger's bidirectional states of the answer span (the book's
  ``batch_dot`` with the answer mask) → ``GRU(200)`` encoder; a ``GRU(200)`` decoder over the question's
  embedded words, its initial state the encoder's final state → ``Dense(V, softmax, use_bias=False)``.

Generation (Listing 6.9) starts from ``<start>`` and takes the likeliest word until ``<end>`` (greedy), or keeps the
``beam`` likeliest partial questions (beam search; finished questions compared by log-probability per word).

Beyond the book, each one flag away (the book names both as the fix for its decoder's weaknesses):

* ``model.attention=true``: additive attention (Bahdanau, Cho & Bengio 2015) of the decoder over the document's
  tagger states. The score is Bahdanau's ``vᵀ tanh(W_s s_t + W_h h_j)``; it reads the decoder state *after* the
  step, and ``tanh(W_c [s_t; c_t])`` feeds the output layer (Luong, Pham & Manning 2015's placement), so the decoder
  stays one fused GRU call over the whole question in training instead of a Python loop of cells.
* ``model.copy=true``: a pointer-generator (See, Liu & Manning 2017): ``p_gen = σ(w_c·c_t + w_s·s_t + w_x·x_t + b)``
  mixes the vocabulary softmax with the attention over the document, over a vocabulary extended by the document's
  own out-of-vocabulary words, so a name such as *bloggs* can be written instead of ``<unk>``. Without
  ``attention`` the attention weights serve the pointer only.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.recurrent import keras_init_
from ..nn.seq2seq import AdditiveAttention, copy_distribution, run_packed, span_states
from .base import GenerativeModel, ModelConfig, register_model
from .capabilities import AsksQuestions
from .text import TokenModel

_RANGE = re.compile(r"\s*(\d+)\s*:\s*(\d+)\s*")


@dataclass
class QGenConfig(ModelConfig):
    """The book's sizes: embedding 100, tagger GRU 100 per direction, encoder and decoder GRU 200; ``vocab_size`` and
    the special ids come from the data (``configure``)."""

    vocab_size: int = 0
    embedding: int = 100            # EMBEDDING_DIMENS (a GloVe file's width when data.qa.glove is set)
    tagger_units: int = 100         # GRU_UNITS, each direction of the tagger
    units: int = 200                # the encoder and decoder GRUs (2 · GRU_UNITS)
    attention: bool = False         # additive attention in the decoder (beyond the book)
    copy: bool = False              # copy/pointer mechanism (beyond the book)
    attention_units: int = 100      # width of the additive score
    dropout: float = 0.0            # before the output layer (the book has none)
    tagger_weight: float = 1.0      # the notebook's loss_weights=[1, 1]
    question_weight: float = 1.0
    max_tokens: int = 20            # longest generated question (the book's analysis caps it at 20)
    beam: int = 1                   # 1 = greedy (the book); K > 1 = beam search
    threshold: float = 0.5          # tagger probability above which a word is part of a chosen answer
    start_id: int = 0               # from the vocabulary
    end_id: int = 0
    unknown_id: int = 0

    def check(self) -> None:
        if self.vocab_size < 4:
            raise ConfigError(f"model.vocab_size={self.vocab_size}: it comes from the data's vocabulary; train on "
                              f"question-answering data (--dataset offline-qa, newsqa or squad)")
        if min(self.embedding, self.tagger_units, self.units, self.attention_units) < 1:
            raise ConfigError("model.embedding, tagger_units, units and attention_units must be >= 1")
        if not 0 <= self.dropout < 1:
            raise ConfigError("model.dropout must be in [0, 1)")
        if self.max_tokens < 1 or self.beam < 1:
            raise ConfigError("model.max_tokens and model.beam must be >= 1")
        if not 0 < self.threshold < 1:
            raise ConfigError("model.threshold must be in (0, 1)")
        if self.tagger_weight < 0 or self.question_weight < 0 or self.tagger_weight + self.question_weight == 0:
            raise ConfigError("model.tagger_weight and model.question_weight must be >= 0, not both 0")


@register_model
class QuestionGenerator(GenerativeModel, AsksQuestions):
    """Answer tagger and question encoder–decoder (Foster 1st ed. ch. 6), with optional attention and copying."""

    family = "qgen"
    config_class = QGenConfig
    modality = "qa"
    data_sized = ("vocab_size",)

    def __init__(self, config: QGenConfig):
        super().__init__(config)
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding)
        self.tagger = nn.GRU(c.embedding, c.tagger_units, batch_first=True, bidirectional=True)
        self.tagger_head = nn.Linear(2 * c.tagger_units, 2)
        self.encoder = nn.GRU(2 * c.tagger_units, c.units, batch_first=True)
        self.decoder = nn.GRU(c.embedding, c.units, batch_first=True)
        pointer = c.attention or c.copy
        self.attend = AdditiveAttention(c.units, 2 * c.tagger_units, c.attention_units) if pointer else None
        self.combine = nn.Linear(c.units + 2 * c.tagger_units, c.units) if c.attention else None
        self.gate = nn.Linear(2 * c.tagger_units + c.units + c.embedding, 1) if c.copy else None
        self.dropout = nn.Dropout(c.dropout)
        self.projection = nn.Linear(c.units, c.vocab_size, bias=False)
        for rnn in (self.tagger, self.encoder, self.decoder):
            keras_init_(rnn)
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            for lin in (self.tagger_head, self.combine, self.gate, self.projection):
                if lin is not None:
                    nn.init.xavier_uniform_(lin.weight)
                    if lin.bias is not None:
                        lin.bias.zero_()
        self.tokenizer = None

    # -- data ----------------------------------------------------------------------------------------
    @classmethod
    def configure(cls, model_cfg: dict, spec) -> dict:
        """The vocabulary size and the ids of ``<start>``, ``<end>`` and ``<unk>`` come from the data; a GloVe file
        sets the embedding width."""
        model_cfg = super().configure(model_cfg, spec)
        e = spec.extra
        out = {**model_cfg, "vocab_size": int(e["vocab_size"]), "start_id": int(e["start_id"]),
               "end_id": int(e["end_id"]), "unknown_id": int(e["unknown_id"])}
        if e.get("embedding_dim"):
            out["embedding"] = int(e["embedding_dim"])
        return out

    def init_from_data(self, data) -> None:
        """A new run with ``data.qa.glove``: start the shared embedding from the trimmed GloVe vectors."""
        init = getattr(data, "embedding_init", None)
        if init is not None:
            if tuple(init.shape) != tuple(self.embedding.weight.shape):
                raise ConfigError(f"the GloVe matrix is {tuple(init.shape)} but the embedding is "
                                  f"{tuple(self.embedding.weight.shape)}; leave model.embedding to the GloVe width")
            with torch.no_grad():
                self.embedding.weight.copy_(init)

    # the run's vocabulary, attached when the run is opened, as the text models keep theirs
    attach_spec = TokenModel.attach_spec
    need_tokenizer = TokenModel.need_tokenizer

    # -- the networks ----------------------------------------------------------------------------------
    def _document(self, docs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """The tagger's bidirectional states ``[B, L, 2·tagger_units]`` and the real-token mask ``[B, L]``."""
        states, _ = run_packed(self.tagger, self.embedding(docs), lengths)
        mask = torch.arange(docs.shape[1], device=docs.device) < lengths.unsqueeze(1)
        return states, mask

    def _encode(self, states: Tensor, spans: Tensor) -> Tensor:
        """The encoder GRU's final state over the answer span's states: the decoder's initial state."""
        rows, lengths = span_states(states, spans)
        _, h = run_packed(self.encoder, rows, lengths)
        return h

    def _decode(self, inputs: Tensor, h0: Tensor, states: Tensor, keys: Tensor | None,
                mask: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor]:
        """The decoder over ``inputs`` ``[B, T]``: the output layer's inputs ``[B, T, units]``, the attention weights
        over the document ``[B, T, L]`` and the copy gate's inputs ``[B, T, ·]`` (None when not configured), and the
        last decoder state."""
        x = self.embedding(inputs)
        s, h = self.decoder(x, h0)
        out, weights, gate_in = s, None, None
        if self.attend is not None:
            context, weights = self.attend(s, states, keys, mask)
            if self.combine is not None:
                out = torch.tanh(self.combine(torch.cat([s, context], -1)))
            if self.gate is not None:
                gate_in = torch.cat([context, s, x], -1)
        return self.dropout(out), weights, gate_in, h

    def _keys(self, states: Tensor) -> Tensor | None:
        return self.attend.project_keys(states) if self.attend is not None else None

    def _target_nll(self, out: Tensor, weights: Tensor | None, gate_in: Tensor | None, targets: Tensor,
                    source_ext: Tensor) -> Tensor:
        """``-log P(target)`` per row of ``out`` ``[N, units]`` (the question positions only, so the output layer
        never runs on padding). With copying ``P`` is See et al.'s mixture, evaluated at the target alone
        (the distribution over the whole extended vocabulary is only built when decoding)."""
        logits = self.projection(out)
        if self.gate is None:
            return F.cross_entropy(logits, targets, reduction="none")
        v = self.config.vocab_size
        in_vocab = targets < v
        vocab_p = logits.log_softmax(-1).gather(1, targets.clamp_max(v - 1).unsqueeze(1)).squeeze(1).exp() * in_vocab
        copy_p = (weights * (source_ext == targets.unsqueeze(1))).sum(-1)
        p_gen = torch.sigmoid(self.gate(gate_in)).squeeze(-1)
        return -(p_gen * vocab_p + (1 - p_gen) * copy_p).clamp_min(1e-12).log()

    def _step_log_probs(self, out: Tensor, weights: Tensor | None, gate_in: Tensor | None, source_ext: Tensor,
                        n_ext: int) -> Tensor:
        """Log-probabilities of the next word ``[B, V (+ n_ext with copying)]`` from one decoder step's outputs."""
        logits = self.projection(out)
        if self.gate is None:
            return logits.log_softmax(-1)[:, 0]
        p_gen = torch.sigmoid(self.gate(gate_in))
        probs = copy_distribution(logits, weights, p_gen, source_ext, self.config.vocab_size + n_ext)
        return probs[:, 0].clamp_min(1e-12).log()

    # -- training ------------------------------------------------------------------------------------
    def _losses(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The tagger's per-token negative log-likelihoods ``[B, L]`` with the real-token mask, the question words'
        ``[N]`` (teacher forcing) and the tagger states' answer probabilities."""
        states, mask = self._document(batch.x, batch.doc_len)
        tag_logits = self.tagger_head(states)
        tag_nll = F.cross_entropy(tag_logits.transpose(1, 2), batch.labels, reduction="none")
        h0 = self._encode(states, batch.span)
        q = batch.question
        targets = (batch.question_ext if self.config.copy else q)[:, 1:]
        out, weights, gate_in, _ = self._decode(q[:, :-1], h0, states, self._keys(states), mask)
        keep = targets > 0
        source = batch.doc_ext.unsqueeze(1).expand(-1, keep.shape[1], -1)[keep]
        q_nll = self._target_nll(out[keep], None if weights is None else weights[keep],
                                 None if gate_in is None else gate_in[keep], targets[keep], source)
        return tag_nll, mask, q_nll, tag_logits.softmax(-1)[..., 1]

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        tag_nll, mask, q_nll, _ = self._losses(batch)
        tag, question = tag_nll[mask].mean(), q_nll.mean()
        c = self.config
        return {"loss": c.tagger_weight * tag + c.question_weight * question, "tagger_nats": tag,
                "question_nats": question}

    @torch.no_grad()
    def score_questions(self, batch: Batch) -> dict[str, float]:
        """Sums over a batch of held-out items: the question words' negative log-likelihood (teacher forcing) and
        count, and the tagger's per-token confusion counts at ``threshold`` (for its F1)."""
        tag_nll, mask, q_nll, p = self._losses(batch)
        pred, gold = (p > self.config.threshold) & mask, (batch.labels == 1) & mask
        return {"question_nats": float(q_nll.sum()), "question_tokens": int(q_nll.numel()),
                "tagger_nats": float(tag_nll[mask].sum()), "document_tokens": int(mask.sum()),
                "tp": int((pred & gold).sum()), "fp": int((pred & ~gold).sum()), "fn": int((~pred & gold).sum()),
                "correct": int(((pred == gold) & mask).sum())}

    # -- words ↔ ids -----------------------------------------------------------------------------------
    def _ids(self, words: list[str]) -> tuple[list[int], list[int], list[str]]:
        """A document's ids, its extended ids and its out-of-vocabulary words (extended ids V, V + 1, …)."""
        index, unk, v = self.need_tokenizer().word_index, self.config.unknown_id, self.config.vocab_size
        ids = [index.get(w, unk) for w in words]
        oov: dict[str, int] = {}
        ext = [v + oov.setdefault(w, len(oov)) if i == unk else i for w, i in zip(words, ids)]
        return ids, ext, list(oov)

    def _words(self, ids: list[int], oov: list[str]) -> list[str]:
        tok, v = self.need_tokenizer(), self.config.vocab_size
        words = tok.index_word
        return [oov[i - v] if i >= v and i - v < len(oov) else words.get(i, "") for i in ids
                if i not in (self.config.end_id, 0)]

    # -- the capability --------------------------------------------------------------------------------
    @torch.no_grad()
    def answer_probabilities(self, words: list[str]) -> list[float]:
        """The tagger's probability that each word of the document is part of an answer (the book's Fig. 6.16)."""
        if not words:
            raise ConfigError("the document is empty; give some text")
        ids = torch.tensor([self._ids(words)[0]], device=self.device)
        states, _ = self._document(ids, torch.tensor([len(words)], device=self.device))
        return self.tagger_head(states).softmax(-1)[0, :, 1].tolist()

    def choose_spans(self, probabilities: list[float], threshold: float | None = None) -> list[tuple[int, int]]:
        """The runs of consecutive words whose answer probability exceeds ``threshold``; when none does, the
        likeliest word alone."""
        t = self.config.threshold if threshold is None else threshold
        spans, start = [], None
        for i, p in enumerate(list(probabilities) + [0.0]):
            if p > t and start is None:
                start = i
            elif p <= t and start is not None:
                spans.append((start, i))
                start = None
        if not spans and probabilities:
            best = max(range(len(probabilities)), key=probabilities.__getitem__)
            spans = [(best, best + 1)]
        return spans

    @staticmethod
    def resolve_answer(words: list[str], answer: str) -> tuple[int, int]:
        """An ``--answer``: a token range ``START:END`` (END exclusive, as NewsQA's) or words of the document (the
        first place they occur)."""
        from ..data.qa import qa_words

        m = _RANGE.fullmatch(answer)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if not 0 <= a < b <= len(words):
                raise ConfigError(f"--answer {answer}: a token range must satisfy 0 <= START < END <= {len(words)} "
                                  f"(the document has {len(words)} tokens)")
            return a, b
        want = qa_words(answer)
        for i in range(len(words) - len(want) + 1):
            if want and words[i:i + len(want)] == want:
                return i, i + len(want)
        shown = " ".join(f"{i}:{w}" for i, w in enumerate(words[:40]))
        raise ConfigError(f"--answer {answer!r}: the words {' '.join(want)!r} are not in the document; give words "
                          f"it holds or a token range START:END of its tokens ({shown}{' …' if len(words) > 40 else ''})")

    @torch.no_grad()
    def generate(self, documents: list[list[str]], spans: list[tuple[int, int]], *, beam: int = 1,
                 max_tokens: int = 20) -> list[tuple[list[str], float]]:
        """One question per (document, span) pair: its words and log-probability. Greedy when ``beam`` is 1,
        else beam search (finished questions ranked by log-probability per word)."""
        c, dev = self.config, self.device
        encoded = [self._ids(w) for w in documents]
        width = max(len(w) for w in documents)
        docs = torch.zeros(len(documents), width, dtype=torch.long)
        ext = torch.zeros_like(docs)
        for i, (ids, e, _) in enumerate(encoded):
            docs[i, :len(ids)], ext[i, :len(e)] = torch.tensor(ids), torch.tensor(e)
        lengths = torch.tensor([len(w) for w in documents])
        n_ext = max(1, max(len(o) for _, _, o in encoded))
        states, mask = self._document(docs.to(dev), lengths.to(dev))
        h = self._encode(states, torch.tensor(spans, device=dev))
        keys = self._keys(states)
        B, K = len(documents), beam
        rep = (lambda t: None if t is None else t.repeat_interleave(K, 0))
        states, keys, mask, ext_k = rep(states), rep(keys), rep(mask), rep(ext.to(dev))
        hidden = h.repeat_interleave(K, 1)
        tokens = torch.full((B * K,), c.start_id, dtype=torch.long, device=dev)
        scores = torch.zeros(B, K, device=dev)
        scores[:, 1:] = float("-inf")
        seqs = torch.zeros(B * K, 0, dtype=torch.long, device=dev)
        finished: list[list[tuple[list[int], float]]] = [[] for _ in range(B)]
        offsets = (torch.arange(B, device=dev) * K).unsqueeze(1)
        for _ in range(max_tokens):
            inputs = torch.where(tokens >= c.vocab_size, c.unknown_id, tokens).unsqueeze(1)
            out, weights, gate_in, hidden = self._decode(inputs, hidden, states, keys, mask)
            logp = self._step_log_probs(out, weights, gate_in, ext_k, n_ext).float()
            logp[:, 0] = float("-inf")                 # padding
            logp[:, c.start_id] = float("-inf")
            total = (scores.view(-1, 1) + logp).view(B, -1)
            best, idx = total.topk(K, dim=1)
            origin = (idx // logp.shape[1] + offsets).view(-1)
            tok = idx % logp.shape[1]
            hidden, seqs = hidden[:, origin], torch.cat([seqs[origin], tok.view(-1, 1)], 1)
            scores = best.clone()
            ended = (tok == c.end_id) & torch.isfinite(best)
            for b, k in ended.nonzero().tolist():
                finished[b].append((seqs[b * K + k].tolist(), float(best[b, k])))
            scores[ended] = float("-inf")
            tokens = tok.view(-1)
            if all(len(f) >= K for f in finished) or not torch.isfinite(scores).any():
                break
        out = []
        for b in range(B):
            cands = finished[b] or [(seqs[b * K + k].tolist(), float(scores[b, k])) for k in range(K)
                                    if math.isfinite(float(scores[b, k]))]
            ids, score = max(cands, key=lambda s: s[1] / max(len(s[0]), 1) if K > 1 else s[1])
            out.append((self._words(ids, encoded[b][2]), score))
        return out

    @torch.no_grad()
    def questions(self, documents: list[list[str]], spans: list[list[tuple[int, int]]] | None = None, *,
                  answer: list[str] | None = None, beam: int | None = None, max_tokens: int | None = None,
                  threshold: float | None = None) -> list[dict[str, Any]]:
        """For each document (cleaned words): its per-word answer probabilities and a question for each answer
        span — ``spans[i]`` when given, else the ``answer`` option's (words of the document or ``START:END``), else
        the spans the tagger chooses at ``threshold``."""
        beam = self.config.beam if beam is None else beam
        max_tokens = self.config.max_tokens if max_tokens is None else max_tokens
        results, pairs = [], []
        for i, words in enumerate(documents):
            probs = self.answer_probabilities(words)
            if spans is not None:
                chosen, how = list(spans[i]), "given"
            elif answer:
                chosen, how = [self.resolve_answer(words, a) for a in answer], "--answer"
            else:
                chosen, how = self.choose_spans(probs, threshold), "tagger"
            results.append({"words": words, "probabilities": [round(p, 4) for p in probs], "chosen_by": how,
                            "questions": []})
            pairs += [(i, s) for s in chosen]
        for start in range(0, len(pairs), 64):
            part = pairs[start:start + 64]
            asked = self.generate([documents[i] for i, _ in part], [s for _, s in part], beam=beam,
                                  max_tokens=max_tokens)
            for (i, (a, b)), (words, score) in zip(part, asked):
                results[i]["questions"].append({"span": [a, b], "answer": " ".join(documents[i][a:b]),
                                                "question": " ".join(words), "log_prob": round(score, 3)})
        return results

    def check_options(self, options: dict[str, Any]) -> None:
        if options.get("beam") is not None and options["beam"] < 1:
            raise ConfigError("--beam must be >= 1 (1 = greedy)")
        if options.get("max_tokens") is not None and options["max_tokens"] < 1:
            raise ConfigError("--max-tokens must be >= 1")
        if options.get("threshold") is not None and not 0 < options["threshold"] < 1:
            raise ConfigError("--threshold must be in (0, 1)")

    @property
    def sample_item_shape(self) -> tuple[int, ...]:
        return (self.config.max_tokens,)

    def summary_parts(self):
        c = self.config
        extras = ", attention" * c.attention + ", copy" * c.copy
        return [(f"{self.family} (tagger BiGRU {c.tagger_units}, encoder/decoder GRU {c.units}{extras})", self, ())]
