"""Feature networks for sample-quality metrics, trained here because no Inception weights install offline.

Protocol (documented in the README): for each labelled dataset and image shape, genzoo trains the book's
chapter-2 CNN (:class:`genzoo.nn.classifier.BookCNN`; Adam 5e-4, batch 32, as in the book) on the
training split, reports its test accuracy, and caches the weights under
``$GENZOO_CACHE/feature-nets/<key>/``. Metrics computed on its 128-d penultimate features are named
after it — "FID (genzoo fashion-mnist BookCNN features)" — and are comparable only with numbers
computed on the same network (same key). Features of the real reference split are cached next to it.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor

from ..config import ConfigError, DataConfig
from ..data.loader import BatchStream, make_batch
from ..data.registry import cache_dir
from ..data.types import ImageSet
from ..nn.classifier import BookCNN
from ..training.checkpoint import write_text_atomic

FEATURE_NET_VERSION = 1


@dataclass(frozen=True)
class FeatureNetSpec:
    """What identifies a feature network: the data it was trained on and how."""

    dataset: str
    shape: tuple[int, int, int]
    binarize: bool = False
    quantize: int | None = None
    epochs: int = 5
    batch_size: int = 32
    lr: float = 5e-4
    seed: int = 0

    @property
    def key(self) -> str:
        c, h, w = self.shape
        extra = ("-bin" if self.binarize else "") + (f"-q{self.quantize}" if self.quantize else "")
        return f"{self.dataset}-{c}x{h}x{w}{extra}-bookcnn-v{FEATURE_NET_VERSION}-e{self.epochs}-s{self.seed}"

    @property
    def label(self) -> str:
        """How metric names cite the network."""
        return f"genzoo {self.dataset} BookCNN features"

    def data_config(self, base: DataConfig) -> DataConfig:
        """The run's data section restricted to what the feature net depends on (no limit, no class subset)."""
        return DataConfig(name=base.name, data_dir=base.data_dir, split=base.split, image_size=self.shape[1],
                          channels=self.shape[0], binarize=self.binarize, quantize=self.quantize)


def spec_for(data_cfg: DataConfig, shape: tuple[int, int, int], epochs: int = 5, seed: int = 0) -> FeatureNetSpec:
    return FeatureNetSpec(dataset=data_cfg.name, shape=tuple(shape), binarize=bool(data_cfg.binarize),
                          quantize=data_cfg.quantize, epochs=epochs, seed=seed)


def feature_root() -> Path:
    return cache_dir() / "feature-nets"


def cache_folder(spec: FeatureNetSpec, data_dir: str | None = None) -> Path:
    """Where a network trained here is cached: by its spec key, and apart for data read from a ``--data-dir``
    (a network trained on a 512-image test fixture must never serve the real dataset of the same name)."""
    if not data_dir:
        return feature_root() / spec.key
    digest = hashlib.sha1(str(Path(data_dir).expanduser().resolve()).encode()).hexdigest()[:10]
    return feature_root() / f"{spec.key}-data-{digest}"


