"""The studio's ASGI app (FastAPI): a JSON API over a runs folder, and one static page that uses it.

Security (issue 19): run names and file paths go through :mod:`genzoo.studio.paths` (nothing outside the runs
folder, no symlinks out, only PNG/JSON under ``samples/`` and ``analysis/``); request bodies are at most
:data:`MAX_BODY` bytes, parsed as JSON (never evaluated or unpickled) into a strict :class:`TaskBody`; sample
counts are at most :data:`MAX_N`; every error is a JSON ``{"error": message}``, never a traceback.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any, Literal

import yaml
from fastapi import FastAPI, Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, ValidationError,
                      field_validator)
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import ConfigError
from ..data.types import DataError
from ..training.checkpoint import CheckpointError
from ..run_index import read_run
from .paths import NotServed, gallery, run_file, run_folder
from . import explore
from .workers import Busy, Cached, Job, Jobs, ModelCache, Workers

MAX_BODY = 256 * 1024          # bytes of a POST body (a decode request of 32 codes of 512 numbers fits)
MAX_N = 256                    # images (items) per task request
MAX_OPTION = 100_000           # largest number an option may be (steps, top_k, max_tokens, …)
MAX_CODES = 64                 # latent codes per decode request
MAX_Z = 1024                   # numbers per latent code
MAX_CURVE_ROWS = 2000
MAX_COMPARE = 8                # runs side by side
KEEP_RESULTS = 200             # files kept in a run's samples/studio/          # metrics.jsonl rows sent (evenly thinned beyond)
STATIC = Path(__file__).parent / "static"
log = logging.getLogger("genzoo.studio")

Scalar = StrictBool | StrictInt | StrictFloat | str

# The Request fields a task may read besides n, seed and label (Task.fields), typed for the page's controls.
REQUEST_FIELDS: dict[str, dict[str, Any]] = {
    "split": {"kind": "str", "choices": ["test", "train"], "default": "test"},
    "start_row": {"kind": "int", "choices": [], "default": None},
    "mask": {"kind": "str", "choices": ["bottom", "top", "left", "right", "center"], "default": None},
    "prompts": {"kind": "lines", "choices": [], "default": None},
    "top": {"kind": "int", "choices": [], "default": 10},
}


class TaskBody(BaseModel):
    """What ``POST /api/runs/NAME/tasks/KIND`` takes (unknown fields refused). ``options`` are the model's own
    (``temperature``, ``steps``, ``sampler``, ``truncation``, …: see the run's ``tasks`` in ``/api/runs/NAME``)."""

    model_config = ConfigDict(extra="forbid")
    n: StrictInt = Field(16, ge=1, le=MAX_N)
    seed: StrictInt = Field(0, ge=0, le=2**63 - 1)
    label: StrictInt | None = Field(None, ge=0)
    nrow: StrictInt = Field(8, ge=1, le=64)
    options: dict[str, Scalar | None] = Field(default_factory=dict, max_length=16)
    split: Literal["test", "train"] = "test"
    start_row: StrictInt | None = Field(None, ge=0, le=4096)
    mask: str | None = Field(None, max_length=16)
    prompts: list[str] = Field(default_factory=list, max_length=16)
    top: StrictInt = Field(10, ge=1, le=50)

    @field_validator("options")
    @classmethod
    def _bounded(cls, options: dict[str, Any]) -> dict[str, Any]:
        for key, value in options.items():
            if len(key) > 40:
                raise ValueError(f"option name {key[:40]!r}… is too long")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{key} must be a finite number")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_OPTION:
                raise ValueError(f"{key} must be at most {MAX_OPTION:,} in size")
            if isinstance(value, str) and len(value) > 2000:
                raise ValueError(f"{key} is longer than 2000 characters")
        return options


class CodeBody(BaseModel):
    """``POST …/latent/code``: the code of test image ``index`` or of a prior draw with ``seed``."""

    model_config = ConfigDict(extra="forbid")
    index: StrictInt | None = Field(None, ge=0)
    seed: StrictInt | None = Field(None, ge=0, le=2**63 - 1)


class DecodeBody(BaseModel):
    """``POST …/latent/decode``: images of at most :data:`MAX_CODES` codes, or of points of the latent map."""

    model_config = ConfigDict(extra="forbid")
    codes: list[list[StrictFloat | StrictInt]] = Field(default_factory=list, max_length=MAX_CODES)
    points: list[list[StrictFloat | StrictInt]] = Field(default_factory=list, max_length=MAX_CODES)
    label: StrictInt | None = Field(None, ge=0)

    @field_validator("codes", "points")
    @classmethod
    def _finite(cls, rows: list[list[float]]) -> list[list[float]]:
        for row in rows:
            if len(row) > MAX_Z:
                raise ValueError(f"a code has at most {MAX_Z} numbers")
            if not all(math.isfinite(v) and abs(v) <= 1e4 for v in row):
                raise ValueError("codes must be finite numbers of size at most 10,000")
        return rows


class WriterBody(BaseModel):
    """``POST …/writer``: the text so far and the id of the token chosen next (None: only show the choices)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field("", max_length=8000)
    pick: StrictInt | None = Field(None, ge=1)
    top: StrictInt = Field(10, ge=1, le=50)


class AttributeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attribute: StrictInt = Field(ge=0, le=10_000)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "bad request: " + "; ".join(parts)


def _redact(value: Any, root: Path) -> Any:
    """``value`` with every string that names a path under the runs folder made relative to it (eval.json records
    its run's path; the page shows run names, never this machine's folders)."""
    if isinstance(value, dict):
        return {k: _redact(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, root) for v in value]
    if isinstance(value, str) and value.startswith("/"):
        try:
            return Path(value).resolve().relative_to(root).as_posix()
        except (ValueError, OSError):
            return value
    return value


def _json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _curves(path: Path) -> list[dict[str, Any]]:
    """The rows of ``metrics.jsonl`` (at most :data:`MAX_CURVE_ROWS`, evenly thinned, the last always kept)."""
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
    summary = _json_file(run_dir / "train_summary.json") or {}
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


def model_explore(model: Any) -> dict[str, Any]:
    """Which Explore panels apply to ``model``, from its declared capabilities (never its family name)."""
    from ..models.capabilities import Encodes, FromLatent, NextToken, supports

    latent = supports(model, FromLatent)
    return {"latent": latent, "map": latent and supports(model, Encodes), "writer": supports(model, NextToken),
            "z_dim": int(getattr(model.config, "z_dim", 0) or 0) if latent else 0,
            "prior": getattr(model, "latent_prior", None) if latent else None,
            "num_classes": int(getattr(model.config, "num_classes", 0) or 0)}


def create_app(runs: Path, *, cache_size: int = 4, threads: int = 2, budget_s: float = 60.0,
               job_budget_s: float = 600.0, max_pending: int = 32) -> FastAPI:
    """The studio over the runs folder ``runs`` (its direct sub-folders holding ``config.yaml``). A request answered
    directly has ``budget_s`` seconds; a job (which the page polls, with its steps) has ``job_budget_s``."""
    root = Path(runs).resolve()
    cache, workers, jobs, rows = ModelCache(cache_size), Workers(threads, max_pending, budget_s), Jobs(), RowCache()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        workers.shutdown()

    app = FastAPI(title="genzoo studio", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  lifespan=lifespan)
    app.state.cache, app.state.workers, app.state.root, app.state.jobs = cache, workers, root, jobs

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: HttpRequest, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = ("no such page or API route (the API: /api/runs, /api/runs/NAME, /api/runs/NAME/files/PATH, "
                       "/api/runs/NAME/tasks/KIND, /api/runs/NAME/jobs/KIND, /api/jobs/ID, /api/runs/NAME/latent, "
                       "/api/compare?runs=A,B)")
        return _error(exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: HttpRequest, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(list(exc.errors())))

    @app.exception_handler(Exception)
    async def internal_error(_: HttpRequest, exc: Exception) -> JSONResponse:
        log.exception("studio: internal error")
        return _error(500, f"internal error ({type(exc).__name__}); the server's log has the details")

    @app.middleware("http")
    async def guard(request: HttpRequest, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return _error(413, f"request body too large (at most {MAX_BODY} bytes)")
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                                       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def folder(name: str) -> Path:
        try:
            return run_folder(root, name)
        except NotServed as e:
            raise StarletteHTTPException(404, str(e)) from None

    async def read_body(request: HttpRequest, model: type[BaseModel]) -> BaseModel:
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise TooLarge()
        try:
            return model.model_validate_json(bytes(raw) or b"{}")
        except ValidationError as e:
            raise BadBody(_validation_message(e.errors())) from None

    @app.exception_handler(TooLarge)
    async def too_large(_: HttpRequest, exc: TooLarge) -> JSONResponse:
        return _error(413, f"request body too large (at most {MAX_BODY} bytes)")

    @app.exception_handler(BadBody)
    async def bad_body(_: HttpRequest, exc: BadBody) -> JSONResponse:
        return _error(422, str(exc))

    @app.get("/api/runs")
    def list_runs_api() -> JSONResponse:
        dirs = sorted(p for p in root.iterdir() if (p / "config.yaml").is_file()) if root.is_dir() else []
        out = []
        for p in dirs:
            try:
                out.append(rows.get(run_folder(root, p.name)))
            except NotServed:
                continue                 # a link out of the runs folder is not listed
        return JSONResponse({"runs": out})

    @app.get("/api/runs/{name}")
    async def run_detail(name: str) -> JSONResponse:
        run_dir = folder(name)
        try:
            config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"config.yaml of run {name!r} is unreadable ({type(e).__name__})") from None
        item = cache.get(run_dir)

        def tasks() -> tuple[list[dict[str, Any]], dict[str, Any]]:
            with item.lock:
                return model_tasks(item.ctx.model), model_explore(item.ctx.model)

        spec = _json_file(run_dir / "data_spec.json") or {}
        body = {**rows.get(run_dir), "config": _redact(config, root), "curves": _curves(run_dir / "metrics.jsonl"),
                "eval": _redact(_json_file(run_dir / "eval.json"), root), "class_names": spec.get("class_names"),
                "files": [{"path": p, "url": f"/api/runs/{name}/files/{p}"} for p in gallery(run_dir)]}
        try:
            (body["tasks"], body["explore"]), body["tasks_problem"] = await _off_loop(workers, tasks), None
        except (ConfigError, DataError, CheckpointError) as e:
            body["tasks"], body["explore"], body["tasks_problem"] = [], {}, str(e)
        return JSONResponse(body)

    @app.get("/api/compare")
    def compare_api(runs: str = "") -> JSONResponse:
        from ..metrics.compare import columns, compare_runs, format_cell

        names = [n for n in runs.split(",") if n][:MAX_COMPARE]
        if len(names) < 1:
            raise ConfigError(f"name the runs to compare: /api/compare?runs=A,B (at most {MAX_COMPARE})")
        dirs = [folder(n) for n in names]
        result = compare_runs(dirs)
        cols = columns(result["rows"])
        table = [[format_cell(r, k) for k, _ in cols] for r in result["rows"]]
        pictures = []
        for n, d in zip(names, dirs):
            files = gallery(d)
            pngs = [f for f in files if f.startswith("samples/") and f.endswith(".png")
                    and not f.startswith("samples/studio/")]
            pick = "samples/final.png" if "samples/final.png" in files else (pngs[-1] if pngs else None)
            pictures.append(None if pick is None else f"/api/runs/{n}/files/{pick}")
        return JSONResponse({"runs": names, "columns": [label for _, label in cols], "table": table,
                             "note": result.get("note", ""), "samples": pictures})

    @app.get("/api/runs/{name}/files/{path:path}")
    def run_file_api(name: str, path: str) -> FileResponse:
        run_dir = folder(name)
        try:
            found = run_file(run_dir, path)
        except NotServed as e:
            raise StarletteHTTPException(404, str(e)) from None
        media = "image/png" if found.suffix.lower() == ".png" else "application/json"
        return FileResponse(found, media_type=media, headers={"Cache-Control": "no-cache"})

    def task_call(name: str, kind: str, body: TaskBody, job: Job | None = None):
        from ..tasks import TASKS

        run_dir = folder(name)
        if kind not in TASKS:
            raise StarletteHTTPException(404, f"unknown task {kind!r}; tasks: {', '.join(TASKS)}")
        item = cache.get(run_dir)
        budget = workers.budget_s if job is None else job_budget_s
        workers.check_estimate(item, kind, body.n, budget)
        progress = None if job is None else job.progress
        return workers.locked_call(item, kind, body.n,
                                   lambda: _run(item.ctx, run_dir, name, kind, body, progress), job, budget)

    @app.post("/api/runs/{name}/tasks/{kind}")
    async def task_api(name: str, kind: str, request: HttpRequest) -> JSONResponse:
        body = await read_body(request, TaskBody)
        return JSONResponse(await _off_loop(workers, task_call(name, kind, body)))

    @app.post("/api/runs/{name}/jobs/{kind}")
    async def job_api(name: str, kind: str, request: HttpRequest) -> JSONResponse:
        """Start task ``kind`` as a job; poll ``/api/jobs/ID`` for its steps and result."""
        body = await read_body(request, TaskBody)
        job = jobs.new(name, kind, body.n)
        call = task_call(name, kind, body, job)
        workers.admit()

        def run() -> None:
            try:
                job.result, job.state = call(), "done"
            except Exception as e:                       # noqa: BLE001  (every error becomes the job's message)
                job.status, job.error = _status_of(e)
                job.state = "cancelled" if job.cancelled else "error"
            finally:
                job.finished = time.monotonic()
                workers.done()

        workers.pool.submit(run)
        return JSONResponse(job.view(), status_code=202)

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str) -> JSONResponse:
        job = jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, "no such job (jobs are kept for the newest 200 requests)")
        return JSONResponse(job.view())

    @app.delete("/api/jobs/{job_id}")
    def job_cancel(job_id: str) -> JSONResponse:
        job = jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, "no such job (jobs are kept for the newest 200 requests)")
        job.cancelled = True
        return JSONResponse(job.view())

    # -- the latent explorer (capabilities FromLatent, Encodes) ------------------------------------------------
    def model_call(name: str, fn) -> Any:
        item = cache.get(folder(name))

        def call() -> Any:
            with item.lock:
                return fn(item)
        return call

    def the_map(item: Cached):
        if item.latent_map is None:
            item.latent_map = explore.latent_map(item.ctx)
        return item.latent_map

    @app.get("/api/runs/{name}/latent")
    async def latent_api(name: str) -> JSONResponse:
        """The latent map of held-out images (models that encode), with what the sliders should move."""
        def fn(item: Cached) -> dict[str, Any]:
            m = the_map(item)
            return explore.map_json(m, getattr(item.ctx.data("test"), "class_names", None))
        return JSONResponse(await _off_loop(workers, model_call(name, fn)))

    @app.post("/api/runs/{name}/latent/code")
    async def code_api(name: str, request: HttpRequest) -> JSONResponse:
        body = await read_body(request, CodeBody)
        if (body.index is None) == (body.seed is None):
            raise ConfigError("give either index (a test image) or seed (a draw from the prior)")

        def fn(item: Cached) -> dict[str, Any]:
            box = the_map(item) if item.ctx.model.latent_prior == "box" and body.seed is not None else None
            z = explore.code_of(item.ctx, index=body.index, seed=body.seed, box=box)
            return {"code": [round(v, 5) for v in z.tolist()]}
        return JSONResponse(await _off_loop(workers, model_call(name, fn)))

    @app.post("/api/runs/{name}/latent/decode")
    async def decode_api(name: str, request: HttpRequest) -> JSONResponse:
        body = await read_body(request, DecodeBody)
        if bool(body.codes) == bool(body.points):
            raise ConfigError("give codes (latent vectors) or points (x, y of the latent map), one of them")

        def fn(item: Cached) -> dict[str, Any]:
            import torch

            if body.points:
                if any(len(p) != 2 for p in body.points):
                    raise ConfigError("each point of the latent map is [x, y]")
                m = the_map(item)
                codes = torch.stack([m.code_at(x, y) for x, y in body.points])
            else:
                codes = torch.tensor(body.codes, dtype=torch.float32)
            return {"images": explore.decode_pngs(item.ctx, codes, body.label),
                    "codes": [[round(v, 5) for v in c] for c in codes.tolist()] if body.points else None}
        return JSONResponse(await _off_loop(workers, model_call(name, fn)))

    @app.post("/api/runs/{name}/latent/attribute")
    async def attribute_api(name: str, request: HttpRequest) -> JSONResponse:
        body = await read_body(request, AttributeBody)

        def fn(item: Cached) -> dict[str, Any]:
            vector, what, norm = explore.attribute_vector_of(item.ctx, the_map(item), body.attribute)
            return {"vector": [round(v, 5) for v in vector.tolist()], "attribute": what, "raw_norm": round(norm, 4)}
        return JSONResponse(await _off_loop(workers, model_call(name, fn)))

    @app.post("/api/runs/{name}/writer")
    async def writer_api(name: str, request: HttpRequest) -> JSONResponse:
        """Foster ch. 6's human-in-the-loop writer, one choice at a time (models with next-token prediction)."""
        body = await read_body(request, WriterBody)
        return JSONResponse(await _off_loop(workers, model_call(
            name, lambda item: explore.writer_step(item.ctx, body.text, body.pick, body.top))))

    @app.exception_handler(ConfigError)
    async def config_error(_: HttpRequest, exc: ConfigError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(DataError)
    async def data_error(_: HttpRequest, exc: DataError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(CheckpointError)
    async def checkpoint_error(_: HttpRequest, exc: CheckpointError) -> JSONResponse:
        return _error(409, f"this run's model cannot be loaded: {exc}")

    @app.exception_handler(Busy)
    async def busy_error(_: HttpRequest, exc: Busy) -> JSONResponse:
        return _error(503, str(exc))

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)          # no icon, and no 404 in the browser's console

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{asset}")
    def static(asset: str) -> FileResponse:
        files = {"app.js": "text/javascript", "charts.js": "text/javascript", "explore.js": "text/javascript",
                 "studio.css": "text/css"}
        if asset not in files:
            raise StarletteHTTPException(404, f"no static file {asset!r}")
        return FileResponse(STATIC / asset, media_type=files[asset])

    return app


class TooLarge(Exception):
    """A request body over :data:`MAX_BODY` bytes."""


class BadBody(ValueError):
    """A request body that is not the JSON its route takes (the message lists what is wrong)."""


def _status_of(exc: Exception) -> tuple[int, str]:
    """The HTTP status and message a job's error gets (the same as a direct request's)."""
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, str(exc.detail)
    if isinstance(exc, (ConfigError, DataError)):
        return 400, str(exc)
    if isinstance(exc, CheckpointError):
        return 409, f"this run's model cannot be loaded: {exc}"
    if isinstance(exc, Busy):
        return 503, str(exc)
    log.error("studio: job failed", exc_info=exc)
    return 500, f"internal error ({type(exc).__name__}); the server's log has the details"


class RowCache:
    """``/api/runs`` rows, re-read only when one of the files they come from changes (by size and mtime)."""

    FILES = ("config.yaml", "data_spec.json", "train_summary.json", "eval.json", "checkpoints")

    def __init__(self) -> None:
        self._rows: dict[Path, tuple[tuple, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, run_dir: Path) -> dict[str, Any]:
        key = []
        for f in self.FILES:
            try:
                st = (run_dir / f).stat()
                key.append((st.st_mtime_ns, st.st_size))
            except OSError:
                key.append(None)
        sig = tuple(key)
        with self._lock:
            hit = self._rows.get(run_dir)
        if hit is not None and hit[0] == sig:
            return hit[1]
        row = run_row(run_dir)
        with self._lock:
            self._rows[run_dir] = (sig, row)
        return row


async def _off_loop(workers: Workers, fn) -> Any:
    """Run ``fn`` on the studio's pool (never on the event loop), within the per-request time budget."""
    workers.admit()
    future = asyncio.get_running_loop().run_in_executor(workers.pool, fn)
    try:
        return await asyncio.wait_for(asyncio.shield(future), timeout=workers.budget_s)
    except asyncio.TimeoutError:
        raise Busy(f"the request took longer than the studio's limit of {workers.budget_s:.0f} s and was "
                   f"abandoned; ask for fewer images or sampler steps") from None
    finally:
        future.add_done_callback(lambda _: workers.done())


def _prune(folder: Path, keep: int = KEEP_RESULTS) -> None:
    """Keep the newest ``keep`` results of ``samples/studio/`` (a busy studio would otherwise fill the disk)."""
    try:
        files = sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for p in files[:-keep] if len(files) > keep else []:
        with contextlib.suppress(OSError):
            p.unlink()


def _run(ctx: Any, run_dir: Path, name: str, kind: str, body: TaskBody,
         progress: Any = None) -> dict[str, Any]:
    """Run the task and write its artifact under ``samples/studio/`` (named by a hash of the request, so the
    same request rewrites the same file); returns the writer's JSON with run-relative paths and a PNG URL."""
    from ..tasks import ImageGrid, Request, Text, run_task, write_artifact

    req = Request(n=body.n, seed=body.seed, label=body.label, nrow=body.nrow, options=dict(body.options),
                  split=body.split, start_row=body.start_row, mask=body.mask, prompts=list(body.prompts),
                  top=body.top, progress=progress)
    art = run_task(ctx, kind, req)
    if isinstance(art, ImageGrid):
        art.save_tensor = False              # the studio shows pictures; `genzoo sample` writes tensors
    key = hashlib.sha256(json.dumps([kind, body.model_dump()], sort_keys=True).encode()).hexdigest()[:12]
    rel = f"samples/studio/{kind}-{body.seed}-{key}.png"
    try:
        written = write_artifact(art, run_dir / rel)
    except OSError as e:
        raise ConfigError(f"cannot write the result into the run's samples/studio/ folder ({e.strerror}); "
                          f"serve a runs folder you can write to") from None
    result: dict[str, Any] = {"run": name, "task": kind, "request": body.model_dump()}
    for k, v in written.items():
        if isinstance(v, str) and (v.startswith(str(run_dir)) or Path(v).is_absolute()):
            v = Path(v).resolve().relative_to(run_dir).as_posix() if Path(v).resolve().is_relative_to(run_dir) \
                else Path(v).name
        result[k] = v
    _prune(run_dir / "samples" / "studio")
    png = run_dir / rel
    if png.is_file():
        result["png"] = f"/api/runs/{name}/files/{rel}"
        result["png_sha256"] = hashlib.sha256(png.read_bytes()).hexdigest()
    if isinstance(art, Text):
        result["samples"] = art.samples
    return result
