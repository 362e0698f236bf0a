"""Two-domain image data for image-to-image translation (Foster 1st ed. ch. 5: CycleGAN; §9: pix2pix).

* ``two-domain-folder``: the CycleGAN layout — ``DIR/trainA``, ``DIR/trainB``, ``DIR/testA``, ``DIR/testB`` (e.g.
  apple2orange, monet2photo) on the user's disk. When both sides hold the same file names the set is *paired*
  (pix2pix-style: item ``i`` of A and of B are the same scene); otherwise it is unpaired.
* ``emoji-styles``: the offline stand-in — the Google and Twitter emoji of the npm packages
  ``emoji-datasource-google`` / ``-twitter`` (``npm pack emoji-datasource-google@16.0.0
  emoji-datasource-twitter@16.0.0``; the ``.tgz`` files are read as they are, nothing is unpacked). The same names
  in two styles: training may ignore the pairing (CycleGAN) while every translation still has a true counterpart
  to score against. Twitter's images are CC-BY 4.0 (Twitter, Inc. and other contributors).
* ``side-by-side-folder``: pix2pix's layout — ``DIR/train``, ``DIR/val``, ``DIR/test`` of images whose left half is A
  and right half B (facades, maps, cityscapes, edges2shoes as pix2pix's download script ships them). Paired.
* ``font-styles`` (:mod:`genzoo.data.fonts`): one font family's glyphs in two faces (regular → bold by default).

``data.domains`` names the two domains, A first: ``[B, A]`` swaps the folder layouts' sides (pix2pix's
``--direction BtoA``, the usual one for facades), ``[twitter, google]`` the emoji styles. Sets with a true
counterpart for every item name in ``meta["feature_data"]`` the labelled dataset whose feature network scores
translations (FID of the translated images against the real B images).

:class:`ImagePairSet` serves batches with the A images in ``Batch.x`` and the B images in ``Batch.target``.
Unpaired sets draw B in an order of its own (:class:`PairStream`): each epoch permutes A and B independently, both
seeded by the epoch, so an interrupted run resumes with exactly the batches it would have seen.
"""
from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from . import transforms as T
from .folders import (cache_path, crop_resize, decode_all, file_stamp, flatten, list_images, load_cache, open_image,
                      path_key, read_image_files, save_cache, to_array)
from .loader import Batch, BatchStream
from .registry import DataRequest, cache_dir, register_dataset, search_dirs
from .types import DataError, DataSpec, ImageSet

EMOJI_PACKS = {"google": "emoji-datasource-google-16.0.0.tgz", "twitter": "emoji-datasource-twitter-16.0.0.tgz"}
EMOJI_HINT = ("run `npm pack emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0` in "
              "$GENZOO_CACHE/emoji-styles (or in the --data-dir folder)")


