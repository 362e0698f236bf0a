"""Studio measurements (issue 19): time to first page, to list 100 runs, to a 64-image sample, requests/s with 20
concurrent clients. Usage: python scripts/studio_bench.py TRAINED_RUN_DIR WORK_DIR (WORK_DIR/runs gets 100 copies
of the run, sharing one checkpoint folder by symlink; starts `genzoo studio` on a free port and stops it)."""
import http.client, json, os, shutil, socket, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

src, work = Path(sys.argv[1]), Path(sys.argv[2])
runs = work / "runs"
if not runs.exists():
    runs.mkdir(parents=True)
    for i in range(100):
        shutil.copytree(src, runs / f"vae-{i:03d}", ignore=shutil.ignore_patterns("checkpoints") if i else None)
        if i:
            os.symlink((runs / "vae-000" / "checkpoints").resolve(), runs / f"vae-{i:03d}" / "checkpoints")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
genzoo = Path(sys.executable).parent / "genzoo"
t0 = time.perf_counter()
proc = subprocess.Popen([str(genzoo), "studio", "--runs", str(runs), "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
def get(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse(); data = r.read(); c.close(); return r.status, data
while True:
    try:
        status, _ = get("GET", "/"); break
    except OSError:
        time.sleep(0.02)
first = time.perf_counter() - t0
t = time.perf_counter(); status, data = get("GET", "/api/runs"); listed = time.perf_counter() - t
n_runs = len(json.loads(data)["runs"])
t = time.perf_counter(); get("GET", "/api/runs/vae-000"); detail = time.perf_counter() - t   # loads the model
body = json.dumps({"n": 64, "seed": 1}).encode()
t = time.perf_counter(); s64, d64 = get("POST", "/api/runs/vae-000/tasks/sample", body); sample64 = time.perf_counter() - t
def one(i):
    return get("POST", "/api/runs/vae-000/tasks/sample", json.dumps({"n": 16, "seed": i}).encode())[0]
t = time.perf_counter()
with ThreadPoolExecutor(20) as pool:
    codes = list(pool.map(one, range(200)))
load = time.perf_counter() - t
proc.terminate(); proc.wait(10)
print(json.dumps({"first_page_s": round(first, 2), "list_runs": n_runs, "list_s": round(listed, 3),
                  "first_detail_with_model_load_s": round(detail, 3), "sample64_status": s64,
                  "sample64_s": round(sample64, 3), "load_requests": len(codes),
                  "load_ok": codes.count(200), "load_s": round(load, 2), "req_per_s": round(len(codes) / load, 1)}))
