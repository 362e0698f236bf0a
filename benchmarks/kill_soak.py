"""Kill soak: SIGKILL a training run at random moments, resume it each time, and check that nothing is lost.

A run of ``ae-digits`` on the shipped mini Fashion-MNIST (checkpoints every 2 steps, so some kills land in a
checkpoint write) is started, SIGKILLed at a random moment (half in training, a fifth during start-up, the rest
aimed at a checkpoint write), checked, and continued with ``genzoo resume``
(or ``genzoo train`` again when it was killed before its first checkpoint), ``--kills`` times; then it runs to
the end. After every kill each checkpoint folder on disk must load (weights, optimizer state, meta) and the
``latest`` pointer must name a complete one. At the end its weights must equal, bit for bit, those of the same
run trained without interruption.

    python benchmarks/kill_soak.py --kills 20          # prints a JSON report; exit 1 on any failure
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MINI = ROOT / "tests" / "fixtures" / "fashion-mnist-mini"


def command(verb: str, run: Path, steps: int) -> list[str]:
    if verb == "resume":
        return [sys.executable, "-m", "genzoo", "resume", str(run), "--no-progress"]
    return [sys.executable, "-m", "genzoo", "train", "ae-digits", "--data-dir", str(MINI), "--max-steps", str(steps),
            "--out", str(run), "--no-progress", "--set", "checkpoint_every=2", "--set", "log_every=2",
            "--set", "tensorboard=false", "--set", "sample_every_epoch=false", "--set", "num_threads=1"]


def _rows(run: Path) -> int:
    path = run / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def check_checkpoints(run: Path) -> tuple[int, list[str]]:
    """Load every checkpoint folder of ``run``; returns (how many, problems)."""
    import torch
    from safetensors.torch import load_file

    from genzoo.training.checkpoint import latest_checkpoint

    problems, count = [], 0
    for ck in sorted((run / "checkpoints").glob("step-*")) if (run / "checkpoints").exists() else []:
        count += 1
        try:
            load_file(str(ck / "model.safetensors"))
            torch.load(ck / "state.pt", weights_only=True)
            json.loads((ck / "meta.json").read_text())
        except Exception as e:  # noqa: BLE001 - any failure to read is the finding
            problems.append(f"{ck.name}: {type(e).__name__}: {e}")
    pointer = run / "checkpoints" / "latest"
    if pointer.exists() and latest_checkpoint(run) is None:
        problems.append("latest names no complete checkpoint")
    return count, problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--max-delay", type=float, default=1.5,
                    help="kill after a uniform delay in [0, this] s once training has logged a new row")
    ap.add_argument("--startup-share", type=float, default=0.2, help="share of kills aimed at start-up")
    ap.add_argument("--write-share", type=float, default=0.3,
                    help="share of kills aimed at a checkpoint write (sent as soon as its temporary folder appears)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--root", type=Path, help="work folder (default: a temporary one, removed afterwards)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = args.root or Path(tempfile.mkdtemp(prefix="genzoo-soak-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    straight, killed = root / "straight", root / "killed"
    for p in (straight, killed):
        shutil.rmtree(p, ignore_errors=True)
    t0 = time.time()
    subprocess.run(command("train", straight, args.steps), env=env, check=True, capture_output=True)
    report = {"kills": 0, "mid_write": 0, "before_first_checkpoint": 0, "finished_before_kill": 0,
              "checkpoints_checked": 0, "problems": [], "steps_at_kill": []}
    from genzoo.training.checkpoint import latest_checkpoint

    while report["kills"] < args.kills:
        verb = "resume" if latest_checkpoint(killed) is not None else "train"
        proc = subprocess.Popen(command(verb, killed, args.steps), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        aim = rng.random()
        if aim < args.startup_share:                # some kills land while the process starts or restores
            time.sleep(rng.uniform(0.0, 1.5))
        elif aim < args.startup_share + args.write_share:   # some are aimed at a checkpoint being written
            deadline = time.time() + 120
            while proc.poll() is None and time.time() < deadline and not any(
                    (killed / "checkpoints").glob(".tmp-*")):
                time.sleep(0.0005)
            time.sleep(rng.uniform(0.0, 0.004))
        else:                                       # most land in training: after it has logged a new row
            rows = _rows(killed)
            deadline = time.time() + 120
            while _rows(killed) <= rows and proc.poll() is None and time.time() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, args.max_delay))
        if proc.poll() is not None:   # it finished (or failed) before the kill
            err = proc.stderr.read()
            if proc.returncode != 0:
                report["problems"].append(f"{verb} exited {proc.returncode}: {err.strip()[-300:]}")
                break
            report["finished_before_kill"] += 1
            shutil.rmtree(killed)     # start the soak run again: the kills are what is being measured
            continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        report["kills"] += 1
        ck_root = killed / "checkpoints"
        if ck_root.exists() and any(ck_root.glob(".tmp-*")):
            report["mid_write"] += 1
        ck = latest_checkpoint(killed)
        if ck is None:
            report["before_first_checkpoint"] += 1
        report["steps_at_kill"].append(int(ck.name.split("-")[1]) if ck else 0)
        n, problems = check_checkpoints(killed)
        report["checkpoints_checked"] += n
        report["problems"] += problems
    final = subprocess.run(command("resume" if latest_checkpoint(killed) else "train", killed, args.steps),
                           env=env, capture_output=True, text=True)
    if final.returncode != 0:
        report["problems"].append(f"final run exited {final.returncode}: {final.stderr.strip()[-300:]}")
    else:
        from safetensors.torch import load_file

        a = load_file(str(latest_checkpoint(straight) / "model.safetensors"))
        b = load_file(str(latest_checkpoint(killed) / "model.safetensors"))
        import torch

        report["final_weights_equal"] = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
        report["metrics_rows_unique"] = steps == sorted(set(steps))
    report["seconds"] = round(time.time() - t0, 1)
    ok = (not report["problems"] and report.get("final_weights_equal") and report.get("metrics_rows_unique"))
    report["result"] = f"{report['kills']}/{args.kills} kills survived" if ok else "FAILED"
    print(json.dumps(report, indent=2))
    if args.root is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
