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


def assert_resumes_exactly(recipe: str, args: list[str], reference: Path, tmp_path: Path, steps: int) -> None:
    """Train ``recipe`` for ``steps // 2`` steps, resume it to ``steps``: the weights equal those of the
    uninterrupted run ``reference`` (trained with the same ``args`` for ``steps``)."""
    from click.testing import CliRunner

    from genzoo.cli import cli
    from genzoo.run_context import RunContext

    runner = CliRunner()
    part = tmp_path / "part"
    r = runner.invoke(cli, ["train", recipe, "--max-steps", str(steps // 2), "--out", str(part), *args])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["resume", str(part), "--max-steps", str(steps), "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    a, b = RunContext(part).model, RunContext(reference).model
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


class TrainedRuns:
    """Short training runs shared by every test of the session: each (recipe, steps, options) is trained once,
    on first use, on the mini fixture. Tests read them; a test that resumes, evaluates or otherwise writes into
    a run takes its own copy (:meth:`copy`)."""

    def __init__(self, root: Path):
        self.root = root
        self._runs: dict[tuple[str, int, tuple[str, ...]], Path] = {}

    def get(self, recipe: str, steps: int, *extra: str) -> Path:
        key = (recipe, steps, extra)
        if key not in self._runs:
            from click.testing import CliRunner

            from genzoo.cli import cli

            out = self.root / f"{len(self._runs):02d}-{recipe}"
            result = CliRunner().invoke(cli, train_args(recipe, out, steps, *extra), catch_exceptions=False)
            assert result.exit_code == 0, result.output
            self._runs[key] = out
        return self._runs[key]

    def copy(self, dest: Path, recipe: str, steps: int, *extra: str) -> Path:
        """A private copy of the shared run at ``dest`` (``checkpoints/latest`` names a step, so it moves along)."""
        import shutil

        shutil.copytree(self.get(recipe, steps, *extra), dest, symlinks=True)
        return dest


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory) -> TrainedRuns:
    return TrainedRuns(tmp_path_factory.mktemp("shared-runs"))
