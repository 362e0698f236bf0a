"""Nothing lost, nothing corrupted: stop signals write a checkpoint, one process per run folder, --out and
resume checks that run before any work, bounded sampling, and the adaptive thread count."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from conftest import train_args
from genzoo.cli import cli
from genzoo.training.checkpoint import latest_checkpoint
from genzoo.training.runlock import RunInUseError, RunLock
from genzoo.training.threads import ThreadTuner, candidate_counts, plan_threads

ROOT = Path(__file__).parents[1]


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(latest_checkpoint(run) / "model.safetensors"))


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def start_training(out: Path, steps: int, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "genzoo", *train_args("ae-digits", out, steps, *extra)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_metrics(out: Path, proc: subprocess.Popen, rows: int = 1, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        path = out / "metrics.jsonl"
        if path.exists() and len(path.read_text().splitlines()) >= rows:
            return
        if proc.poll() is not None:
            pytest.fail(f"training ended early: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("training wrote no metrics in time")


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """An uninterrupted 60-step ae-digits run: what interrupted runs must end up equal to."""
    out = tmp_path_factory.mktemp("straight") / "run"
    r = run_cli(*train_args("ae-digits", out, 60, "--set", "sample_every_epoch=false"))
    assert r.exit_code == 0, r.output
    return out


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_stop_signal_writes_a_checkpoint_and_resume_finishes_exactly(tmp_path, straight, sig, code):
    out = tmp_path / "run"
    proc = start_training(out, 60, "--set", "sample_every_epoch=false", "--set", "checkpoint_every=1000",
                          "--set", "checkpoint_every_epoch=false")
    wait_for_metrics(out, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "genzoo resume" in err and "checkpoint" in err
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["stopped_by"] == sig.name and 0 < summary["steps"] < 60
    assert latest_checkpoint(out).name == f"step-{summary['steps']:08d}"   # the signal's own checkpoint
    assert not (out / ".lock").exists() or RunLock(out).acquire("test").release() is None
    r = run_cli("resume", str(out), "--no-progress")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["steps"] == 60
    assert same_weights(straight, out)
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))            # each logged step once


def test_a_second_signal_stops_at_once(tmp_path):
    out = tmp_path / "run"
    proc = start_training(out, 100_000, "--set", "sample_every_epoch=false")
    wait_for_metrics(out, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode != 0


def test_one_process_per_run_folder_and_stale_locks_do_not_block(tmp_path, straight):
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    with RunLock(run).acquire("train"):
        r = run_cli("resume", str(run), "--max-steps", "70", "--no-progress")
        assert r.exit_code == 2 and "in use by another genzoo process" in r.output and f"pid {os.getpid()}" in r.output
        with pytest.raises(RunInUseError):
            RunLock(run).acquire("train")
    # a lock held by a process that was SIGKILLed is released by the OS
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]);"
                               "from genzoo.training.runlock import RunLock; RunLock(sys.argv[2]).acquire('train');"
                               "print('locked', flush=True); time.sleep(60)", str(ROOT), str(run)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    r = run_cli("resume", str(run), "--max-steps", "70", "--no-progress")
    assert r.exit_code == 0, r.output


def test_out_folder_checks_run_before_any_work(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.png").write_bytes(b"not really")
    r = run_cli(*train_args("vae-digits", photos, 5))
    assert r.exit_code == 2 and "not empty" in r.output and "not a genzoo run" in r.output
    assert sorted(p.name for p in photos.iterdir()) == ["cat.png"]      # nothing written into it
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = run_cli(*train_args("vae-digits", afile / "run", 5))
    assert r.exit_code == 2 and "is a file, not a folder" in r.output
    # a failed start (no data there) leaves no empty run folder behind
    r = run_cli("train", "vae-digits", "--data-dir", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "new"),
                "--max-steps", "5", "--no-progress")
    assert r.exit_code == 2 and not (tmp_path / "new").exists()


def test_resume_of_a_finished_run_changes_nothing(tmp_path, straight):
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    before = {name: (run / name).read_bytes() for name in ("config.yaml", "train_summary.json")}
    r = run_cli("resume", str(run), "--no-progress")
    assert r.exit_code == 2 and "already at step 60" in r.output and "--max-steps N" in r.output
    r = run_cli("resume", str(run), "--max-steps", "40", "--no-progress")
    assert r.exit_code == 2 and "nothing to train" in r.output
    assert {name: (run / name).read_bytes() for name in before} == before


def test_resume_set_changes_only_what_may_change(tmp_path, straight):
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    r = run_cli("resume", str(run), "--max-steps", "70", "--set", "model.z_dim=3", "--no-progress")
    assert r.exit_code == 2 and "cannot change when a run is resumed" in r.output
    r = run_cli("resume", str(run), "--max-steps", "70", "--set", "optim.model.lr=1e-4", "--no-progress")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["last"]["lr"]["model"] == pytest.approx(1e-4)
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["total_wall_s"] > summary["wall_s"]            # the record keeps the earlier invocation's time


def test_nan_after_a_checkpoint_advises_a_resume_that_works(tmp_path, straight):
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    r = run_cli("resume", str(run), "--max-steps", "80", "--set", "optim.model.lr=1e12", "--no-progress")
    assert r.exit_code == 2 and "became NaN or Inf" in r.output
    advice = r.output[r.output.index("`genzoo resume") + 1:].split("`")[0]
    assert "--set optim.model.lr=<lower>" in advice
    r = run_cli(*advice.replace("<lower>", "1e-4").split()[1:], "--no-progress")
    assert r.exit_code == 0, r.output


def test_sampling_is_chunked_and_the_grid_stays_viewable(tmp_path, straight):
    from PIL import Image

    out = tmp_path / "many.png"
    r = run_cli("sample", str(straight), "-n", "600", "--out", str(out))
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["shape"] == [600, 1, 28, 28] and "first 256 of 600" in result["grid_shows"]
    assert load_file(str(out.with_suffix(".safetensors")))["images"].shape[0] == 600
    assert max(Image.open(out).size) < 2000
    first = run_cli("sample", str(straight), "-n", "16", "--out", str(tmp_path / "few.png"))
    assert first.exit_code == 0
    few = load_file(str(tmp_path / "few.safetensors"))["images"]
    many = load_file(str(out.with_suffix(".safetensors")))["images"]
    assert torch.equal(few, many[:16])                            # chunking does not change the draws
    r = run_cli("sample", str(straight), "-n", "100000000")
    assert r.exit_code == 2 and "GiB" in r.output and "per call" in r.output


# -- the adaptive thread count ----------------------------------------------------------------------

class FakeMachine:
    """Step times per thread count that can change (load arriving), and a clock that the steps advance."""

    def __init__(self, times: dict[int, float]):
        self.times, self.now, self.threads = dict(times), 0.0, 2

    def set_threads(self, n: int) -> None:
        self.threads = n

    def run(self, tuner: ThreadTuner, steps: int) -> None:
        for _ in range(steps):
            dt = self.times[self.threads]
            self.now += dt
            tuner.observe(dt)


def make_tuner(machine: FakeMachine, **kw) -> ThreadTuner:
    return ThreadTuner([2, 1], machine.set_threads, clock=lambda: machine.now, current=2, **kw)


def test_tuner_keeps_the_faster_count_and_follows_the_load():
    m = FakeMachine({2: 0.010, 1: 0.016})             # idle: 2 threads faster
    tuner = make_tuner(m, min_probe_s=0.02, period_s=5.0)
    m.run(tuner, 40)
    assert not tuner.probing and tuner.current == 2
    m.times = {2: 0.080, 1: 0.018}                    # another process takes a core: 2 threads collapse
    m.run(tuner, 60)
    assert tuner.current == 1                          # the drift re-probe switched at once
    m.times = {2: 0.010, 1: 0.016}                    # the load goes away: found at the next periodic probe
    m.run(tuner, 1000)
    assert tuner.current == 2
    report = tuner.report()
    assert report["mode"] == "adaptive" and report["switches"] >= 2 and report["probes"] >= 3
    assert abs(sum(report["time_share"].values()) - 1) < 1e-6


def test_tuner_probing_costs_little_when_nothing_changes():
    m = FakeMachine({2: 0.010, 1: 0.015})
    tuner = make_tuner(m)
    m.run(tuner, 30_000)                               # 300 s of steps
    share_at_1 = tuner.report()["time_share"]["1"]
    assert share_at_1 < 0.03                           # probing the slower count: under 3 % of the time


def test_plan_threads_fixed_settings():
    got = []
    assert plan_threads(3, set_threads=got.append).count == 3 and got == [3]
    plan = plan_threads(None, distributed_local_procs=2, set_threads=got.append)
    assert plan.mode == "fixed" and plan.count == max(1, (os.cpu_count() or 1) // 2)
    assert "processes on this node" in plan.describe()
    assert candidate_counts(8) == [8, 4, 1] and candidate_counts(2) == [2, 1] and candidate_counts(1) == [1]


def test_train_reports_the_thread_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_NUM_THREADS", "auto")
    r = run_cli(*train_args("homl-vae", tmp_path / "run", 30))
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    if (os.cpu_count() or 1) > 1:
        assert "threads: adaptive" in r.output and summary["threads"]["mode"] == "adaptive"
    monkeypatch.setenv("GENZOO_NUM_THREADS", "1")
    r = run_cli(*train_args("homl-vae", tmp_path / "run2", 10))
    assert "threads: 1" in r.output and json.loads(r.stdout)["threads"] == {"mode": "fixed", "final": 1,
                                                                             "reason": "GENZOO_NUM_THREADS"}


def test_a_collapsing_count_costs_one_step_to_rule_out():
    m = FakeMachine({2: 1.0, 1: 0.05})              # under load: 2 threads 20x slower
    m.threads = 1
    tuner = ThreadTuner([2, 1], m.set_threads, clock=lambda: m.now, current=1, min_probe_s=0.1)
    m.run(tuner, 20)
    assert tuner.current == 1 and not tuner.probing
    assert tuner.seconds_at[2] == 1.0                 # a single step at 2 threads


def test_slower_steps_at_one_thread_do_not_trigger_probes():
    """More load cannot make more threads win: at the fewest threads, slower steps are not a reason to probe."""
    m = FakeMachine({2: 1.0, 1: 0.05})
    m.threads = 1
    tuner = ThreadTuner([2, 1], m.set_threads, clock=lambda: m.now, current=1, min_probe_s=0.1, period_s=1000)
    m.run(tuner, 20)
    probes = tuner.probes
    m.times = {2: 2.0, 1: 0.10}                       # heavier load: everything slower
    m.run(tuner, 200)
    assert tuner.probes == probes and tuner.current == 1