class PairStream(BatchStream):
    """:class:`BatchStream` over an :class:`ImagePairSet`: A follows the stream's permutation; an unpaired B follows
    its own permutation of the same epoch (seeded apart), so the pairs the model sees change every epoch and a
    resumed run sees exactly the batches it would have. Its state is the stream's (epoch, position)."""

    def _permutation_b(self) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch + 7_919_000_000)
        n = len(self.data.b)
        reps = -(-len(self.data) // n)
        return torch.cat([torch.randperm(n, generator=g) for _ in range(reps)])

    def next(self) -> Batch:
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position, self._perm = self.epoch + 1, 0, None
        if self._perm is None:
            self._perm = self._permutation()
            self._perm_b = None if self.data.paired else self._permutation_b()
        start = self.position * self.batch_size
        local = self.batch_size // self.world_size
        window = slice(start + self.rank * local, start + (self.rank + 1) * local)
        index = self._perm[window]
        index_b = None if self.data.paired else self._perm_b[window]
        self.position += 1
        return self.data.gather(index, self.cfg, self.data_range, self.device, index_b)


@dataclass
class ImagePairSet:
    """Images of domain A and of domain B (uint8 ``N×C×H×W`` each, one shape). ``paired``: item ``i`` of A and
    item ``i`` of B are counterparts (same file name)."""

    a: ImageSet
    b: ImageSet
    paired: bool
    source: str = ""
    meta: dict = field(default_factory=dict)
    stream_class: ClassVar[type[BatchStream]] = PairStream     # the stream the trainer draws batches with

    def __post_init__(self) -> None:
        if self.a.shape != self.b.shape:
            raise DataError(f"{self.source}: domain A images are {self.a.shape} but domain B images are "
                            f"{self.b.shape}; set data.image_size (and data.channels) so both match")
        if self.paired and len(self.a) != len(self.b):
            raise DataError(f"{self.source}: a paired set needs as many B images as A images "
                            f"({len(self.a)} vs {len(self.b)})")

    def __len__(self) -> int:
        """Items per epoch: the larger domain (the CycleGAN reference loader's convention)."""
        return max(len(self.a), len(self.b))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.a.shape

    def subset(self, index: Tensor) -> "ImagePairSet":
        """Items ``index`` of each domain (an unpaired domain shorter than the index wraps around)."""
        return ImagePairSet(self.a.subset(index % len(self.a)), self.b.subset(index % len(self.b)), self.paired,
                            self.source, self.meta)

    @property
    def labels(self) -> None:           # no class labels (what image-conditioning checks ask)
        return None

    @property
    def spec(self) -> DataSpec:
        return DataSpec(modality="image-pair", shape=self.shape, unit="images",
                        extra={"paired": self.paired, "items_a": len(self.a), "items_b": len(self.b)})

    def gather(self, index: Tensor, cfg, data_range: str, device: torch.device,
               index_b: Tensor | None = None) -> Batch:
        """A images ``index`` in ``Batch.x`` and B images ``index_b`` (paired sets: the same items) in
        ``Batch.target``, scaled for the model."""
        from .loader import make_batch

        ia = index % len(self.a)
        ib = ia if index_b is None else index_b % len(self.b)
        xa = make_batch(self.a, ia, cfg, data_range, device).x
        xb = make_batch(self.b, ib, cfg, data_range, device).x
        return Batch(xa, target=xb)




def pick_domains(request: DataRequest, names: tuple[str, str], dataset: str) -> bool:
    """Whether ``request.domains`` (default ``names``: A, B) swaps the two domains; a :class:`DataError` naming the
    choices when it is not a pair of them."""
    if not request.domains or tuple(request.domains) == names:
        return False
    if tuple(request.domains) == names[::-1]:
        return True
    raise DataError(f"{dataset}: data.domains={list(request.domains)} must be [{names[0]}, {names[1]}] or "
                    f"[{names[1]}, {names[0]}] (domain A first)")


def _finish(images: np.ndarray | Tensor, request: DataRequest) -> Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if request.channels:
        x = T.to_channels(x, request.channels)
    return x


# --------------------------------------------------------------------------------------------------
# two-domain-folder


@register_dataset("two-domain-folder", "Two image domains in the CycleGAN layout (--data-dir DIR with trainA/ trainB/ "
                  "testA/ testB/); paired when both sides hold the same file names", None, modality="image-pair")
def two_domain_folder(request: DataRequest) -> ImagePairSet:
    if not request.data_dir:
        raise DataError("two-domain-folder needs a folder with trainA/ trainB/ testA/ testB/: pass --data-dir DIR")
    root = Path(request.data_dir)
    split = "test" if request.split == "test" else "train"
    folders = [root / f"{split}A", root / f"{split}B"]
    if pick_domains(request, ("A", "B"), "two-domain-folder"):
        folders.reverse()
    missing = [f.name for f in folders if not f.is_dir()]
    if missing:
        raise DataError(f"{root}: no {' or '.join(missing)} folder; the CycleGAN layout is DIR/trainA, DIR/trainB, "
                        f"DIR/testA, DIR/testB (one image per file)")
    paths = [list_images(f) for f in folders]
    for f, p in zip(folders, paths):
        if not p:
            raise DataError(f"{f}: no image files; put the domain's images there")
    names = [[str(p.relative_to(f).with_suffix("")) for p in ps] for f, ps in zip(folders, paths)]
    paired = sorted(names[0]) == sorted(names[1])
    if paired:   # align B on A's order by name
        where = {n: p for n, p in zip(names[1], paths[1])}
        paths[1] = [where[n] for n in names[0]]
        names[1] = list(names[0])
    channels = request.channels or 3
    a, b = (ImageSet(_finish(read_image_files(p, request.image_size, channels), request),
                     source=f"two-domain-folder ({f})", meta={"names": n}) for f, p, n in zip(folders, paths, names))
    return ImagePairSet(a, b, paired, source=f"two-domain-folder:{split} ({root})")


# --------------------------------------------------------------------------------------------------
# emoji-styles


def find_pack(request: DataRequest, style: str) -> Path:
    name = EMOJI_PACKS[style]
    dirs = search_dirs(request, "emoji-styles", [str(cache_dir() / "emoji-styles")])
    for d in dirs:
        if (d / name).is_file():
            return d / name
    raise DataError(f"no {name} found in {', '.join(str(d) for d in dirs)}: {EMOJI_HINT}")


def read_pack(pack: Path, style: str, size: int) -> tuple[list[str], np.ndarray]:
    """Names and decoded images (over white, resized) of ``package/img/STYLE/64/*.png`` in an npm ``.tgz``."""
    prefix = f"package/img/{style}/64/"
    try:
        with tarfile.open(pack, "r:gz") as tar:
            members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.startswith(prefix)
                              and m.name.endswith(".png")), key=lambda m: m.name)
            items = [(m.name[len(prefix):-4], tar.extractfile(m).read()) for m in members]
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"{pack}: cannot read this npm pack ({type(e).__name__}: {e}); it is corrupt or truncated — "
                        f"delete it and {EMOJI_HINT}") from None
    if not items:
        raise DataError(f"{pack}: holds no {prefix}*.png; is it the emoji-datasource-{style} package?")

    def decode(item: tuple[str, bytes]) -> np.ndarray:
        name, png = item
        img = flatten(open_image(png, f"{pack} [{name}]"), 3)
        if img.size != (size, size):
            from PIL import Image

            img = img.resize((size, size), Image.LANCZOS)
        return to_array(img)

    return [n for n, _ in items], decode_all(items, decode, (3, size, size))


