"""Per-pixel output distributions of autoregressive image models.

* :class:`CategoricalHead` — a K-way softmax per channel (PixelCNN/PixelRNN, van den Oord et al. 2016a;
  Foster 2nd ed. ch. 5 uses K = 4). Channels of one pixel are predicted one after the other (R → G → B),
  so sampling a colour pixel takes one network evaluation per channel.
* :class:`LogisticMixtureHead` — the discretised mixture of logistics of PixelCNN++ (Salimans et al.
  2017, section 2.1-2.2; the "mixture distributions" of Foster 2nd ed. ch. 5): the K levels are bins of
  width 2/(K−1) on [−1, 1]; the edge bins take the whole tails. For colour, one mixture component is
  shared by the pixel's channels and the means of G and B depend linearly on the pixel's earlier
  channels, so the network needs no channel masks and a colour pixel costs one evaluation.

Both heads work on the network's raw output ``N×P×H×W`` (``P = head.channels``) and on integer pixel
values ``0 … K−1``. Sampling reads pre-drawn uniforms (one per channel plus one for the mixture
component), so any two samplers that compute the same distributions produce the same images.
Temperature T divides the logits (softmax and mixture weights) and multiplies the logistic scales.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _fp32_or_wider(x: Tensor) -> Tensor:
    """Losses in at least fp32 (bf16 autocast outputs are upcast; float64 stays float64)."""
    return x if x.dtype == torch.float64 else x.float()


def inverse_cdf(probs: Tensor, u: Tensor) -> Tensor:
    """Index of the first category whose cumulative probability exceeds ``u`` (``probs``: N×K, ``u``: N)."""
    cdf = probs.cumsum(-1)
    return (cdf <= u.unsqueeze(-1) * cdf[..., -1:]).sum(-1).clamp(max=probs.shape[-1] - 1)


class CategoricalHead:
    """K-way softmax for each of C channels; output maps laid out channel-major: [R: K, G: K, B: K]."""

    def __init__(self, channels: int, levels: int):
        self.image_channels, self.levels = channels, levels
        self.channels = channels * levels
        self.groups = channels                      # network channel groups (R → G → B masking)
        self.passes = [[ch] for ch in range(channels)]

    def log_prob_map(self, out: Tensor, target: Tensor) -> Tensor:
        """log p of each integer value in ``target`` (N×C×H×W), same shape, in nats."""
        n, _, h, w = out.shape
        logits = _fp32_or_wider(out).view(n, self.image_channels, self.levels, h, w).transpose(1, 2)
        return -F.cross_entropy(logits, target, reduction="none")

    def sample_pixel(self, out: Tensor, channels: list[int], u: Tensor, temperature: float) -> Tensor:
        """Integer values (N×len(channels)) of ``channels`` of one pixel, given its outputs (N×P)."""
        (ch,) = channels
        logits = out.view(out.shape[0], self.image_channels, self.levels)[:, ch].double()
        return inverse_cdf(torch.softmax(logits / temperature, -1), u[:, ch].double()).unsqueeze(1)


def _log_prob_from_logistic(x: Tensor, mean: Tensor, log_scale: Tensor, levels: int) -> Tensor:
    """log P(bin of x) under a logistic discretised into ``levels`` bins on [−1, 1] (edges take the tails)."""
    half = 1.0 / (levels - 1)
    inv_s = torch.exp(-log_scale)
    upper = (x - mean + half) * inv_s
    lower = (x - mean - half) * inv_s
    # log(σ(a) − σ(b)) = log σ(a) + log σ(−b) + log(1 − e^(b − a)), exact and stable for a > b
    middle = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))
    at_bottom = x < -1 + half / 2
    at_top = x > 1 - half / 2
    return torch.where(at_bottom, F.logsigmoid(upper), torch.where(at_top, F.logsigmoid(-lower), middle))


class LogisticMixtureHead:
    """Discretised mixture of ``components`` logistics (PixelCNN++), for 1 or 3 channels."""

    LOG_SCALE_MIN = -7.0

    def __init__(self, channels: int, levels: int, components: int):
        if channels not in (1, 3):
            raise ValueError("the logistic mixture supports 1 or 3 channels")
        self.image_channels, self.levels, self.components = channels, levels, components
        coeffs = 3 if channels == 3 else 0
        self.channels = components * (1 + 2 * channels + coeffs)
        self.groups = 1                              # the network sees none of the current pixel
        self.passes = [list(range(channels))]

    def _split(self, out: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """logits (N×M×…), means, log-scales (N×C×M×…), coefficients (N×3×M×… or None)."""
        m, c = self.components, self.image_channels
        rest = out.shape[2:]
        logits = out[:, :m]
        means = out[:, m:m + c * m].reshape(out.shape[0], c, m, *rest)
        log_scales = out[:, m + c * m:m + 2 * c * m].reshape(out.shape[0], c, m, *rest).clamp(min=self.LOG_SCALE_MIN)
        coeffs = torch.tanh(out[:, m + 2 * c * m:].reshape(out.shape[0], 3, m, *rest)) if c == 3 else None
        return logits, means, log_scales, coeffs

    @staticmethod
    def _condition_means(means: Tensor, coeffs: Tensor | None, x: Tensor) -> Tensor:
        """Means of G and B shifted by the pixel's earlier channels (x: N×C×1×… in [−1, 1])."""
        if coeffs is None:
            return means
        r, g = x[:, 0], x[:, 1]
        return torch.stack([means[:, 0], means[:, 1] + coeffs[:, 0] * r,
                            means[:, 2] + coeffs[:, 1] * r + coeffs[:, 2] * g], dim=1)

    def log_prob_map(self, out: Tensor, target: Tensor) -> Tensor:
        """log p of each pixel (all its channels), N×1×H×W, in nats."""
        logits, means, log_scales, coeffs = self._split(_fp32_or_wider(out))
        x = (target.to(means.dtype) * (2.0 / (self.levels - 1)) - 1.0).unsqueeze(2)                 # N×C×1×H×W
        means = self._condition_means(means, coeffs, x)
        per_channel = _log_prob_from_logistic(x, means, log_scales, self.levels)  # N×C×M×H×W
        joint = per_channel.sum(1) + F.log_softmax(logits, dim=1)
        return torch.logsumexp(joint, dim=1, keepdim=True)

    def sample_pixel(self, out: Tensor, channels: list[int], u: Tensor, temperature: float) -> Tensor:
        """Integer values (N×C) of all channels of one pixel (component shared, channels in order)."""
        logits, means, log_scales, coeffs = self._split(out.double())
        comp = inverse_cdf(torch.softmax(logits / temperature, -1), u[:, -1].double())   # N
        pick = comp.view(-1, 1, 1).expand(-1, means.shape[1], 1)
        mean = means.gather(2, pick).squeeze(2)                         # N×C
        scale = log_scales.gather(2, pick).squeeze(2).exp() * temperature
        coef = coeffs.gather(2, pick.expand(-1, 3, 1)).squeeze(2) if coeffs is not None else None
        uu = u[:, :self.image_channels].double().clamp_min(torch.finfo(torch.float64).tiny)  # u < 1 always
        noise = torch.log(uu) - torch.log1p(-uu)                        # logistic quantile
        values, unit = [], []
        for ch in range(self.image_channels):
            m = mean[:, ch]
            if coef is not None and ch == 1:
                m = m + coef[:, 0] * unit[0]
            elif coef is not None and ch == 2:
                m = m + coef[:, 1] * unit[0] + coef[:, 2] * unit[1]
            cont = (m + scale[:, ch] * noise[:, ch]).clamp(-1.0, 1.0)
            k = torch.round((cont + 1.0) * (self.levels - 1) / 2.0).long()
            values.append(k)
            unit.append(k.double() * (2.0 / (self.levels - 1)) - 1.0)
        return torch.stack(values, 1)