class FeatureNet:
    """A trained :class:`BookCNN` in eval mode with batched, fp32 feature/logit extraction."""

    def __init__(self, net: BookCNN, spec: FeatureNetSpec, meta: dict[str, Any]):
        self.net, self.spec, self.meta = net.eval(), spec, meta
        self.input_shape: tuple[int, int, int] | None = None    # images of another size, set by resized()

    @property
    def folder(self) -> Path:
        """Where the real data's features are cached: apart for the shipped network, so features of a
        network trained here under the same key are never mixed with it."""
        shipped = self.meta.get("source") == "shipped with genzoo"
        if shipped:
            return feature_root() / (self.spec.key + "-shipped")
        return feature_root() / self.meta.get("cache_folder", self.spec.key)

    @property
    def num_features(self) -> int:
        return self.net.num_features

    def resized(self, shape: tuple[int, int, int]) -> "FeatureNet":
        """This network for images of ``shape`` (same channels, another size): they are resized to its size
        before the features (area interpolation when shrinking, bilinear when enlarging), and the metrics'
        names say so. Used when a run models a resized copy of the network's dataset (Fashion-MNIST at 32×32 for
        the progressive and style-based GANs), so the shipped network serves instead of training another."""
        if shape[0] != self.spec.shape[0]:
            raise ConfigError(f"the feature network {self.spec.key} takes {self.spec.shape[0]}-channel images, "
                              f"not {shape[0]}")
        out = FeatureNet(self.net, self.spec, dict(self.meta))
        out.input_shape = tuple(shape)
        _, h, w = shape
        out.meta["label"] = f"{self.meta['label']}, images resized from {h}×{w} to {self.spec.shape[1]}×{self.spec.shape[2]}"
        return out

    @torch.no_grad()
    def __call__(self, images01: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
        """Images in ``[0, 1]`` → (features ``N×128``, logits ``N×K``), float32 on the CPU."""
        want = self.input_shape or self.spec.shape
        if tuple(images01.shape[1:]) != want:
            raise ConfigError(f"the feature network {self.spec.key} takes images of shape {want}, "
                              f"got {tuple(images01.shape[1:])}")
        feats, logits = [], []
        device = next(self.net.parameters()).device
        size = self.spec.shape[1:]
        for s in range(0, len(images01), batch_size):
            x = images01[s:s + batch_size].to(device).float()
            if self.input_shape is not None:
                shrink = x.shape[-1] > size[-1]
                x = F.interpolate(x, size=size, mode="area" if shrink else "bilinear",
                                  **({} if shrink else {"align_corners": False}))
            f = self.net.features(x)
            feats.append(f.cpu())
            logits.append(self.net.logits_from_features(f).cpu())
        return torch.cat(feats), torch.cat(logits)

    def dataset_features(self, data: ImageSet, data_cfg: DataConfig, split: str) -> tuple[Tensor, Tensor]:
        """Features and logits of a whole real split, cached next to the weights."""
        # Keyed by the images themselves: runs on different class subsets of one split must not share it.
        digest = hashlib.sha1(data.images.contiguous().numpy().tobytes()).hexdigest()[:12]
        path = self.folder / f"real-{split}-{len(data)}-{digest}.safetensors"
        if path.exists():
            try:
                t = load_file(str(path))
                return t["features"], t["logits"]
            except Exception:  # a corrupt cache entry is recomputed, not trusted
                path.unlink(missing_ok=True)
        feats, logits = [], []
        for s in range(0, len(data), 2000):
            batch = make_batch(data, torch.arange(s, min(s + 2000, len(data))), self.spec.data_config(data_cfg),
                               "01", torch.device("cpu"))
            f, lg = self(batch.x)
            feats.append(f)
            logits.append(lg)
        out = {"features": torch.cat(feats).contiguous(), "logits": torch.cat(logits).contiguous()}
        _save_atomic(out, path)
        return out["features"], out["logits"]


def _save_atomic(tensors: dict[str, Tensor], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp))
    tmp.replace(path)


@torch.no_grad()
def classifier_predictions(net: BookCNN, data: ImageSet, data_cfg: DataConfig, batch_size: int = 1000) -> Tensor:
    net.eval()
    out = []
    for s in range(0, len(data), batch_size):
        index = torch.arange(s, min(s + batch_size, len(data)))
        out.append(net(make_batch(data, index, data_cfg, "01", torch.device("cpu")).x).argmax(1))
    return torch.cat(out)


def classifier_accuracy(net: BookCNN, data: ImageSet, data_cfg: DataConfig, batch_size: int = 1000) -> float:
    return (classifier_predictions(net, data, data_cfg, batch_size) == data.labels).float().mean().item()


def per_class_accuracy(predicted: Tensor, labels: Tensor, num_classes: int) -> list[float | None]:
    """The accuracy on each class's test images (None for a class with none): their mean is the balanced
    accuracy, the honest figure for imbalanced sets such as the emoji groups (half are People & Body)."""
    return [None if not (labels == k).any() else (predicted[labels == k] == k).float().mean().item()
            for k in range(num_classes)]


