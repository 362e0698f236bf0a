"""Start-up: commands that need no tensors do not import torch, the torch-free catalogue matches the real
registries, and the help texts and `genzoo list` are complete and aligned."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import MINI_FASHION
from genzoo.catalog import DATASETS, FAMILIES, docstring_summary
from genzoo.cli import cli, first_sentence

# Runs the click command in a fresh interpreter, then reports whether torch was imported and how it ended.
_PROBE = """
import json, sys
from genzoo.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="genzoo", standalone_mode=False)
    code = 0
except SystemExit as e:
    code = e.code
except Exception as e:  # click usage errors and anything unexpected
    code = type(e).__name__
print(json.dumps({"torch": "torch" in sys.modules, "code": code}), file=sys.__stderr__)
"""


def _probe(*args: str, cwd: Path | None = None) -> tuple[dict, str]:
    """(``{"torch": imported?, "code": exit code}``, everything printed) of ``genzoo ARGS``."""
    r = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    return json.loads(r.stderr.strip().splitlines()[-1]), r.stdout + r.stderr


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["eval", "--help"], ["list"], ["--version"],
                                  ["runs", "."]])
def test_help_and_list_do_not_import_torch(args):
    result, out = _probe(*args)
    assert result == {"torch": False, "code": 0}, out


@pytest.mark.parametrize("args, message", [
    (["train", "nosuchrecipe"], "unknown recipe 'nosuchrecipe'"),
    (["summary", "nosuchrecipe"], "unknown recipe 'nosuchrecipe'"),
    (["train", "vae-digits", "--set", "nokey=1"], "unknown key(s) ['nokey']"),
    (["train", "vae-digits", "--set", "epochs=many"], "config.epochs: expected an integer"),
    (["train", "vae-digits", "--set", "data.channels=2"], "data.channels must be 1 or 3"),
    (["train", "vae-digits", "--dataset", "nosuchdata"], "unknown dataset 'nosuchdata'"),
    (["train", "vae-digits", "--set", "model.family=nosuchfamily"], "unknown model family 'nosuchfamily'"),
])
def test_config_errors_are_reported_before_torch(args, message):
    result, out = _probe(*args)
    assert result == {"torch": False, "code": 2}, out
    assert f"genzoo: error: " in out and message in out


def test_run_metadata_errors_are_reported_before_torch(tmp_path):
    not_a_run = tmp_path / "folder"
    not_a_run.mkdir()
    for cmd in (["sample", str(not_a_run)], ["eval", str(not_a_run)], ["analyze", str(not_a_run), "curves"]):
        result, out = _probe(*cmd)
        assert result == {"torch": False, "code": 2}, out
        assert "config.yaml not found" in out
    (not_a_run / "config.yaml").write_text("model: {family: vae}\n")
    result, out = _probe("sample", str(not_a_run))
    assert result == {"torch": False, "code": 2} and "has no checkpoint yet" in out


def test_reading_run_metadata_needs_no_torch(tmp_path):
    """A run's config and its newest checkpoint's meta.json are read with the torch-free helpers."""
    ckpt = tmp_path / "checkpoints" / "step-00000010"
    ckpt.mkdir(parents=True)
    (ckpt / "meta.json").write_text(json.dumps({"family": "vae", "step": 10}))
    (tmp_path / "config.yaml").write_text("recipe: r\nmodel: {family: vae}\n")
    code = ("import sys; from genzoo.training.checkpoint import run_checkpoint, read_meta; "
            f"cfg, ck = run_checkpoint({str(tmp_path)!r}); "
            "print(cfg.recipe, ck.name, read_meta(ck)['step'], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["r", "step-00000010", "10", "False"]


def test_config_from_recipe_is_torch_free_and_still_importable_from_runs():
    code = ("import sys; from genzoo.config import config_from_recipe as f; "
            "c = f('vae-digits', ['model.z_dim=16'], epochs=1); print(c.model['z_dim'], c.epochs, c.max_steps, "
            "'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["16", "1", "None", "False"]
    from genzoo.config import config_from_recipe
    from genzoo.runs import config_from_recipe as from_runs
    assert from_runs is config_from_recipe


def test_catalogue_matches_the_registries():
    """The torch-free catalogue that `genzoo list` reads is the registries' own names and descriptions."""
    from genzoo.data import dataset_info, dataset_names
    from genzoo.models import model_families

    families = model_families()
    assert list(FAMILIES) == list(families)
    for name, (module, doc) in FAMILIES.items():
        assert families[name].__module__ == module
        assert doc == docstring_summary(families[name].__doc__), name
    assert list(DATASETS) == dataset_names()
    for name, (module, doc) in DATASETS.items():
        info = dataset_info(name)
        assert (info.reader.__module__, info.description) == (module, doc), name


