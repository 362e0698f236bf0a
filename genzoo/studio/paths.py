"""Which names and files of a runs folder the studio may serve, and nothing else.

A run name is one folder name directly under the runs folder (no separators, no ``..``, no hidden names) whose
real path (symlinks resolved) is still inside the runs folder. A file is a relative path inside that run's
``samples/`` or ``analysis/`` folder, with a suffix of :data:`SERVED_SUFFIXES`, whose real path is inside the run.
Everything else is refused with :class:`NotServed` (the server answers 404 with the reason).
"""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

SERVED_FOLDERS = ("samples", "analysis")
SERVED_SUFFIXES = (".png", ".json")
_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}")


class NotServed(LookupError):
    """A run or file the studio does not serve; the message says why (it never names a machine path)."""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def run_folder(root: Path, name: str) -> Path:
    """The folder of run ``name`` under ``root`` (resolved), or :class:`NotServed`."""
    if not _RUN_NAME.fullmatch(name) or ".." in name:
        raise NotServed(f"no run named {name!r} (a run name is one folder name of the runs folder)")
    real_root = root.resolve()
    folder = (real_root / name).resolve()
    if folder.parent != real_root:
        raise NotServed(f"run {name!r} is a link out of the runs folder; the studio serves only runs inside it")
    if not (folder / "config.yaml").is_file():
        raise NotServed(f"no run named {name!r} in the runs folder (see /api/runs)")
    return folder


def run_file(run_dir: Path, rel: str) -> Path:
    """The file ``rel`` of the (resolved) run folder ``run_dir``, or :class:`NotServed`."""
    if not rel or "\\" in rel or "\x00" in rel:
        raise NotServed("not a file of this run")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or any(part in ("..", ".", "") for part in rel.split("/")):
        raise NotServed("file paths are relative to the run, without '..' (e.g. samples/final.png)")
    if pure.parts[0] not in SERVED_FOLDERS or len(pure.parts) < 2:
        raise NotServed(f"only files under {' and '.join(f'{f}/' for f in SERVED_FOLDERS)} of a run are served")
    if pure.suffix.lower() not in SERVED_SUFFIXES:
        raise NotServed(f"only {', '.join(SERVED_SUFFIXES)} files are served")
    base = run_dir / pure.parts[0]
    if base.resolve() != base:
        raise NotServed(f"the run's {pure.parts[0]}/ folder is a link; the studio serves only real run folders")
    path = (run_dir / pure).resolve()
    if not _inside(path, base):
        raise NotServed(f"that file is a link out of the run's {pure.parts[0]}/ folder; the studio serves only "
                        f"files inside it")
    if path.suffix.lower() not in SERVED_SUFFIXES:
        raise NotServed(f"that file is a link to a file that is not {' or '.join(SERVED_SUFFIXES)}")
    if not path.is_file():
        raise NotServed(f"no file {rel!r} in this run")
    return path


def gallery(run_dir: Path, limit: int = 500) -> list[str]:
    """The served files of a run (relative paths, sorted), at most ``limit`` of each served folder (the studio's
    own results in ``samples/studio/`` counted apart, so they never crowd out the training's galleries)."""
    found: list[str] = []
    for folder in SERVED_FOLDERS:
        base = run_dir / folder
        if not base.is_dir() or base.resolve() != base.absolute():
            continue                                  # a folder that is a link is not served
        real_base, counts = base.resolve(), {True: 0, False: 0}
        for p in sorted(base.rglob("*")):
            if p.suffix.lower() not in SERVED_SUFFIXES or not p.is_file():
                continue
            real = p.resolve()
            if not _inside(real, real_base) or real.suffix.lower() not in SERVED_SUFFIXES:
                continue
            rel = p.relative_to(run_dir).as_posix()
            own = rel.startswith("samples/studio/")
            if counts[own] < limit:
                counts[own] += 1
                found.append(rel)
    return found
