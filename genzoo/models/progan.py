"""ProGAN: Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability, and Variation"
(Géron ch. 17, "Progressive growing of GANs"; Foster 1st ed. §9).

The generator and the critic grow from 4×4 to the data's size (a power of two: 32 or 64; Fashion-MNIST's 28×28 is
resized to 32 by ``model.input_shape: [1, 32, 32]``). Each new resolution fades in: α rises from 0 to 1 over
``fade_images`` real images, then the level trains ``stable_images`` more
(:class:`~genzoo.nn.progressive.GrowthSchedule`).
During a fade the generator blends the nearest-upsampled old to-RGB image with the new block's, the critic blends
the average-pooled image through the old from-RGB with the new block's output, and the real images are blended
the same way between their low-resolution and full version (:func:`~genzoo.nn.progressive.fade_reals`).

Losses (§A.1): WGAN-GP, λ = 10 (:func:`~genzoo.models.wgan.gradient_penalty`,
:func:`~genzoo.models.wgan.wasserstein_critic_loss`), plus the drift term ε_drift·E[D(x)²], ε_drift = 0.001, which
keeps the critic's scores near zero; one critic step per generator step.

The schedule is counted in real images shown to the critic. The count lives in the registered buffer
``images_seen`` and the phase of the last step (``phase_level``, ``phase_alpha``) beside it, so a checkpoint written
mid-fade resumes exactly and sampling from any checkpoint uses the phase it was trained at. The trainer's per-step
hook :meth:`ProGAN.before_step` sets the phase of each step from the count; the count is kept on the host as well,
so the hot loop reads nothing back from the device. Samples are always at the data's size: the current
resolution's output upsampled by nearest neighbour (so grids, FID and the trainer's galleries work at any phase);
:meth:`ProGAN.generate_at` gives the native resolution.

The parameters of all resolutions exist from the start, so the optimizers and checkpoints have a fixed shape;
layers above the current level get no gradient and Adam leaves them alone (their moments start when they first
train). Unlike the official code the Adam state is not reset at each phase change. The last step at each
resolution is a :meth:`milestone`: the trainer keeps its checkpoint and writes ``samples/growth-NNNpx.png``; the
``growth`` analysis draws one row per resolution from those checkpoints.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import Tensor

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.progressive import (GrowthSchedule, ProgressiveDiscriminator, ProgressiveGenerator, fade_reals, levels_for,
                              resolution, upsample)
from .base import AdversarialModel, ArrayModelConfig, register_model
from .capabilities import FromLatent, Grows, Samples
from .wgan import gradient_penalty, wasserstein_critic_loss


@dataclass
class ProGANConfig(ArrayModelConfig):
    """ProGAN's networks and growth schedule. ``channels[k]`` are the feature maps at 4·2ᵏ px, shared by the
    generator and the critic (the paper: 512 up to 32×32, then halving)."""

    input_shape: list[int] = field(default_factory=lambda: [3, 32, 32])
    data_range: str = "pm1"
    z_dim: int = 128
    channels: list[int] = field(default_factory=lambda: [128, 128, 64, 32])
    leaky_slope: float = 0.2
    fade_images: int = 800_000           # the paper's 800k per fade …
    stable_images: int = 800_000         # … and per stable phase
    gp_weight: float = 10.0
    drift_weight: float = 0.001
    mbstd_group: int = 4
    reuse_fakes: bool = True             # one generator forward per step for both phases (see GAN.fakes)

    def check(self) -> None:
        super().check()
        c, h, w = self.input_shape
        top = levels_for(h)
        if h != w or top is None:
            size = 1 << max(2, (max(h, w) - 1).bit_length())
            raise ConfigError(f"ProGAN grows by doubling from 4×4, so model.input_shape must be square with a side "
                              f"of 4·2^k (4, 8, 16, 32, 64, …), got {self.input_shape}: set model.input_shape to "
                              f"[{c}, {size}, {size}] (the data is resized to it)")
        if len(self.channels) != top + 1 or min(self.channels) < 1:
            sizes = ", ".join(str(resolution(k)) for k in range(top + 1))
            raise ConfigError(f"model.channels needs one positive width per resolution ({sizes} px: {top + 1} "
                              f"values), got {self.channels}")
        if self.condition_dim:
            raise ConfigError("ProGAN here is unconditional: drop model.num_classes / model.num_attributes")
        if self.data_range != "pm1":
            raise ConfigError("ProGAN's generator has a linear output for images in [-1, 1]: set model.data_range=pm1")
        if self.z_dim < 1 or self.mbstd_group < 1:
            raise ConfigError("model.z_dim and model.mbstd_group must be >= 1")
        if self.fade_images < 1 or self.stable_images < 0:
            raise ConfigError(f"model.fade_images must be >= 1 and model.stable_images >= 0 (real images per phase), "
                              f"got {self.fade_images} and {self.stable_images}")
        if self.gp_weight < 0 or self.drift_weight < 0:
            raise ConfigError("model.gp_weight and model.drift_weight must be >= 0")


@register_model
class ProGAN(AdversarialModel, Samples, FromLatent, Grows):
    """A progressively grown generator and critic with WGAN-GP + drift, equalized learning rate and pixel norm."""

    family = "progan"
    config_class = ProGANConfig
    buffer_reduce = {"images_seen": "keep", "phase_level": "keep", "phase_alpha": "keep"}  # equal on every process

    def __init__(self, config: ProGANConfig):
        super().__init__(config)
        c = config
        self.top = len(c.channels) - 1
        self.schedule = GrowthSchedule(self.top, c.fade_images, c.stable_images)
        self.generator = ProgressiveGenerator(c.z_dim, c.channels, c.input_shape[0], c.leaky_slope)
        self.discriminator = ProgressiveDiscriminator(c.channels, c.input_shape[0], c.leaky_slope, c.mbstd_group)
        self.register_buffer("images_seen", torch.zeros((), dtype=torch.long))
        self.register_buffer("phase_level", torch.zeros((), dtype=torch.long))
        self.register_buffer("phase_alpha", torch.ones(()))
        # Host copies of the buffers: None after a load, read back once by the next before_step.
        self._images: int | None = 0
        self._images_before, self._level, self._alpha = 0, 0, 1.0
        self.register_load_state_dict_post_hook(ProGAN._forget_host_copy)

    @staticmethod
    def _forget_host_copy(module: "ProGAN", incompatible_keys) -> None:
        module._images = None

    @property
    def growth_resolutions(self) -> list[int]:
        return [resolution(k) for k in range(self.top + 1)]

    # -- the schedule ------------------------------------------------------------------------------
    def before_step(self, step: int, total: int) -> None:
        """Set this step's level and α from the images the critic has seen (ProGAN's per-minibatch α)."""
        if self._images is None:
            self._images = int(self.images_seen)       # once after a checkpoint is loaded
        self._images_before = self._images
        self._level, self._alpha = self.schedule.at(self._images)
        self.phase_level.fill_(self._level)
        self.phase_alpha.fill_(self._alpha)

    def _count(self, n: int) -> None:
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        self._images = (self._images or 0) + n * world
        self.images_seen.fill_(self._images)

    def milestone(self) -> str | None:
        """``growth-NNNpx`` after the last step at a resolution (the end of its stable phase)."""
        if self._images is None:
            return None
        if self.schedule.at(self._images)[0] > self._level or (
                self._level == self.top and self._images_before < self.schedule.end <= self._images):
            return f"growth-{resolution(self._level):03d}px"
        return None

    def trained_phase(self) -> tuple[int, float]:
        """(level, α) of the last step trained (read from the buffers: works on a freshly loaded checkpoint)."""
        return int(self.phase_level), float(self.phase_alpha)

    # -- generation -------------------------------------------------------------------------------
    def generate_at(self, z: Tensor, level: int, alpha: float = 1.0) -> Tensor:
        """G(z) at ``level``'s native resolution 4·2^level (model space)."""
        return self.generator(z, level, alpha)

    def generate(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """G(z) of the trained phase, upsampled by nearest neighbour to the data's size (model space)."""
        level, alpha = self.trained_phase()
        return upsample(self.generate_at(z, level, alpha), 2 ** (self.top - level))

    def decode(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.generate(z)

    def sample(self, n: int, *, generator: torch.Generator | None = None,
               condition: Tensor | None = None) -> Tensor:
        return self.to_unit(self.generate(self.noise(n, self.device, generator)))

    # -- losses -----------------------------------------------------------------------------------
    def _fake(self, batch: Batch) -> tuple[Tensor, None]:
        return self.generator(self.noise(len(batch), batch.x.device), self._level, self._alpha), None

    def fakes(self, batch: Batch) -> tuple[Tensor, None] | None:
        """G(z) with gradients for both phases of the step (``reuse_fakes``; see :meth:`GAN.fakes`)."""
        return self._fake(batch) if self.config.reuse_fakes else None

    def reals(self, x: Tensor) -> Tensor:
        """The real batch at this step's resolution, faded like the generator's output."""
        return fade_reals(x, self._level, self._alpha, self.top)

    def _critic(self, x: Tensor) -> Tensor:
        return self.discriminator(x, self._alpha)

    def discriminator_loss(self, batch: Batch, fakes: tuple[Tensor, None] | None = None) -> dict[str, Tensor]:
        """E[D(G(z))] − E[D(x)] + λ·GP + ε_drift·E[D(x)²] at this step's resolution and α."""
        self._count(len(batch))
        if fakes is None:
            with torch.no_grad():
                fake = self._fake(batch)[0]
        else:
            fake = fakes[0].detach()
        real = self.reals(batch.x)
        real_scores, fake_scores = self._critic(real), self._critic(fake)
        wasserstein = wasserstein_critic_loss(real_scores, fake_scores)
        gp = gradient_penalty(self._critic, real, fake)
        drift = real_scores.float().pow(2).mean()
        c = self.config
        loss = wasserstein + c.gp_weight * gp + c.drift_weight * drift
        return {"loss": loss, "wasserstein": -wasserstein.detach(), "gradient_penalty": gp.detach(),
                "drift": drift.detach(), "real": real_scores.float().mean().detach(),
                "fake": fake_scores.float().mean().detach(), "alpha": self.phase_alpha.detach().clone(),
                "resolution": (4 * 2 ** self.phase_level).float()}

    def generator_loss(self, batch: Batch, fakes: tuple[Tensor, None] | None = None) -> dict[str, Tensor]:
        """−E[D(G(z))]."""
        fake = fakes[0] if fakes is not None else self._fake(batch)[0]
        return {"loss": -self._critic(fake).float().mean()}

    # -- description --------------------------------------------------------------------------------
    def summary_parts(self):
        c = self.config
        return [("critic", self.discriminator, (torch.zeros(2, *c.input_shape),)),
                ("generator", self.generator, (torch.zeros(2, c.z_dim),))]
