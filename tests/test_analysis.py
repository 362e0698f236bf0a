"""The ch. 3-4 analyses (``genzoo analyze``): the pure functions on hand-made tensors, every analysis on
tiny trained runs (files exist, PNGs have the expected size), the skips and errors, and a generator-only
(GAN-like) model."""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torch import nn

from conftest import MINI_FASHION
from genzoo.analysis import run_analysis
from genzoo.analysis import run as analysis_run
from genzoo.analysis.grid import grid_layout, make_grid, save_grid
from genzoo.analysis.plots import class_colours, scatter_figure
from genzoo.analysis.curves import metric_groups, numeric_series, read_metrics, wants_log_scale
from genzoo.analysis.latent import (add_vector, attribute_vector, gaussian_fit_stats, latent_grid, lerp,
                                    nearest_neighbours, normal_quantiles, pca_2d, sample_codes, slerp)
from genzoo.cli import cli
from genzoo.config import ConfigError
from genzoo.models.base import ArrayModel, ArrayModelConfig
from genzoo.models.capabilities import FromLatent, Samples
from genzoo.runs import config_from_recipe, load_run, train

PAD = 2  # save_grid's padding


def grid_size(cols: int, rows: int, side: int = 28, scale: int = 2) -> tuple[int, int]:
    """Pixel size (width, height) of the image cells of a save_grid PNG of ``rows×cols`` images."""
    return ((cols * (side + PAD) + PAD) * scale, (rows * (side + PAD) + PAD) * scale)


def png_size(path: str | Path) -> tuple[int, int]:
    with Image.open(path) as im:
        im.verify()  # a complete, valid PNG
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def labelled_grid_size(path: str | Path, side: int = 28) -> tuple[int, int]:
    """(cols, rows) of a labelled save_grid PNG, after checking that the PNG is its image cells (at the
    recorded scale, at least 2) plus label strips left and above, and that those strips carry text."""
    layout = grid_layout(path)
    cols, rows, scale = layout["cols"], layout["rows"], layout["scale"]
    assert layout["cell"] == [side, side] and scale >= 2
    left, top = layout["origin"]
    w, h = png_size(path)
    cells = grid_size(cols, rows, side, scale)
    assert h == top + cells[1] and w >= left + cells[0] and top > 0
    with Image.open(path) as im:
        grey = np.asarray(im.convert("L"))
    assert grey[:top].min() < 100                      # the title / header strip is not blank
    if left:
        assert grey[top:, :left].min() < 100           # nor the row labels
    return cols, rows


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Another job shares the machine: one thread here, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train(root: Path, recipe: str, steps: int, *overrides: str) -> Path:
    cfg = config_from_recipe(recipe, [f"data.data_dir={MINI_FASHION}", "log_every=5", "tensorboard=false",
                                      "sample_every_epoch=false", "num_threads=1", *overrides], max_steps=steps)
    run_dir, _ = train(cfg, root / recipe, progress=False)
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Tiny trained runs on the fixture data, shared by the module's tests."""
    root = tmp_path_factory.mktemp("analysis-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENZOO_CACHE", str(root / "cache"))
        return {"vae": _train(root, "vae-digits", 20), "ae": _train(root, "ae-digits", 20)}


# --------------------------------------------------------------------------------------------------
# Pure functions


def test_attribute_vector_is_mean_difference():
    codes = torch.tensor([[1.0, 2.0], [3.0, 4.0], [10.0, 0.0], [0.0, 0.0], [-2.0, 2.0]])
    has = torch.tensor([1, 1, 0, 0, 0])
    expected = torch.tensor([2.0, 3.0]) - torch.tensor([8.0 / 3, 2.0 / 3])
    assert torch.allclose(attribute_vector(codes, has), expected)
    unit = attribute_vector(codes, has, normalize=True)
    assert torch.allclose(unit, expected / expected.norm()) and unit.norm().item() == pytest.approx(1.0)
    moved = add_vector(codes[:2], unit, [-1.0, 0.0, 2.0])
    assert moved.shape == (2, 3, 2)
    assert torch.allclose(moved[:, 1], codes[:2]) and torch.allclose(moved[1, 2], codes[1] + 2 * unit)
    with pytest.raises(ConfigError, match="with and without"):
        attribute_vector(codes, torch.ones(5))


