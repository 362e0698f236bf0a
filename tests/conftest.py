"""Shared fixtures: a 512 + 128 image slice of real Fashion-MNIST shipped with the tests, so the
suite needs no system data and runs in seconds."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
MINI_FASHION = FIXTURES / "fashion-mnist-mini"

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
# Runs in tests use a fixed thread count: bitwise comparisons (resume == uninterrupted) need the same
# reduction order throughout, which the adaptive default does not promise (tests/test_threads.py covers it).
os.environ.setdefault("GENZOO_NUM_THREADS", str(torch.get_num_threads()))


@pytest.fixture
def mini_data_dir() -> str:
    return str(MINI_FASHION)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's cache or runs folder from a test."""
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def train_args(recipe: str, out: Path, steps: int, *extra: str) -> list[str]:
    """CLI arguments for a short training run on the mini fixture."""
    return ["train", recipe, "--data-dir", str(MINI_FASHION), "--max-steps", str(steps), "--out", str(out),
            "--no-progress", "--set", "log_every=5", "--set", "tensorboard=false", *extra]
