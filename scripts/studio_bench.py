"""Studio measurements (issue 19), as the README quotes them.

    python scripts/studio_bench.py TRAINED_RUN WORK_DIR [--diffusion RUN]

WORK_DIR/runs gets 100 copies of TRAINED_RUN (a small model; the copies share its checkpoints by symlink inside the
runs folder). The script starts ``genzoo studio`` on a free port as its own process and measures:

- listing 100 runs: the first ``/api/runs`` (every run's files read) and a repeat (rows cached by file mtimes);
- time to first page: the server's start-up, plus the browser (system Chromium, via Playwright) going from
  navigation to the filled runs table, plus the cold listing's extra time over the cached one;
- a 64-image sample of the small model: over the API (``/tasks``), and in the page (click → picture shown);
- requests/s with 20 concurrent clients (200 requests of 16 images, each answer checked);
- with ``--diffusion``: a DDPM sample as a job, the steps the page can show and the time to the first one.

Prints one JSON line. Thread counts: the studio's default (one intra-op thread per request, one request per core).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def make_runs(src: Path, runs: Path, copies: int = 100) -> None:
    if runs.exists():
        return
    runs.mkdir(parents=True)
    shutil.copytree(src, runs / "run-000")
    for i in range(1, copies):
        shutil.copytree(src, runs / f"run-{i:03d}", ignore=shutil.ignore_patterns("checkpoints"))
        os.symlink("../run-000/checkpoints", runs / f"run-{i:03d}" / "checkpoints")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int):
        self.port = port

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        c.request(method, path, body=None if body is None else json.dumps(body).encode(),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def timed(self, method: str, path: str, body: dict | None = None) -> tuple[float, int, bytes]:
        t = time.perf_counter()
        status, data = self.call(method, path, body)
        return time.perf_counter() - t, status, data


def browser_binary() -> str:
    return os.environ.get("GENZOO_BROWSER") or shutil.which("chromium") or "/usr/bin/chromium"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--diffusion", type=Path, help="a trained diffusion run, to time a sampler job's steps")
    args = ap.parse_args()
    runs = args.work / "runs"
    make_runs(args.run, runs)
    if args.diffusion and not (runs / "diffusion").exists():
        shutil.copytree(args.diffusion, runs / "diffusion")
    port = free_port()
    genzoo = Path(sys.executable).parent / "genzoo"
    from playwright.sync_api import expect, sync_playwright

    out: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_binary(), args=["--no-sandbox"])
        page = browser.new_page()
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(genzoo), "studio", "--runs", str(runs), "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            client = Client(port)
            while True:
                try:
                    client.call("GET", "/favicon.ico")
                    break
                except OSError:
                    time.sleep(0.02)
            out["server_up_s"] = round(time.perf_counter() - t0, 2)
            cold, _, data = client.timed("GET", "/api/runs")
            warm, _, _ = client.timed("GET", "/api/runs")
            out.update(list_runs=len(json.loads(data)["runs"]), list_cold_s=round(cold, 3), list_cached_s=round(warm, 3))
            t = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.locator("#runs tbody tr")).to_have_count(out["list_runs"], timeout=120_000)
            out["page_with_runs_table_s"] = round(time.perf_counter() - t, 3)
            out["first_page_from_process_start_s"] = round(out["server_up_s"] + out["page_with_runs_table_s"]
                                                           + out["list_cold_s"] - out["list_cached_s"], 2)
            detail, _, _ = client.timed("GET", "/api/runs/run-000")        # loads the model
            out["first_run_detail_with_model_load_s"] = round(detail, 3)
            s64, status, _ = client.timed("POST", "/api/runs/run-000/tasks/sample", {"n": 64, "seed": 1})
            s64b, _, _ = client.timed("POST", "/api/runs/run-000/tasks/sample", {"n": 64, "seed": 2})
            out["sample64_api_s"] = [round(s64, 3), round(s64b, 3)]
            out["sample64_status"] = status

            first_map, _, data = client.timed("GET", "/api/runs/run-000/latent")
            out["latent_map_first_s"] = round(first_map, 3)
            out["latent_map_points"] = len(json.loads(data)["points"])
            out["latent_map_cached_s"] = round(client.timed("GET", "/api/runs/run-000/latent")[0], 3)
            page.goto(f"http://127.0.0.1:{port}/#/run/run-000")
            expect(page.locator("#sample-run")).to_be_visible(timeout=120_000)
            # let the page's own first requests (the latent map encodes 2,000 test images) finish: they hold the
            # model's lock, and a sample asked meanwhile waits for them
            expect(page.locator("#latent-map[data-ready]")).to_be_attached(timeout=120_000)
            page.fill("#sample-n", "64")
            page.fill("#sample-seed", "3")
            page.click("#sample-run")
            expect(page.locator("#sample-message")).to_contain_text("seed 3: done", timeout=120_000)
            # the page's own clock: from the click to the decoded picture (Playwright's polling not included)
            out["sample64_in_page_s"] = float(page.locator("#sample-form").get_attribute("data-seconds"))

            def one(i: int) -> tuple[int, str]:
                status, data = client.call("POST", "/api/runs/run-000/tasks/sample", {"n": 16, "seed": i % 10})
                return status, json.loads(data).get("png_sha256", "") if status == 200 else data.decode()

            t = time.perf_counter()
            with ThreadPoolExecutor(20) as pool:
                answers = list(pool.map(one, range(200)))
            load = time.perf_counter() - t
            by_seed: dict[int, set[str]] = {}
            for i, (_, sha) in enumerate(answers):
                by_seed.setdefault(i % 10, set()).add(sha)
            out.update(load_requests=len(answers), load_ok=sum(s == 200 for s, _ in answers), load_s=round(load, 2),
                       req_per_s=round(len(answers) / load, 1),
                       load_same_seed_same_images=all(len(v) == 1 for v in by_seed.values()))

            if args.diffusion:
                status, data = client.call("POST", "/api/runs/diffusion/jobs/sample",
                                           {"n": 16, "seed": 0, "options": {"sampler": "ddim", "steps": 50}})
                job = json.loads(data)["job"]
                t, first_step, steps_seen = time.perf_counter(), None, set()
                while True:
                    view = json.loads(client.call("GET", f"/api/jobs/{job}")[1])
                    if "step" in view:
                        steps_seen.add(view["step"]["done"])
                        first_step = first_step or time.perf_counter() - t
                    if view["state"] in ("done", "error", "cancelled"):
                        break
                    time.sleep(0.05)
                out["ddim50_job"] = {"state": view["state"], "seconds": view["seconds"],
                                     "first_step_shown_after_s": round(first_step or -1, 3),
                                     "distinct_steps_seen_polling_50ms": len(steps_seen)}
            status_file = Path(f"/proc/{proc.pid}/status")
            if status_file.exists():           # Linux: the server process's peak resident memory
                peak = next(ln for ln in status_file.read_text().splitlines() if ln.startswith("VmHWM"))
                out["server_peak_rss_mib"] = round(int(peak.split()[1]) / 1024)
        finally:
            proc.terminate()
            proc.wait(10)
            browser.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
