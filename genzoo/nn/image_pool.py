"""The history pool of generated images (Shrivastava et al. 2017, §2.3; Zhu et al. 2017, §4 "we update the
discriminators using a history of generated images rather than the ones produced by the latest generators"; Foster
1st ed. ch. 5, the repository's ``buffer_max_length = 50``).

The pool policy of the CycleGAN reference code: while the pool is not full, each new fake is stored and shown as it
is; once full, each fake is, with probability ½, swapped for a random stored one (the discriminator sees the old
image, the pool keeps the new one), and otherwise shown as it is. The images and the fill count are registered
buffers, so the pool is part of the checkpoint and a resumed run continues with the same history.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class ImagePool(nn.Module):
    """A pool of ``size`` past fakes of ``shape`` (C, H, W); ``size`` 0 passes fakes through."""

    buffer_reduce = {"images": "keep", "filled": "keep"}   # per-process pools under data parallelism: never averaged

    def __init__(self, size: int, shape: list[int] | tuple[int, ...]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, fakes: Tensor) -> Tensor:
        """The batch the discriminator sees in place of ``fakes`` (detached), updating the pool."""
        fakes = fakes.detach()
        if self.size == 0:
            return fakes
        n = fakes.shape[0]
        filled = int(self.filled)      # one host read per discriminator step; the batch is 1 to a few images
        take = min(n, self.size - filled)
        out = fakes.clone()
        if take > 0:                   # filling: store and show as they are
            self.images[filled:filled + take] = fakes[:take].float()
            self.filled.fill_(filled + take)
        rest = n - take
        if rest > 0:                   # full: swap each of the rest for a stored image with probability 1/2
            swap = torch.rand(rest, device=fakes.device) < 0.5
            slots = torch.randint(0, self.size, (rest,), device=fakes.device)
            rows = torch.arange(take, n, device=fakes.device)
            old = self.images[slots].to(fakes.dtype)
            out[rows] = torch.where(swap[:, None, None, None], old, fakes[rows])
            # Store the swapped-out fakes; distinct slots only (with repeats, which write wins is unspecified).
            keep = swap & (torch.cumsum(torch.nn.functional.one_hot(slots, self.size), 0)
                           .gather(1, slots[:, None]).squeeze(1) == 1)
            self.images[slots[keep]] = fakes[rows[keep]].float()
        return out


__all__ = ["ImagePool"]