def load_style(request: DataRequest, style: str, size: int) -> tuple[list[str], np.ndarray]:
    pack = find_pack(request, style)
    path = cache_path("emoji-styles", f"{style}-{size}px-{path_key(file_stamp(pack), size, 'v1')}.npz")
    cached = load_cache(path)
    if cached is not None and "images" in cached and "names" in cached:
        return [str(n) for n in cached["names"]], cached["images"]
    names, images = read_pack(pack, style, size)
    save_cache(path, images=images, names=np.array(names))
    return names, images


@register_dataset("emoji-styles", "Google (A) and Twitter (B) emoji, the same 3,786 names in two styles, 64×64 (npm "
                  "emoji-datasource-google/-twitter 16.0.0; Twitter's are CC-BY 4.0)", (3, 64, 64),
                  modality="image-pair")
def emoji_styles(request: DataRequest) -> ImagePairSet:
    """Every name both packs hold, in name order; ``test`` is every 10th name (9, 19, ...), ``train`` the rest.
    Paired by name: a CycleGAN recipe may still train unpaired (``data.unpaired``) and score against the pairs."""
    if request.split not in ("train", "test"):
        raise DataError(f"emoji-styles: unknown split {request.split!r}; use train or test")
    size = request.image_size or 64
    styles = ("google", "twitter")
    if pick_domains(request, styles, "emoji-styles"):
        styles = styles[::-1]
    (names_a, images_a), (names_b, images_b) = (load_style(request, s, size) for s in styles)
    common = sorted(set(names_a) & set(names_b))
    keep = [n for i, n in enumerate(common) if (i % 10 == 9) == (request.split == "test")]
    ia, ib = {n: i for i, n in enumerate(names_a)}, {n: i for i, n in enumerate(names_b)}
    a = ImageSet(_finish(images_a[[ia[n] for n in keep]], request), source=f"emoji-styles: {styles[0]}",
                 meta={"names": keep})
    b = ImageSet(_finish(images_b[[ib[n] for n in keep]], request), source=f"emoji-styles: {styles[1]}",
                 meta={"names": keep})
    return ImagePairSet(a, b, paired=True, source=f"emoji-styles:{request.split}",
                        meta={"feature_data": {"name": "emoji"}, "domains": list(styles)})