def test_nearest_of_a_training_image_is_itself_at_distance_zero():
    g = torch.Generator().manual_seed(0)
    train_set = torch.randint(0, 256, (50, 1, 8, 8), generator=g, dtype=torch.uint8)
    queries = train_set[[7, 31, 49]].float()
    for metric in ("l1", "l2"):
        d, idx = nearest_neighbours(queries, train_set, metric, chunk=16)  # chunks of 16, 16, 16, 2
        assert idx.tolist() == [7, 31, 49]
        assert torch.allclose(d, torch.zeros(3), atol=1e-3)
    # Away from the training set: the brute-force minimum, whatever the chunking.
    other = torch.rand(5, 64, generator=g) * 255
    d1, i1 = nearest_neighbours(other, train_set, "l1", chunk=7, query_chunk=2)
    full = (other[:, None] - train_set.reshape(50, -1).float()[None]).abs().mean(2)
    assert torch.allclose(d1, full.min(1).values, rtol=1e-5) and torch.equal(i1, full.argmin(1))
    # A callable that yields chunks (how the training set is streamed) gives the same answer.
    d2, i2 = nearest_neighbours(other, lambda: iter(train_set.float().split(9)), "l1")
    assert torch.allclose(d1, d2) and torch.equal(i1, i2)


def test_gaussian_fit_stats_of_standard_normal_codes():
    z = torch.randn(40_000, 3, generator=torch.Generator().manual_seed(1))
    s = gaussian_fit_stats(z)
    assert all(abs(m) < 0.03 for m in s["mean"]) and all(abs(v - 1) < 0.03 for v in s["std"])
    assert all(k < 1e-3 for k in s["kl_to_standard_normal"])
    shifted = gaussian_fit_stats(1.0 + 2.0 * z[:, :1])  # N(1, 2²): KL = ½(4 + 1 − 1 − ln 4)
    assert shifted["kl_to_standard_normal"][0] == pytest.approx(0.5 * (4 - math.log(4)), rel=0.02)


def test_sample_codes_draws_from_the_posterior():
    mu, log_var = torch.full((20_000, 2), 3.0), torch.full((20_000, 2), math.log(0.25))
    z = sample_codes(mu, log_var, torch.Generator().manual_seed(0))
    assert z.mean().item() == pytest.approx(3.0, abs=0.02) and z.std().item() == pytest.approx(0.5, abs=0.02)
    assert sample_codes(mu, None) is mu  # an autoencoder's codes are deterministic


def test_slerp_and_lerp_endpoints_and_paths():
    a, b = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])
    for fn in (slerp, lerp):
        path = fn(a, b, 5)
        assert path.shape == (5, 3)
        assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    # slerp keeps the norm between equal-norm vectors; lerp cuts through the middle.
    assert torch.allclose(slerp(a, b, 5).norm(dim=1), torch.full((5,), 3.0), atol=1e-5)
    assert lerp(a, b, 3)[1].norm().item() == pytest.approx(3 / math.sqrt(2))
    batch_a, batch_b = torch.randn(4, 6), torch.randn(4, 6)
    p = slerp(batch_a, batch_b, 7)
    assert p.shape == (4, 7, 6) and torch.equal(p[:, 0], batch_a) and torch.equal(p[:, -1], batch_b)
    assert torch.isfinite(slerp(a, 2 * a, 4)).all()  # parallel vectors: no division by sin 0


def test_normal_quantile_grid():
    q = normal_quantiles(3)
    assert torch.allclose(q, torch.tensor([-1.644854, 0.0, 1.644854]), atol=1e-5)  # norm.ppf(0.05, 0.5, 0.95)
    z = latent_grid(torch.tensor([0.0, 1.0]), torch.tensor([-1.0, 1.0]))
    assert z.tolist() == [[0.0, 1.0], [1.0, 1.0], [0.0, -1.0], [1.0, -1.0]]  # top row = largest z[1]


