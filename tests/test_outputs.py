"""Where commands write (``genzoo.paths``): ``--out`` is a folder everywhere (old file spellings still work),
and an unwritable location is refused with the path and the fix *before* any work starts."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import train_args
from genzoo.analysis.grid import grid_layout
from genzoo.cli import cli
from genzoo.config import ConfigError
from genzoo.paths import check_writable_output, output_file

REPO = Path(__file__).resolve().parents[1]


def test_folders_that_can_be_made_or_reused_pass(tmp_path):
    check_writable_output(tmp_path, "--out folder")                          # exists
    check_writable_output(tmp_path / "a" / "b" / "c", "--out folder")        # created later, parents too
    check_writable_output(tmp_path / "new.png", "output file", folder=False)
    assert not (tmp_path / "a").exists()                                     # checking creates nothing


def test_a_path_below_a_file_is_refused_with_the_file_named(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=f"{blocker} is a file, not a folder; choose a path"):
        check_writable_output(blocker / "deeper" / "out", "--out folder")
    with pytest.raises(ConfigError, match=f"--out folder {blocker} is an existing file, not a folder"):
        check_writable_output(blocker, "--out folder")
    with pytest.raises(ConfigError, match="is an existing folder; give a file name"):
        check_writable_output(tmp_path, "output file", folder=False)


def test_an_unwritable_place_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "locked"
    target.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == target else real(p, mode))
    with pytest.raises(ConfigError, match=f"cannot create the --out folder {target / 'x'}: {target} is not writable"):
        check_writable_output(target / "x", "--out folder")
    with pytest.raises(ConfigError, match=f"--out folder {target} is not writable"):
        check_writable_output(target, "--out folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_is_refused(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="is not writable"):
            check_writable_output(locked / "sub", "--out folder")
    finally:
        locked.chmod(0o755)


def test_output_file_follows_the_rule(tmp_path):
    assert output_file(None, tmp_path / "samples", "sample-0.png") == tmp_path / "samples" / "sample-0.png"
    assert output_file(tmp_path / "mine", tmp_path, "sample-0.png") == tmp_path / "mine" / "sample-0.png"
    assert output_file(tmp_path / "grid.PNG", tmp_path, "sample-0.png") == tmp_path / "grid.PNG"   # old spelling
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        output_file(tmp_path / "f" / "grid.png", tmp_path, "sample-0.png")


def test_commands_refuse_a_bad_out_before_any_work(tmp_path, monkeypatch):
    """sample, analyze and planet-pixel check --out first: here the run is not even loadable."""
    import genzoo.analysis.run as analysis_run
    import genzoo.runs

    def no_work(*a, **k):
        raise AssertionError("work started before --out was checked")

    monkeypatch.setattr(genzoo.runs, "load_run", no_work)
    monkeypatch.setattr(analysis_run, "run_analysis", no_work)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = tmp_path / "run"
    run.mkdir()
    runner = CliRunner()
    for args in (["sample", str(run), "--out", str(blocker / "grids")],
                 ["sample", str(run), "--out", str(blocker / "grid.png")],
                 ["analyze", str(run), "all", "--out", str(blocker / "ana")],
                 ["planet-pixel", "--out", str(blocker / "pp")]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert f"genzoo: error: cannot create the" in result.output and f"{blocker} is a file" in result.output
    (run / "samples").write_text("not a folder")            # the default location is checked too
    result = runner.invoke(cli, ["sample", str(run)])
    assert result.exit_code == 2 and f"{run / 'samples'} is a file" in result.output


def test_sample_out_is_a_folder_and_a_png_still_names_the_file(tmp_path):
    run = tmp_path / "vae"
    runner = CliRunner()
    assert runner.invoke(cli, train_args("vae-digits", run, 2), catch_exceptions=False).exit_code == 0
    result = runner.invoke(cli, ["sample", str(run), "-n", "4", "--seed", "5", "--out", str(tmp_path / "grids")],
                           catch_exceptions=False)
    out = json.loads(result.stdout)
    assert Path(out["grid"]) == tmp_path / "grids" / "sample-5.png"
    assert Path(out["tensor"]) == tmp_path / "grids" / "sample-5.safetensors" and Path(out["tensor"]).exists()
    assert grid_layout(out["grid"])["origin"][1] > 0                     # a title strip
    with Image.open(out["grid"]) as im:
        assert "vae-digits, seed 5: 4 samples" in im.info["Title"]
    result = runner.invoke(cli, ["sample", str(run), "-n", "2", "--out", str(tmp_path / "one.png")],
                           catch_exceptions=False)
    assert json.loads(result.stdout)["grid"] == str(tmp_path / "one.png") and (tmp_path / "one.safetensors").exists()


def test_planet_pixel_out_is_a_folder(tmp_path, mini_data_dir):
    result = CliRunner().invoke(cli, ["planet-pixel", "--data-dir", mini_data_dir, "--levels", "4", "-n", "3",
                                      "--out", str(tmp_path / "pp")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    png = tmp_path / "pp" / "planet-pixel.png"
    assert json.loads(result.stdout)["grid"] == str(png)
    layout = grid_layout(png)
    assert layout["rows"] == 2 and layout["cols"] == 3 and layout["origin"][0] > 0   # row labels


# -- make demo never deletes an earlier demo ----------------------------------------------------------
def _fake_genzoo(tmp_path: Path) -> Path:
    """A stand-in for the genzoo executable that records its arguments and makes the run folder."""
    script = tmp_path / "genzoo"
    script.write_text('#!/bin/bash\necho "$@" >> "$(dirname "$0")/calls.txt"\n'
                      'if [ "$1" = train ]; then while [ $# -gt 0 ]; do [ "$1" = --out ] && mkdir -p "$2" && '
                      'touch "$2/config.yaml"; shift; done; fi\n')
    script.chmod(0o755)
    return script


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GENZOO": str(tmp_path / "genzoo"), "DEMO_EPOCHS": "1"}
    return subprocess.run(["bash", str(REPO / "scripts" / "demo.sh"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True)


def test_demo_trains_into_a_new_folder_each_time(tmp_path):
    _fake_genzoo(tmp_path)
    first = _demo(tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "runs" / "demo-vae-digits" / "mine.txt").write_text("keep me")
    second = _demo(tmp_path)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "runs" / "demo-vae-digits" / "mine.txt").read_text() == "keep me"   # untouched
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    trains = [c for c in calls if c.startswith("train")]
    assert trains[0].endswith("--out runs/demo-vae-digits") and trains[1].endswith("--out runs/demo-vae-digits-2")
    assert "runs/demo-vae-digits-2/samples/demo-samples.png" in second.stdout
    assert any(c.startswith("analyze runs/demo-vae-digits-2 reconstructions") for c in calls)


def test_demo_refuses_an_existing_chosen_folder(tmp_path):
    _fake_genzoo(tmp_path)
    (tmp_path / "mine").mkdir()
    result = _demo(tmp_path, "mine")
    assert result.returncode == 2 and "mine already exists" in result.stderr and "make demo-clean" in result.stderr
    assert not (tmp_path / "calls.txt").exists()                          # nothing ran
