"""What the studio answers with: the rows and details of runs read from their files, the tasks and Explore panels
a model's declared capabilities allow, and the guards on every answer (no non-finite numbers, no machine paths)."""
from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any, Callable

from fastapi.responses import JSONResponse

from ..config import ConfigError
from ..run_index import read_run

MAX_CURVE_ROWS = 2000          # metrics.jsonl rows sent (evenly thinned beyond)

# The Request fields a task may read besides n, seed and label (Task.fields), typed for the page's controls.
REQUEST_FIELDS: dict[str, dict[str, Any]] = {
    "split": {"kind": "str", "choices": ["test", "train"], "default": "test"},
    "start_row": {"kind": "int", "choices": [], "default": None},
    "mask": {"kind": "str", "choices": ["bottom", "top", "left", "right", "center"], "default": None},
    "prompts": {"kind": "lines", "choices": [], "default": None},
    "top": {"kind": "int", "choices": [], "default": 10},
}

def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity made None (JSON has no such numbers; one bad run must not break a page)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


class SafeJSON(JSONResponse):
    """A JSON answer with non-finite numbers as null (Starlette refuses to render them)."""

    def render(self, content: Any) -> bytes:
        return super().render(finite(content))


class Redactor:
    """Makes machine paths in answers harmless: a path under the runs folder becomes relative to it, one under the
    home folder ``~/…``; other paths (system data such as ``/usr/share/datasets``) are left as they are."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.places = [(str(self.root), "<runs>"), (str(Path.home().resolve()), "~")]
        if str(Path.home()) != str(Path.home().resolve()):
            self.places.append((str(Path.home()), "~"))

    def text(self, message: str) -> str:
        """``message`` (an error's) with the runs folder and the home folder named by placeholders."""
        for real, shown in self.places:
            message = message.replace(real + "/", shown + "/").replace(real, shown)
        return message

    def value(self, value: Any) -> Any:
        """``value`` (a config, eval.json, an analysis's JSON) with its path strings made harmless."""
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str) and value.startswith(("/", "~")):
            try:
                return Path(value).expanduser().resolve().relative_to(self.root).as_posix()
            except (ValueError, OSError):
                return self.text(value)
        return value


def json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def read_curves(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl`` (at most :data:`MAX_CURVE_ROWS`, evenly thinned, the last kept)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    if len(rows) > MAX_CURVE_ROWS:
        step = len(rows) / MAX_CURVE_ROWS
        rows = [rows[int(i * step)] for i in range(MAX_CURVE_ROWS - 1)] + [rows[-1]]
    return rows


def run_row(run_dir: Path) -> dict[str, Any]:
    """One row of ``/api/runs``: the run index's entry (without machine paths) and its wall/CPU time."""
    e = read_run(run_dir)
    summary = json_file(run_dir / "train_summary.json") or {}
    return {"name": run_dir.name, "recipe": e.recipe, "family": e.family, "modality": e.modality,
            "data": e.dataset, "steps": e.step, "epoch": e.epoch, "stopped_by": e.stopped_by,
            "throughput": e.throughput, "wall_s": summary.get("total_wall_s", summary.get("wall_s")),
            "cpu_s": summary.get("total_cpu_s", summary.get("cpu_s")), "eval": e.metrics, "problem": e.problem}


def model_tasks(model: Any) -> list[dict[str, Any]]:
    """The tasks ``model`` supports (its declared capabilities) and the typed options each one's method accepts
    (name, kind int | float | bool | str, choices, the model's default), which the page turns into controls."""
    from ..models.capabilities import option_specs, supports
    from ..tasks import TASKS

    out = []
    for kind, task in TASKS.items():
        if supports(model, task.needs):
            specs = option_specs(model, getattr(model, task.method))
            out.append({"kind": kind, "what": task.what, "one_picture": task.one_picture,
                        "fields": [{"name": f, **REQUEST_FIELDS[f]} for f in task.fields],
                        "options": [{"name": o.name, "kind": o.kind, "choices": list(o.choices), "default": o.default}
                                    for o in specs],
                        "num_classes": int(getattr(model.config, "num_classes", 0) or 0)})
    return out


def check_options(model: Any, kind: str, options: dict[str, Any]) -> None:
    """Refuse, with the option's name and what it takes, a value of the wrong type or outside its choices (the
    declared :class:`~genzoo.models.capabilities.OptionSpec`); unknown options are the task's own message."""
    from ..models.capabilities import option_specs
    from ..tasks import TASKS

    task = TASKS.get(kind)
    if task is None or not hasattr(model, task.method):
        return
    specs = {o.name: o for o in option_specs(model, getattr(model, task.method))}
    for name, value in options.items():
        spec = specs.get(name)
        if spec is None or value is None:
            continue
        ok = {"bool": isinstance(value, bool), "int": isinstance(value, int) and not isinstance(value, bool),
              "float": isinstance(value, (int, float)) and not isinstance(value, bool),
              "str": isinstance(value, str)}[spec.kind]
        if not ok:
            raise ConfigError(f"option {name} takes {'a whole number' if spec.kind == 'int' else 'a ' + spec.kind}, "
                              f"got {value!r}")
        if spec.choices and value not in spec.choices:
            raise ConfigError(f"option {name} is one of {', '.join(map(str, spec.choices))}, got {value!r}")


def describe_model(model: Any) -> dict[str, Any]:
    """What the page needs of a loaded model: its tasks and its Explore panels (computed once per opened run)."""
    return {"tasks": model_tasks(model), "explore": model_explore(model)}


def model_explore(model: Any) -> dict[str, Any]:
    """Which Explore panels apply to ``model``, from its declared capabilities (never its family name)."""
    from ..models.capabilities import Encodes, FromLatent, NextToken, supports

    latent = supports(model, FromLatent)
    return {"latent": latent, "map": latent and supports(model, Encodes), "writer": supports(model, NextToken),
            "z_dim": int(getattr(model.config, "z_dim", 0) or 0) if latent else 0,
            "prior": getattr(model, "latent_prior", None) if latent else None,
            "num_classes": int(getattr(model.config, "num_classes", 0) or 0)}


class FileCache:
    """``compute(run_dir)`` per run, computed again only when one of the run's ``files`` changes (mtime, size)."""

    def __init__(self, files: tuple[str, ...], compute: Callable[[Path], Any]):
        self.files, self.compute = files, compute
        self._values: dict[Path, tuple[tuple, Any]] = {}
        self._lock = threading.Lock()

    def _signature(self, run_dir: Path) -> tuple:
        out = []
        for f in self.files:
            try:
                st = (run_dir / f).stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    def get(self, run_dir: Path) -> Any:
        sig = self._signature(run_dir)
        with self._lock:
            hit = self._values.get(run_dir)
        if hit is not None and hit[0] == sig:
            return hit[1]
        value = self.compute(run_dir)
        with self._lock:
            self._values[run_dir] = (sig, value)
        return value


def row_cache() -> FileCache:
    """``/api/runs`` rows, read again when the files they come from change (a new checkpoint changes the folder)."""
    return FileCache(("config.yaml", "data_spec.json", "train_summary.json", "eval.json", "checkpoints"), run_row)


def curve_cache() -> FileCache:
    """Each run's logged curves, read again when ``metrics.jsonl`` grows."""
    return FileCache(("metrics.jsonl",), read_curves)