def test_pca_2d_finds_the_spread_directions():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(2000, 5, generator=g) * torch.tensor([5.0, 0.1, 0.1, 2.0, 0.1])
    proj, ratio = pca_2d(codes)
    assert proj.shape == (2000, 2) and ratio[0] > ratio[1] > 0.1 and sum(ratio) > 0.99


def test_curves_reading_and_grouping(tmp_path):
    rows = [{"step": 10, "epoch": 0.1, "images_per_s": 5.0, "lr": {"generator": 1e-3, "discriminator": 1e-3},
             "d_loss": 0.7, "g_loss": 2.0, "d_acc": 0.5},
            {"step": 20, "epoch": 0.2, "images_per_s": 5.0, "lr": {"generator": 1e-3, "discriminator": 1e-3},
             "d_loss": 0.6, "g_loss": 9.0, "d_acc": 0.6},
            {"step": 20, "epoch": 0.2, "images_per_s": 5.0, "lr": {"generator": 1e-3, "discriminator": 1e-3},
             "d_loss": 0.5, "g_loss": 3.0, "d_acc": 0.7}]  # step 20 logged again after a resume
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 30, "d_lo')  # cut by a kill
    got = read_metrics(path)
    assert [r["step"] for r in got] == [10, 20] and got[1]["g_loss"] == 3.0
    series = numeric_series(got)
    assert set(series) == {"d_loss", "g_loss", "d_acc"}  # constant learning rates are not plotted
    groups = metric_groups(list(series))
    assert list(groups) == ["loss", "acc"] and groups["loss"] == ["d_loss", "g_loss"]  # Fig. 4-7: same axes
    groups = metric_groups(["d_loss", "d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake", "kl"])
    assert groups == {"loss": ["d_loss", "d_loss_fake", "d_loss_real", "g_loss"], "acc": ["d_acc_fake", "d_acc_real"],
                      "kl": ["kl"]}
    assert wants_log_scale([0.001, 1.0]) and not wants_log_scale([-1.0, 5.0]) and not wants_log_scale([1.0, 2.0])
    with pytest.raises(ConfigError, match="log_every"):
        read_metrics(tmp_path / "nothing.jsonl")


# --------------------------------------------------------------------------------------------------
# Labelled grids and the scatter plot's colours


def test_unlabelled_grid_is_the_plain_grid(tmp_path):
    images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    path = save_grid(images, tmp_path / "g.png", nrow=3, scale=2)
    assert png_size(path) == grid_size(3, 2) and grid_layout(path)["origin"] == [0, 0]
    assert np.array_equal(np.asarray(Image.open(path)), np.kron(make_grid(images, 3), np.ones((2, 2), np.uint8)))


def test_labelled_grid_keeps_the_images_and_draws_the_labels(tmp_path):
    images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    path = save_grid(images, tmp_path / "g.png", nrow=3, scale=2, row_labels=["original", "reconstruction"],
                     col_labels=["a", "b", "c"], title="a title")
    layout = grid_layout(path)
    left, top = layout["origin"]
    assert layout["rows"] == 2 and layout["cols"] == 3 and layout["scale"] == 2 and left > 40 and top > 20
    assert png_size(path) == (left + grid_size(3, 2)[0], top + grid_size(3, 2)[1])
    pixels = np.asarray(Image.open(path))
    cells = np.kron(make_grid(images, 3), np.ones((2, 2), np.uint8))
    assert np.array_equal(pixels[top:, left:], cells)             # the images are untouched, just moved
    assert pixels[top:, :left].min() < 100 and pixels[:top].min() < 100   # text in both label strips
    assert labelled_grid_size(path) == (3, 2)
    with pytest.raises(ValueError, match="3 row labels for 2 rows"):
        save_grid(images, tmp_path / "bad.png", nrow=3, row_labels=["x", "y", "z"])


