"""Conditional batch normalisation (de Vries et al. 2017, "Modulating early visual processing by language";
Dumoulin et al. 2017), as the class-conditional generators of SAGAN (Zhang et al. 2019, §5) and BigGAN (Brock et
al. 2019, §3 and Appendix B) use it: the features are normalised by batch statistics without a learned affine, then
scaled and shifted by a gain and a bias that are *linear projections of a conditioning vector*:

    y = (1 + W_γ c) ⊙ (x − μ) / σ + W_β c

In BigGAN ``c`` is, for each residual block, the shared class embedding concatenated with that block's chunk of the
latent ``z`` ("hierarchical latent space", §3 and Fig. 15), so the class and the noise both reach every layer. The
gain is centred on 1 so an untrained projection leaves the normalised features as they are (BigGAN's
``ccbn``). Without a condition (``cond_dim = 0``) this is plain batch norm with its own learned affine (an
unconditional SAGAN).
"""
from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose per-channel gain and bias are linear maps of a condition ``[B, cond_dim]``.

    ``wrap`` is applied to the two projections (BigGAN spectrally normalises them, like every G layer). The
    running statistics are tracked as usual (``momentum``), so ``eval()`` samples with them.
    """

    def __init__(self, channels: int, cond_dim: int, momentum: float = 0.1, eps: float = 1e-4,
                 wrap: Callable[[nn.Module], nn.Module] = lambda m: m):
        super().__init__()
        self.cond_dim = cond_dim
        self.bn = nn.BatchNorm2d(channels, eps=eps, momentum=momentum, affine=cond_dim == 0)
        if cond_dim:
            self.gain = wrap(nn.Linear(cond_dim, channels, bias=False))
            self.bias = wrap(nn.Linear(cond_dim, channels, bias=False))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        out = self.bn(x)
        if not self.cond_dim:
            return out
        if cond is None:
            raise ValueError("ConditionalBatchNorm2d built with a condition needs one")
        gain = 1.0 + self.gain(cond).to(out.dtype)
        bias = self.bias(cond).to(out.dtype)
        return out * gain[:, :, None, None] + bias[:, :, None, None]

    def extra_repr(self) -> str:
        return f"cond_dim={self.cond_dim}"


__all__ = ["ConditionalBatchNorm2d"]
