"""The model contract every family implements, and the registry that finds families by name.

A single-objective model implements :meth:`GenerativeModel.loss`; an adversarial one implements
:meth:`AdversarialModel.discriminator_loss` and :meth:`AdversarialModel.generator_loss`. Both return
a dict whose ``"loss"`` entry is optimised; every other entry is a raw, unweighted quantity (ELBO in
nats, KL, reconstruction error, critic score) logged next to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError, from_dict
from ..data.loader import Batch
from ..data.transforms import unscale
from ..nn.summary import LayerRow, format_summary, layer_rows


@dataclass
class ModelConfig:
    """The field every family has: its name. Modality layers add theirs (:class:`ArrayModelConfig` for images
    and points, ``TokenModelConfig`` for text)."""

    family: str = ""

    def check(self) -> None:
        """Raise a ConfigError for values the family cannot use."""


@dataclass
class ArrayModelConfig(ModelConfig):
    """Models of fixed-shape arrays: images (``input_shape`` C, H, W) and points (``[D]``, checked by the point
    families). ``data_range`` is how pixels are scaled; conditional models name their classes or attributes."""

    input_shape: list[int] = field(default_factory=lambda: [1, 28, 28])
    data_range: str = "01"          # "01" → [0, 1] (sigmoid outputs), "pm1" → [-1, 1] (tanh outputs)
    num_classes: int = 0            # > 0: conditional on a class label (one-hot)
    num_attributes: int = 0         # > 0: conditional on a binary attribute vector

    @property
    def condition_dim(self) -> int:
        return self.num_classes or self.num_attributes

    def check(self) -> None:
        if len(self.input_shape) != 3 or self.input_shape[0] not in (1, 3):
            raise ConfigError(f"model.input_shape must be [C, H, W] with C 1 or 3, got {self.input_shape}")
        if self.data_range not in ("01", "pm1"):
            raise ConfigError(f"model.data_range must be '01' or 'pm1', got {self.data_range!r}")
        if self.num_classes and self.num_attributes:
            raise ConfigError("set model.num_classes or model.num_attributes, not both")


class GenerativeModel(nn.Module):
    """Base class: a registered family with a typed config and a loss; what else it can do it declares with
    the capability classes of :mod:`genzoo.models.capabilities`."""

    family: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    # The loop that trains it (genzoo.training.trainer.LOOPS): "gradient" (one loss), "adversarial", or one
    # a family registers (an evolution strategy needs no gradients).
    training_loop: ClassVar[str] = "gradient"
    modality: ClassVar[str] = ""         # what it models, as in the data spec: image | points | tokens
    data_sized: ClassVar[tuple[str, ...]] = ()   # config fields that configure() fills from the data
    # Stages: other runs a model is built on. name → (config field naming the stage's run folder, config field
    # holding the stage's copied model config). genzoo.runs builds and freezes each stage and hands it in.
    stages: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.check()
        self.config = config

    # -- what the trainer uses ------------------------------------------------------------------
    def loss(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimizer; keys match ``RunConfig.optim``."""
        return {"model": list(self.parameters())}

    def ema_module(self) -> nn.Module:
        """The sub-network whose weights an EMA averages (the whole model, or a GAN's generator)."""
        return self

    @classmethod
    def fresh_config(cls, model_cfg: dict) -> dict:
        """The model config a *new* run starts from (drops fields that only a saved run may carry)."""
        return model_cfg

    def check_data(self, data_cfg) -> None:
        """Raise a ConfigError when the data preparation does not suit the model (default: anything goes)."""

    def init_from_data(self, data) -> None:
        """Called once on a *new* run, after the model is built, with the training set: the hook for weights that
        start from the data (a question generator's GloVe vectors). Default: nothing."""

    def before_step(self, step: int, total: int) -> None:
        """Called by the trainer before each optimizer step (``step`` counts from 0 towards ``total``): the hook
        for schedules that change during training, such as ProGAN's fade-in. Default: nothing."""

    def milestone(self) -> str | None:
        """Called by the trainer after each optimizer step: a name when that step ends a stage of training worth
        keeping (ProGAN: the last step at a resolution). The trainer then writes a checkpoint that pruning keeps
        (``checkpoints/*/milestone`` holds the name) and a gallery ``samples/NAME.png``. Default: None."""
        return None

    # -- what tasks and analysis use (the capabilities are in genzoo.models.capabilities) ---------------
    def samples_artifact(self, samples: Tensor, *, title: str | None = None, nrow: int = 8,
                         shown: int | None = None):
        """What :meth:`sample` returned, as an artifact to write (an image grid, points, text)."""
        raise NotImplementedError

    def condition_of(self, batch: Batch) -> Tensor | None:
        """The conditioning vector of a batch (None: unconditional)."""
        return None

    def default_condition(self, n: int, device: torch.device) -> Tensor | None:
        """The condition of ``n`` samples drawn without one (None: unconditional)."""
        return None

    @classmethod
    def data_hints(cls, model_cfg: dict) -> dict:
        """What reading the data needs from the model config (e.g. the image shape to resize to), before
        the model exists: the build order is read data → :meth:`configure` → build."""
        return {}

    @classmethod
    def configure(cls, model_cfg: dict, spec) -> dict:
        """The model config completed from the data's :class:`~genzoo.data.types.DataSpec` (a vocabulary size,
        the points' standardisation); refuse data of another modality. Saved with the run."""
        if spec.modality != cls.modality:
            raise ConfigError(f"model family {cls.family!r} models {cls.modality} data but the dataset holds "
                              f"{spec.modality}; choose a dataset of {cls.modality} data or a model family for "
                              f"{spec.modality} (`genzoo list` shows both)")
        return model_cfg

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def sample_item_shape(self) -> tuple[int, ...]:
        """The shape of one sample (for the memory check of :func:`genzoo.sampling.sample_in_chunks`)."""
        raise NotImplementedError

    def attach_spec(self, spec) -> None:
        """Take what the run's saved data spec holds that the weights do not (a text model's vocabulary)."""

    @property
    def data_range(self) -> str:
        """How the batch stream scales array items for this model (``01`` | ``pm1``); token models ignore it."""
        return "01"

    # -- description ----------------------------------------------------------------------------
    def summary_parts(self) -> list[tuple[str, nn.Module, tuple]]:
        """(title, network, example inputs) for each network, for :meth:`summary`."""
        return [(self.family, self, ())]

    def summary(self) -> str:
        parts, all_rows = [], []
        for title, net, example in self.summary_parts():
            rows = layer_rows(net, example or None)
            all_rows += rows
            parts.append(format_summary(title, rows))
        if len(parts) > 1:
            t = sum(r.trainable for r in all_rows)
            nt = sum(r.non_trainable for r in all_rows)
            parts.append(f"Model: {self.family} (all networks)\nTotal params: {t + nt:,}\n"
                         f"Trainable params: {t:,}\nNon-trainable params: {nt:,}\n")
        return "\n".join(parts)


