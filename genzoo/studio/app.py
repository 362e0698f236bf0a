"""The studio's ASGI app (FastAPI): a JSON API over a runs folder, and one static page that uses it.

Security (issue 19):

- Only this machine's own pages may use it: a request's ``Host`` must be the address it is served on (no DNS
  rebinding), a request carrying a foreign ``Origin`` is refused, and POST bodies must be ``application/json``
  (which a cross-site page cannot send without a preflight the studio never grants).
- Run names and file paths go through :mod:`genzoo.studio.paths` (nothing outside the runs folder, no symlinks
  out of a run's ``samples/`` or ``analysis/``, only PNG/JSON).
- Request bodies are at most :data:`~genzoo.studio.bodies.MAX_BODY` bytes, parsed as JSON (never evaluated or
  unpickled) into strict models (:mod:`genzoo.studio.bodies`); option values are checked against their declared
  types and choices.
- Every error is a JSON ``{"error": message}``, never a traceback, with this machine's folders replaced by
  placeholders; answers carry no NaN and no path under the runs or home folder.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import urllib.parse
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import ConfigError
from ..data.types import DataError
from ..training.checkpoint import CheckpointError
from . import explore
from .answers import Redactor, SafeJSON, check_options, curve_cache, describe_model, json_file, row_cache
from .bodies import MAX_BODY, MAX_N, AttributeBody, CodeBody, DecodeBody, TaskBody, WriterBody
from .paths import NotServed, gallery, run_file, run_folder
from .workers import Busy, Cached, Job, Jobs, ModelCache, Workers, rate_key

__all__ = ["MAX_BODY", "MAX_N", "create_app"]

MAX_COMPARE = 8                # runs side by side
MAX_JSON_FILE = 4 * 2**20      # bytes of a run's JSON file the studio serves (parsed, its paths made harmless)
KEEP_RESULTS = 200             # files kept in a run's samples/studio/
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
STATIC = Path(__file__).parent / "static"
log = logging.getLogger("genzoo.studio")


class TooLarge(Exception):
    """A request body over :data:`MAX_BODY` bytes."""


class BadBody(ValueError):
    """A request body that is not the JSON its route takes (the message lists what is wrong)."""


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "bad request: " + "; ".join(parts)


def _status_of(exc: Exception) -> tuple[int, str]:
    """The HTTP status and message of an error (the same for a direct request and a job)."""
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, str(exc.detail)
    if isinstance(exc, (ConfigError, DataError, BadBody)):
        return (422 if isinstance(exc, BadBody) else 400), str(exc)
    if isinstance(exc, TooLarge):
        return 413, f"request body too large (at most {MAX_BODY} bytes)"
    if isinstance(exc, CheckpointError):
        return 409, f"this run's model cannot be loaded: {exc}"
    if isinstance(exc, Busy):
        return 503, str(exc)
    log.error("studio: request failed", exc_info=exc)
    return 500, f"internal error ({type(exc).__name__}); the server's log has the details"


def _host_name(host_header: str) -> str:
    """The host of a ``Host`` header, without its port (``[::1]:8765`` → ``::1``)."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def create_app(runs: Path, *, cache_size: int = 4, threads: int = 2, budget_s: float = 60.0,
               job_budget_s: float = 600.0, max_pending: int = 32, hosts: tuple[str, ...] = ()) -> FastAPI:
    """The studio over the runs folder ``runs`` (its direct sub-folders holding ``config.yaml``). A request answered
    directly has ``budget_s`` seconds; a job (which the page polls, with its steps) has ``job_budget_s``. ``hosts``:
    names it answers to besides localhost's (the address it is bound to when that is not localhost)."""
    root = Path(runs).resolve()
    cache, workers, jobs = ModelCache(cache_size), Workers(threads, max_pending, budget_s), Jobs()
    rows, curves = row_cache(), curve_cache()
    redact = Redactor(root)
    allowed_hosts = {*LOCAL_HOSTS, *hosts}

    def error(status: int, message: str) -> SafeJSON:
        return SafeJSON({"error": redact.text(message)}, status_code=status)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        workers.shutdown()

    app = FastAPI(title="genzoo studio", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  lifespan=lifespan, default_response_class=SafeJSON)
    app.state.cache, app.state.workers, app.state.root, app.state.jobs = cache, workers, root, jobs

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: HttpRequest, exc: StarletteHTTPException) -> SafeJSON:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = ("no such page or API route (the API: /api/runs, /api/runs/NAME, /api/runs/NAME/files/PATH, "
                       "/api/runs/NAME/tasks/KIND, /api/runs/NAME/jobs/KIND, /api/jobs/ID, /api/runs/NAME/latent, "
                       "/api/compare?runs=A,B)")
        return error(exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: HttpRequest, exc: RequestValidationError) -> SafeJSON:
        return error(422, _validation_message(list(exc.errors())))

    for kind in (Exception, ConfigError, DataError, CheckpointError, Busy, TooLarge, BadBody):
        @app.exception_handler(kind)
        async def known_error(_: HttpRequest, exc: Exception) -> SafeJSON:
            return error(*_status_of(exc))

    @app.middleware("http")
    async def guard(request: HttpRequest, call_next):
        host = _host_name(request.headers.get("host", ""))
        if host not in allowed_hosts and "*" not in allowed_hosts:
            return error(421, f"this studio answers to {', '.join(sorted(allowed_hosts))} only, not {host[:80]!r} "
                              f"(start it with --host NAME to serve another address)")
        origin = request.headers.get("origin")
        if origin is not None and _host_name(urllib.parse.urlsplit(origin).netloc) != host:
            return error(403, "requests from other sites' pages are refused")
        if request.method in ("POST", "PUT", "DELETE", "PATCH"):
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if request.method != "DELETE" and kind != "application/json":
                return error(415, "send the request body as JSON (Content-Type: application/json)")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return error(413, f"request body too large (at most {MAX_BODY} bytes)")
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

    def url(name: str, rel: str) -> str:
        return f"/api/runs/{urllib.parse.quote(name)}/files/{urllib.parse.quote(rel)}"

    async def read_body(request: HttpRequest, model: type[BaseModel]) -> Any:
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise TooLarge()
        try:
            return model.model_validate_json(bytes(raw) or b"{}")
        except ValidationError as e:
            raise BadBody(_validation_message(e.errors())) from None

    async def off_loop(fn, budget: float) -> Any:
        """Run ``fn`` on the studio's pool (never on the event loop); give up on it after ``budget`` seconds (it
        stops itself: it waits for its run only until then, and is stopped at its sampler's next step)."""
        workers.admit()
        try:
            future = asyncio.get_running_loop().run_in_executor(workers.pool, fn)
        except BaseException:
            workers.done()
            raise
        future.add_done_callback(lambda _: workers.done())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=budget + 1.0)
        except asyncio.TimeoutError:
            future.cancel()                         # still queued: it never starts
            raise Busy(f"the request took longer than the studio's limit of {budget:.0f} s and was stopped; ask "
                       f"for fewer images or sampler steps") from None

    def model_call(item: Cached, fn) -> Any:
        """``fn(item)`` under the run's lock, waited for at most the budget."""
        deadline = time.monotonic() + budget_s

        def call() -> Any:
            with item.holding(deadline):
                return fn(item)
        return call

    async def with_model(name: str, fn) -> Any:
        """``fn(item)`` of run ``name``'s opened model, on the pool, within the budget."""
        return await off_loop(model_call(cache.get(folder(name)), fn), budget_s)

    def described(item: Cached) -> dict[str, Any]:
        if item.description is None:
            item.description = describe_model(item.ctx.model)
        return item.description

    # -- runs ----------------------------------------------------------------------------------------------------
    @app.get("/api/runs")
    def list_runs_api() -> SafeJSON:
        dirs = sorted(p for p in root.iterdir() if (p / "config.yaml").is_file()) if root.is_dir() else []
        out = []
        for p in dirs:
            try:
                out.append(rows.get(run_folder(root, p.name)))
            except NotServed:
                continue                 # a link out of the runs folder is not listed
        return SafeJSON({"runs": out})

    def run_files(name: str, run_dir: Path) -> dict[str, Any]:
        """What a run's files say (read on a worker thread of FastAPI's, never on the event loop)."""
        try:
            config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"config.yaml of run {name!r} is unreadable ({type(e).__name__})") from None
        spec = json_file(run_dir / "data_spec.json") or {}
        return {**rows.get(run_dir), "config": redact.value(config), "curves": curves.get(run_dir),
                "eval": redact.value(json_file(run_dir / "eval.json")), "class_names": spec.get("class_names"),
                "files": [{"path": p, "url": url(name, p)} for p in gallery(run_dir)]}

    @app.get("/api/runs/{name}")
    async def run_detail(name: str) -> SafeJSON:
        run_dir = folder(name)
        body = await asyncio.to_thread(run_files, name, run_dir)
        item = cache.get(run_dir)
        try:
            found = item.description or await off_loop(model_call(item, described), budget_s)
            body.update(found, tasks_problem=None)
        except (ConfigError, DataError, CheckpointError, Busy) as e:
            body.update(tasks=[], explore={}, tasks_problem=redact.text(_status_of(e)[1]))
        return SafeJSON(body)

    @app.get("/api/runs/{name}/curves")
    def curves_api(name: str) -> SafeJSON:
        """Only the logged curves of a run (what the comparison draws; no model is opened)."""
        return SafeJSON({"name": name, "curves": curves.get(folder(name))})

    @app.get("/api/compare")
    def compare_api(runs: str = "") -> SafeJSON:
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
            pictures.append(None if pick is None else url(n, pick))
        return SafeJSON({"runs": names, "columns": [label for _, label in cols], "table": table,
                         "note": result.get("note", ""), "samples": pictures})

    @app.get("/api/runs/{name}/files/{path:path}")
    def run_file_api(name: str, path: str) -> Response:
        run_dir = folder(name)
        try:
            found = run_file(run_dir, path)
        except NotServed as e:
            raise StarletteHTTPException(404, str(e)) from None
        if found.suffix.lower() == ".png":
            return FileResponse(found, media_type="image/png", headers={"Cache-Control": "no-cache"})
        if found.stat().st_size > MAX_JSON_FILE:
            raise StarletteHTTPException(404, f"{path} is larger than the {MAX_JSON_FILE // 2**20} MiB the studio "
                                              f"serves of a JSON file")
        data = json_file(found)
        return SafeJSON(redact.value(data), headers={"Cache-Control": "no-cache"})

    # -- tasks and jobs ------------------------------------------------------------------------------------------
    def task_call(name: str, kind: str, body: TaskBody, job: Job | None = None):
        from ..tasks import TASKS

        run_dir = folder(name)
        if kind not in TASKS:
            raise StarletteHTTPException(404, f"unknown task {kind!r}; tasks: {', '.join(TASKS)}")
        item = cache.get(run_dir)
        budget = budget_s if job is None else job_budget_s
        key = rate_key(kind, body.options)
        workers.check_estimate(item, key, body.n, budget)
        progress = None if job is None else job.progress

        def run() -> dict[str, Any]:
            described(item)                  # so a page opened while this runs need not wait for the model
            check_options(item.ctx.model, kind, body.options)
            return _run(item.ctx, run_dir, name, kind, body, progress, url)
        return workers.locked_call(item, key, body.n, run, job, budget)

    @app.post("/api/runs/{name}/tasks/{kind}")
    async def task_api(name: str, kind: str, request: HttpRequest) -> SafeJSON:
        body = await read_body(request, TaskBody)
        return SafeJSON(await off_loop(task_call(name, kind, body), budget_s))

    @app.post("/api/runs/{name}/jobs/{kind}")
    async def job_api(name: str, kind: str, request: HttpRequest) -> SafeJSON:
        """Start task ``kind`` as a job; poll ``/api/jobs/ID`` for its steps and result."""
        body = await read_body(request, TaskBody)
        folder(name)
        workers.admit()
        job = jobs.new(name, kind, body.n)
        try:
            call = task_call(name, kind, body, job)

            def run() -> None:
                try:
                    job.result, job.state = call(), "done"
                except Exception as e:                   # noqa: BLE001  (every error becomes the job's message)
                    status, message = _status_of(e)
                    job.status, job.error = status, redact.text(message)
                    job.state = "cancelled" if job.cancelled else "error"
                finally:
                    job.finished = time.monotonic()
                    workers.done()

            workers.pool.submit(run)
        except BaseException:
            job.state, job.finished = "error", time.monotonic()     # refused before it started: not kept waiting
            workers.done()
            raise
        return SafeJSON(job.view(), status_code=202)

    def the_job(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, "no such job (finished jobs are kept for the newest 200)")
        return job

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str) -> SafeJSON:
        return SafeJSON(the_job(job_id).view())

    @app.delete("/api/jobs/{job_id}")
    def job_cancel(job_id: str) -> SafeJSON:
        job = the_job(job_id)
        job.cancelled = True
        return SafeJSON(job.view())

    # -- the latent explorer (capabilities FromLatent, Encodes) and the writer (NextToken) ------------------------
    def the_map(item: Cached):
        if item.latent_map is None:
            item.latent_map = explore.latent_map(item.ctx)
        return item.latent_map

    @app.get("/api/runs/{name}/latent")
    async def latent_api(name: str) -> SafeJSON:
        """The latent map of held-out images (models that encode), with what the sliders should move."""
        def fn(item: Cached) -> dict[str, Any]:
            m = the_map(item)
            return explore.map_json(m, item.ctx.data("test"))
        return SafeJSON(await with_model(name, fn))

    @app.post("/api/runs/{name}/latent/code")
    async def code_api(name: str, request: HttpRequest) -> SafeJSON:
        body = await read_body(request, CodeBody)
        if (body.index is None) == (body.seed is None):
            raise ConfigError("give either index (a test image) or seed (a draw from the prior)")

        def fn(item: Cached) -> dict[str, Any]:
            box = the_map(item) if item.ctx.model.latent_prior == "box" and body.seed is not None else None
            z = explore.code_of(item.ctx, index=body.index, seed=body.seed, box=box)
            return {"code": [round(v, 5) for v in z.tolist()]}
        return SafeJSON(await with_model(name, fn))

    @app.post("/api/runs/{name}/latent/decode")
    async def decode_api(name: str, request: HttpRequest) -> SafeJSON:
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
        return SafeJSON(await with_model(name, fn))

    @app.post("/api/runs/{name}/latent/attribute")
    async def attribute_api(name: str, request: HttpRequest) -> SafeJSON:
        body = await read_body(request, AttributeBody)

        def fn(item: Cached) -> dict[str, Any]:
            vector, what, norm = explore.attribute_vector_of(item.ctx, the_map(item), body.attribute)
            return {"vector": [round(v, 5) for v in vector.tolist()], "attribute": what, "raw_norm": round(norm, 4)}
        return SafeJSON(await with_model(name, fn))

    @app.post("/api/runs/{name}/writer")
    async def writer_api(name: str, request: HttpRequest) -> SafeJSON:
        """Foster ch. 6's human-in-the-loop writer, one choice at a time (models with next-token prediction)."""
        body = await read_body(request, WriterBody)
        return SafeJSON(await with_model(name, lambda item: explore.writer_step(item.ctx, body.text, body.pick,
                                                                                  body.top)))

    # -- the page ------------------------------------------------------------------------------------------------
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


