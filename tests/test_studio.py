"""genzoo studio (issue 19): its JSON API over a runs folder, its path and size guards, determinism, concurrency."""
from __future__ import annotations

import os
import shutil
import threading

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from genzoo.studio.app import MAX_BODY, MAX_N, create_app  # noqa: E402


@pytest.fixture(scope="module")
def studio(trained_runs, tmp_path_factory):
    """A runs folder holding a copy of a tiny trained VAE (``vae``), a secret file beside it, and a client."""
    root = tmp_path_factory.mktemp("studio")
    runs = root / "runs"
    runs.mkdir()
    shutil.copytree(trained_runs.get("vae-digits", 4), runs / "vae")
    (root / "secret.json").write_text('{"secret": 1}')
    os.symlink(root / "secret.json", runs / "vae" / "samples" / "leak.json")      # a link out of the run
    os.symlink(root, runs / "outside")                                             # a run folder that is a link out
    (root / "config.yaml").write_text("recipe: not-served\n")
    with TestClient(create_app(runs), raise_server_exceptions=False, base_url="http://127.0.0.1") as client:
        yield client, runs


def sample(client, seed: int, n: int = 8, run: str = "vae") -> dict:
    r = client.post(f"/api/runs/{run}/tasks/sample", json={"n": n, "seed": seed})
    assert r.status_code == 200, r.text
    return r.json()


def test_lists_runs(studio):
    client, _ = studio
    rows = client.get("/api/runs").json()["runs"]
    assert [r["name"] for r in rows] == ["vae"]              # the link out of the folder is not listed
    row = rows[0]
    assert row["recipe"] == "vae-digits" and row["family"] == "vae" and row["steps"] == 4
    assert row["modality"] and row["data"] and row["wall_s"] is not None and row["cpu_s"] is not None
    assert "path" not in row                                  # no machine paths


def test_run_detail(studio):
    client, _ = studio
    d = client.get("/api/runs/vae").json()
    assert d["config"]["model"]["family"] == "vae"
    assert d["curves"] and "step" in d["curves"][0]
    kinds = {t["kind"]: t for t in d["tasks"]}
    assert "sample" in kinds and isinstance(kinds["sample"]["options"], list)
    assert any(f["path"].endswith(".png") for f in d["files"])
    png = next(f for f in d["files"] if f["path"].endswith(".png"))
    r = client.get(png["url"])
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_sampling_follows_the_seed(studio):
    client, _ = studio
    first = sample(client, 1)
    png1 = client.get(first["png"]).content
    again = sample(client, 1)
    assert again["png_sha256"] == first["png_sha256"] and client.get(again["png"]).content == png1
    other = sample(client, 2)
    assert other["png_sha256"] != first["png_sha256"]
    assert first["shape"][0] == 8 and first["grid"].startswith("samples/studio/")


@pytest.mark.parametrize("path", ["../config.yaml", "%2e%2e/config.yaml", "samples/%2e%2e/%2e%2e/secret.json",
                                  "samples/../../secret.json", "%2Fetc%2Fpasswd", "//etc/passwd",
                                  "samples/leak.json", "config.yaml", "checkpoints/x.json", "samples/a.yaml",
                                  "samples/..%2F..%2Fsecret.json"])
def test_files_outside_the_run_are_refused(studio, path):
    client, _ = studio
    r = client.get(f"/api/runs/vae/files/{path}")
    assert r.status_code in (400, 404), (path, r.status_code)
    assert "error" in r.json() and "secret" not in r.text


@pytest.mark.parametrize("name", ["outside", "..", "%2e%2e", ".hidden", "nope"])
def test_runs_outside_the_folder_are_refused(studio, name):
    client, _ = studio
    r = client.get(f"/api/runs/{name}")
    assert r.status_code in (400, 404) and "error" in r.json()
    assert client.get(f"/api/runs/{name}/files/samples/x.png").status_code in (400, 404)