class ArrayModel(GenerativeModel):
    """The layer of models of fixed-shape arrays (images, points): scaling, class or attribute conditions, image
    grids. ``config`` is an :class:`ArrayModelConfig`."""

    config_class: ClassVar[type[ModelConfig]] = ArrayModelConfig
    modality: ClassVar[str] = "image"

    @classmethod
    def data_hints(cls, model_cfg: dict) -> dict:
        cfg = from_dict(cls.config_class, cls.fresh_config(dict(model_cfg)), "model")
        return {"shape": tuple(cfg.input_shape)}

    def samples_artifact(self, samples: Tensor, *, title: str | None = None, nrow: int = 8,
                         shown: int | None = None):
        """What :meth:`sample` returned, as an artifact to write: a labelled image grid (point models draw
        their density). ``shown`` caps the images the picture shows."""
        from ..tasks.artifacts import ImageGrid

        return ImageGrid(samples, nrow=nrow, title=title, shown=shown)

    @property
    def data_range(self) -> str:
        return self.config.data_range

    @property
    def sample_item_shape(self) -> tuple[int, ...]:
        return tuple(self.config.input_shape)

    def to_unit(self, x: Tensor) -> Tensor:
        """Map model-space images to ``[0, 1]``."""
        return unscale(x.float(), self.config.data_range)

    def condition_of(self, batch: Batch) -> Tensor | None:
        """The conditioning vector of a batch: one-hot labels or attributes (None if unconditional)."""
        c = self.config
        if c.num_classes:
            if batch.y is None:
                raise ConfigError("this model is conditional on class labels but the dataset has none")
            return F.one_hot(batch.y, c.num_classes).to(batch.x.dtype)
        if c.num_attributes:
            if batch.attrs is None:
                raise ConfigError("this model is conditional on attributes but the dataset has none "
                                  "(set data.attributes)")
            return batch.attrs.to(batch.x.dtype)
        return None

    def default_condition(self, n: int, device: torch.device) -> Tensor | None:
        """Cycle through the classes (0, 1, …, K-1, 0, …) or use all-zero attributes."""
        c = self.config
        if c.num_classes:
            return F.one_hot(torch.arange(n, device=device) % c.num_classes, c.num_classes).float()
        if c.num_attributes:
            return torch.zeros(n, c.num_attributes, device=device)
        return None