def test_labelled_grid_enlarges_small_images_until_headers_fit(tmp_path):
    """16×16 completions at scale 2 are 36 px wide, too narrow for "completion": the grid scales them up."""
    images = torch.rand(9, 3, 16, 16)
    path = save_grid(images, tmp_path / "c.png", nrow=3, scale=2, col_labels=["original", "given", "completion"])
    layout = grid_layout(path)
    assert layout["scale"] >= 4 and layout["channels"] == 3
    assert Image.open(path).mode == "RGB" and labelled_grid_size(path, side=16) == (3, 3)


def test_scatter_uses_distinct_colours_and_names_the_classes():
    colours = class_colours(10)
    assert len(set(colours)) == 10 and class_colours(20) is not None and class_colours(21) is None
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    points = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    fig = scatter_figure(points, torch.arange(200) % 10, "t", names)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [f"{i}: {n}" for i, n in enumerate(names)]
    fig = scatter_figure(points, torch.arange(200) % 30, "t")       # too many classes: a colour bar instead
    assert fig.axes[0].get_legend() is None and len(fig.axes) == 2


# --------------------------------------------------------------------------------------------------
# On trained runs


def test_all_on_a_vae_writes_every_analysis(runs, tmp_path):
    out = tmp_path / "ana"
    result = run_analysis(runs["vae"], "all", out_dir=out)
    json.dumps(result)  # JSON-able as the CLI prints it
    text_only = ["temperatures", "attention", "positions"]
    vae_analyses = {"reconstructions", "latent-scatter", "latent-grid", "interpolate", "arithmetic", "histograms",
                    "nearest", "curves"}
    assert set(result["skipped"]) == set(analysis_run.ANALYSES) - vae_analyses and "points" in result["skipped"]["flow"]
    assert all("tokens" in result["skipped"][a] for a in text_only)
    assert "truncation trick" in result["skipped"]["truncation"]      # other families' figures say what they need
    r = result["results"]
    assert set(r) == vae_analyses
    for name in r:
        assert (out / f"{name}.png").exists() and (out / f"{name}.json").exists()
        assert json.loads((out / f"{name}.json").read_text())["analysis"] == name
    assert labelled_grid_size(out / "reconstructions.png") == (10, 2)
    assert labelled_grid_size(out / "latent-grid.png") == (15, 15)
    assert labelled_grid_size(out / "interpolate.png") == (10 + 2, 4)
    assert labelled_grid_size(out / "arithmetic.png") == (1 + 9, 5)
    assert labelled_grid_size(out / "nearest.png") == (8, 2)
    for name in ("latent-scatter", "histograms", "curves"):
        w, h = png_size(out / f"{name}.png")
        assert w > 300 and h > 200
    assert 0 < r["reconstructions"]["mse_per_pixel"] < 0.5 and r["reconstructions"]["mse_images"] == 128
    assert r["latent-scatter"]["points"] == 128 and r["latent-scatter"]["coloured_by"] == "class label"
    assert r["histograms"]["plotted"].startswith("z sampled") and len(r["histograms"]["stats"]["mu"]["std"]) == 2
    ar = r["arithmetic"]
    assert ar["attribute"].startswith("class 0") and ar["images_with"] + ar["images_without"] == 128
    assert torch.tensor(ar["vector"]).norm().item() == pytest.approx(1.0, abs=1e-5)
    assert ar["mean_projection_with"] > ar["mean_projection_without"]  # the vector points to the class
    nr = r["nearest"]
    assert nr["training_images"] == 512 and len(nr["sample_distances"]) == 8
    assert nr["mean_sample_nearest"] > 0 and nr["mean_held_out_nearest"] > 0
    assert r["curves"]["last_step"] == 20 and {"loss", "kl", "mse"} <= set(r["curves"]["metrics"])


def test_reconstruction_error_matches_the_model(runs, tmp_path):
    result = run_analysis(runs["ae"], "reconstructions", out_dir=tmp_path, n=4)
    assert labelled_grid_size(tmp_path / "reconstructions.png") == (4, 2)
    from genzoo.data import load_images

    cfg, model = load_run(runs["ae"])
    data = load_images(cfg.data, tuple(model.config.input_shape), split="test")
    x = data.images.float() / 255
    with torch.no_grad():
        mse = (model.reconstruct(x) - x).pow(2).mean().item()
    assert result["mse_per_pixel"] == pytest.approx(mse, rel=1e-4)


