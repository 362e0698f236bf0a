"""RealNVP on low-dimensional points (Dinh et al. 2017; Foster 2nd ed. ch. 6, the two-moons example).

Foster's notebook: two affine coupling layers with masks [0, 1] and [1, 0]; in each, separate s and t
networks of four Dense(256, ReLU) layers and a Dense(D) output — tanh for s, linear for t — with every
kernel L2-regularised by 0.01 (Keras ``regularizers.l2``: 0.01·Σw² added to the loss); a standard normal
prior; Adam 1e-4, batch 256, 300 epochs on 30,000 standardised points. Masks alternate over the
coordinates' parity, which for D = 2 is exactly [0, 1], [1, 0]. Kernels start Glorot-uniform as in Keras.

The density is exact: log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x|, in nats per point (continuous data,
so no bits/dim on an 8-bit scale). Samples are g(z) = f⁻¹(z), z ~ N(0, T²I).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.flows import AffineCoupling, FlowSequence, standard_normal_log_prob
from ..nn.layers import init_keras_
from ..nn.stacks import dense_stack
from .base import ArrayModel, ArrayModelConfig, register_model
from .capabilities import ExactLikelihood, Samples


def parity_mask(dims: int, parity: int) -> Tensor:
    """1×D mask keeping the coordinates whose index has the other parity ([0, 1] for parity 0 and D = 2)."""
    return (torch.arange(dims) % 2 != parity).float()[None]


class CouplingMLP(nn.Module):
    """Foster's coupling: separate s and t networks (``depth`` Dense(hidden, ReLU) layers and a Dense(D));
    returns [raw s, t] — the coupling applies the tanh to s."""

    def __init__(self, dims: int, hidden: int, depth: int):
        super().__init__()
        self.s = init_keras_(dense_stack(dims, [hidden] * depth + [dims], act="relu", last_activation="linear"))
        self.t = init_keras_(dense_stack(dims, [hidden] * depth + [dims], act="relu", last_activation="linear"))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.s(x), self.t(x)], 1)


@dataclass
class PointRealNVPConfig(ArrayModelConfig):
    input_shape: list[int] = field(default_factory=lambda: [2])
    couplings: int = 2             # Foster's COUPLING_LAYERS
    hidden: int = 256              # COUPLING_DIM
    depth: int = 4                 # hidden Dense layers in each of s and t
    l2: float = 0.0                # the book's REGULARIZATION = 0.01 is declared but never applied (see above)
    learned_scale: bool = False    # the book's s = tanh(·); True adds a learned factor per coordinate
    temperature: float = 1.0
    standardisation: dict[str, list[float]] | None = None  # the data's mean/std, saved with the run at training

    def check(self) -> None:
        if len(self.input_shape) != 1 or self.input_shape[0] < 2:
            raise ConfigError(f"realnvp-points models points: model.input_shape must be [D] with D >= 2, "
                              f"got {self.input_shape}")
        if self.couplings < 1 or self.hidden < 1 or self.depth < 1:
            raise ConfigError("model.couplings, model.hidden and model.depth must be >= 1")
        if self.l2 < 0 or self.temperature <= 0:
            raise ConfigError("model.l2 must be >= 0 and model.temperature > 0")
        if self.condition_dim:
            raise ConfigError("realnvp-points is unconditional here")


@register_model
class PointRealNVP(ArrayModel, Samples, ExactLikelihood):
    """RealNVP with MLP couplings on D-dimensional points: exact log-density, sampling, density plots."""

    family = "realnvp-points"
    config_class = PointRealNVPConfig
    modality = "points"
    likelihood_protocol = "exact log-density of continuous (standardised) points, nats per point"

    def __init__(self, config: PointRealNVPConfig):
        super().__init__(config)
        d = config.input_shape[0]
        self.flow = FlowSequence([AffineCoupling(parity_mask(d, i % 2), CouplingMLP(d, config.hidden, config.depth), d,
                                                 learned_scale=config.learned_scale)
                                  for i in range(config.couplings)])

    @classmethod
    def configure(cls, model_cfg: dict, spec) -> dict:
        """Keep the data's standardisation, so samples go back to its own units without re-reading it."""
        model_cfg = super().configure(model_cfg, spec)
        return {**model_cfg, "standardisation": spec.extra.get("standardisation")}

    @classmethod
    def fresh_config(cls, model_cfg: dict) -> dict:
        """A new run standardises its own data: drop the statistics a saved config may carry."""
        return {k: v for k, v in model_cfg.items() if k != "standardisation"}

    def to_latent(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """f: data → latent, and log|det ∂f/∂x| per point."""
        return self.flow(x)

    def from_latent(self, z: Tensor) -> Tensor:
        """g = f⁻¹: latent → data."""
        return self.flow.inverse(z)

    def log_prob(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        z, logdet = self.to_latent(x.to(self.flow.layers[0].mask.dtype))
        return standard_normal_log_prob(z) + logdet

    def l2_penalty(self) -> Tensor:
        """Keras ``regularizers.l2(l2)`` on every Dense kernel (biases are not regularised)."""
        return self.config.l2 * sum(m.weight.pow(2).sum() for m in self.modules() if isinstance(m, nn.Linear))

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        nll = -self.log_prob(batch.x).mean()
        out = {"nll": nll}
        if self.config.l2:
            out["l2"] = self.l2_penalty()
            out["loss"] = nll + out["l2"]
        else:
            out["loss"] = nll
        return out

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
               temperature: float | None = None) -> Tensor:
        """``n`` points (standardised coordinates), ``n×D``."""
        t = temperature or self.config.temperature
        z = t * torch.randn(n, self.config.input_shape[0], generator=generator)
        return self.from_latent(z.to(self.device))

    def to_unit(self, x: Tensor) -> Tensor:
        return x.float()

    def samples_artifact(self, samples: Tensor, *, title: str | None = None, nrow: int = 8,
                         shown: int | None = None):
        """The samples over the model's density (at most 20,000 drawn; 2-D models, higher dimensions show the
        first two coordinates) and, for the CSV, in the data's own units (the standardisation undone)."""
        from ..analysis.plots import density_plot
        from ..tasks.artifacts import PointCloud

        points = samples.float()
        stats = self.config.standardisation  # saved with the run at training
        raw = (points.double() * torch.tensor(stats["std"]) + torch.tensor(stats["mean"]) if stats
               else points.double())
        heading = title or f"{self.family}: {len(points)} samples"
        return PointCloud(points, raw, "the data's own (standardisation undone)" if stats else "model space",
                          draw=lambda path: density_plot(self, points[:20_000], Path(path), title=heading))

    def summary_parts(self):
        return [(self.family, self, (torch.randn(2, *self.config.input_shape),))]

    def forward(self, x: Tensor) -> Tensor:
        return self.log_prob(x)
