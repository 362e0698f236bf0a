"""Recurrent language models of Foster 1st ed. ch. 6: the LSTM (Listing 6.3), the stacked LSTM (Listing 6.5),
GRU and bidirectional variants, with the book's temperature sampling from a seed text (Listing 6.4).

The book trains on 20-token windows and scores only the token after each window. genzoo scores every
position of the window by default (``loss_positions: all``; the same windows, 20 predictions each instead of
one, each from the tokens before it): the same model and the same data, with 20× the training signal per
step. ``loss_positions: last`` is the book's exact objective. A bidirectional recurrent layer would see the
tokens it predicts at every position but the last, so bidirectional models train on the last position only
(as the book's ``Bidirectional(GRU(100))`` reads a whole window).

Generation is the book's ``generate_text``: prepend the story marker to the seed text, keep the last
``window`` tokens, draw the next token from the softmax at temperature T (``sample_with_temp``; here also
top-k), stop when the story marker ``|`` comes out (or after ``max_tokens``). Many texts are drawn at once.

What every left-to-right language model shares lives here too: :class:`TokenModelConfig` (the fields every
token model has), :class:`TokenModel` (vocabulary from the data, texts as artifacts) and :class:`TokenLM`
(the prompt, the generation loop with temperature, top-k and top-p, next-token tables), on which the LSTM and
the GPT family (:mod:`genzoo.models.gpt`) are built.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import ConfigError
from ..progress import report
from ..data.loader import Batch
from ..nn.recurrent import CELLS, RecurrentLM
from ..nn.transformer import POSITIONS
from .base import GenerativeModel, ModelConfig, register_model
from .capabilities import NextToken, Samples


@dataclass
class TokenModelConfig(ModelConfig):
    """What every model of token sequences has; ``vocab_size``, ``window`` and ``stop_id`` come from the data
    (``configure``). Families add their architecture's fields (:class:`RecurrentConfig`, the GPT's)."""

    vocab_size: int = 0               # filled from the data's tokeniser (the book's total_words)
    window: int = 20                  # tokens read before each prediction (the data's window; a GPT's context)
    dropout: float = 0.2
    temperature: float = 1.0          # default sampling temperature (Listing 6.4)
    max_tokens: int = 100             # default length of a generated text (the book's next_words)
    stop_id: int = 1                  # the story marker's id (from the tokeniser; '|' is id 1 for Aesop)

    def check(self) -> None:
        if self.vocab_size < 2:
            raise ConfigError(f"model.vocab_size={self.vocab_size}: it comes from the data's tokeniser; train on a "
                              f"text corpus (e.g. --dataset fortunes)")
        if self.window < 1:
            raise ConfigError("model.window must be >= 1")
        if not 0 <= self.dropout < 1:
            raise ConfigError("model.dropout must be in [0, 1)")
        if self.temperature <= 0 or self.max_tokens < 1:
            raise ConfigError("model.temperature must be > 0 and model.max_tokens >= 1")


@dataclass
class RecurrentConfig(TokenModelConfig):
    """The recurrent language model's architecture (Listings 6.3 and 6.5)."""

    embedding: int = 100              # Listing 6.3's embedding_size
    units: list[int] = field(default_factory=lambda: [256])   # one LSTM(256); [256, 256] stacks (Listing 6.5)
    cell: str = "lstm"                # lstm | gru
    bidirectional: bool = False
    loss_positions: str = "all"       # all (every position of the window) | last (the book's objective)

    def check(self) -> None:
        super().check()
        if self.cell not in CELLS:
            raise ConfigError(f"model.cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if not self.units or min(self.units) < 1 or self.embedding < 1:
            raise ConfigError("model.units (a list) and model.embedding must be >= 1")
        if self.loss_positions not in ("all", "last"):
            raise ConfigError(f"model.loss_positions must be all or last, got {self.loss_positions!r}")
        if self.bidirectional and self.loss_positions != "last":
            raise ConfigError("a bidirectional model sees the next tokens at every position but the last: set "
                              "model.loss_positions=last")


@dataclass
class TransformerConfig(TokenModelConfig):
    """The size of a Transformer token model (:class:`genzoo.nn.transformer.Transformer`): GPT's and the masked
    language model's. Defaults: nanoGPT's documented CPU configuration (4 layers, 4 heads, 128-d)."""

    layers: int = 4                   # blocks (BERT-base: 12)
    heads: int = 4                    # attention heads (BERT-base: 12)
    d_model: int = 128                # hidden size (BERT-base: 768)
    mlp_ratio: int = 4                # feed-forward width / d_model (GPT, BERT: 4)
    positions: str = "learned"        # learned (GPT, BERT) | sinusoidal (Vaswani et al. 2017, §3.5)

    def check(self) -> None:
        super().check()
        if min(self.layers, self.heads, self.d_model, self.mlp_ratio) < 1:
            raise ConfigError("model.layers, model.heads, model.d_model and model.mlp_ratio must be >= 1")
        if self.d_model % self.heads:
            raise ConfigError(f"model.d_model={self.d_model} must be a multiple of model.heads={self.heads} "
                              f"(each head has d_model / heads dimensions)")
        if self.positions not in POSITIONS:
            raise ConfigError(f"model.positions must be one of {', '.join(POSITIONS)}, got {self.positions!r}")


class TokenModel(GenerativeModel):
    """The layer of token-sequence models: configured from the data's vocabulary, texts as artifacts."""

    config_class = TokenModelConfig
    modality = "tokens"
    data_sized = ("vocab_size", "window")   # the window is the data's (data.text.window)

    def __init__(self, config: TokenModelConfig):
        super().__init__(config)
        self.tokenizer = None   # the run's tokeniser, attached when the run is opened (decoding only)

    @classmethod
    def configure(cls, model_cfg: dict, spec) -> dict:
        """The vocabulary size, the window and the story marker's id come from the data's tokeniser."""
        from ..data.text import STOP_TOKEN
        from ..data.tokenizers import tokenizer_from_dict

        model_cfg = super().configure(model_cfg, spec)
        stop = tokenizer_from_dict(spec.vocab).word_index.get(STOP_TOKEN)
        if stop is None:
            raise ConfigError(f"the vocabulary has no story marker {STOP_TOKEN!r}; text corpora join their stories "
                              f"with it (genzoo.data.text.join_stories)")
        return {**model_cfg, "vocab_size": int(spec.extra["vocab_size"]), "window": int(spec.units_per_item),
                "stop_id": int(stop)}

    def attach_spec(self, spec) -> None:
        from ..data.tokenizers import tokenizer_from_dict

        if spec is not None and spec.vocab is not None:
            self.tokenizer = tokenizer_from_dict(spec.vocab)

    def need_tokenizer(self):
        if self.tokenizer is None:
            raise ConfigError("this text model has no vocabulary attached (its run's data_spec.json is missing); "
                              "open it with genzoo.run_context.RunContext")
        return self.tokenizer

    def samples_artifact(self, samples: Tensor, *, title: str | None = None, nrow: int = 8,
                         shown: int | None = None):
        from ..tasks.artifacts import Text

        tok = self.need_tokenizer()
        texts = [tok.decode([i for i in row.tolist() if i > 0], tidy=True).strip() for row in samples]
        return Text(texts, title=title, info={"tokens": [int((row > 0).sum()) for row in samples]})


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Keep the ``top_k`` likeliest tokens and then the nucleus: the fewest likeliest tokens whose probability
    sums to at least ``top_p`` (Holtzman et al. 2020, "The curious case of neural text degeneration", §3.1);
    every other logit becomes -inf. The likeliest token always stays."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        before = probs.cumsum(-1) - probs                   # the mass of the likelier tokens
        drop = before >= top_p
        drop[:, 0] = False
        logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    return logits


class WindowDecoder:
    """The state of one generation for a model that reads a fixed window: the tokens so far; each read appends
    the new tokens and runs ``next_token_logits`` on the history (the model keeps its last ``window``)."""

    def __init__(self, model: "TokenLM"):
        self.model = model
        self.history: Tensor | None = None

    def read(self, ids: Tensor) -> Tensor:
        """Append ``ids`` ``[B, T]``; the logits ``[B, V]`` of the token after them."""
        self.history = ids if self.history is None else torch.cat([self.history, ids], 1)
        self.history = self.history[:, -self.model.config.window:]
        return self.model.next_token_logits(self.history)


class TokenLM(TokenModel):
    """The layer of left-to-right language models (the LSTM, GPT): the book's prompt encoding and generation
    loop (Listing 6.4's ``generate_text``), next-token tables. A family declares ``Samples`` and ``NextToken``,
    gives ``next_token_logits`` and writes its own ``sample`` whose keyword-only options are what it accepts,
    calling :meth:`generate`; :meth:`decoder` says how it reads tokens (a window, a key/value cache)."""

    def next_token_logits(self, context: Tensor) -> Tensor:
        raise NotImplementedError

    def decoder(self, n: int, **options: Any) -> WindowDecoder:
        """The reading state of a generation of ``n`` texts (default: the last ``window`` tokens each step)."""
        return WindowDecoder(self)

    def encode_prompt(self, prompt: str | None) -> tuple[list[int], list[int]]:
        """The book's seed, as (story marker ids, prompt ids): the model reads the marker then the prompt (words
        outside the vocabulary are an error that suggests near words)."""
        from ..data.text import STORY_DELIMITER, clean_story

        tok = self.need_tokenizer()
        marker = tok.encode(STORY_DELIMITER + " ")
        return marker, (tok.encode(clean_story(prompt), unknown="error") if prompt else [])

    def generate(self, n: int, *, generator: torch.Generator | None = None, temperature: float | None = None,
                 top_k: int | None = None, top_p: float | None = None, prompt: str | None = None,
                 max_tokens: int | None = None, **decoder_options: Any) -> Tensor:
        """``n`` texts as token ids ``[n, len(prompt) + max_tokens]``, 0 after a text's end: the prompt's tokens,
        then draws at ``temperature`` (from the ``top_k`` likeliest and the ``top_p`` nucleus, if given) until
        the story marker. ``decoder_options`` go to :meth:`decoder`."""
        c = self.config
        t = c.temperature if temperature is None else temperature
        steps = c.max_tokens if max_tokens is None else max_tokens
        marker, given = self.encode_prompt(prompt)
        unknown = self.need_tokenizer().unknown_id
        reader = self.decoder(n, **decoder_options)
        logits = reader.read(torch.tensor(marker + given, device=self.device).repeat(n, 1))
        out = torch.zeros(n, len(given) + steps, dtype=torch.long)
        out[:, :len(given)] = torch.tensor(given, dtype=torch.long)
        alive = torch.ones(n, dtype=torch.bool)
        for i in range(steps):
            report(i, steps, "tokens")
            logits = logits.float() / t
            logits[:, 0] = float("-inf")                  # id 0 is padding, never a word (the book maps it to '')
            if unknown is not None:
                logits[:, unknown] = float("-inf")        # never write <unk>: it stands for many words
            if i == 0 and not given:
                logits[:, c.stop_id] = float("-inf")      # a new story starts with a word, not another marker
            logits = filter_logits(logits, top_k, top_p)
            nxt = torch.multinomial(logits.softmax(-1).cpu(), 1, generator=generator).squeeze(1)
            alive &= nxt != c.stop_id
            if not alive.any():
                break
            out[:, len(given) + i] = torch.where(alive, nxt, 0)
            if i + 1 < steps:
                logits = reader.read(nxt.to(self.device).unsqueeze(1))
        return out

    @torch.no_grad()
    def top_next(self, prompt: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` likeliest next tokens after ``prompt`` with their probabilities (Fig. 6.10)."""
        tok = self.need_tokenizer()
        marker, given = self.encode_prompt(prompt)
        context = torch.tensor([marker + given], device=self.device)
        probs = self.next_token_logits(context).float().softmax(-1)[0]
        p, i = probs.topk(min(k, len(probs)))
        return [(tok.index_word.get(int(j), "") if int(j) else "", float(q)) for q, j in zip(p, i)]

    def check_options(self, options: dict[str, Any]) -> None:
        if options.get("max_tokens") is not None and options["max_tokens"] < 1:
            raise ConfigError("--max-tokens must be >= 1")
        if options.get("top_k") is not None and options["top_k"] < 1:
            raise ConfigError("--top-k must be >= 1")
        if options.get("top_p") is not None and not 0 < options["top_p"] <= 1:
            raise ConfigError("--top-p must be in (0, 1]")

    @property
    def sample_item_shape(self) -> tuple[int, ...]:
        return (self.config.max_tokens + 64,)


@register_model
class RecurrentTextModel(TokenLM, Samples, NextToken):
    """Recurrent language model (LSTM or GRU, stacked or bidirectional) over word or character tokens."""

    family = "lstm"
    config_class = RecurrentConfig

    def __init__(self, config: RecurrentConfig):
        super().__init__(config)
        c = config
        self.net = RecurrentLM(c.vocab_size, c.embedding, c.units, c.cell, c.bidirectional, c.dropout)

    # -- training --------------------------------------------------------------------------------
    def loss(self, batch: Batch) -> dict[str, Tensor]:
        ids = batch.x
        inputs, targets = ids[:, :-1], ids[:, 1:]
        if self.config.loss_positions == "last":
            logits, targets = self.net(inputs, last_only=True), targets[:, -1]
        else:
            logits = self.net(inputs).flatten(0, 1)
            targets = targets.reshape(-1)
        return token_loss(logits, targets)

    # -- next-token prediction ------------------------------------------------------------------------
    def next_token_logits(self, context: Tensor) -> Tensor:
        """Logits ``[B, V]`` of the token after each context (its last ``window`` tokens, as the book)."""
        return self.net(context[:, -self.config.window:], last_only=True)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
               temperature: float | None = None, top_k: int | None = None, prompt: str | None = None,
               max_tokens: int | None = None) -> Tensor:
        """``n`` texts from the book's ``generate_text`` (:meth:`TokenLM.generate`), the last ``window`` tokens
        as context."""
        return self.generate(n, generator=generator, temperature=temperature, top_k=top_k, prompt=prompt,
                             max_tokens=max_tokens)

    def summary_parts(self):
        return [(f"{self.family} ({self.config.cell}, units {self.config.units})", self.net,
                 (torch.zeros(1, self.config.window, dtype=torch.long),))]


def token_loss(logits: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """Cross-entropy of flat ``[N, V]`` logits against ``[N]`` targets, in nats and bits per token."""
    nats = F.cross_entropy(logits, targets)
    return {"loss": nats, "bits_per_token": nats / math.log(2)}