def train_feature_net(spec: FeatureNetSpec, base_cfg: DataConfig, test_split: str = "test",
                      progress: bool = True, log=print) -> FeatureNet:
    """Train the book's CNN on ``spec``'s dataset, report test accuracy, cache and return it."""
    from ..data import load_images

    data_cfg = spec.data_config(base_cfg)
    train = load_images(data_cfg, spec.shape)
    if train.labels is None:
        raise ConfigError(f"dataset {spec.dataset!r} has no class labels, so genzoo cannot train its feature "
                          f"network on it; sample-quality metrics for it need --features inception (with the "
                          f"weights file) or a labelled dataset of the same shape"
                          + (f"; {train.meta['labels_hint']}" if train.meta.get("labels_hint") else ""))
    test = load_images(data_cfg, spec.shape, split=test_split)
    num_classes = max(train.num_classes or 0, int(train.labels.max()) + 1)
    torch.manual_seed(spec.seed)
    net = BookCNN(spec.shape, num_classes)
    opt = torch.optim.Adam(net.parameters(), lr=spec.lr)
    stream = BatchStream(train, data_cfg, "01", spec.batch_size, spec.seed, torch.device("cpu"))
    steps = spec.epochs * stream.batches_per_epoch
    net.train()
    t0, cpu0 = time.perf_counter(), time.process_time()
    running = torch.zeros(())
    epoch_loss, epoch_correct, epoch_seen = torch.zeros(()), torch.zeros((), dtype=torch.long), 0
    from tqdm import tqdm

    log(f"training the feature network {spec.key}: {spec.epochs} epochs of {stream.batches_per_epoch} batches "
        f"of {spec.batch_size} on {len(train)} images")
    for step in tqdm(range(steps), disable=not progress, desc=f"feature net {spec.key}", mininterval=1.0):
        batch = stream.next()
        logits = net(batch.x)
        loss = F.cross_entropy(logits, batch.y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running += loss.detach()
        epoch_loss += loss.detach() * len(batch.y)
        epoch_correct += (logits.detach().argmax(1) == batch.y).sum()
        epoch_seen += len(batch.y)
        if (step + 1) % stream.batches_per_epoch == 0 or step + 1 == steps:
            log(f"feature net epoch {(step + 1) / stream.batches_per_epoch:.4g}/{spec.epochs}: train loss "
                f"{epoch_loss.item() / epoch_seen:.4f}, train accuracy {epoch_correct.item() / epoch_seen:.4f} "
                f"({time.perf_counter() - t0:.0f} s)")
            epoch_loss.zero_(), epoch_correct.zero_()
            epoch_seen = 0
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    predicted = classifier_predictions(net, test, data_cfg)
    accuracy = (predicted == test.labels).float().mean().item()
    per_class = per_class_accuracy(predicted, test.labels, num_classes)
    present = [a for a in per_class if a is not None]
    majority = torch.bincount(test.labels, minlength=num_classes).max().item() / len(test)
    meta = {"spec": asdict(spec), "key": spec.key, "label": spec.label, "test_split": test_split,
            "test_accuracy": accuracy, "test_balanced_accuracy": sum(present) / len(present),
            "test_majority_class_accuracy": majority,
            "test_accuracy_per_class": dict(zip(test.class_names or [str(k) for k in range(num_classes)], per_class)),
            "test_images": len(test), "train_images": len(train),
            "mean_train_loss": (running / max(steps, 1)).item(), "train_seconds": round(train_s, 1), "train_cpu_seconds": round(train_cpu, 1),
            "num_classes": num_classes, "num_features": net.num_features,
            "architecture": "Foster ch. 2 final CNN (4×[Conv k3 → BN → LeakyReLU] → Dense 128 → BN → "
                            "LeakyReLU → Dropout 0.5 → Dense)"}
    folder = cache_folder(spec, base_cfg.data_dir)
    meta["cache_folder"] = folder.name
    for stale in folder.glob("real-*.safetensors"):  # features of the network this one replaces
        stale.unlink(missing_ok=True)
    _save_atomic({k: v.contiguous() for k, v in net.state_dict().items()}, folder / "weights.safetensors")
    write_text_atomic(folder / "meta.json", json.dumps(meta, indent=2))
    log(f"feature network {spec.key}: test accuracy {accuracy:.4f} on {len(test)} images "
        f"({train_s:.0f} s to train)")
    return FeatureNet(net, spec, meta)


SHIPPED_ROOT = Path(__file__).resolve().parent.parent / "assets" / "feature-nets"


def shipped_feature_net(spec: FeatureNetSpec, root: Path | None = None) -> FeatureNet | None:
    """The network shipped with genzoo for exactly this spec (dataset, shape, epochs, seed, architecture
    version), or None. Its weights are stored in fp16 and run in fp32; ``$GENZOO_SHIPPED_FEATURE_NETS=0``
    ignores shipped networks (then the cache, or training, decides)."""
    if os.environ.get("GENZOO_SHIPPED_FEATURE_NETS", "1") == "0":
        return None
    folder = (root or SHIPPED_ROOT) / spec.key
    meta_path, weights = folder / "meta.json", folder / "weights.safetensors"
    if not (meta_path.exists() and weights.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("spec") != json.loads(json.dumps(asdict(spec))):  # tuples as lists, as written
        return None
    net = BookCNN(spec.shape, int(meta["num_classes"]))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()})
    return FeatureNet(net, spec, {**meta, "source": "shipped with genzoo"})


