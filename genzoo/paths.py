"""Where commands write: one rule for ``--out`` and a check that it can be written *before* any work.

The rule (every command): ``--out`` names a folder, and each command writes fixed file names inside it
(``train``/``resume``: the run folder itself; ``sample``: ``KIND-SEED.png`` + ``.safetensors``;
``analyze``: ``NAME.png`` + ``.json``; ``compare``: ``report.md`` + ``report.html``; ``planet-pixel``:
``planet-pixel.png``). The older spellings that named a file still work where they are unambiguous: a
``.png`` path for ``sample``/``planet-pixel`` and a ``.md``/``.html`` path for ``compare``.

Torch-free, so it can be used before anything heavy is imported.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .config import ConfigError


def _nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest ancestor that exists (``.`` for a relative path with none)."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def check_writable_output(path: Path, kind: str, *, folder: bool = True) -> None:
    """Raise :class:`ConfigError` unless ``path`` can be created (or reused) and written: a folder when
    ``folder`` (the default), else a file. ``kind`` names it in the message (e.g. ``"--out folder"``).

    Refused, with the path and the fix: a folder that is an existing file, a file that is an existing
    folder, a path below an existing file, and a place without write permission.
    """
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise ConfigError(f"the {kind} {path} is an existing file, not a folder; choose another path "
                              f"(or delete that file)")
        if not folder and path.is_dir():
            raise ConfigError(f"the {kind} {path} is an existing folder; give a file name (e.g. {path / 'out.png'}) "
                              f"or another path")
        if not os.access(path, os.W_OK | (os.X_OK if folder else 0)):
            raise ConfigError(f"the {kind} {path} is not writable; choose a location you can write to "
                              f"(or fix its permissions)")
        if folder:
            return
    parent = _nearest_existing(path.parent)
    if not parent.is_dir():
        raise ConfigError(f"cannot create the {kind} {path}: {parent} is a file, not a folder; choose a path "
                          f"that is not inside a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot create the {kind} {path}: {parent} is not writable; choose a location you "
                          f"can write to")


def output_file(out: Path | None, default_dir: Path, name: str, file_suffixes: Sequence[str] = (".png",),
                kind: str = "--out folder") -> Path:
    """The file a command writes under the ``--out`` rule, checked to be writable: ``default_dir/name`` without
    ``--out``, ``out`` itself when it ends in one of ``file_suffixes`` (the old file spelling), else
    ``out/name``."""
    if out is None:
        target = Path(default_dir) / name
    elif Path(out).suffix.lower() in file_suffixes:
        target = Path(out)
    else:
        check_writable_output(Path(out), kind)
        target = Path(out) / name
    check_writable_output(target, "output file", folder=False)
    return target