def standard_normal(shape: tuple[int, ...], device: torch.device | str,
                    generator: torch.Generator | None = None) -> Tensor:
    """N(0, 1) of ``shape`` on ``device``, drawn from ``generator`` on the generator's own device when given (so a
    seeded CPU generator gives the same draws whatever device the model is on)."""
    if generator is not None and generator.device != torch.device(device):
        return torch.randn(shape, generator=generator).to(device)
    return torch.randn(shape, device=device, generator=generator)


class AdversarialModel(ArrayModel):
    """A generator and a discriminator/critic trained in alternating phases (Goodfellow et al. 2014). Its config
    names the latent size ``z_dim``."""

    training_loop = "adversarial"
    generator: nn.Module
    discriminator: nn.Module

    def noise(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, I) of ``z_dim``, the books' ``np.random.normal(0, 1, (batch, z_dim))``."""
        return standard_normal((n, self.config.z_dim), device, generator)

    def fakes(self, batch: Batch) -> tuple[Tensor, Tensor | None] | None:
        """This step's fakes and their condition, drawn *with* gradients so that the discriminator phase (on
        their detached copy) and the generator phase share one generator forward; None (the default): each
        phase draws its own."""
        return None

    def discriminator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        raise NotImplementedError

    def generator_loss(self, batch: Batch, fakes: tuple[Tensor, Tensor | None] | None = None) -> dict[str, Tensor]:
        raise NotImplementedError

    def after_discriminator_step(self) -> None:
        """Hook after each critic update (WGAN weight clipping)."""

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"generator": list(self.generator.parameters()),
                "discriminator": list(self.discriminator.parameters())}

    def ema_module(self) -> nn.Module:
        return self.generator


_MODELS: dict[str, type[GenerativeModel]] = {}


def register_model(cls: type[GenerativeModel]) -> type[GenerativeModel]:
    """Class decorator: make a family available to recipes by its ``family`` name."""
    if not cls.family:
        raise ValueError(f"{cls.__name__} has no family name")
    _MODELS[cls.family] = cls
    return cls


def model_families() -> dict[str, type[GenerativeModel]]:
    return dict(sorted(_MODELS.items()))


def build_model(model_cfg: dict, stages: dict[str, GenerativeModel] | None = None) -> GenerativeModel:
    """Instantiate the family named in ``model_cfg["family"]`` from the rest of the dict. A family built on other
    runs gets them as ``stages`` (built by :func:`genzoo.runs.build_stages`)."""
    family = model_cfg.get("family")
    if family not in _MODELS:
        raise ConfigError(f"unknown model family {family!r}; known: {', '.join(sorted(_MODELS))}")
    cls = _MODELS[family]
    cfg = from_dict(cls.config_class, model_cfg, "model")
    if cls.stages:
        return cls(cfg, stages=stages or {})
    return cls(cfg)


__all__ = ["AdversarialModel", "ArrayModel", "ArrayModelConfig", "GenerativeModel", "LayerRow", "ModelConfig", "build_model", "model_families",
           "register_model", "standard_normal"]
