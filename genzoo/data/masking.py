"""BERT's masking of token sequences (Devlin et al. 2019, §3.1 "Task #1: Masked LM"; Foster 1st ed. §9, BERT).

Of each sequence's eligible tokens, 15 % (``rate``; ``round(rate · n)``, at least one, as BERT's
``create_pretraining_data`` counts them) are **selected** as prediction targets. Each selected token is then
replaced by ``[MASK]`` with probability 0.8 (``mask``), by a token drawn uniformly from the ordinary
vocabulary with probability 0.1 (``random``), and kept as it is otherwise; the loss is taken only at the
selected positions. A token is eligible when it is an ordinary token and not a separator: genzoo's story
marker ``|`` plays BERT's ``[SEP]`` (20 in a row between stories, trivially predictable from one another) and
is never selected, as BERT never selects ``[CLS]``/``[SEP]``.

Determinism without state: the masks of training step ``s`` are drawn from a generator seeded by the run's
masking seed and ``s`` (:func:`step_generator`), so an interrupted run resumes onto the masks an
uninterrupted one would have drawn, and the data stream's resume state stays (epoch, position). Evaluation
draws its masks from a fixed seed, so two runs are scored on the same masked positions.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import ConfigError

MASK_TOKEN = "[MASK]"


@dataclass(frozen=True)
class MaskingRule:
    """How many tokens are selected (``rate``) and what becomes of a selected one (``mask`` → ``[MASK]``,
    ``random`` → a random token, the rest kept)."""

    rate: float = 0.15
    mask: float = 0.8
    random: float = 0.1

    def check(self, where: str = "model") -> None:
        if not 0 < self.rate < 1:
            raise ConfigError(f"{where}.mask_rate must be in (0, 1) (BERT selects 0.15), got {self.rate}")
        if self.mask < 0 or self.random < 0 or self.mask + self.random > 1:
            raise ConfigError(f"{where}.mask_token and {where}.random_token are the shares of selected tokens "
                              f"replaced by [MASK] and by a random token: each >= 0, together <= 1 (BERT: 0.8 and "
                              f"0.1), got {self.mask} and {self.random}")


@dataclass
class Masked:
    """One masked batch: the model's ``inputs``, the ``selected`` positions (bool) and the original ``targets``;
    ``kind`` is 0 where a selected token became ``[MASK]``, 1 a random token, 2 kept (-1 elsewhere)."""

    inputs: Tensor
    selected: Tensor
    targets: Tensor
    kind: Tensor


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of training step ``step``'s masks under masking seed ``seed``: one (seed, step) pair, one
    stream (the pair is packed into one 64-bit seed)."""
    return torch.Generator().manual_seed((int(seed) % 2**31) * 2**32 + int(step) % 2**32)


def mask_tokens(ids: Tensor, *, mask_id: int, ordinary: range, eligible: Tensor, generator: torch.Generator,
                rule: MaskingRule = MaskingRule()) -> Masked:
    """Mask ``ids`` ``[B, T]`` by BERT's rule (module docstring). ``eligible`` ``[B, T]`` marks the tokens that
    may be selected; random replacements are drawn from the ids ``ordinary``. Randomness comes only from
    ``generator`` (drawn on the CPU, so the masks do not depend on the device)."""
    b, t = ids.shape
    device = ids.device
    eligible = eligible.cpu()
    scores = torch.rand(b, t, generator=generator)
    u = torch.rand(b, t, generator=generator)
    replacements = torch.randint(ordinary.start, ordinary.stop, (b, t), generator=generator)
    n = eligible.sum(1)
    k = torch.where(n > 0, torch.round(n * rule.rate).clamp_min(1), torch.zeros_like(n))
    rank = scores.masked_fill(~eligible, 2.0).argsort(1).argsort(1)
    selected = (rank < k[:, None]) & eligible
    to_mask = selected & (u < rule.mask)
    to_random = selected & (u >= rule.mask) & (u < rule.mask + rule.random)
    kind = torch.full((b, t), -1, dtype=torch.int8)
    kind[selected] = 2
    kind[to_random] = 1
    kind[to_mask] = 0
    cpu = ids.cpu()
    inputs = torch.where(to_mask, torch.full_like(cpu, mask_id), torch.where(to_random, replacements, cpu))
    return Masked(inputs.to(device), selected.to(device), ids, kind.to(device))
