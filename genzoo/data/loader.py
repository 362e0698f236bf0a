"""Turning a :class:`DataConfig` into ready tensors, and a resumable, shardable batch stream.

The stream keeps the uint8 images in memory and gathers each batch by index, converting only the
batch to float: no worker processes, no per-image Python work, and its whole state is two integers
(epoch, position) so a resumed run sees exactly the batches an uninterrupted one would have seen.
"""
from __future__ import annotations

from pathlib import Path

from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import DataConfig
from . import transforms as T
from .registry import DataRequest, dataset_info
from .types import DataError, ImageSet


@dataclass
class Batch:
    """One batch: images scaled for the model plus optional class labels and attribute vectors; two-domain data
    (image-to-image translation) puts domain B's images in ``target``."""

    x: Tensor
    y: Tensor | None = None
    attrs: Tensor | None = None
    target: Tensor | None = None

    def __len__(self) -> int:
        return len(self.x)


def load_images(cfg: DataConfig, shape: tuple[int, int, int] | None = None, split: str | None = None) -> ImageSet:
    """Read the dataset named in ``cfg`` and bring it to ``shape`` (C, H, W) or to cfg's size/channels.

    ``data.limit`` trims the training split only (the book's ``x_train[:1000]``); other splits are
    read whole so evaluation and analysis see the full held-out set.
    """
    info = dataset_info(cfg.name)
    if cfg.domains:
        raise DataError(f"data.domains={cfg.domains} applies to two-domain datasets (image pairs); {cfg.name} is "
                        f"one domain: leave data.domains out")
    limit = cfg.limit if (split or cfg.split) == cfg.split else None
    request = _request(cfg, shape, split, attributes=tuple(cfg.attributes) if cfg.attributes else None,
                       limit=limit if cfg.classes is None else None)
    data = info.reader(request)
    if cfg.classes is not None:
        if data.labels is None:
            raise DataError(f"data.classes was set but {data.source} has no labels")
        keep = torch.isin(data.labels, torch.tensor(cfg.classes))
        data = data.subset(keep.nonzero().squeeze(1))
        if len(data) == 0:
            raise DataError(f"{data.source}: no image has a label in data.classes={cfg.classes}")
    if limit is not None:
        data = data.subset(torch.arange(min(limit, len(data))))
    if len(data) == 0:
        raise DataError(f"{data.source}: the dataset is empty")
    if data.is_points:
        if shape is not None and len(shape) != 1:
            raise DataError(f"{data.source} holds points (N×{data.shape[0]}), not images: use a point model "
                            f"(family realnvp-points, e.g. recipe realnvp-moons)")
        if data.shape[0] < 2:
            raise DataError(f"{data.source}: points have 1 coordinate; the point flow needs D >= 2")
        if shape is not None and tuple(data.shape) != tuple(shape):
            raise DataError(f"{data.source}: points have {data.shape[0]} coordinates but the model expects "
                            f"{list(shape)}; set model.input_shape to [{data.shape[0]}]")
        if cfg.binarize or cfg.quantize or cfg.image_size or cfg.channels:
            raise DataError(f"{data.source} holds points, not images: data.binarize/quantize/image_size/channels "
                            f"do not apply")
        return data
    if shape is not None and len(shape) != 3:
        raise DataError(f"{data.source} holds images but the model expects points of shape {list(shape)}; "
                        f"use a point dataset (e.g. two-moons) or an image model")
    images = data.images
    if request.channels:
        images = T.to_channels(images, request.channels)
    if request.image_size:
        images = T.resize(images, request.image_size)
    data.images = images
    if shape is not None and tuple(images.shape[1:]) != tuple(shape):
        raise DataError(f"{data.source}: images are {tuple(images.shape[1:])} but the model expects {shape}; "
                        f"set data.image_size / data.channels or model.input_shape to match")
    return data


def load_data(cfg: DataConfig, hints: dict | None = None, split: str | None = None, spec=None):
    """Read the dataset of ``cfg`` as its typed set: an :class:`ImageSet` (images or points) or a
    :class:`~genzoo.data.tokens.TokenSet`. ``hints`` come from the model family (``shape``: the image size to
    bring images to; ``special_tokens``: tokens a text model's vocabulary must hold); ``spec`` is a run's saved
    data spec (a text run's tokeniser)."""
    info = dataset_info(cfg.name)
    if info.modality == "tokens":
        from .tokens import load_tokens

        return load_tokens(cfg, split, spec, tuple((hints or {}).get("special_tokens", ())))
    if info.modality == "qa":
        from .qa import load_qa

        return load_qa(cfg, split, spec)
    shape = (hints or {}).get("shape")
    if info.modality == "image-pair":
        return load_pairs(cfg, tuple(shape) if shape is not None else None, split)
    return load_images(cfg, tuple(shape) if shape is not None else None, split)


