"""genzoo studio (issue 19): its JSON API over a runs folder, its path and size guards, determinism, concurrency."""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

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
    with TestClient(create_app(runs), raise_server_exceptions=False) as client:
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
    with TestClient(create_app(runs, budget_s=1e-4), raise_server_exceptions=False) as client:
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
    import socket
    import time

    import uvicorn

    _, runs = studio
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(runs), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(10)


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

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    _, runs = studio
    r = CliRunner().invoke(cli, ["studio", "--runs", str(runs), "--port", "9911"])
    assert r.exit_code == 0 and "http://127.0.0.1:9911/" in r.output and "warning" not in r.output
    r = CliRunner().invoke(cli, ["studio", "--runs", str(runs), "--host", "0.0.0.0"])
    assert r.exit_code == 0 and "warning" in r.output and "not localhost" in r.output
    assert [c["host"] for c in calls] == ["127.0.0.1", "0.0.0.0"]


def test_model_cache_is_bounded_and_least_recently_used(tmp_path):
    from genzoo.studio.workers import ModelCache

    cache = ModelCache(2)
    a, b, c = (tmp_path / x for x in "abc")
    first = cache.get(a)
    cache.get(b)
    assert cache.get(a) is first            # a hit moves a to the end
    cache.get(c)                            # so b, the least recently used, goes
    assert len(cache) == 2 and cache.get(a) is first and cache.get(b) is not None and len(cache) == 2
