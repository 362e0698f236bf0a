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
from pathlib import Path
from typing import Any, Literal

import yaml
from fastapi import FastAPI, Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, ValidationError,
                      field_validator)
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import ConfigError
from ..data.types import DataError
from ..training.checkpoint import CheckpointError
from ..run_index import read_run
from .paths import NotServed, gallery, run_file, run_folder
from .workers import Busy, ModelCache, Workers

MAX_BODY = 16 * 1024           # bytes of a POST body
MAX_N = 256                    # images (items) per task request
MAX_OPTION = 100_000           # largest number an option may be (steps, top_k, max_tokens, …)
MAX_CURVE_ROWS = 2000          # metrics.jsonl rows sent (evenly thinned beyond)
STATIC = Path(__file__).parent / "static"
log = logging.getLogger("genzoo.studio")

Scalar = StrictBool | StrictInt | StrictFloat | str


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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "bad request: " + "; ".join(parts)


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
    """The tasks ``model`` supports (its declared capabilities) and the options each one's method accepts."""
    from ..models.capabilities import accepted_options, supports
    from ..tasks import TASKS

    out = []
    for kind, task in TASKS.items():
        if supports(model, task.needs):
            out.append({"kind": kind, "what": task.what, "options": accepted_options(getattr(model, task.method)),
                        "num_classes": int(getattr(model.config, "num_classes", 0) or 0)})
    return out


def create_app(runs: Path, *, cache_size: int = 4, threads: int = 2, budget_s: float = 60.0,
               max_pending: int = 32) -> FastAPI:
    """The studio over the runs folder ``runs`` (its direct sub-folders holding ``config.yaml``)."""
    root = Path(runs).resolve()
    cache, workers = ModelCache(cache_size), Workers(threads, max_pending, budget_s)
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        workers.shutdown()

    app = FastAPI(title="genzoo studio", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  lifespan=lifespan)
    app.state.cache, app.state.workers, app.state.root = cache, workers, root

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: HttpRequest, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such page or API route (the API: /api/runs, /api/runs/NAME, /api/runs/NAME/files/PATH)"
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
        response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self'; style-src 'self'; "
                                                       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def folder(name: str) -> Path:
        try:
            return run_folder(root, name)
        except NotServed as e:
            raise StarletteHTTPException(404, str(e)) from None

    @app.get("/api/runs")
    def list_runs_api() -> JSONResponse:
        dirs = sorted(p for p in root.iterdir() if (p / "config.yaml").is_file()) if root.is_dir() else []
        rows = []
        for p in dirs:
            try:
                rows.append(run_row(run_folder(root, p.name)))
            except NotServed:
                continue                 # a link out of the runs folder is not listed
        return JSONResponse({"runs": rows})

    @app.get("/api/runs/{name}")
    async def run_detail(name: str) -> JSONResponse:
        run_dir = folder(name)
        try:
            config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"config.yaml of run {name!r} is unreadable ({type(e).__name__})") from None
        item = cache.get(run_dir)

        def tasks() -> list[dict[str, Any]]:
            with item.lock:
                return model_tasks(item.ctx.model)

        body = {**run_row(run_dir), "config": config, "curves": _curves(run_dir / "metrics.jsonl"),
                "eval": _json_file(run_dir / "eval.json"),
                "files": [{"path": p, "url": f"/api/runs/{name}/files/{p}"} for p in gallery(run_dir)]}
        try:
            body["tasks"], body["tasks_problem"] = await _off_loop(workers, tasks), None
        except (ConfigError, DataError, CheckpointError) as e:
            body["tasks"], body["tasks_problem"] = [], str(e)
        return JSONResponse(body)

    @app.get("/api/runs/{name}/files/{path:path}")
    def run_file_api(name: str, path: str) -> FileResponse:
        run_dir = folder(name)
        try:
            found = run_file(run_dir, path)
        except NotServed as e:
            raise StarletteHTTPException(404, str(e)) from None
        media = "image/png" if found.suffix.lower() == ".png" else "application/json"
        return FileResponse(found, media_type=media, headers={"Cache-Control": "no-cache"})

    @app.post("/api/runs/{name}/tasks/{kind}")
    async def task_api(name: str, kind: str, request: HttpRequest) -> JSONResponse:
        from ..tasks import TASKS

        run_dir = folder(name)
        if kind not in TASKS:
            raise StarletteHTTPException(404, f"unknown task {kind!r}; tasks: {', '.join(TASKS)}")
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                return _error(413, f"request body too large (at most {MAX_BODY} bytes)")
        try:
            body = TaskBody.model_validate_json(bytes(raw) or b"{}")
        except ValidationError as e:
            return _error(422, _validation_message(e.errors()))
        item = cache.get(run_dir)
        workers.check_estimate(item, kind, body.n)
        result = await _off_loop(workers, workers.locked_call(item, kind, body.n,
                                                                 lambda: _run(item.ctx, run_dir, name, kind, body)))
        return JSONResponse(result)

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

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{asset}")
    def static(asset: str) -> FileResponse:
        files = {"app.js": "text/javascript", "studio.css": "text/css"}
        if asset not in files:
            raise StarletteHTTPException(404, f"no static file {asset!r}")
        return FileResponse(STATIC / asset, media_type=files[asset])

    return app


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


def _run(ctx: Any, run_dir: Path, name: str, kind: str, body: TaskBody) -> dict[str, Any]:
    """Run the task and write its artifact under ``samples/studio/`` (named by a hash of the request, so the
    same request rewrites the same file); returns the writer's JSON with run-relative paths and a PNG URL."""
    from ..tasks import ImageGrid, Request, Text, run_task, write_artifact

    req = Request(n=body.n, seed=body.seed, label=body.label, nrow=body.nrow, options=dict(body.options),
                  split=body.split, start_row=body.start_row, mask=body.mask, prompts=list(body.prompts),
                  top=body.top)
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
    png = run_dir / rel
    if png.is_file():
        result["png"] = f"/api/runs/{name}/files/{rel}"
        result["png_sha256"] = hashlib.sha256(png.read_bytes()).hexdigest()
    if isinstance(art, Text):
        result["samples"] = art.samples
    return result
