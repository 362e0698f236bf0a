"""Denoising diffusion models: DDPM (Ho et al. 2020), improved DDPM's cosine schedule (Nichol & Dhariwal
2021), DDIM sampling (Song et al. 2021), classifier-free guidance (Ho & Salimans 2021) and latent
diffusion (Rombach et al. 2022) — Géron, HOML 3rd ed. ch. 17, and Foster, 2nd ed. ch. 8.

Training (HOML): scale images to [−1, 1]; draw t ∈ {1 … T} and ε ~ N(0, I) per image; form
x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε; regress the network's output on ε (or x_0, or v = √ᾱ ε − √(1−ᾱ) x_0) with
MSE, MAE or Huber loss (HOML found MAE/Huber better than MSE). The schedule and the samplers live in
:mod:`genzoo.schedulers`, the networks in :mod:`genzoo.nn.unet`.

Latent diffusion: with ``autoencoder: RUN_DIR`` the model encodes every batch with a trained genzoo
``autoencoder``/``vae`` run (frozen; a VAE's posterior mean), standardises the codes with statistics of
the first training batch, diffuses them with a residual MLP, and decodes samples with the run's
decoder. The autoencoder's config and weights are copied into this model, so its checkpoints stand alone.

Class-conditional models drop the label with probability ``p_uncond`` during training (the all-zero
vector means "no label"), so one network gives both ε(x, c) and ε(x); sampling mixes them as
ε_u + g (ε_c − ε_u) (guidance scale g: 1 = plain conditional, 0 = unconditional, > 1 = guided).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError
from ..data.loader import Batch
from ..nn.unet import MLPDenoiser, UNet
from ..schedulers import (SCHEDULES, Inpainting, NoiseSchedule, SamplerSettings, sample_loop, split_prediction,
                          training_target)
from .base import ArrayModel, ArrayModelConfig, GenerativeModel, register_model
from .capabilities import (Capability, Completes, Encodes, FromLatent, Inpaints, Interpolates, Samples,
                           Trajectories, Trajectory, VariationalBound, supports)

Sampler = Literal["ddpm", "ddim"]          # the samplers of schedulers.samplers.SAMPLERS (studio menus read it)

MASKS = ("bottom", "top", "left", "right", "center")


@dataclass
class DiffusionConfig(ArrayModelConfig):
    data_range: str = "pm1"
    schedule: str = "cosine"               # cosine (improved DDPM) | linear (DDPM)
    timesteps: int = 1000                  # T
    prediction: str = "eps"                # eps | x0 | v
    loss: str = "mae"                      # mse | mae | huber (Keras Huber, δ = 1)
    base_channels: int = 16
    channel_mults: list[int] = field(default_factory=lambda: [1, 2, 4])
    blocks: int = 1                        # residual blocks per level (the up path has one more)
    attention_resolutions: list[int] = field(default_factory=lambda: [7])
    heads: int = 4
    dropout: float = 0.0
    p_uncond: float = 0.1                  # conditional models: label dropped this often (classifier-free guidance)
    # latent diffusion
    space: str = "pixel"                   # pixel | latent (diffuse the codes of model.autoencoder)
    autoencoder: str | None = None         # RUN_DIR of a trained genzoo autoencoder / vae run
    autoencoder_model: dict[str, Any] | None = None   # its model config (filled in when training starts)
    denoiser_hidden: int = 256             # latent MLP width and depth
    denoiser_layers: int = 4
    # sampling defaults (each can be overridden per call / on the command line)
    sampler: str = "ddim"                  # ddpm | ddim
    sample_steps: int | None = 50          # None: all T steps
    eta: float = 0.0
    variance: str = "large"                # DDPM σ² = β (eq. 17-8) | small: β̃
    clip: bool = True                      # clip x̂_0 to [−1, 1] while sampling (pixel space only)
    guidance: float = 1.0

    @property
    def latent(self) -> bool:
        return self.space == "latent"

    def check(self) -> None:
        super().check()
        choices = {"schedule": (self.schedule, SCHEDULES), "prediction": (self.prediction, ("eps", "x0", "v")),
                   "loss": (self.loss, ("mse", "mae", "huber")), "sampler": (self.sampler, ("ddpm", "ddim")),
                   "variance": (self.variance, ("large", "small")), "space": (self.space, ("pixel", "latent"))}
        for key, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigError(f"model.{key} must be one of {', '.join(allowed)}, got {value!r}")
        if self.timesteps < 2:
            raise ConfigError("model.timesteps must be >= 2")
        if self.sample_steps is not None and not 1 <= self.sample_steps <= self.timesteps:
            raise ConfigError(f"model.sample_steps must be in [1, {self.timesteps}] or null (all steps)")
        if not 0 <= self.p_uncond < 1:
            raise ConfigError("model.p_uncond must be in [0, 1)")
        if self.eta < 0 or self.guidance < 0:
            raise ConfigError("model.eta and model.guidance must be >= 0")
        if self.num_attributes:
            raise ConfigError("diffusion models condition on class labels (model.num_classes), not attributes")
        if self.latent and not (self.autoencoder or self.autoencoder_model):
            raise ConfigError("latent diffusion needs a trained autoencoder or VAE run: train one (e.g. `genzoo train "
                              "homl-vae --out runs/vae`) and pass --set model.autoencoder=runs/vae")
        if not self.latent and (self.autoencoder or self.autoencoder_model):
            raise ConfigError("model.autoencoder is set: add --set model.space=latent for latent diffusion")
        if not self.latent:
            if not self.channel_mults or self.base_channels < 1 or self.blocks < 1:
                raise ConfigError("model.channel_mults must be non-empty; base_channels and blocks >= 1")
            if any(self.base_channels * m % self.heads for m in self.channel_mults):
                raise ConfigError(f"every level's width must split into model.heads={self.heads} attention heads")
            if self.data_range != "pm1":
                raise ConfigError("pixel-space diffusion works on images in [-1, 1]: set model.data_range=pm1")


@register_model
class DiffusionModel(ArrayModel, Samples, Completes, Inpaints, Trajectories, Interpolates,
                     VariationalBound):
    """A denoising diffusion model (DDPM/DDIM) in pixel space or in a genzoo autoencoder's latent space."""

    interpolation = "deterministic DDIM from spherically interpolated noise"

    family = "diffusion"
    config_class = DiffusionConfig
    stages = {"autoencoder": ("autoencoder", "autoencoder_model")}   # latent diffusion: a frozen AE/VAE run

    def __init__(self, config: DiffusionConfig, stages: dict[str, GenerativeModel] | None = None):
        super().__init__(config)
        self.schedule = NoiseSchedule.make(config.schedule, config.timesteps)
        self.autoencoder: GenerativeModel | None = None
        if config.latent:
            self._build_latent(config, (stages or {}).get("autoencoder"))
        else:
            c, h, _ = config.input_shape
            self.net = UNet(c, c, h, config.base_channels, config.channel_mults, config.blocks,
                            config.attention_resolutions, config.heads, config.dropout, config.num_classes)

    def _build_latent(self, config: DiffusionConfig, ae: GenerativeModel | None) -> None:
        if ae is None:
            raise ConfigError("latent diffusion is built on its autoencoder stage: build it with "
                              "genzoo.runs.build_model_with_stages (the CLI and genzoo.runs do)")
        if not (supports(ae, Encodes) and supports(ae, FromLatent)):
            raise ConfigError(f"model.autoencoder must be an autoencoder or vae run (a model that encodes and "
                              f"decodes); {config.autoencoder} is a {ae.family!r} run")
        if ae.config.condition_dim:
            raise ConfigError("latent diffusion needs an unconditional autoencoder (condition the diffusion instead)")
        if ae.config.data_range != config.data_range:
            raise ConfigError(f"the autoencoder reads images in {ae.config.data_range!r} range: "
                              f"set model.data_range={ae.config.data_range}")
        if list(ae.config.input_shape) != list(config.input_shape):
            raise ConfigError(f"the autoencoder's input_shape is {ae.config.input_shape}: "
                              f"set model.input_shape={ae.config.input_shape}")
        self.autoencoder = ae.eval().requires_grad_(False)
        z = ae.config.z_dim
        self.net = MLPDenoiser(z, config.denoiser_hidden, config.denoiser_layers, config.num_classes)
        self.register_buffer("latent_mean", torch.zeros(z))
        self.register_buffer("latent_std", torch.ones(z))
        self.register_buffer("latent_ready", torch.zeros((), dtype=torch.bool))

    @classmethod
    def fresh_config(cls, model_cfg: dict[str, Any]) -> dict[str, Any]:
        """A new run re-reads its autoencoder run (a copied ``autoencoder_model`` carries no weights)."""
        if model_cfg.get("autoencoder_model") is not None:
            if not model_cfg.get("autoencoder"):
                raise ConfigError("this config holds a copied autoencoder_model but no model.autoencoder run to take "
                                  "its weights from: set model.autoencoder=RUN_DIR (or resume the original run)")
            model_cfg = {**model_cfg, "autoencoder_model": None}
        return model_cfg

    def train(self, mode: bool = True) -> "DiffusionModel":
        super().train(mode)
        if self.autoencoder is not None:
            self.autoencoder.eval()    # frozen: no dropout, no BatchNorm updates
        return self

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"model": list(self.net.parameters())}

    def ema_module(self) -> nn.Module:
        return self.net

    # -- the space diffusion runs in ----------------------------------------------------------------
    @torch.no_grad()
    def to_diffused(self, x: Tensor) -> Tensor:
        """Images (model range) → the diffused variable: the image itself, or standardised latent codes."""
        if self.autoencoder is None:
            return x
        z = self.autoencoder.encode(x)
        z = (z[0] if isinstance(z, tuple) else z).float()
        if not bool(self.latent_ready):   # the first training batch fixes the standardisation
            mean, std = z.mean(0), (z.std(0) if len(z) > 1 else torch.ones_like(z[0]))
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                stats = torch.stack([mean, std])          # every process must use the same scaling
                torch.distributed.all_reduce(stats)
                mean, std = stats / torch.distributed.get_world_size()
            self.latent_mean.copy_(mean)
            self.latent_std.copy_(std.clamp_min(1e-4))
            self.latent_ready.fill_(True)
        return (z - self.latent_mean) / self.latent_std

    @torch.no_grad()
    def from_diffused(self, z: Tensor) -> Tensor:
        """The diffused variable → images in [0, 1]."""
        if self.autoencoder is None:
            return self.to_unit(z).clamp(0, 1)
        return self.autoencoder.to_unit(self.autoencoder.decode(z * self.latent_std + self.latent_mean)).clamp(0, 1)

    def noise_shape(self, n: int) -> tuple[int, ...]:
        if self.autoencoder is not None:
            return (n, self.autoencoder.config.z_dim)
        return (n, *self.config.input_shape)

    # -- training ------------------------------------------------------------------------------------
    def loss(self, batch: Batch) -> dict[str, Tensor]:
        c = self.config
        x0 = self.to_diffused(batch.x).float()     # keeps the batch's (channels_last) layout
        n = len(x0)
        t = torch.randint(1, c.timesteps + 1, (n,), device=x0.device)
        eps = torch.randn_like(x0)
        x_t = self.schedule.q_sample(x0, t, eps)
        cond = self.condition_of(batch)
        if cond is not None and c.p_uncond > 0:
            keep = (torch.rand(n, 1, device=x0.device) >= c.p_uncond).to(cond.dtype)
            cond = cond * keep
        out = self.net(x_t, t, cond)
        target = training_target(c.prediction, x0, eps, *self.schedule.scales(t, x0))
        err = out.float() - target
        if c.loss == "mse":
            loss = err.pow(2).mean()
        elif c.loss == "mae":
            loss = err.abs().mean()
        else:
            loss = F.huber_loss(out.float(), target, delta=1.0)
        return {"loss": loss}

    # -- the denoiser the samplers call ---------------------------------------------------------------
    def denoiser(self, condition: Tensor | None, guidance: float):
        """(x_t, t) → (x̂_0, ε̂), with classifier-free guidance when ``guidance`` ≠ 1 and a label is given."""
        kind = self.config.prediction

        def denoise(x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
            if condition is not None and guidance != 1.0:
                both = self.net(torch.cat([x_t, x_t]), torch.cat([t, t]),
                                torch.cat([condition, torch.zeros_like(condition)]))
                out_c, out_u = both.float().chunk(2)
                out = out_u + guidance * (out_c - out_u)
            else:
                out = self.net(x_t, t, condition).float()
            return split_prediction(kind, out, x_t, *self.schedule.scales(t, x_t))
        return denoise

    def settings(self, sampler: Sampler | None = None, steps: int | None = None, eta: float | None = None) -> SamplerSettings:
        c = self.config
        s = SamplerSettings(sampler=sampler or c.sampler, steps=c.sample_steps if steps is None else steps,
                            eta=c.eta if eta is None else eta, variance=c.variance,
                            clip=c.clip and self.autoencoder is None)
        s.check()
        return s

    def _condition(self, n: int, condition: Tensor | None) -> Tensor | None:
        if not self.config.num_classes:
            return None
        return (condition if condition is not None else self.default_condition(n, self.device)).to(self.device)

    # -- sampling --------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
               sampler: Sampler | None = None, steps: int | None = None, eta: float | None = None,
               guidance: float | None = None, noise: Tensor | None = None) -> Tensor:
        """``n`` images in [0, 1]. ``sampler`` ddpm | ddim, ``steps`` (default: the config's; ``steps=T`` for the
        full chain), ``eta`` (DDIM), ``guidance`` (conditional models), ``noise`` a given x_T."""
        x, _ = self._run(n, generator, condition, self.settings(sampler, steps, eta), guidance, noise)
        return self.from_diffused(x)

    def _run(self, n, generator, condition, settings, guidance, noise, record: int = 0, inpaint=None):
        cond = self._condition(n, condition)
        g = self.config.guidance if guidance is None else guidance
        x_T = noise if noise is not None else torch.randn(self.noise_shape(n), generator=generator)
        return sample_loop(self.denoiser(cond, g), self.schedule, x_T.to(self.device), settings,
                           generator=generator, record=record, inpaint=inpaint)

    @torch.no_grad()
    def trajectory(self, n: int, snapshots: int = 10, *, generator: torch.Generator | None = None,
                   condition: Tensor | None = None, sampler: Sampler | None = None, steps: int | None = None,
                   eta: float | None = None, guidance: float | None = None) -> Trajectory:
        """"Watch the noise disappear": per image, a row of x_t at about ``snapshots`` steps from T to 0, then a
        row of the network's x̂_0 at the same steps: (2n·(snapshots+1))×C×H×W images, rows of snapshots+1."""
        _, snaps = self._run(n, generator, condition, self.settings(sampler, steps, eta), guidance, None,
                             record=snapshots)
        xs = torch.stack([self.from_diffused(x) for _, x, _ in snaps], 1)         # n × S × C × H × W
        x0s = torch.stack([self.from_diffused(x0) for _, _, x0 in snaps], 1)
        steps_shown = [t for t, _, _ in snaps]
        return Trajectory(torch.stack([xs, x0s], 1).flatten(0, 2), steps_shown, ["x_t", "predicted x₀"],
                          f"reverse diffusion from pure noise (t={steps_shown[0]}) to the image (t=0)",
                          step_label=lambda t: f"t={t}")

    @torch.no_grad()
    def interpolate(self, pairs: int, points: int = 10, *, generator: torch.Generator | None = None,
                    condition: Tensor | None = None, steps: int | None = None,
                    guidance: float | None = None) -> Tensor:
        """Rows of ``points`` images from deterministic DDIM (η = 0) started at slerp(x_T^a, x_T^b, w)."""
        from ..analysis.latent import slerp

        shape = self.noise_shape(pairs)
        a, b = torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)
        noise = slerp(a.flatten(1), b.flatten(1), points).reshape(pairs * points, *shape[1:])
        cond = None
        if self.config.num_classes:
            cond = self._condition(pairs, condition).repeat_interleave(points, 0)
        return self.sample(pairs * points, condition=cond, sampler="ddim", steps=steps, eta=0.0,
                           guidance=guidance, noise=noise)

    @torch.no_grad()
    def inpaint(self, images: Tensor, mask: Tensor, *, generator: torch.Generator | None = None,
                condition: Tensor | None = None, sampler: Sampler | None = None, steps: int | None = None,
                eta: float | None = None, guidance: float | None = None, resample: int = 1) -> Tensor:
        """Keep ``images`` (model range) where ``mask`` is 1 and generate the rest (pixel-space models)."""
        if self.autoencoder is not None:
            raise ConfigError("inpainting works on pixel-space diffusion models, not latent ones")
        job = Inpainting(images.float().to(self.device), mask.float().to(self.device), resample)
        x, _ = self._run(len(images), generator, condition, self.settings(sampler, steps, eta), guidance, None,
                         inpaint=job)
        return self.from_diffused(x)

    def mask(self, n: int, kind: str = "bottom", start: int | None = None) -> Tensor:
        """1 = known pixels: ``bottom`` generates rows from ``start`` (default half) down; also top, left,
        right (halves) and center (the middle half of each side)."""
        if kind not in MASKS:
            raise ConfigError(f"--mask must be one of {', '.join(MASKS)}, got {kind!r}")
        c, h, w = self.config.input_shape
        m = torch.ones(n, c, h, w)
        start = h // 2 if start is None else start
        if not 0 <= start <= h:
            raise ConfigError(f"start_row must be in [0, {h}]")
        if kind == "bottom":
            m[:, :, start:] = 0
        elif kind == "top":
            m[:, :, : h // 2] = 0
        elif kind == "left":
            m[..., : w // 2] = 0
        elif kind == "right":
            m[..., w // 2:] = 0
        else:
            m[:, :, h // 4: h - h // 4, w // 4: w - w // 4] = 0
        return m

    @torch.no_grad()
    def complete(self, images: Tensor, start_row: int | None = None, *, generator: torch.Generator | None = None,
                 condition: Tensor | None = None, sampler: Sampler | None = None, steps: int | None = None,
                 eta: float | None = None, guidance: float | None = None, resample: int = 1) -> Tensor:
        """Keep the rows above ``start_row`` (default: the top half) and generate the rest."""
        return self.inpaint(images, self.mask(len(images), "bottom", start_row), generator=generator,
                            condition=condition, sampler=sampler, steps=steps, eta=eta, guidance=guidance,
                            resample=resample)

    def check_options(self, options: dict[str, Any]) -> None:
        sampler = options.get("sampler")
        if sampler is not None and sampler not in ("ddpm", "ddim"):
            raise ConfigError(f"--sampler for diffusion models is ddpm or ddim, got {sampler!r}")
        if options.get("eta") is not None and (sampler or self.config.sampler) == "ddpm":
            raise ConfigError("--eta applies to the ddim sampler (ddpm's noise is fixed by eq. 17-8)")
        if options.get("guidance") is not None and not self.config.num_classes:
            raise ConfigError("--guidance needs a class-conditional diffusion model (model.num_classes > 0)")

    # -- the variational bound ---------------------------------------------------------------------------
    def unavailable(self, capability: type[Capability]) -> str | None:
        if self.autoencoder is not None and capability in (VariationalBound, Inpaints, Completes):
            return (f"a latent diffusion model has no {capability.label} in pixel space (it diffuses its "
                    f"autoencoder's codes); a pixel-space diffusion model has")
        return None

    @torch.no_grad()
    def variational_bound(self, x0: Tensor, condition: Tensor | None = None, t_samples: int | None = 50,
                          generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Per-image terms of the DDPM variational bound on −log p(x_0) in nats (Ho et al. 2020, eq. 5) for
        8-bit images scaled to [−1, 1]: L_T = KL(q(x_T|x_0) ‖ N(0, I)); L_0 = −log p(x_0|x_1) under the
        discretised Gaussian decoder N(μ_θ(x_1, 1), β_1) with 256 bins; and Σ_{t=2}^T L_{t−1}, the KLs between
        the posterior q(x_{t−1}|x_t, x_0) and the model's p(x_{t−1}|x_t) (variance β_t or β̃_t as sampling
        uses, mean unclipped). The sum over t is exact when ``t_samples`` is None or ≥ T−1, otherwise the
        unbiased Monte-Carlo estimate (T−1)·mean over ``t_samples`` uniform draws of t per image."""
        sch, T, kind = self.schedule, self.config.timesteps, self.config.prediction
        x0 = x0.float()
        n = len(x0)
        dims = x0[0].numel()
        cond = condition.to(x0.device) if (condition is not None and self.config.num_classes) else None

        def model_mean(x_t: Tensor, t: Tensor) -> Tensor:
            x0_hat, _ = split_prediction(kind, self.net(x_t, t, cond).float(), x_t, *sch.scales(t, x_t))
            return sch.posterior_mean(x0_hat, x_t, t)

        def randn() -> Tensor:
            return torch.randn(x0.shape, generator=generator).to(x0.device)

        # prior term
        mean_T, var_T = float(sch.sqrt_alpha_bar[T]) * x0, float(sch.one_minus_alpha_bar[T])
        prior = 0.5 * (var_T + mean_T.pow(2) - 1 - math.log(var_T)).flatten(1).sum(1)
        # decoder term at t = 1
        t1 = torch.ones(n, dtype=torch.long, device=x0.device)
        x1 = sch.q_sample(x0, t1, randn())
        decoder = -discretized_gaussian_log_likelihood(x0, model_mean(x1, t1), 0.5 * math.log(float(sch.betas[1])))
        decoder = decoder.flatten(1).sum(1)
        # diffusion terms t = 2 … T
        if t_samples is None or t_samples >= T - 1:
            draws = [torch.full((n,), t, dtype=torch.long) for t in range(2, T + 1)]
            weight = 1.0
        else:
            draws = [torch.randint(2, T + 1, (n,), generator=generator) for _ in range(t_samples)]
            weight = (T - 1) / t_samples
        terms = torch.zeros(n, device=x0.device)
        for t in draws:
            t = t.to(x0.device)
            x_t = sch.q_sample(x0, t, randn())
            terms += self._kl_term(x0, x_t, t, model_mean(x_t, t))
        diffusion = weight * terms
        return {"total": prior + decoder + diffusion, "prior": prior, "decoder": decoder, "diffusion": diffusion,
                "dims": torch.tensor(dims)}

    def _kl_term(self, x0: Tensor, x_t: Tensor, t: Tensor, mean_model: Tensor) -> Tensor:
        """KL(q(x_{t−1}|x_t, x_0) ‖ p_θ(x_{t−1}|x_t)) per image, nats (t ≥ 2)."""
        sch = self.schedule
        post_var = sch.at("posterior_variance", t, x_t)
        model_var = sch.at("betas", t, x_t) if self.config.variance == "large" else post_var
        mean_q = sch.posterior_mean(x0, x_t, t)
        kl = 0.5 * (torch.log(model_var / post_var) + post_var / model_var - 1 + (mean_q - mean_model).pow(2) / model_var)
        return kl.flatten(1).sum(1)

    def summary_parts(self):
        c = self.config
        if self.autoencoder is not None:
            z = self.autoencoder.config.z_dim
            return [("denoiser (latent MLP)", self.net, (torch.zeros(2, z), torch.ones(2, dtype=torch.long)))]
        cond = (torch.zeros(2, c.num_classes),) if c.num_classes else ()
        return [("denoiser (U-Net)", self.net, (torch.zeros(2, *c.input_shape), torch.ones(2, dtype=torch.long), *cond))]


def _log_diff_ndtr(hi: Tensor, lo: Tensor) -> Tensor:
    """log(Φ(hi) − Φ(lo)) for hi > lo, stable far in the tails: on the side where both are below the mean
    it is log Φ(hi) + log(1 − e^{log Φ(lo) − log Φ(hi)}), and above the mean the mirrored form."""
    log_ndtr = torch.special.log_ndtr
    upper = lo > 0                                  # both above the mean: use 1 − Φ(z) = Φ(−z)
    a = torch.where(upper, -lo, hi)
    b = torch.where(upper, -hi, lo)
    la, lb = log_ndtr(a), log_ndtr(b)
    return la + torch.log(-torch.expm1((lb - la).clamp(max=-1e-30)))


def discretized_gaussian_log_likelihood(x: Tensor, mean: Tensor, log_std: float, bins: int = 256) -> Tensor:
    """log P(x) for x on the grid of ``bins`` values in [−1, 1] under N(mean, e^{2·log_std}) integrated over each
    bin (width 2/(bins−1)); the end bins extend to ±∞ (Ho et al. 2020, sec. 3.3). Computed in log space, so a
    pixel many σ from the mean still gets its true (very negative) log-probability."""
    half = 1.0 / (bins - 1)
    inv = math.exp(-log_std)
    z_up, z_low = (x - mean + half) * inv, (x - mean - half) * inv
    log_ndtr = torch.special.log_ndtr
    mid = _log_diff_ndtr(z_up, z_low)
    return torch.where(x < -1 + half, log_ndtr(z_up), torch.where(x > 1 - half, log_ndtr(-z_low), mid))
