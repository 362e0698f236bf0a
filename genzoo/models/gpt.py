"""GPT: a decoder-only Transformer language model (Radford et al. 2018, "Improving language understanding by
generative pre-training"; Radford et al. 2019, "Language models are unsupervised multitask learners" -- GPT-2's
pre-LayerNorm blocks, its initialisation and weight tying). Foster 2nd ed. ch. 9 ("Transformers": GPT),
1st ed. §9 ("The Transformer", "GPT-2").

The network is :class:`genzoo.nn.transformer.Transformer` with causal attention. It trains on the token data
of the text models (:mod:`genzoo.data.tokens`): windows of ``window + 1`` tokens, the model reads the first
``window`` (its context) and is scored at every position, each prediction from the tokens before it.

Generation is the book's ``generate_text`` loop shared with the LSTM (:meth:`TokenLM.generate`: the story
marker, the prompt, temperature, top-k, and here also top-p), reading tokens through a key/value cache
(``kv_cache=True``, the default: each new token costs one position) or by a full forward pass over the
context at every token (``kv_cache=False``). Both read the same tokens at the same positions, so for the
same seed they draw the same text: the context holds at most ``window`` tokens (the learned position table's
length); when a new token would overflow it, the context restarts from the last ``window // 2`` tokens (the
cache re-reads them in one pass), so the cost stays one position per token on average plus a re-read every
``window // 2`` tokens.
"""
from __future__ import annotations

from dataclasses import dataclass
import torch
from torch import Tensor

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.transformer import Transformer
from .base import register_model
from .capabilities import Attends, NextToken, Samples
from .text import TokenLM, TransformerConfig, token_loss


@dataclass
class GPTConfig(TransformerConfig):
    """A GPT's size; ``window`` (its context length) and ``vocab_size`` come from the data. Defaults: nanoGPT's
    documented CPU configuration (4 layers, 4 heads, 128-d, dropout 0)."""

    dropout: float = 0.0
    tie_weights: bool = True          # output layer = token embedding (GPT-2)
    bias: bool = True                 # biases in the linear layers (GPT-2 has them)
    kv_cache: bool = True             # sampling reads through a key/value cache (genzoo sample --no-kv-cache)


class CachedDecoder:
    """Reads tokens through a key/value cache (or, with ``cached=False``, by a full pass over the context):
    both hold the same context (module docstring), so both give the same logits."""

    def __init__(self, model: "GPT", n: int, cached: bool):
        self.net, self.window = model.net, model.config.window
        self.cache = self.net.new_cache(n) if cached else None
        self.context: Tensor | None = None           # the tokens the model currently sees

    def read(self, ids: Tensor) -> Tensor:
        new = ids if self.context is None else torch.cat([self.context, ids], 1)
        restart = new.shape[1] > self.window
        if restart:                                  # keep the last window // 2 tokens and read them afresh
            new = new[:, -max(1, self.window // 2):]
        self.context = new
        if self.cache is None:
            return self.net(new, last_only=True)
        if restart or self.cache.length == 0:
            self.cache.reset()
            return self.net(new, cache=self.cache, last_only=True)
        return self.net(ids, cache=self.cache, last_only=True)


@register_model
class GPT(TokenLM, Samples, NextToken, Attends):
    """Decoder-only Transformer language model over character, word or BPE tokens."""

    family = "gpt"
    config_class = GPTConfig

    def __init__(self, config: GPTConfig):
        super().__init__(config)
        c = config
        self.net = Transformer(c.vocab_size, c.window, c.d_model, c.heads, c.layers, causal=True,
                               dropout=c.dropout, positions=c.positions, tie_weights=c.tie_weights,
                               mlp_ratio=c.mlp_ratio, bias=c.bias)

    # -- training --------------------------------------------------------------------------------
    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Cross-entropy at every position of the window (each prediction from the tokens before it)."""
        ids = batch.x
        logits = self.net(ids[:, :-1])
        return token_loss(logits.flatten(0, 1), ids[:, 1:].reshape(-1))

    def parameter_groups(self) -> dict[str, list]:
        """Weight decay on the matrices of the linear layers only; biases, LayerNorms and embeddings are not
        decayed (as GPT-2's training; Loshchilov & Hutter 2019's AdamW decays what is given)."""
        decay, rest = [], []
        linear = {id(m.weight) for m in self.net.modules() if isinstance(m, torch.nn.Linear)}
        for p in self.parameters():
            (decay if id(p) in linear else rest).append(p)
        return {"model": [{"params": decay}, {"params": rest, "weight_decay": 0.0}]}

    # -- next-token prediction ------------------------------------------------------------------------
    def next_token_logits(self, context: Tensor) -> Tensor:
        """Logits ``[B, V]`` of the token after each context (its last ``window`` tokens)."""
        return self.net(context[:, -self.config.window:], last_only=True)

    def decoder(self, n: int, *, kv_cache: bool | None = None) -> CachedDecoder:
        return CachedDecoder(self, n, self.config.kv_cache if kv_cache is None else kv_cache)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
               temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
               prompt: str | None = None, max_tokens: int | None = None, kv_cache: bool | None = None) -> Tensor:
        """``n`` texts (:meth:`TokenLM.generate`) drawn at ``temperature`` from the ``top_k`` likeliest and the
        ``top_p`` nucleus, read through the key/value cache unless ``kv_cache=False``."""
        return self.generate(n, generator=generator, temperature=temperature, top_k=top_k, top_p=top_p,
                             prompt=prompt, max_tokens=max_tokens, kv_cache=kv_cache)

    # -- attention, for analysis ------------------------------------------------------------------------
    @torch.no_grad()
    def attention(self, prompt: str) -> tuple[list[str], list[Tensor]]:
        """The tokens of ``prompt`` (without the story marker) and each layer's attention weights among them,
        ``[heads, T, T]`` (row: the attending position, column: the attended one)."""
        _, given = self.encode_prompt(prompt)
        if not given:
            raise ConfigError("the attention maps need a --prompt with at least one token")
        given = given[-self.config.window:]
        _, weights = self.net(torch.tensor([given], device=self.device), return_weights=True)
        tok = self.need_tokenizer()
        return tok.ids_to_tokens(given), [w[0].float().cpu() for w in weights]

    def position_table(self) -> Tensor:
        """The ``[window, d_model]`` position embeddings added to the tokens (learned or sinusoidal)."""
        return self.net.embed.position_table().detach().float().cpu()

    def summary_parts(self):
        c = self.config
        return [(f"{self.family} ({c.layers} layers, {c.heads} heads, d={c.d_model}, context {c.window})", self.net,
                 (torch.zeros(1, c.window, dtype=torch.long),))]