def test_first_sentence_keeps_abbreviations():
    assert first_sentence('Foster 1st ed. ch. 1 "Planet Pixel": naive Bayes. Top row: data.') == \
        'Foster 1st ed. ch. 1 "Planet Pixel": naive Bayes.'
    assert first_sentence("Train it, e.g. Fashion-MNIST. More.") == "Train it, e.g. Fashion-MNIST."
    assert first_sentence("One line\n    over two. Second.") == "One line over two."
    assert first_sentence("No full stop") == "No full stop"


def test_short_help_shows_each_commands_first_sentence():
    out = CliRunner().invoke(cli, ["--help"], terminal_width=200).output
    lines = {ln.split()[0]: " ".join(ln.split()[1:]) for ln in out.split("Commands:")[1].strip().splitlines()}
    assert set(lines) == set(cli.commands)
    for name, cmd in cli.commands.items():
        assert lines[name] == first_sentence(cmd.help), name
        assert not lines[name].endswith("...")
    assert lines["irm"].startswith("Foster 1st ed. ch. 1: the multinomial and naive-Bayes models")
    assert lines["planet-pixel"] == 'Foster 1st ed. ch. 1 "Planet Pixel": naive Bayes over pixels.'
    assert lines["analyze"] == "The book's ch. 3-4 analyses of a trained run, written as PNGs (and JSON numbers)."


def test_list_shows_full_descriptions_in_aligned_columns():
    out = CliRunner().invoke(cli, ["list"]).output
    sections = {}
    for block in out.strip().split("\n\n"):
        title, *rows = block.splitlines()
        sections[title] = rows
    assert set(sections) == {"Recipes:", "Model families:", "Datasets:"}
    for title, rows in sections.items():
        assert all(r.startswith("  ") for r in rows)
        # every column starts at the same offset in every row
        starts = {tuple(i for i in range(1, len(r)) if r[i - 1] == " " and r[i] != " " and r[i - 2] == " ")
                  for r in rows}
        if title == "Recipes:":
            assert len({s[:2] for s in starts}) == 1, rows
            assert "family=realnvp-points" in out and all(len(r.split()) == 3 for r in rows)
        else:
            assert len({s[0] for s in starts}) == 1, rows
    family_lines = {r.split()[0]: r.split(None, 1)[1] for r in sections["Model families:"]}
    assert family_lines == {name: doc for name, (_, doc) in FAMILIES.items()}
    assert family_lines["autoencoder"].endswith('(the book\'s "new exhibition", Fig. 3.3).')
    dataset_lines = {r.split()[0]: r.split(None, 1)[1] for r in sections["Datasets:"]}
    assert dataset_lines == {name: doc for name, (_, doc) in DATASETS.items()}


def test_gzipped_idx_files_are_decoded_once_and_cached(tmp_path, monkeypatch):
    import gzip
    import shutil

    from genzoo.data.idx import read_idx

    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "train-images-idx3-ubyte.gz"
    shutil.copy(MINI_FASHION / "train-images-idx3-ubyte.gz", src)
    first = read_idx(src)
    cached = list((tmp_path / "cache" / "decoded-idx").glob("train-images-idx3-ubyte-*.npy"))
    assert len(cached) == 1 and first.shape == (512, 28, 28) and first.dtype == torch.uint8
    assert torch.equal(read_idx(src), first)
    cached[0].write_bytes(b"not a numpy file")                  # unreadable: decoded again, rewritten
    assert torch.equal(read_idx(src), first)
    assert torch.equal(torch.from_numpy(np.load(cached[0])), first)
    with gzip.open(MINI_FASHION / "train-images-idx3-ubyte.gz") as f:
        raw = bytearray(f.read())
    raw[16] = 255                                                  # a replaced file gets its own entry
    with gzip.open(src, "wb") as f:
        f.write(bytes(raw))
    os.utime(src, ns=(1, 1))
    changed = read_idx(src)
    assert changed[0, 0, 0] == 255 and not torch.equal(changed, first)
    assert len(list((tmp_path / "cache" / "decoded-idx").glob("*.npy"))) == 2


def test_tensorboard_writer_is_made_at_the_first_metric_line(tmp_path):
    pytest.importorskip("tensorboard")
    from genzoo.training.tb_writer import LazySummaryWriter

    writer = LazySummaryWriter(tmp_path / "tb")
    writer.flush()
    assert writer._writer is None and not (tmp_path / "tb").exists()   # nothing logged: nothing made
    writer.add_scalar("train/loss", 1.0, 1)
    writer.flush()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_a_run_still_writes_tensorboard_events(tmp_path):
    pytest.importorskip("tensorboard")
    from conftest import train_args
    from genzoo.cli import cli

    run = tmp_path / "run"
    r = CliRunner().invoke(cli, train_args("homl-vae", run, 6, "--set", "tensorboard=true",
                                           "--set", "sample_every_epoch=false"), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
