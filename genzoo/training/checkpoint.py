"""Full-state checkpoints, written atomically.

Layout of one checkpoint folder ``RUN/checkpoints/step-00001000/``::

    model.safetensors    every parameter and buffer of the model (safe to load, no pickle)
    ema.safetensors      the EMA weights, when EMA is on
    state.pt             optimizers, step, epoch, batch-stream position, RNG states (tensors and
                         plain containers only: read back with ``torch.load(weights_only=True)``)
    meta.json            family, recipe, step — what a human or another tool checks first

The folder is written under a temporary name and renamed into place, then ``checkpoints/latest`` is
replaced atomically, so a run killed at any instant leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__

if TYPE_CHECKING:  # torch is imported where tensors are read or written: finding and reading metadata needs none
    import torch
    from torch import nn

    from ..config import RunConfig


MILESTONE = "milestone"   # file naming the stage a kept checkpoint ends


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or belongs to another model."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(run_dir: Path, step: int, model: nn.Module, state: dict[str, Any], meta: dict[str, Any],
                    ema: nn.Module | None = None, keep: int = 2, texts: dict[str, str] | None = None,
                    milestone: str | None = None) -> Path:
    """Write checkpoint ``step`` into ``run_dir/checkpoints`` and keep only the ``keep`` newest. ``texts`` are
    extra small files written with it (the run's config, so a lost or corrupt ``config.yaml`` can be restored).
    A ``milestone`` checkpoint (the end of a training stage, see ``GenerativeModel.milestone``) holds its name in
    a ``milestone`` file and is never pruned."""
    import torch
    from safetensors.torch import save_file

    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    final = root / name
    tmp = root / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    info = {"genzoo": __version__, "step": step, **meta}
    save_file(_tensors(model), str(tmp / "model.safetensors"), metadata={k: str(v) for k, v in info.items()})
    if ema is not None:
        save_file(_tensors(ema), str(tmp / "ema.safetensors"))
    torch.save(state, tmp / "state.pt")
    (tmp / "meta.json").write_text(json.dumps(info, indent=2))
    for filename, text in (texts or {}).items():
        (tmp / filename).write_text(text)
    if milestone:
        (tmp / MILESTONE).write_text(milestone + "\n")
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():  # re-saving the same step (e.g. epoch end == max_steps)
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(root)
    write_text_atomic(root / "latest", name + "\n")
    _prune(root, keep)
    return final


def _prune(root: Path, keep: int) -> None:
    steps = sorted(p for p in root.glob("step-*") if p.is_dir() and not (p / MILESTONE).exists())
    for old in steps[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".tmp-*"):  # left by a run killed while writing
        shutil.rmtree(stale, ignore_errors=True)


def milestone_checkpoints(run_dir: Path) -> list[tuple[str, Path]]:
    """The kept milestone checkpoints of a run, oldest first, with their names."""
    root = Path(run_dir) / "checkpoints"
    return [((p / MILESTONE).read_text().strip(), p) for p in sorted(root.glob("step-*"))
            if (p / MILESTONE).exists() and (p / "meta.json").exists()]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run (``latest`` pointer, else the highest step)."""
    root = Path(run_dir) / "checkpoints"
    pointer = root / "latest"
    if pointer.exists():
        p = root / pointer.read_text().strip()
        if (p / "meta.json").exists():
            return p
    steps = sorted(p for p in root.glob("step-*") if (p / "meta.json").exists())
    return steps[-1] if steps else None


def _fallback(ckpt: Path) -> str:
    """What to do about an unreadable checkpoint: fall back to an older complete one, if there is one."""
    older = sorted(p for p in ckpt.parent.glob("step-*") if p != ckpt and p.name < ckpt.name
                   and (p / "meta.json").exists())
    if older:
        return f"delete {ckpt} to fall back to the older checkpoint {older[-1].name}"
    return (f"there is no older checkpoint to fall back to, so this run must be trained again "
            f"(`genzoo train` into a new --out)")


def read_meta(ckpt: Path) -> dict[str, Any]:
    try:
        return json.loads((ckpt / "meta.json").read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{ckpt}/meta.json is unreadable ({e}): the checkpoint is incomplete or corrupt; "
                              f"{_fallback(ckpt)}") from None


def run_checkpoint(run_dir: Path, checkpoint: Path | None = None) -> tuple[RunConfig, Path]:
    """A run's config and its newest (or the given) checkpoint, checked to belong to the run's model family.
    Reads YAML and JSON only, so a folder that is not a trained run is reported before torch is imported."""
    from ..config import ConfigError, read_config

    run_dir = Path(run_dir)
    cfg = read_config(run_dir / "config.yaml")
    ckpt = checkpoint or latest_checkpoint(run_dir)
    if ckpt is None:
        raise ConfigError(f"{run_dir} has no checkpoint yet: train it first (`genzoo train` / `genzoo resume`)")
    check_compatible(read_meta(ckpt), cfg.model["family"], ckpt)
    return cfg, ckpt


def load_weights(module: nn.Module, path: Path, what: str = "model") -> None:
    """Load a safetensors file into ``module``, naming mismatched keys and shapes on failure."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as e:
        raise CheckpointError(f"{path}: cannot read {what} weights ({e}); the file is corrupt — "
                              f"{_fallback(path.parent)}") from None
    own = module.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    wrong = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {missing[:5]}{'…' if len(missing) > 5 else ''}")
        if unexpected:
            details.append(f"unexpected {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}")
        if wrong:
            details.append("shape mismatch " + ", ".join(f"{k} {tuple(tensors[k].shape)} vs {tuple(own[k].shape)}"
                                                         for k in wrong[:3]))
        raise CheckpointError(f"{path} does not fit this {what} ({'; '.join(details)}): it was written by a "
                              f"different architecture or config — sample/resume it with the run folder that "
                              f"wrote it")
    module.load_state_dict(tensors)


def check_compatible(meta: dict[str, Any], family: str, ckpt: Path) -> None:
    if meta.get("family") != family:
        raise CheckpointError(f"{ckpt} was written by model family {meta.get('family')!r}, but the config asks "
                              f"for {family!r}: point at the run folder that wrote it")


def load_state(ckpt: Path) -> dict[str, Any]:
    import torch

    try:
        return torch.load(ckpt / "state.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file
        first = (str(e).splitlines() or [""])[0][:200]
        raise CheckpointError(f"{ckpt}/state.pt is unreadable ({type(e).__name__}: {first}); "
                              f"{_fallback(ckpt)}") from None