def test_cli_analyze_prints_json_and_defaults_to_run_folder(runs):
    r = CliRunner().invoke(cli, ["analyze", str(runs["ae"]), "arithmetic", "--attribute", "Trouser", "-n", "3"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["attribute"] == "class 1 (Trouser) vs the rest" and result["rows"] == 3
    assert Path(result["files"][0]) == runs["ae"] / "analysis" / "arithmetic.png"
    assert labelled_grid_size(result["files"][0]) == (10, 3)
    bad = CliRunner().invoke(cli, ["analyze", str(runs["ae"]), "arithmetic", "--attribute", "42"])
    assert bad.exit_code == 2 and "classes 0..9" in bad.output


def test_latent_grid_needs_a_2d_latent_space(runs, tmp_path):
    run = _train(tmp_path, "vae-digits", 2, "model.z_dim=3")
    with pytest.raises(ConfigError, match="model.z_dim=3"):
        run_analysis(run, "latent-grid", out_dir=tmp_path / "a")
    r = CliRunner().invoke(cli, ["analyze", str(run), "latent-grid", "--out", str(tmp_path / "a")])
    assert r.exit_code == 2 and "2-D latent plane" in r.output
    scatter = run_analysis(run, "latent-scatter", out_dir=tmp_path / "a", n=50)
    assert "PCA" in scatter["projection"] and scatter["points"] == 50 and len(scatter["explained_variance_ratio"]) == 2


def test_curves_work_on_a_run_without_checkpoint(runs, tmp_path):
    """The curves of a run still training need only config.yaml and metrics.jsonl."""
    run = tmp_path / "young"
    run.mkdir()
    shutil.copy(runs["vae"] / "config.yaml", run / "config.yaml")
    shutil.copy(runs["vae"] / "metrics.jsonl", run / "metrics.jsonl")
    result = run_analysis(run, "curves")
    assert (run / "analysis" / "curves.png").exists() and result["rows"] == 5
    with pytest.raises(ConfigError, match="no checkpoint"):
        run_analysis(run, "reconstructions")


# --------------------------------------------------------------------------------------------------
# A generator-only model, as the GAN families will be


@dataclass
class _StubConfig(ArrayModelConfig):
    z_dim: int = 2


class _StubGAN(ArrayModel, Samples, FromLatent):
    """Declares sampling and decoding from a latent vector, and no encoder: the capabilities of the GAN families."""

    family = "stub-gan"
    config_class = _StubConfig

    def __init__(self):
        super().__init__(_StubConfig(data_range="pm1"))
        torch.manual_seed(0)
        self.net = nn.Linear(2, 28 * 28)

    def decode(self, z, condition=None):
        return torch.tanh(self.net(z)).view(-1, 1, 28, 28)

    @torch.no_grad()
    def sample(self, n, *, generator=None, condition=None):
        return self.to_unit(self.decode(torch.randn(n, 2, generator=generator)))


def test_generator_only_models_skip_encoder_analyses(runs, tmp_path, monkeypatch):
    stub = _StubGAN().eval()
    monkeypatch.setattr(analysis_run.Context, "model", property(lambda self: stub))
    result = run_analysis(runs["vae"], "all", out_dir=tmp_path, n=6)
    other_data = {"flow", "temperatures", "attention", "positions", "answers", "truncation", "truncation-curve",
                  "style-mixing", "noise-effect", "style-interpolation"}
    assert set(result["skipped"]) == {"reconstructions", "latent-scatter", "arithmetic", "histograms", *other_data}
    assert all("encoder" in why for name, why in result["skipped"].items() if name not in other_data)
    r = result["results"]
    assert r["interpolate"]["method"].startswith("spherical")
    assert labelled_grid_size(tmp_path / "interpolate.png") == (6, 4)
    assert labelled_grid_size(tmp_path / "latent-grid.png") == (6, 6)
    assert labelled_grid_size(tmp_path / "nearest.png") == (6, 2)
    assert r["latent-grid"]["span"].startswith("N(0, 1)")