# --------------------------------------------------------------------------------------------------
# side-by-side-folder (pix2pix)

SIDE_BY_SIDE_SPLITS = {"train": "train", "val": "val", "valid": "val", "test": "test"}


def split_halves(path: Path, channels: int, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The left and right halves of one side-by-side image, each centre-cropped and resized (Lanczos) to
    ``size`` (``None``: as they are)."""
    img = flatten(open_image(path), channels)
    w, h = img.size
    if w % 2:
        raise DataError(f"{path}: is {w}×{h}; an odd width cannot be cut into halves — the side-by-side layout holds "
                        f"A in the left half and B in the right (pix2pix's facades are 512×256)")
    left, right = (crop_resize(img.crop(box), size) for box in ((0, 0, w // 2, h), (w // 2, 0, w, h)))
    return to_array(left), to_array(right)


@register_dataset("side-by-side-folder", "pix2pix's paired layout (--data-dir DIR with train/ val/ test/): each image "
                  "holds A in its left half and B in its right (data.domains=[B,A] for pix2pix's BtoA)", None,
                  modality="image-pair")
def side_by_side_folder(request: DataRequest) -> ImagePairSet:
    """The images of ``DIR/<split>`` (``train``, ``val`` or ``test``; recursive, sorted by path) cut into their
    halves: A = left, B = right (swapped by ``data.domains=[B, A]``). Paired, named by the file's path. Without an
    image size every image must have the size of the first; ``channels`` defaults to 3."""
    if not request.data_dir:
        raise DataError("side-by-side-folder needs a folder with train/ val/ test/ of side-by-side A|B images: pass "
                        "--data-dir DIR")
    root = Path(request.data_dir)
    if request.split not in SIDE_BY_SIDE_SPLITS:
        raise DataError(f"side-by-side-folder: unknown split {request.split!r}; use train, val or test")
    folder = root / SIDE_BY_SIDE_SPLITS[request.split]
    if not folder.is_dir():
        present = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")) \
            if root.is_dir() else []
        hint = (" — some sets (maps, edges2shoes) ship only train/ and val/: evaluate on --split val"
                if folder.name == "test" and "val" in present else "")
        raise DataError(f"{root}: no {folder.name}/ folder (found: {', '.join(present) or 'none'}); pix2pix's layout "
                        f"is DIR/train, DIR/val, DIR/test of side-by-side A|B images{hint}")
    paths = list_images(folder)
    if not paths:
        raise DataError(f"{folder}: no image files; put the side-by-side A|B images there")
    channels = request.channels or 3
    swap = pick_domains(request, ("A", "B"), "side-by-side-folder")
    first = split_halves(paths[0], channels, request.image_size)[0].shape

    def decode(path: Path) -> np.ndarray:
        left, right = split_halves(path, channels, request.image_size)
        if left.shape != first:
            raise DataError(f"{path}: its halves are {left.shape[2]}×{left.shape[1]} but {paths[0]}'s are "
                            f"{first[2]}×{first[1]}; set an image size, e.g. --set data.image_size=256")
        return np.stack([left, right])

    both = decode_all(paths, decode, (2, *first))            # N×2×C×H×W: left and right halves
    halves = [both[:, 0], both[:, 1]]
    if swap:
        halves.reverse()
    names = [str(p.relative_to(folder).with_suffix("")) for p in paths]
    sides = ("right", "left") if swap else ("left", "right")
    a, b = (ImageSet(_finish(h, request), source=f"side-by-side-folder ({folder}, {side} halves)",
                     meta={"names": names}) for h, side in zip(halves, sides))
    return ImagePairSet(a, b, paired=True, source=f"side-by-side-folder:{folder.name} ({root})")
