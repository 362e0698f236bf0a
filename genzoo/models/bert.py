"""A BERT-style masked language model (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding"; Foster 1st ed. §9, "BERT").

A bidirectional Transformer encoder (genzoo's shared pre-LayerNorm blocks, :mod:`genzoo.nn.transformer`, with
``causal=False``: every position attends to every other) reads a window of word or character tokens in which
BERT's masking (:mod:`genzoo.data.masking`: 15 % of each window's tokens selected, of those 80 % → ``[MASK]``,
10 % → a random token, 10 % kept) has hidden some; BERT's output layer (:class:`~genzoo.nn.masked_lm.MaskedLMHead`,
decoder tied to the token embedding) predicts the original token at the selected positions only, and the loss
is their cross-entropy. BERT's second objective, next-sentence prediction, is left out (Liu et al. 2019 found
it does not help); so are segment embeddings and ``[CLS]``/``[SEP]``: the story marker ``|`` separates texts
and is never selected.

Departures from BERT: pre-LayerNorm blocks (GPT-2's; BERT is post-LN), which train without BERT's long
warm-up; windows of the corpus's token stream instead of sentence pairs; dynamic masking (fresh masks at every
step, as RoBERTa) drawn from a generator seeded by ``mask_seed`` and the step, so resume is exact.

The ``[MASK]`` token is part of the run's vocabulary (the family asks the data for it, ``data_hints``), so a
run fills masks without the corpus: ``genzoo sample RUN --fill-mask --prompt "the [MASK] said ,"``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import ConfigError
from ..data.loader import Batch
from ..data.masking import MASK_TOKEN, Masked, MaskingRule, mask_tokens, step_generator
from ..nn.masked_lm import MaskedLMHead
from ..nn.transformer import Transformer
from .base import register_model
from .capabilities import FillsMask
from .text import TokenModel, TransformerConfig


@dataclass
class MaskedLMConfig(TransformerConfig):
    """The encoder's size, BERT's masking rule, and the ``[MASK]`` id (from the data's tokeniser)."""

    dropout: float = 0.1              # BERT's dropout on embeddings, attention weights and residual branches
    mask_rate: float = 0.15           # share of each window's eligible tokens selected as targets
    mask_token: float = 0.8           # share of the selected replaced by [MASK]
    random_token: float = 0.1         # ... by a random token (the rest are kept)
    mask_seed: int = 0                # training masks of step s come from a generator seeded by (mask_seed, s)
    mask_id: int = 0                  # the [MASK] token's id, filled from the tokeniser

    def check(self) -> None:
        super().check()
        self.rule.check()
        if not 0 < self.mask_id < self.vocab_size:
            raise ConfigError(f"model.mask_id={self.mask_id}: the [MASK] id comes from the data's tokeniser; train on "
                              f"a text corpus (e.g. --dataset fortunes)")

    @property
    def rule(self) -> MaskingRule:
        return MaskingRule(self.mask_rate, self.mask_token, self.random_token)


@register_model
class MaskedLanguageModel(TokenModel, FillsMask):
    """BERT-style masked language model: a bidirectional Transformer encoder over word or character tokens."""

    family = "bert"
    config_class = MaskedLMConfig

    def __init__(self, config: MaskedLMConfig):
        super().__init__(config)
        c = config
        self.net = Transformer(c.vocab_size, c.window, c.d_model, c.heads, c.layers, causal=False, dropout=c.dropout,
                               positions=c.positions, tie_weights=True, mlp_ratio=c.mlp_ratio)
        self.mlm = MaskedLMHead(c.d_model, c.vocab_size)
        self._step = 0

    # -- data ------------------------------------------------------------------------------------------
    @classmethod
    def data_hints(cls, model_cfg: dict) -> dict:
        return {"special_tokens": [MASK_TOKEN]}

    @classmethod
    def configure(cls, model_cfg: dict, spec) -> dict:
        """The text layer's fields, and the id of ``[MASK]`` (the last id: specials follow every text token)."""
        from ..data.tokenizers import tokenizer_from_dict

        model_cfg = super().configure(model_cfg, spec)
        tok = tokenizer_from_dict(spec.vocab)
        mask_id = tok.special_id(MASK_TOKEN)
        if tok.ordinary_ids != range(1, mask_id):
            raise ConfigError(f"the vocabulary's special tokens {tok.special_tokens} must start with {MASK_TOKEN!r}")
        return {**model_cfg, "mask_id": mask_id}

    def mask(self, ids: Tensor, generator: torch.Generator) -> Masked:
        """BERT's masking of ``ids`` ``[B, T]`` under this model's rule; story markers and padding are never
        selected, random replacements are text tokens (never ``[MASK]``)."""
        c = self.config
        eligible = (ids != 0) & (ids != c.stop_id)
        return mask_tokens(ids, mask_id=c.mask_id, ordinary=range(1, c.mask_id), eligible=eligible,
                           generator=generator, rule=c.rule)

    # -- training --------------------------------------------------------------------------------------
    def before_step(self, step: int, total: int) -> None:
        self._step = step

    def masked_logits(self, inputs: Tensor, selected: Tensor) -> Tensor:
        """Logits ``[N, V]`` at the ``selected`` positions (row-major order) of the masked ``inputs`` ``[B, T]``:
        the output layer runs only where there is something to predict."""
        hidden = self.net.features(inputs)
        return self.mlm(hidden[selected], self.net.embed.token.weight)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Cross-entropy at the selected positions of the window's first ``window`` tokens, masked by this
        step's generator (the masks of a step are the same after a resume)."""
        ids = batch.x[:, :self.config.window]
        m = self.mask(ids, step_generator(self.config.mask_seed, self._step))
        logits = self.masked_logits(m.inputs, m.selected)
        targets = ids[m.selected]
        nats = F.cross_entropy(logits, targets)
        accuracy = (logits.detach().argmax(-1) == targets).float().mean()
        return {"loss": nats, "bits_per_token": nats / math.log(2), "masked_accuracy": accuracy}

    # -- fill-mask --------------------------------------------------------------------------------------
    def encode_masked(self, prompt: str) -> tuple[list[int], list[int]]:
        """A prompt holding ``[MASK]`` as (token ids with the mask id at each ``[MASK]``, the positions of the
        masks). The text around the masks is cleaned as the training text was; words outside the vocabulary
        are an error that suggests near words."""
        from ..data.text import clean_story

        tok = self.need_tokenizer()
        pieces = prompt.split(MASK_TOKEN)
        if len(pieces) == 1:
            raise ConfigError(f"the prompt {prompt!r} has no {MASK_TOKEN}; write {MASK_TOKEN} where the model should "
                              f"fill in a token, e.g. --prompt \"the {MASK_TOKEN} said ,\"")
        ids: list[int] = []
        masks: list[int] = []
        for i, piece in enumerate(pieces):
            if i:
                masks.append(len(ids))
                ids.append(self.config.mask_id)
            text = clean_story(piece)
            if tok.kind == "char" and text:   # characters: the spaces around a mask are tokens too
                text = (" " if i and piece[:1].isspace() else "") + text + (
                    " " if i + 1 < len(pieces) and piece[-1:].isspace() else "")
            ids += tok.encode(text, unknown="error") if text else []
        return ids, masks

    def framed(self, ids: list[int]) -> tuple[list[int], int]:
        """``ids`` between story markers, as a text sits in the training stream, cut to the window; and where
        ``ids`` start."""
        from ..data.text import SEQ_LENGTH

        w, stop = self.config.window, self.config.stop_id
        if len(ids) > w:
            raise ConfigError(f"the prompt has {len(ids)} tokens; this model reads at most {w} (its window): "
                              f"shorten the prompt")
        room = w - len(ids)
        right = min(SEQ_LENGTH, room // 2)
        left = min(SEQ_LENGTH, room - right)
        return [stop] * left + ids + [stop] * right, left

    @torch.no_grad()
    def fill_mask(self, prompt: str, k: int = 10) -> list[list[tuple[str, float]]]:
        """For each ``[MASK]`` of ``prompt``, the ``k`` likeliest tokens with their probabilities (padding and
        ``[MASK]`` itself are never proposed)."""
        tok = self.need_tokenizer()
        ids, masks = self.encode_masked(prompt)
        seq, start = self.framed(ids)
        inputs = torch.tensor([seq], device=self.device)
        selected = torch.zeros_like(inputs, dtype=torch.bool)
        selected[0, [start + i for i in masks]] = True
        logits = self.masked_logits(inputs, selected).float()
        logits[:, 0] = float("-inf")
        logits[:, self.config.mask_id] = float("-inf")
        probs = logits.softmax(-1)
        p, i = probs.topk(min(k, probs.shape[-1] - 2), dim=-1)
        index_word = tok.index_word
        return [[(index_word[int(j)], float(q)) for q, j in zip(pr, ir)] for pr, ir in zip(p, i)]

    @property
    def sample_item_shape(self) -> tuple[int, ...]:
        return (self.config.window,)

    def summary_parts(self):
        c = self.config
        return [(f"{self.family} (encoder: {c.layers} layers, {c.heads} heads, d {c.d_model})", self,
                 (torch.zeros(1, c.window, dtype=torch.long),))]

    def forward(self, ids: Tensor) -> Tensor:
        """Logits ``[B, T, V]`` at every position of ``ids`` (for the summary table; training and fill-mask run
        the output layer only where tokens are masked)."""
        return self.mlm(self.net.features(ids), self.net.embed.token.weight)
