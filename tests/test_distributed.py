"""Data-parallel training with torchrun: two CPU processes (gloo) give the same weights as one
process on the same global batch, since gradients of the two half-batches are averaged."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from conftest import train_args
from genzoo.training.checkpoint import latest_checkpoint

ROOT = Path(__file__).parents[1]


def _run(args: list[str], nproc: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
               "--master_port", str(29500 + os.getpid() % 1000), "-m", "genzoo", *args]
    else:
        cmd = [sys.executable, "-m", "genzoo", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_two_processes_match_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    fp32 = ("--set", "precision=fp32")  # bf16 rounding differs between half and full batches
    _run(train_args("ae-digits", one, 6, *fp32), 1)
    _run(train_args("ae-digits", two, 6, *fp32), 2)
    a = load_file(str(latest_checkpoint(one) / "model.safetensors"))
    b = load_file(str(latest_checkpoint(two) / "model.safetensors"))
    # Equal up to rounding: Adam's normalised step can amplify a last-bit difference on a near-zero
    # gradient to ~1e-5, far below the 6 × lr = 3e-3 that each weight moved; an unsynchronised or
    # summed-instead-of-averaged gradient shows up as differences of order lr.
    diffs = torch.cat([(a[k] - b[k]).abs().flatten() for k in a])
    assert diffs.max() < 2e-4
    assert (diffs > 1e-5).float().mean() < 0.01
    # and resume works under torchrun too
    _run(["resume", str(two), "--max-steps", "8", "--no-progress"], 2)
    assert latest_checkpoint(two).name == "step-00000008"


def test_adversarial_training_under_torchrun(tmp_path):
    """Two optimizers, n_critic, the gradient penalty's double backward and BN buffers, in 2 processes."""
    run = tmp_path / "wgangp"
    extra = ("--set", "model.family=wgan-gp", "--set", "model.d_dropout=null", "--set", "n_critic=2",
             "--set", "sample_every_epoch=false")
    _run(train_args("homl-dcgan", run, 4, *extra), 2)
    w = load_file(str(latest_checkpoint(run) / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in w.values())
    _run(["resume", str(run), "--max-steps", "6", "--no-progress"], 2)
    assert latest_checkpoint(run).name == "step-00000006"