def _request(cfg: DataConfig, shape: tuple[int, ...] | None, split: str | None, **extra) -> DataRequest:
    """What a reader is asked for: the split, the folder, and the image size and channels from cfg or from the model's
    image ``shape`` (C, H, W)."""
    if cfg.data_dir and not Path(cfg.data_dir).exists():
        raise DataError(f"--data-dir {cfg.data_dir} does not exist: pass the folder (or file) that holds the "
                        f"{cfg.name} data, or leave --data-dir out to use the installed copy")
    image_shape = shape if shape is not None and len(shape) == 3 else None
    channels = cfg.channels or (image_shape[0] if image_shape else None)
    size = cfg.image_size or (image_shape[1] if image_shape else None)
    return DataRequest(split=split or cfg.split, data_dir=cfg.data_dir, image_size=size, channels=channels, **extra)


def load_pairs(cfg: DataConfig, shape: tuple[int, int, int] | None = None, split: str | None = None):
    """Read a two-domain dataset (:mod:`genzoo.data.two_domain`) at ``shape`` (C, H, W) or cfg's size/channels;
    ``data.limit`` keeps the first N items of each domain of the training split, and ``data.pairing: unpaired``
    serves a paired training split unpaired (CycleGAN on data whose pairs are kept for scoring only: the held-out
    split stays paired)."""
    from .two_domain import ImagePairSet

    domains = tuple(cfg.domains) if cfg.domains else None
    data: ImagePairSet = dataset_info(cfg.name).reader(_request(cfg, shape, split, domains=domains))
    training = (split or cfg.split) == cfg.split
    limit = cfg.limit if training else None
    unpair = training and cfg.pairing == "unpaired" and data.paired
    if limit is not None or unpair:
        a, b = data.a, data.b
        if limit is not None:
            a, b = a.subset(torch.arange(min(limit, len(a)))), b.subset(torch.arange(min(limit, len(b))))
        data = ImagePairSet(a, b, data.paired and not unpair, data.source + (" (served unpaired)" if unpair else ""),
                            data.meta)
    if shape is not None and tuple(data.shape) != tuple(shape):
        raise DataError(f"{data.source}: images are {tuple(data.shape)} but the model expects {shape}; set "
                        f"data.image_size / data.channels or model.input_shape to match")
    return data


def make_batch(data: ImageSet, index: Tensor, cfg: DataConfig, data_range: str, device: torch.device) -> Batch:
    """Gather ``index`` from ``data`` and apply the per-batch transforms (points pass through as they are)."""
    if data.is_points:
        y = data.labels[index].to(device) if data.labels is not None else None
        return Batch(data.images[index].to(device), y)
    x = T.scale(data.images[index], "01")
    if cfg.binarize:
        x = T.binarize(x)
    if cfg.quantize:
        x = T.quantize(x, cfg.quantize)
    if data_range == "pm1":
        x = x * 2 - 1
    y = data.labels[index].to(device) if data.labels is not None else None
    a = data.attributes[index].to(device) if data.attributes is not None else None
    return Batch(x.to(device), y, a)


class BatchStream:
    """An endless sequence of shuffled batches that knows its (epoch, position) and can be restored.

    Each epoch's order is a permutation seeded by ``(seed, epoch)``; under data parallelism every
    process takes an equal, disjoint slice of each global batch. Incomplete final batches are dropped.
    """

    def __init__(self, data, cfg: DataConfig, data_range: str, batch_size: int, seed: int,
                 device: torch.device, rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise DataError(f"batch_size {batch_size} is not divisible by the {world_size} processes")
        if len(data) < batch_size:
            raise DataError(f"{data.source}: {len(data)} items is fewer than one batch of {batch_size}; "
                            f"lower --batch-size")
        self.data, self.cfg, self.data_range = data, cfg, data_range
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.rank, self.world_size = rank, world_size
        self.batches_per_epoch = len(data) // batch_size
        self.epoch, self.position = 0, 0
        self._perm: Tensor | None = None

    def _permutation(self) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(len(self.data), generator=g)

    def next(self) -> Batch:
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position, self._perm = self.epoch + 1, 0, None
        if self._perm is None:
            self._perm = self._permutation()
        start = self.position * self.batch_size
        index = self._perm[start:start + self.batch_size]
        local = self.batch_size // self.world_size
        index = index[self.rank * local:(self.rank + 1) * local]
        self.position += 1
        return self.data.gather(index, self.cfg, self.data_range, self.device)

    @property
    def epoch_finished(self) -> bool:
        return self.position >= self.batches_per_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position, self._perm = int(state["epoch"]), int(state["position"]), None