def _prune(folder: Path, keep: int = KEEP_RESULTS) -> None:
    """Keep the newest ``keep`` results of ``samples/studio/`` (a busy studio would otherwise fill the disk)."""
    try:
        files = sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for p in files[:-keep] if len(files) > keep else []:
        with contextlib.suppress(OSError):
            p.unlink()


def _run(ctx: Any, run_dir: Path, name: str, kind: str, body: TaskBody, progress: Any, url) -> dict[str, Any]:
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
    new = not (run_dir / rel).exists()       # the same request again rewrites its file: nothing to prune
    try:
        written = write_artifact(art, run_dir / rel)
    except OSError as e:
        raise ConfigError(f"cannot write the result into the run's samples/studio/ folder ({e.strerror}); "
                          f"serve a runs folder you can write to") from None
    result: dict[str, Any] = {"run": name, "task": kind, "request": body.model_dump()}
    for k, v in written.items():
        if isinstance(v, str) and Path(v).is_absolute():
            path = Path(v).resolve()
            v = path.relative_to(run_dir).as_posix() if path.is_relative_to(run_dir) else path.name
        result[k] = v
    if new:
        _prune(run_dir / "samples" / "studio")
    png = run_dir / rel
    if png.is_file():
        result["png"] = url(name, rel)
        result["png_sha256"] = hashlib.sha256(png.read_bytes()).hexdigest()
    if isinstance(art, Text):
        result["samples"] = art.samples
    return result
