"""CycleGAN and pix2pix (genzoo.models.cyclegan, genzoo.models.pix2pix): the book's losses and networks, the image
pool, the linear decay, training, exact resume, the translate task and command, the progress galleries, the
``translation`` metric and the translation analyses, on a small paired two-domain folder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from genzoo.cli import cli
from genzoo.config import ConfigError, DataConfig, OptimConfig
from genzoo.data import load_data
from genzoo.models import build_model
from genzoo.nn.image_pool import ImagePool
from genzoo.training.gradient import scheduled_lr

SIZE = 32


def _shape_image(rng: np.random.Generator) -> np.ndarray:
    """A coloured rectangle and disc on white: domain A."""
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    x0, y0 = rng.integers(0, SIZE // 2, 2)
    img[y0:y0 + rng.integers(6, SIZE // 2), x0:x0 + rng.integers(6, SIZE // 2)] = rng.integers(0, 200, 3)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    cy, cx, r = *rng.integers(8, SIZE - 8, 2), rng.integers(3, 7)
    img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 200, 3)
    return img


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    """trainA/trainB/testA/testB with the same names: B is A with its colours inverted and mirrored."""
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    for split, n in (("train", 24), ("test", 8)):
        for i in range(n):
            a = _shape_image(rng)
            for side, img in (("A", a), ("B", 255 - a[:, ::-1])):
                (root / f"{split}{side}").mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.ascontiguousarray(img)).save(root / f"{split}{side}" / f"{i:03d}.png")
    return root


def _args(recipe: str, data: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return ["train", recipe, "--data-dir", str(data), "--max-steps", str(steps), "--out", str(out), "--no-progress",
            "--set", "data.name=two-domain-folder", "--set", f"data.image_size={SIZE}",
            "--set", f"model.input_shape=[3,{SIZE},{SIZE}]", "--set", "tensorboard=false", "--set", "log_every=2",
            "--set", "sample_n=3", *extra]


# The linear decay ends at the run's target step unless told: a run cut short and resumed must share the end.
FIXED_DECAY = ("--set", "sample_every=4", "--set", "optim.generator.decay_steps=8",
               "--set", "optim.discriminator.decay_steps=8")


@pytest.fixture(scope="module")
def cyclegan_run(pairs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cg") / "run"
    r = CliRunner().invoke(cli, _args("cyclegan-emoji", pairs, out, 8, *FIXED_DECAY), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def pix2pix_run(pairs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("p2p") / "run"
    r = CliRunner().invoke(cli, _args("pix2pix-emoji", pairs, out, 6), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# -- networks and losses ----------------------------------------------------------------------------------
def test_the_books_parameter_counts():
    from genzoo.nn.translation import Pix2PixUNet

    apple = build_model({"family": "cyclegan", "input_shape": [3, 128, 128]})
    count = lambda m: sum(p.numel() for p in m.parameters())                        # noqa: E731
    assert count(apple.generator["g_AB"]) == 1_545_411 and count(apple.discriminator["d_A"]) == 694_241
    monet = build_model({"family": "cyclegan", "input_shape": [3, 256, 256], "generator": "resnet",
                         "d_filters": 64})
    assert count(monet.generator["g_BA"]) == 2_850_563 and count(monet.discriminator["d_B"]) == 2_764_737
    assert count(Pix2PixUNet(3, 64, 8)) == 54_413_955                   # the reference unet_256 logs 54.414 M
    assert apple.discriminator["d_A"](torch.zeros(1, 3, 128, 128)).shape == (1, 1, 16, 16)   # the book's erratum


def test_generator_loss_is_the_books_weighted_sum():
    torch.manual_seed(0)
    model = build_model({"family": "cyclegan", "input_shape": [3, 32, 32], "lambda_id": 2.0})
    from genzoo.data.loader import Batch

    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    out = model.generator_loss(Batch(a, target=b))
    assert torch.allclose(out["loss"], out["adv"] + 10 * out["cycle"] + 2 * out["id"], rtol=1e-5)
    g_ab, g_ba = model.generator["g_AB"], model.generator["g_BA"]
    with torch.no_grad():
        cycle = (g_ba(g_ab(a)) - a).abs().mean() + (g_ab(g_ba(b)) - b).abs().mean()
    assert torch.allclose(out["cycle"], cycle, rtol=1e-5)
    ablation = build_model({"family": "cyclegan", "input_shape": [3, 32, 32], "lambda_id": 0.0})
    assert "id" not in ablation.generator_loss(Batch(a, target=b))      # λ_id = 0 skips the identity passes


def test_bad_configs_are_refused_with_the_fix():
    with pytest.raises(ConfigError, match="divides by 16"):
        build_model({"family": "cyclegan", "input_shape": [3, 40, 40]})
    with pytest.raises(ConfigError, match="generator must be one of"):
        build_model({"family": "cyclegan", "generator": "vgg"})
    with pytest.raises(ConfigError, match="lambda_validation must be > 0"):
        build_model({"family": "cyclegan", "lambda_validation": 0})
    with pytest.raises(ConfigError, match="gan_loss"):
        build_model({"family": "pix2pix", "gan_loss": "hinge"})


def test_image_pool_fills_then_swaps_half_and_is_checkpointed():
    torch.manual_seed(0)
    pool = ImagePool(4, [1, 2, 2])
    first = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert torch.equal(pool.query(first), first) and int(pool.filled) == 3     # filling: shown as they are
    shown = pool.query(torch.full((200, 1, 2, 2), 9.0))
    assert int(pool.filled) == 4
    old = (shown[1:, 0, 0, 0] != 9).float().mean().item()                       # after the first, which fills
    assert 0.35 < old < 0.65                                                    # half are swapped for stored ones
    assert set(pool.state_dict()) == {"images", "filled"}
    assert torch.equal(ImagePool(0, [1, 2, 2]).query(first), first)


def test_linear_decay_holds_then_falls_to_min_lr():
    cfg = OptimConfig(lr=2e-4, schedule="linear")
    lrs = [scheduled_lr(cfg, s, 200) for s in range(201)]
    assert lrs[0] == lrs[99] == 2e-4 and lrs[150] == pytest.approx(1e-4) and lrs[200] == 0.0
    cfg = OptimConfig(lr=1.0, schedule="linear", decay_start=10, decay_steps=20, min_lr=0.5)
    assert scheduled_lr(cfg, 9, 99) == 1.0 and scheduled_lr(cfg, 15, 99) == pytest.approx(0.75)


def test_pairing_unpaired_serves_the_training_split_unpaired_and_keeps_the_test_pairs(pairs):
    cfg = DataConfig(name="two-domain-folder", data_dir=str(pairs), pairing="unpaired")
    assert not load_data(cfg, split="train").paired
    assert load_data(cfg, split="test").paired


# -- training, resume, tasks ------------------------------------------------------------------------------
def test_cyclegan_trains_logs_the_book_components_and_writes_progress_galleries(cyclegan_run):
    rows = _rows(cyclegan_run)
    last = rows[-1]
    for key in ("d_loss", "d_loss_A", "d_loss_B", "g_adv", "g_cycle", "g_id", "g_loss"):
        assert np.isfinite(last[key]), key
    assert rows[0]["g_loss"] != last["g_loss"]
    galleries = sorted(p.name for p in (cyclegan_run / "samples").glob("*.png"))
    assert galleries == ["final.png", "step-0000004.png"]
    spec = json.loads((cyclegan_run / "data_spec.json").read_text())
    assert spec["extra"]["paired"] is False                       # the recipe's data.pairing: unpaired


def test_cyclegan_resumes_exactly(pairs, cyclegan_run, tmp_path):
    runner = CliRunner()
    part = tmp_path / "part"
    r = runner.invoke(cli, _args("cyclegan-emoji", pairs, part, 4, *FIXED_DECAY), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["resume", str(part), "--max-steps", "8", "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    from genzoo.run_context import RunContext

    a, b = RunContext(part).model.state_dict(), RunContext(cyclegan_run).model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)     # weights, pools, all


def test_sample_and_translate_draw_the_evaluation_grid(cyclegan_run, pairs, tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["sample", str(cyclegan_run), "-n", "2", "--out", str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["columns"] == ["original", "translated", "reconstructed", "identity", "true counterpart"]
    assert out["shape"] == [20, 3, SIZE, SIZE]                     # 2 directions × 2 rows × 5 columns
    files = [str(pairs / "testA" / "000.png"), str(pairs / "testA" / "001.png")]
    r = runner.invoke(cli, ["translate", str(cyclegan_run), *files, "--direction", "AB", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["directions"] == ["AB"] and out["shape"] == [8, 3, SIZE, SIZE]
    r = runner.invoke(cli, ["translate", str(cyclegan_run), *files])
    assert r.exit_code != 0 and "say which with --direction" in r.output
    r = runner.invoke(cli, ["translate", str(cyclegan_run), "--direction", "AC"])
    assert r.exit_code != 0 and "translates AB and BA" in r.output
    r = runner.invoke(cli, ["translate", str(cyclegan_run), str(tmp_path / "nope.png"), "--direction", "AB"])
    assert r.exit_code != 0 and "no such image file" in r.output


def test_translation_metric_and_analyses(cyclegan_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(cyclegan_run, run)
    from genzoo.metrics.evaluate import evaluate_run

    res = evaluate_run(run, metrics="translation", log=lambda s: None, progress=False)
    t = res["metrics"]["translation"]
    assert t["paired"] and "fid_skipped" in t                     # a user folder names no feature dataset
    for d in ("AB", "BA"):
        assert 0 <= t[d]["l1"] <= 1 and -1 <= t[d]["ssim"] <= 1 and t[d]["images"] == 8
        assert t[d]["untranslated_l1"] > 0 and "cycle_l1" in t[d] and "identity_l1" in t[d]
    from genzoo.metrics.compare import columns, run_row
    from genzoo.run_index import read_run

    assert set(read_run(run).metrics) == {"A→B L1", "B→A L1"}          # `genzoo runs` shows the headline
    row = run_row(run)
    assert row["tr_l1"].count("/") == 1 and ("tr_l1", "translation L1↓ A→B/B→A") in columns([row])
    from genzoo.analysis import run_analysis

    grid = run_analysis(run, "translation-grid", n=2)
    assert grid["columns"][-1] == "true counterpart" and Path(grid["files"][0]).exists()
    progress = run_analysis(run, "translation-progress", n=2)
    assert progress["stages"] == ["step-0000004", "final"]
    shift = run_analysis(run, "colour-shift", n=8)
    assert shift["AB"]["images"] == 8 and shift["AB"]["shift_from_target"] >= 0
    skipped = run_analysis(run, "all")["skipped"]
    assert "latent-scatter" in skipped and "translation-grid" not in skipped


def test_pix2pix_trains_on_pairs_only(pix2pix_run, pairs, tmp_path):
    last = _rows(pix2pix_run)[-1]
    assert np.isfinite(last["g_l1"]) and np.isfinite(last["d_loss"]) and "g_adv" in last
    r = CliRunner().invoke(cli, _args("pix2pix-emoji", pairs, tmp_path / "u", 2, "--set", "data.pairing=unpaired"))
    assert r.exit_code != 0 and "pix2pix learns from pairs" in r.output
    r = CliRunner().invoke(cli, ["translate", str(pix2pix_run), "-n", "2", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["columns"] == ["original", "translated", "true counterpart"]
