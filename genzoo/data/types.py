"""The in-memory image set every reader returns, and the error every reader raises."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


class DataError(RuntimeError):
    """Data is missing, corrupt or of the wrong shape; the message names the file and the fix."""


@dataclass(frozen=True)
class DataSpec:
    """What a dataset holds, as a model family needs to know it to configure itself; saved with each run as
    ``data_spec.json`` so sampling and evaluation never need the data to learn it again.

    ``modality`` image | points | tokens; ``shape`` one item's; ``unit`` what throughput counts (images,
    points, tokens) and ``units_per_item`` how many of them an item holds; ``vocab`` a tokeniser's saved
    form; ``extra`` anything else learned from the data (the points' standardisation, the vocabulary size)."""

    modality: str
    shape: tuple[int, ...]
    unit: str
    units_per_item: int = 1
    num_classes: int | None = None
    class_names: tuple[str, ...] | None = None
    vocab: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"modality": self.modality, "shape": list(self.shape), "unit": self.unit,
                "units_per_item": self.units_per_item, "num_classes": self.num_classes,
                "class_names": list(self.class_names) if self.class_names else None, "vocab": self.vocab,
                "extra": self.extra}

    @classmethod
    def from_dict(cls, d: dict) -> "DataSpec":
        return cls(d["modality"], tuple(d["shape"]), d["unit"], int(d.get("units_per_item", 1)), d.get("num_classes"),
                   tuple(d["class_names"]) if d.get("class_names") else None, d.get("vocab"), dict(d.get("extra") or {}))


@dataclass
class ImageSet:
    """Images as a uint8 tensor ``N×C×H×W`` plus optional labels and binary attributes.

    Keeping the whole set as one uint8 tensor lets the training loop gather batches by index with no
    worker processes and no per-image Python work (Fashion-MNIST is 47 MB this way). A set of *points*
    (toy densities such as two moons) is a float32 ``N×D`` tensor instead; batches pass it through unscaled.
    """

    images: Tensor
    labels: Tensor | None = None                 # int64 ``N``
    attributes: Tensor | None = None             # float32 ``N×A`` with values 0/1
    class_names: list[str] | None = None
    attribute_names: list[str] | None = None
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        image = self.images.dtype == torch.uint8 and self.images.dim() == 4
        point = self.images.dtype == torch.float32 and self.images.dim() == 2
        if not (image or point):
            raise DataError(f"{self.source}: images must be uint8 N×C×H×W (or points float32 N×D), got "
                            f"{self.images.dtype} {tuple(self.images.shape)}")
        n = len(self.images)
        for name, t in (("labels", self.labels), ("attributes", self.attributes)):
            if t is not None and len(t) != n:
                raise DataError(f"{self.source}: {n} images but {len(t)} {name}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def is_points(self) -> bool:
        """True for a set of real-valued points (N×D) rather than images."""
        return self.images.dim() == 2

    @property
    def spec(self) -> DataSpec:
        """Images (or points) of :attr:`shape`, counted in images (points)."""
        kind = "points" if self.is_points else "image"
        return DataSpec(modality=kind, shape=self.shape, unit="points" if self.is_points else "images",
                        num_classes=self.num_classes, class_names=tuple(self.class_names) if self.class_names else None,
                        extra={"standardisation": self.meta.get("standardisation")} if self.is_points else {})

    def gather(self, index: Tensor, cfg, data_range: str, device: torch.device):
        """The batch of items ``index``, prepared as the model sees them (:func:`genzoo.data.loader.make_batch`)."""
        from .loader import make_batch

        return make_batch(self, index, cfg, data_range, device)

    @property
    def num_classes(self) -> int | None:
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.labels.max()) + 1 if self.labels is not None and len(self.labels) else None

    def subset(self, index: Tensor) -> "ImageSet":
        return ImageSet(
            images=self.images[index],
            labels=None if self.labels is None else self.labels[index],
            attributes=None if self.attributes is None else self.attributes[index],
            class_names=self.class_names, attribute_names=self.attribute_names,
            source=self.source, meta=dict(self.meta),
        )
