"""ImageNet VGG19 weights from a user's file, in the three usual formats, mapped onto
:class:`~genzoo.nn.vgg.VGG19Features` by the book's layer names.

* torchvision's state dict (``vgg19-dcbb9e9d.pth``: ``features.N.weight`` ``[out, in, 3, 3]``, ``features.N.bias``;
  the classifier's keys are ignored) — images RGB in ``[0, 1]``, normalised by ImageNet's mean and std;
* a ``.safetensors`` file with the same keys — the same preprocessing;
* Keras' ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (groups ``block1_conv1`` …, kernels
  ``[3, 3, in, out]``; needs h5py) — Caffe's preprocessing, as ``keras.applications.vgg19.preprocess_input``:
  RGB → BGR, 0–255, minus the mean pixel (103.939, 116.779, 123.68), no scaling.

The file is found from ``--vgg FILE`` or ``$GENZOO_VGG19``. Every failure (missing, unreadable, truncated,
missing layers, wrong shapes) raises a :class:`~genzoo.data.types.DataError` naming the file and the fix.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch
from torch import Tensor

from ..data.types import DataError
from ..nn.vgg import LAYER_NAMES, TORCHVISION_INDEX, VGG19Features

ENV = "GENZOO_VGG19"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def preprocess_torchvision(x01: Tensor) -> Tensor:
    """torchvision's ``Normalize(mean, std)`` on RGB images in ``[0, 1]``."""
    mean = x01.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x01.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x01 - mean) / std


def preprocess_caffe(x01: Tensor) -> Tensor:
    """Keras' ``vgg19.preprocess_input`` (mode "caffe"): BGR, 0–255, minus the ImageNet mean pixel."""
    bgr = x01.flip(1) * 255.0
    return bgr - bgr.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)


def weights_path(path: str | Path | None) -> Path | None:
    """``--vgg`` if given, else ``$GENZOO_VGG19``, else None; a named file that does not exist is an error."""
    chosen = path if path is not None else os.environ.get(ENV) or None
    if chosen is None:
        return None
    p = Path(chosen)
    if not p.is_file():
        where = "--vgg" if path is not None else f"${ENV}"
        raise DataError(f"{where} names {str(p)!r}, which is not a file; give the path of vgg19-dcbb9e9d.pth, a "
                        f".safetensors of it, or vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    return p


def _torchvision_tensors(path: Path) -> dict[str, Tensor]:
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise DataError(f"{path}: not a readable safetensors file ({e}); the file is corrupt or truncated — "
                            f"copy it again") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable PyTorch state dict ({str(e).splitlines()[0][:200]}); the file is "
                        f"corrupt or truncated — download vgg19-dcbb9e9d.pth again") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise DataError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    return state


def _keras_tensors(path: Path) -> dict[str, Tensor]:
    """``block1_conv1.weight`` … in PyTorch layout from a Keras HDF5 weights file."""
    try:
        import h5py
    except ImportError:
        raise DataError(f"{path}: reading Keras .h5 weights needs h5py: `pip install h5py` (or `pip install "
                        f"genzoo[style]`), or convert the file to torchvision's .pth") from None
    out: dict[str, Tensor] = {}
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            for name in LAYER_NAMES:
                if name not in root:
                    continue
                group = root[name]
                names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("weight_names", [])]
                arrays = [group[n][()] for n in names] if names else []
                if not arrays:          # some writers nest the datasets one level deeper without weight_names
                    arrays = [group[name][k][()] for k in ("kernel:0", "bias:0")] if name in group else []
                if len(arrays) != 2:
                    raise DataError(f"{path}: layer {name} holds {len(arrays)} arrays, expected a kernel and a bias")
                kernel, bias = (torch.from_numpy(a.copy()) for a in arrays)
                if kernel.dim() != 4:
                    raise DataError(f"{path}: layer {name}'s kernel has shape {tuple(kernel.shape)}, expected "
                                    f"[3, 3, in, out]")
                out[f"{name}.weight"] = kernel.permute(3, 2, 0, 1).contiguous()   # HWIO → OIHW
                out[f"{name}.bias"] = bias
    except OSError as e:
        raise DataError(f"{path}: not a readable HDF5 file ({e}); the file is corrupt or truncated — copy it "
                        f"again") from None
    return out


def read_vgg19(path: Path) -> tuple[dict[str, Tensor], str]:
    """Weights keyed ``blockB_convI.weight/bias`` and the preprocessing their format needs (torchvision | caffe)."""
    if path.suffix in (".h5", ".hdf5", ".keras"):
        return _keras_tensors(path), "caffe"
    state = _torchvision_tensors(path)
    out = {}
    for name, k in TORCHVISION_INDEX.items():
        for part in ("weight", "bias"):
            key = f"features.{k}.{part}"
            if key in state:
                out[f"{name}.{part}"] = state[key]
    return out, "torchvision"


def load_vgg19(path: Path, pool: str = "max") -> tuple[VGG19Features, str]:
    """A VGG19 with every conv layer read from ``path``; checks each layer's presence and shape."""
    tensors, preprocessing = read_vgg19(path)
    net = VGG19Features(pool=pool)
    missing = [n for n in LAYER_NAMES if f"{n}.weight" not in tensors or f"{n}.bias" not in tensors]
    if len(missing) == len(LAYER_NAMES):
        raise DataError(f"{path}: no VGG19 conv weights found (expected keys features.0.weight … features.34.bias "
                        f"for torchvision/safetensors, or groups block1_conv1 … block5_conv4 for Keras .h5)")
    if missing:
        raise DataError(f"{path}: VGG19 layers missing: {', '.join(missing)}; the file is not a whole VGG19 "
                        f"(a VGG16 has no block3_conv4) or is truncated")
    state = {}
    for name in LAYER_NAMES:
        conv = net.convs[name]
        for part, want in (("weight", conv.weight.shape), ("bias", conv.bias.shape)):
            t = tensors[f"{name}.{part}"]
            if tuple(t.shape) != tuple(want):
                raise DataError(f"{path}: {name}.{part} has shape {tuple(t.shape)}, VGG19 needs {tuple(want)}; "
                                f"this is not VGG19's convolutional part")
            if not torch.isfinite(t).all():
                raise DataError(f"{path}: {name}.{part} holds NaN or infinite values; the file is corrupt")
            state[f"convs.{name}.{part}"] = t.float()
    net.load_state_dict(state)
    return net.requires_grad_(False).eval(), preprocessing


__all__ = ["ENV", "load_vgg19", "preprocess_caffe", "preprocess_torchvision", "read_vgg19", "weights_path"]