def shipped_at_other_size(spec: FeatureNetSpec, root: Path | None = None) -> FeatureNet | None:
    """A network shipped for ``spec``'s dataset and channels at another image size (everything else equal)."""
    if os.environ.get("GENZOO_SHIPPED_FEATURE_NETS", "1") == "0":
        return None
    for folder in sorted((root or SHIPPED_ROOT).glob(f"{spec.dataset}-*")):
        try:
            shape = tuple(json.loads((folder / "meta.json").read_text())["spec"]["shape"])
        except (OSError, ValueError, KeyError):
            continue
        if shape != spec.shape and shape[0] == spec.shape[0]:
            found = shipped_feature_net(FeatureNetSpec(**{**asdict(spec), "shape": shape}), root)
            if found is not None:
                return found
    return None


def load_feature_net(spec: FeatureNetSpec, data_dir: str | None = None) -> FeatureNet | None:
    """The shipped network for ``spec``, else the one cached for this data (``data_dir``), else None (then it has
    to be trained)."""
    shipped = shipped_feature_net(spec)
    if shipped is not None:
        return shipped
    folder = cache_folder(spec, data_dir)
    meta_path, weights = folder / "meta.json", folder / "weights.safetensors"
    if not (meta_path.exists() and weights.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    net = BookCNN(spec.shape, int(meta["num_classes"]))
    try:
        net.load_state_dict(load_file(str(weights)))
    except Exception as e:
        raise ConfigError(f"the cached feature network {weights} is unreadable ({e}); delete {folder} and it "
                          f"will be retrained") from None
    return FeatureNet(net, spec, meta)


def get_feature_net(data_cfg: DataConfig, shape: tuple[int, int, int], epochs: int = 5, seed: int = 0,
                    progress: bool = True, log=print) -> FeatureNet:
    """The cached feature network for this data and shape, training it first when there is none."""
    spec = spec_for(data_cfg, shape, epochs, seed)
    net = load_feature_net(spec, data_cfg.data_dir)
    if net is not None:
        return net
    other = shipped_at_other_size(spec)
    if other is not None:
        log(f"feature network: the shipped {other.spec.key}, on images resized from {shape[1]}×{shape[2]}")
        return other.resized(tuple(shape))
    log(f"no cached feature network {spec.key}: training the book's ch. 2 CNN on {spec.dataset} "
        f"({spec.epochs} epochs; cached for later runs)")
    return train_feature_net(spec, data_cfg, progress=progress, log=log)
