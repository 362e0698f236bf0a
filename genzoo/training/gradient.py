"""Gradient training on the shared loop (:mod:`genzoo.training.loop`): optimizers per parameter group, the
learning-rate schedules (per-epoch decay, per-step warm-up and cosine), gradient clipping and averaging across processes, EMA weights, ``torch.compile``, and
the two objectives of the books' models — one loss (autoencoders, VAEs, autoregressive, flow, diffusion,
energy and text models) and a GAN's alternating losses.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..config import ConfigError, OptimConfig, RunConfig
from ..models.base import AdversarialModel, GenerativeModel
from .distributed import DistInfo
from .eager_optim import defer_dynamo_import
from .ema import EMA
from .loop import TrainingLoop
from .threads import ThreadPlan


def make_optimizer(cfg: OptimConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """Build an optimizer with Keras-matching defaults (the recipes come from Keras code).

    ``foreach=True`` updates all tensors in one C++ loop instead of a Python loop per tensor (PyTorch
    enables it by default only on CUDA; on CPU it cut the optimizer's share of a small model's step
    from 19% to a few percent). Adam and AdamW use the fused kernel (one pass over each tensor for the whole update,
    on CPU and GPU): the same update, equal to the foreach one up to float rounding (1 ulp), and 6-8 % faster steps
    for the dense WGAN-GP (``benchmarks/side_by_side_gan.py``), whose step is small enough for the optimizer to show.
    """
    defer_dynamo_import()
    common = {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "foreach": True}
    adam_like = {"betas": tuple(cfg.betas), "eps": cfg.eps, "lr": cfg.lr, "weight_decay": cfg.weight_decay,
                 "fused": True}
    if cfg.name == "adam":
        return torch.optim.Adam(params, **adam_like)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, **adam_like)
    if cfg.name == "nadam":
        return torch.optim.NAdam(params, betas=tuple(cfg.betas), eps=cfg.eps, **common)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, alpha=cfg.rho, eps=cfg.eps, momentum=cfg.momentum, **common)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, momentum=cfg.momentum, **common)
    raise ConfigError(f"unknown optimizer {cfg.name!r}")


def scheduled_lr(cfg: OptimConfig, step: int, horizon: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based): a linear warm-up to ``cfg.lr`` over
    ``cfg.warmup_steps`` steps (Goyal et al. 2017), then ``cfg.lr`` (``constant``) or a cosine decay to
    ``cfg.min_lr`` at step ``cfg.decay_steps`` (default ``horizon``, the run's target step) and ``min_lr``
    after it (``cosine``; Loshchilov & Hutter 2017's SGDR without restarts, as GPT-2 and nanoGPT train), or constant
    until ``cfg.decay_start`` (default half of the end) and then a straight line to ``min_lr`` at the end (``linear``;
    CycleGAN's schedule, Zhu et al. 2017 §4)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    end = cfg.decay_steps if cfg.decay_steps is not None else horizon
    if cfg.schedule == "linear":
        start = cfg.decay_start if cfg.decay_start is not None else max(cfg.warmup_steps, end // 2)
        if step < start:
            return cfg.lr
        return cfg.lr + min(1.0, (step - start) / max(1, end - start)) * (cfg.min_lr - cfg.lr)
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, end - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def flat_parameters(group: list) -> list[nn.Parameter]:
    """The parameters of a :meth:`GenerativeModel.parameter_groups` entry: a list of parameters, or of
    optimizer parameter-group dicts (``{"params": [...], "weight_decay": 0.0}``)."""
    return [p for g in group for p in (g["params"] if isinstance(g, dict) else [g])]


def model_for_sampling(model: GenerativeModel, ema: EMA | None) -> GenerativeModel:
    """The model with its EMA weights swapped in (a shallow copy; the trained model is untouched)."""
    if ema is None:
        return model
    target = model.ema_module()
    if target is model:
        return ema.shadow  # type: ignore[return-value]
    clone = copy.copy(model)
    clone._modules = dict(model._modules)
    for name, sub in model._modules.items():
        if sub is target:
            clone._modules[name] = ema.shadow
    return clone


class GradientTrainer(TrainingLoop):
    """The loop with optimizers: one per :meth:`GenerativeModel.parameter_groups` key, each configured by the
    same key of ``RunConfig.optim``; their state is the objective's state in every checkpoint."""

    def __init__(self, cfg: RunConfig, run_dir: Path, model: GenerativeModel, data: Any,
                 dist: DistInfo | None = None, threads: ThreadPlan | None = None):
        super().__init__(cfg, run_dir, model, data, dist, threads)
        if cfg.compile:
            # In-place compile of each network keeps state_dict keys, so checkpoints stay portable.
            for net in model.children():
                net.compile()
        groups = model.parameter_groups()
        if set(groups) != set(cfg.optim):
            raise ConfigError(f"config.optim has optimizers {sorted(cfg.optim)} but model family "
                              f"{model.family!r} needs {sorted(groups)}")
        self.params = {k: flat_parameters(g) for k, g in groups.items()}
        self.optimizers = {k: make_optimizer(cfg.optim[k], groups[k]) for k in groups}
        self.horizon: int | None = None      # the step a cosine without decay_steps ends at (fixed at the first fit)
        self.ema = EMA(model.ema_module(), cfg.ema_decay) if cfg.ema_decay else None

    def _apply(self, name: str, loss: Tensor) -> None:
        """Backward, average across processes, clip, step one optimizer."""
        opt = self.optimizers[name]
        self._set_lr(name)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        params = self.params[name]
        self.dist.average_gradients(params)
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()

    def _update_ema(self) -> None:
        if self.ema is not None:
            self.ema.update(self.step if self.cfg.ema_warmup else None)

    def _set_lr(self, name: str) -> None:
        """This step's learning rate: the per-step schedule times ``lr_decay`` per completed epoch (Keras'
        per-epoch ``ExponentialDecay`` of the books' recipes)."""
        lr = scheduled_lr(self.cfg.optim[name], self.step, self.horizon or 1) * self.cfg.lr_decay ** self.epochs_done
        for g in self.optimizers[name].param_groups:
            g["lr"] = lr

    def fit(self, epochs: int | None = None, max_steps: int | None = None, progress: bool = True) -> dict[str, Any]:
        if self.horizon is None:       # a resumed run keeps the horizon it started with (its checkpoint's)
            self.horizon = self.target_step(epochs, max_steps)
        return super().fit(epochs, max_steps, progress)

    # -- the loop's hooks ---------------------------------------------------------------------------
    def objective_state(self) -> dict[str, Any]:
        return {"optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}, "lr_horizon": self.horizon}

    def load_objective_state(self, state: dict[str, Any]) -> None:
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        self.horizon = state.get("lr_horizon")

    def on_epoch_end(self) -> None:
        for k in self.optimizers:
            self._set_lr(k)

    def log_fields(self) -> dict[str, Any]:
        return {"lr": {k: o.param_groups[0]["lr"] for k, o in self.optimizers.items()}}

    def nan_advice(self) -> tuple[str, str]:
        first = next(iter(self.optimizers))
        fixes = (f"--set optim.{first}.lr=<lower>" + (" --set grad_clip=1.0" if not self.cfg.grad_clip else "")
                 + (" --set precision=fp32" if self.precision != "fp32" else ""))
        return "a lower learning rate or gradient clipping", fixes

    def sampling_model(self) -> GenerativeModel:
        return model_for_sampling(self.model, self.ema)


class SingleObjectiveTrainer(GradientTrainer):
    """One loss, one optimizer: autoencoders, VAEs, and later autoregressive, flow and diffusion models."""

    def train_step(self) -> dict[str, Tensor]:
        out = self.model.loss(self._next_batch())
        self._apply("model", out["loss"])
        self._update_ema()
        return out


class AdversarialTrainer(GradientTrainer):
    """Alternating updates (Goodfellow et al. 2014): ``n_critic`` discriminator/critic steps, each on a
    fresh real batch, then one generator step (Arjovsky et al. 2017 use n_critic = 5)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.batches_per_step = self.cfg.n_critic

    def train_step(self) -> dict[str, Tensor]:
        model: AdversarialModel = self.model  # type: ignore[assignment]
        out: dict[str, Tensor] = {}
        fakes = None
        for i in range(self.cfg.n_critic):
            batch = self._next_batch()
            # The last critic step draws its fakes with gradients and the generator phase reuses them: one
            # generator forward per step instead of two (``GAN.fakes`` says where that changes anything).
            fakes = model.fakes(batch) if i == self.cfg.n_critic - 1 else None
            d_out = model.discriminator_loss(batch, fakes)
            self._apply("discriminator", d_out["loss"])
            model.after_discriminator_step()
        out.update({f"d_{k}" if not k.startswith("d_") else k: v for k, v in d_out.items()})
        # The generator phase needs no gradients for the discriminator's weights: skip computing them.
        model.discriminator.requires_grad_(False)
        try:
            g_out = model.generator_loss(batch, fakes)
            self._apply("generator", g_out["loss"])
        finally:
            model.discriminator.requires_grad_(True)
        self._update_ema()
        out.update({f"g_{k}" if not k.startswith("g_") else k: v for k, v in g_out.items()})
        return out
