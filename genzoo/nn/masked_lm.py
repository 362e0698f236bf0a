"""BERT's masked-language-model output layer (Devlin et al. 2019, §3.1 and Appendix A.1; Foster 1st ed. §9).

The encoder's final hidden state at each selected position goes through a "transform" (Linear d → d, GELU,
LayerNorm), then a decoder whose weight is the **input token embedding** (tied, Press & Wolf 2017, as BERT)
plus an output bias of its own. The embedding matrix is passed in at call time, so its single parameter
belongs to the encoder and is saved and counted once.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedLMHead(nn.Module):
    """Hidden states ``[N, d]`` → vocabulary logits ``[N, V]`` through BERT's transform and the tied embedding."""

    def __init__(self, d_model: int, vocab_size: int):
        super().__init__()
        self.dense = nn.Linear(d_model, d_model)
        self.act = nn.GELU(approximate="tanh")
        self.norm = nn.LayerNorm(d_model)
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        nn.init.normal_(self.dense.weight, 0.0, 0.02)    # the encoder's (GPT-2/BERT) initialisation
        nn.init.zeros_(self.dense.bias)

    def forward(self, hidden: Tensor, embedding: Tensor) -> Tensor:
        """Logits of ``hidden`` against the token embedding matrix ``embedding`` ``[V, d]``."""
        return F.linear(self.norm(self.act(self.dense(hidden))), embedding, self.bias)