def test_unknown_run_and_task_are_clear_errors(studio):
    client, _ = studio
    r = client.post("/api/runs/nope/tasks/sample", json={})
    assert r.status_code == 404 and "no run named 'nope'" in r.json()["error"]
    r = client.post("/api/runs/vae/tasks/paint", json={})
    assert r.status_code == 404 and "unknown task 'paint'" in r.json()["error"] and "sample" in r.json()["error"]
    r = client.post("/api/runs/vae/tasks/next-words", json={})       # a task this model does not support
    assert r.status_code == 400 and "vae" in r.json()["error"]
    r = client.post("/api/runs/vae/tasks/sample", json={"options": {"guidance": 2.0}})
    assert r.status_code == 400 and "--guidance" in r.json()["error"]
    r = client.get("/api/nothing")
    assert r.status_code == 404 and "error" in r.json()


def test_oversized_and_bad_requests_are_refused(studio):
    client, _ = studio
    r = client.post("/api/runs/vae/tasks/sample", content=b"{" + b" " * (MAX_BODY + 10) + b"}",
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    r = client.post("/api/runs/vae/tasks/sample", json={"n": MAX_N + 1})
    assert r.status_code == 422 and "n:" in r.json()["error"] and str(MAX_N) in r.json()["error"]
    for bad in ({"seed": "1"}, {"n": 2, "evil": "__import__('os')"}, {"options": {"x": [1, 2]}},
                {"options": {"steps": 10**9}}):
        r = client.post("/api/runs/vae/tasks/sample", json=bad)
        assert r.status_code == 422 and r.json()["error"].startswith("bad request"), bad
    r = client.post("/api/runs/vae/tasks/sample", content=b'{"options": {"temperature": Infinity}}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    r = client.post("/api/runs/vae/tasks/sample", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "Traceback" not in r.text


def test_slow_requests_are_refused_with_the_reason(trained_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(trained_runs.get("vae-digits", 4), runs / "vae")
    with TestClient(create_app(runs, budget_s=1e-4), raise_server_exceptions=False,
                    base_url="http://127.0.0.1") as client:
        client.post("/api/runs/vae/tasks/sample", json={"n": 4, "seed": 0})   # measured (or over the budget)
        r = client.post("/api/runs/vae/tasks/sample", json={"n": 256, "seed": 0})
        assert r.status_code == 503 and "limit" in r.json()["error"] and "s" in r.json()["error"]


def test_twenty_concurrent_samples_all_succeed(studio):
    client, _ = studio
    results: dict[int, dict] = {}
    errors: list[str] = []

    def one(i: int) -> None:
        try:
            r = client.post("/api/runs/vae/tasks/sample", json={"n": 8, "seed": 100 + i % 5})
            if r.status_code != 200:
                errors.append(r.text)
            else:
                results[i] = r.json()
        except Exception as e:          # noqa: BLE001 -- reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 20
    for i in range(5, 20):                  # the same seed, the same images, whatever ran alongside
        assert results[i]["png_sha256"] == results[i % 5]["png_sha256"]
    assert len({results[i]["png_sha256"] for i in range(5)}) == 5


def test_page_is_local_only(studio):
    client, _ = studio
    page = client.get("/").text
    assert "genzoo studio" in page and "http" not in page.replace("http-equiv", "")
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "http" not in js.text
    assert client.get("/static/../app.py").status_code == 404


def test_cli_refuses_a_missing_runs_folder(tmp_path):
    from click.testing import CliRunner

    from genzoo.cli import cli

    r = CliRunner().invoke(cli, ["studio", "--runs", str(tmp_path / "none")])
    assert r.exit_code == 2 and "no runs folder" in r.output


@pytest.fixture(scope="module")
def server(studio):
    """A real uvicorn serving the same runs folder on a free localhost port (raw HTTP: no client-side URL clean-up)."""
    from studio_server import serving

    _, runs = studio
    with serving(create_app(runs)) as port:
        yield port


def raw(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body is not None else {})
    r = conn.getresponse()
    status, data = r.status, json.loads(r.read() or b"null") if r.getheader("content-type", "").startswith(
        "application/json") else None
    conn.close()
    return status, data


@pytest.mark.parametrize("path", ["/api/runs/vae/files/../config.yaml", "/api/runs/vae/files/samples/../../secret.json",
                                  "/api/runs/vae/files/samples/%2e%2e/%2e%2e/secret.json",
                                  "/api/runs/../secret.json", "/api/runs/%2e%2e/files/secret.json",
                                  "/api/runs/vae/files//etc/passwd", "/api/runs/outside/files/secret.json"])
def test_raw_traversal_is_refused_by_the_real_server(server, path):
    status, data = raw(server, "GET", path)
    assert status in (400, 404) and data and "error" in data and "secret" not in str(data.get("secret", ""))


def test_twenty_concurrent_samples_on_a_real_server(server):
    import json
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[int, dict]:
        return raw(server, "POST", "/api/runs/vae/tasks/sample", json.dumps({"n": 16, "seed": i % 4}).encode())

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(one, range(20)))
    assert all(status == 200 for status, _ in answers), [d for s, d in answers if s != 200]
    by_seed: dict[int, set[str]] = {}
    for i, (_, data) in enumerate(answers):
        by_seed.setdefault(i % 4, set()).add(data["png_sha256"])
    assert all(len(v) == 1 for v in by_seed.values()) and len(set().union(*by_seed.values())) == 4


def test_cli_says_where_it_serves_and_warns_off_localhost(studio, monkeypatch):
    import uvicorn
    from click.testing import CliRunner

    from genzoo.cli import cli

    import torch

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append({"threads": n}))   # keep the suite's
    _, runs = studio
    r = CliRunner().invoke(cli, ["studio", "--runs", str(runs), "--port", "9911"])
    assert r.exit_code == 0 and "http://127.0.0.1:9911/" in r.output and "warning" not in r.output
    r = CliRunner().invoke(cli, ["studio", "--runs", str(runs), "--host", "0.0.0.0"])
    assert r.exit_code == 0 and "warning" in r.output and "not localhost" in r.output
    assert [c.get("host", c.get("threads")) for c in calls] == [1, "127.0.0.1", 1, "0.0.0.0"]   # 1 thread a request


def test_model_cache_is_bounded_and_least_recently_used(tmp_path):
    from genzoo.studio.workers import ModelCache

    cache = ModelCache(2)
    a, b, c = (tmp_path / x for x in "abc")
    first = cache.get(a)
    cache.get(b)
    assert cache.get(a) is first            # a hit moves a to the end
    cache.get(c)                            # so b, the least recently used, goes
    assert len(cache) == 2 and cache.get(a) is first and cache.get(b) is not None and len(cache) == 2


# -- issue 19, second step: typed options, jobs, the latent explorer, the writer, compare -------------------------

def test_run_detail_declares_typed_options_and_explore_panels(studio):
    client, _ = studio
    d = client.get("/api/runs/vae").json()
    assert d["explore"] == {"latent": True, "map": True, "writer": False, "z_dim": 2, "prior": "normal",
                            "num_classes": 0}
    assert d["class_names"] and len(d["class_names"]) == 10                  # from data_spec.json


def test_option_specs_are_typed_from_signatures():
    from genzoo.models import build_model
    from genzoo.models.capabilities import option_specs

    m = build_model({"family": "diffusion", "input_shape": [1, 28, 28], "base_channels": 8, "timesteps": 40,
                     "sample_steps": 5})
    specs = {o.name: o for o in option_specs(m, m.sample)}
    assert specs["sampler"].choices == ("ddpm", "ddim") and specs["sampler"].default == "ddim"
    assert specs["steps"].kind == "int" and specs["steps"].default == 5          # model.sample_steps
    assert specs["eta"].kind == "float" and specs["guidance"].kind == "float"
    text = build_model({"family": "lstm", "vocab_size": 50})
    kinds = {o.name: o.kind for o in option_specs(text, text.sample)}
    assert kinds == {"temperature": "float", "top_k": "int", "prompt": "str", "max_tokens": "int"}


def test_a_job_reports_its_result_like_a_direct_request(studio):
    import time

    client, _ = studio
    r = client.post("/api/runs/vae/jobs/sample", json={"n": 8, "seed": 1})
    assert r.status_code == 202 and r.json()["state"] in ("queued", "running", "done")
    job = r.json()["job"]
    for _ in range(400):
        view = client.get(f"/api/jobs/{job}").json()
        if view["state"] in ("done", "error"):
            break
        time.sleep(0.05)
    assert view["state"] == "done" and view["items"] == [8, 8], view
    assert view["result"]["png_sha256"] == sample(client, 1)["png_sha256"]       # the same images as /tasks
    assert client.get("/api/jobs/not-a-job").status_code == 404


def test_a_failing_job_carries_the_message_and_status(studio):
    import time

    client, _ = studio
    job = client.post("/api/runs/vae/jobs/sample", json={"options": {"guidance": 2.0}}).json()["job"]
    for _ in range(200):
        view = client.get(f"/api/jobs/{job}").json()
        if view["state"] != "queued" and view["state"] != "running":
            break
        time.sleep(0.05)
    assert view["state"] == "error" and view["status"] == 400 and "--guidance" in view["error"]


def test_latent_map_code_and_decode(studio):
    client, _ = studio
    m = client.get("/api/runs/vae/latent").json()
    assert len(m["points"]) == 128 and "latent plane" in m["plane"]                # the mini test split: 128
    x, y, label, index = m["points"][5]
    assert isinstance(label, int) and isinstance(index, int)
    code = client.post("/api/runs/vae/latent/code", json={"index": index}).json()["code"]
    assert len(code) == 2 and abs(code[0] - x) < 1e-3 and abs(code[1] - y) < 1e-3   # z_dim 2: the map is the plane
    out = client.post("/api/runs/vae/latent/decode", json={"points": [[x, y]]}).json()
    same = client.post("/api/runs/vae/latent/decode", json={"codes": [code]}).json()
    assert out["images"][0].startswith("data:image/png;base64,") and out["images"] == same["images"]
    drawn = client.post("/api/runs/vae/latent/code", json={"seed": 3}).json()["code"]
    assert drawn == client.post("/api/runs/vae/latent/code", json={"seed": 3}).json()["code"]
    assert drawn != client.post("/api/runs/vae/latent/code", json={"seed": 4}).json()["code"]
    v = client.post("/api/runs/vae/latent/attribute", json={"attribute": 1}).json()
    assert len(v["vector"]) == 2 and abs(sum(t * t for t in v["vector"]) - 1) < 1e-3 and v["attribute"] == "Trouser"


@pytest.mark.parametrize("body, status, words", [
    ({"codes": [[0.0, 0.0, 0.0]]}, 400, "z_dim = 2"),
    ({"codes": [[float("1e5"), 0.0]]}, 422, "finite"),
    ({"codes": [[0.0, 0.0]] * 65}, 422, "codes"),
    ({}, 400, "give codes"),
    ({"codes": [[0, 0]], "label": 3}, 400, "class-conditional"),
])
def test_decode_refuses_bad_codes(studio, body, status, words):
    client, _ = studio
    r = client.post("/api/runs/vae/latent/decode", json=body)
    assert r.status_code == status and words in r.json()["error"], r.text


def test_explorer_refusals_name_the_missing_capability(studio):
    client, _ = studio
    r = client.post("/api/runs/vae/latent/code", json={"index": 10**6})
    assert r.status_code == 400 and "test split" in r.json()["error"]
    r = client.post("/api/runs/vae/latent/code", json={"index": 1, "seed": 1})
    assert r.status_code == 400 and "either" in r.json()["error"]
    r = client.post("/api/runs/vae/writer", json={"text": "hello"})
    assert r.status_code == 400 and "next-token" in r.json()["error"]
    r = client.post("/api/runs/vae/latent/attribute", json={"attribute": 99})
    assert r.status_code == 400 and "class in [0, 9]" in r.json()["error"]


def test_compare_returns_the_compare_numbers_and_samples(studio):
    client, _ = studio
    r = client.get("/api/compare?runs=vae,vae").json()
    assert r["runs"] == ["vae", "vae"] and "run" in r["columns"] and len(r["table"]) == 2
    assert r["samples"][0].startswith("/api/runs/vae/files/samples/")
    assert client.get("/api/compare?runs=vae,outside").status_code == 404
    assert client.get("/api/compare").status_code == 400


def test_run_rows_are_cached_until_a_file_changes(studio):
    client, runs = studio
    first = client.get("/api/runs").json()["runs"][0]
    assert client.get("/api/runs").json()["runs"][0] == first
    (runs / "vae" / "eval.json").write_text('{"run": "%s", "metrics": {"fid": {"value": 12.5}}}' % (runs / "vae"))
    try:
        row = client.get("/api/runs").json()["runs"][0]
        assert row["eval"] == {"fid": 12.5}
        d = client.get("/api/runs/vae").json()
        assert d["eval"]["run"] == "vae"                  # the machine path of the run is not shown
    finally:
        (runs / "vae" / "eval.json").unlink()


def test_a_request_over_its_budget_stops_at_a_sampler_step(trained_runs, tmp_path):
    from genzoo.progress import report
    from genzoo.studio.workers import Cached, Stopped, Workers

    workers = Workers(1, 4, budget_s=0.05)
    item = Cached(ctx=type("Ctx", (), {"model": None})())
    seen = []

    def slow() -> None:
        import time
        for i in range(100):
            report(i, 100, "steps")
            seen.append(i)
            time.sleep(0.01)

    with pytest.raises(Stopped, match="limit per request"):
        workers.locked_call(item, "sample", 1, slow)()
    assert 2 <= len(seen) < 100                          # it stopped on its own, well before the end


# -- review fixes: only local pages, no leaks, typed options, stale models --------------------------------------

def test_only_local_pages_may_use_the_studio(studio):
    client, _ = studio
    r = client.get("/api/runs", headers={"host": "evil.example:8765"})          # DNS rebinding
    assert r.status_code == 421 and "answers to" in r.json()["error"]
    r = client.post("/api/runs/vae/tasks/sample", json={"n": 2}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and "other sites" in r.json()["error"]
    r = client.post("/api/runs/vae/tasks/sample", content=b'{"n": 2}', headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    r = client.post("/api/runs/vae/tasks/sample", json={"n": 2}, headers={"origin": "http://127.0.0.1"})
    assert r.status_code == 200                                                 # the page's own origin


def test_links_inside_a_run_serve_nothing_else_of_it(studio):
    client, runs = studio
    run = runs / "vae"
    ckpt = next((run / "checkpoints").glob("step-*/*.safetensors"))
    link = run / "samples" / "weights.png"
    os.symlink(ckpt, link)                                   # a .png name for the checkpoint's weights
    try:
        r = client.get("/api/runs/vae/files/samples/weights.png")
        assert r.status_code == 404 and "link" in r.json()["error"]
        assert "samples/weights.png" not in [f["path"] for f in client.get("/api/runs/vae").json()["files"]]
    finally:
        link.unlink()


def test_answers_carry_no_machine_paths_and_no_nan(studio, trained_runs):
    client, runs = studio
    broken = runs / "broken"
    shutil.copytree(trained_runs.get("vae-digits", 4), broken)
    try:
        for weights in (broken / "checkpoints").glob("step-*/*.safetensors"):
            weights.write_bytes(weights.read_bytes()[:100])                # truncated
        (broken / "eval.json").write_text('{"run": "%s", "metrics": {"fid": {"value": NaN}}}' % broken)
        (broken / "samples" / "made.json").write_text(json_text({"grid": str(broken / "samples" / "a.png")}))
        rows = client.get("/api/runs")
        assert rows.status_code == 200, rows.text                           # one bad number breaks no page
        d = client.get("/api/runs/broken").json()
        assert d["tasks"] == [] and d["tasks_problem"] and str(runs) not in d["tasks_problem"]
        assert d["eval"]["metrics"]["fid"]["value"] is None and d["eval"]["run"] == "broken"
        r = client.post("/api/runs/broken/tasks/sample", json={"n": 2})
        assert r.status_code == 409 and str(runs) not in r.text and "<runs>" in r.json()["error"]
        assert client.get("/api/runs/broken/files/samples/made.json").json() == {"grid": "broken/samples/a.png"}
    finally:
        shutil.rmtree(broken)


def json_text(value) -> str:
    import json

    return json.dumps(value)


def test_options_are_checked_against_their_declared_types():
    from genzoo.config import ConfigError
    from genzoo.models import build_model
    from genzoo.studio.answers import check_options

    m = build_model({"family": "diffusion", "input_shape": [1, 28, 28], "base_channels": 8, "timesteps": 40,
                     "sample_steps": 5})
    check_options(m, "sample", {"steps": 10, "sampler": "ddpm", "eta": 0})         # an int is a float too
    with pytest.raises(ConfigError, match="steps takes a whole number"):
        check_options(m, "sample", {"steps": "10"})
    with pytest.raises(ConfigError, match="sampler is one of ddpm, ddim"):
        check_options(m, "sample", {"sampler": "euler"})


def test_ragged_codes_and_long_prompts_are_refused(studio):
    client, _ = studio
    r = client.post("/api/runs/vae/latent/decode", json={"codes": [[0.0, 0.0], [0.0]]})
    assert r.status_code == 422 and "same length" in r.json()["error"]
    r = client.post("/api/runs/vae/tasks/next-words", json={"prompts": ["x" * 3000]})
    assert r.status_code == 422 and "prompt" in r.json()["error"]


def test_a_run_with_a_newer_checkpoint_is_reopened(tmp_path):
    from genzoo.studio.workers import ModelCache

    run = tmp_path / "run"
    (run / "checkpoints" / "step-0000001").mkdir(parents=True)
    (run / "checkpoints" / "step-0000001" / "meta.json").write_text("{}")
    cache = ModelCache(4)
    first = cache.get(run)
    assert cache.get(run) is first
    (run / "checkpoints" / "step-0000002").mkdir()
    (run / "checkpoints" / "step-0000002" / "meta.json").write_text("{}")
    assert cache.get(run) is not first and len(cache) == 1          # the old weights are dropped, not kept


def test_attribute_vectors_use_attribute_columns_when_the_data_has_them():
    import torch

    from genzoo.data.types import ImageSet
    from genzoo.studio.explore import LatentMap, attribute_names, attribute_vector_of

    smiling = torch.tensor([1, 1, 0, 0, 1, 0], dtype=torch.float32)
    data = ImageSet(torch.zeros(6, 1, 4, 4, dtype=torch.uint8),
                    attributes=torch.stack([smiling, 1 - smiling], 1), attribute_names=["Smiling", "Bald"])
    assert attribute_names(data) == ("attribute", ["Smiling", "Bald"])
    codes = torch.stack([smiling * 2.0, torch.zeros(6)], 1)                     # smiling moves z0
    m = LatentMap(codes, torch.arange(6), None, codes.mean(0), torch.eye(2), codes, [1.0, 0.0], "the plane")
    ctx = type("Ctx", (), {"data": lambda self, split: data})()
    vector, name, norm = attribute_vector_of(ctx, m, 0)
    assert name == "Smiling" and torch.allclose(vector, torch.tensor([1.0, 0.0])) and abs(norm - 2.0) < 1e-6
    assert attribute_vector_of(ctx, m, 1)[0][0] < 0                              # Bald: the other way
