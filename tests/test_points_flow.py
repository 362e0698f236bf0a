"""Two-moons data and RealNVP on points (Foster 2nd ed. ch. 6): the data and its true density, the book's
network (794,632 parameters), exact inverse and Jacobian, a normalised density, and the CLI end to end."""
import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from genzoo.cli import cli
from genzoo.config import ConfigError, DataConfig
from genzoo.data import DataError, load_images
from genzoo.data.loader import Batch
from genzoo.data.points import gaussian_log_density, two_moons, two_moons_log_density
from genzoo.models import build_model
from genzoo.runs import config_from_recipe, prepare_model


def test_two_moons_is_standardised_with_train_statistics_and_deterministic():
    train = load_images(DataConfig(name="two-moons"), (2,))
    test = load_images(DataConfig(name="two-moons"), (2,), split="test")
    assert train.images.shape == (30_000, 2) and test.images.shape == (10_000, 2)
    assert train.images.dtype == torch.float32 and train.is_points
    assert torch.allclose(train.images.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(train.images.std(0), torch.ones(2), atol=1e-4)
    assert test.meta["standardisation"] == train.meta["standardisation"]
    assert not torch.allclose(test.images[:100], train.images[:100])       # an independent sample
    again = load_images(DataConfig(name="two-moons"), (2,))
    assert torch.equal(again.images, train.images)
    raw, moon = two_moons(2000, noise=0.0, seed=3)
    upper, lower = raw[moon == 0], raw[moon == 1]
    assert torch.allclose(upper.pow(2).sum(1), torch.ones(len(upper), dtype=torch.float64))  # on the unit arc
    assert bool((upper[:, 1] >= 0).all())
    centred = lower - torch.tensor([1.0, 0.5], dtype=torch.float64)                           # arc about (1, ½)
    assert torch.allclose(centred.pow(2).sum(1), torch.ones(len(lower), dtype=torch.float64))
    assert bool((lower[:, 1] <= 0.5).all()) and 0.4 < len(lower) / 2000 < 0.6


def test_true_moons_density_is_normalised_and_beats_a_gaussian():
    stats = load_images(DataConfig(name="two-moons"), (2,)).meta["standardisation"]
    axis = torch.linspace(-3, 3, 241, dtype=torch.float64)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([xx.flatten(), yy.flatten()], 1)
    mass = two_moons_log_density(grid, stats, arc_points=1000).exp().sum().item() * (6 / 240) ** 2
    assert mass == pytest.approx(1.0, abs=2e-3)
    train = load_images(DataConfig(name="two-moons"), (2,))
    test = load_images(DataConfig(name="two-moons"), (2,), split="test")
    true = two_moons_log_density(test.images[:2000], stats, arc_points=1000).mean().item()
    gauss = gaussian_log_density(train.images, test.images[:2000]).mean().item()
    assert true > gauss + 1.0


def test_user_points_from_csv_and_clear_errors(tmp_path):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "train.csv", rng.normal(5, 2, (300, 3)), delimiter=",")
    np.save(tmp_path / "test.npy", rng.normal(5, 2, (50, 3)))
    data = load_images(DataConfig(name="points", data_dir=str(tmp_path)), (3,))
    assert data.images.shape == (300, 3) and abs(data.images.mean().item()) < 1e-5
    assert load_images(DataConfig(name="points", data_dir=str(tmp_path)), (3,), split="test").images.shape == (50, 3)
    with pytest.raises(DataError, match="model expects"):
        load_images(DataConfig(name="points", data_dir=str(tmp_path)), (2,))
    with pytest.raises(DataError, match="--data-dir"):
        load_images(DataConfig(name="points"), (3,))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train.csv").write_text("1,2\nthree,4\n")
    with pytest.raises(DataError, match="cannot read"):
        load_images(DataConfig(name="points", data_dir=str(tmp_path / "bad")), (2,))
    with pytest.raises(DataError, match="holds images"):
        load_images(DataConfig(name="fashion-mnist", data_dir="tests/fixtures/fashion-mnist-mini"), (2,))
    with pytest.raises(DataError, match="use a point model"):
        load_images(DataConfig(name="two-moons"), (1, 28, 28))
    with pytest.raises(DataError, match="points"):
        load_images(DataConfig(name="two-moons", image_size=32), (2,))
    np.save(tmp_path / "train.npy", rng.normal(5, 2, (300, 3)))
    with pytest.raises(DataError, match="keep one"):
        load_images(DataConfig(name="points", data_dir=str(tmp_path)), (3,))
    (tmp_path / "flat").mkdir()
    np.savetxt(tmp_path / "flat" / "train.csv", np.c_[rng.normal(size=50), np.full(50, 7.0)], delimiter=",")
    with pytest.raises(DataError, match="constant"):
        load_images(DataConfig(name="points", data_dir=str(tmp_path / "flat")), (2,))
    (tmp_path / "one").mkdir()
    np.savetxt(tmp_path / "one" / "train.csv", rng.normal(size=(50, 1)), delimiter=",")
    with pytest.raises(DataError, match="D >= 2"):
        load_images(DataConfig(name="points", data_dir=str(tmp_path / "one")), (1,))


def test_book_network_size_and_l2_penalty():
    model = prepare_model(config_from_recipe("realnvp-moons", ["model.l2=0.01"]))
    assert sum(p.numel() for p in model.parameters()) == 794_632       # 2 couplings × (s, t) × 198,658
    kernels = sum(m.weight.pow(2).sum() for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert model.l2_penalty().item() == pytest.approx(0.01 * kernels.item(), rel=1e-6)
    out = model.loss(Batch(torch.randn(16, 2)))
    assert out["loss"].item() == pytest.approx(out["nll"].item() + out["l2"].item(), rel=1e-6)
    assert model.flow.layers[0].mask.tolist() == [[0.0, 1.0]] and model.flow.layers[1].mask.tolist() == [[1.0, 0.0]]
    book = prepare_model(config_from_recipe("realnvp-moons"))          # the book trains the NLL alone
    assert book.config.l2 == 0 and set(book.loss(Batch(torch.randn(4, 2)))) == {"loss", "nll"}
    with pytest.raises(ConfigError, match=r"\[D\]"):
        build_model({"family": "realnvp-points", "input_shape": [1, 28, 28]})


def _random_point_flow(dims: int = 2) -> torch.nn.Module:
    torch.manual_seed(1)
    model = build_model({"family": "realnvp-points", "input_shape": [dims], "hidden": 16, "depth": 2,
                         "couplings": 4, "learned_scale": True}).double()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.4)
    return model.eval()


def test_point_flow_inverse_jacobian_and_normalised_density():
    model = _random_point_flow(3)
    x = torch.randn(7, 3, dtype=torch.float64)
    z, logdet = model.to_latent(x)
    assert torch.allclose(model.from_latent(z), x, atol=1e-10)
    for i in range(3):
        jac = torch.autograd.functional.jacobian(lambda v: model.to_latent(v[None])[0][0], x[i])
        assert logdet[i].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-9)
    model2 = _random_point_flow(2)
    axis = torch.linspace(-8, 8, 801, dtype=torch.float64)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    mass = model2.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).exp().sum().item() * (16 / 800) ** 2
    assert mass == pytest.approx(1.0, abs=0.01)


def test_point_flow_learns_the_moons_beyond_a_gaussian():
    torch.manual_seed(0)
    data = load_images(DataConfig(name="two-moons"), (2,))
    model = build_model({"family": "realnvp-points", "input_shape": [2], "hidden": 32, "depth": 2,
                         "couplings": 4, "l2": 0.0})
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(250):
        x = data.images[torch.randint(0, len(data), (128,))]
        loss = model.loss(Batch(x))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = load_images(DataConfig(name="two-moons"), (2,), split="test").images[:2000]
    with torch.no_grad():
        flow = model.log_prob(test).mean().item()
    gauss = gaussian_log_density(data.images, test).mean().item()
    assert flow > gauss + 0.3


def test_moons_cli_train_resume_eval_sample_analyze(tmp_path):
    run = tmp_path / "moons"
    runner = CliRunner()
    small = ["--set", "model.hidden=16", "--set", "model.depth=2", "--set", "sample_n=200", "--set", "log_every=5",
             "--set", "tensorboard=false", "--set", "checkpoint_every=10"]
    result = runner.invoke(cli, ["train", "realnvp-moons", "--max-steps", "10", "--out", str(run), "--no-progress",
                                 *small], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (run / "samples" / "final.png").exists()
    result = runner.invoke(cli, ["resume", str(run), "--max-steps", "15", "--no-progress"], catch_exceptions=False)
    assert json.loads(result.stdout[result.stdout.index("{"):])["steps"] == 15
    result = runner.invoke(cli, ["eval", str(run), "--metrics", "nll", "--limit", "500", "--num-samples", "300"],
                           catch_exceptions=False)
    nll = json.loads((run / "eval.json").read_text())["metrics"]["nll"]
    assert nll["points"] == 500 and "bits_per_dim_8bit" not in nll
    assert nll["true_log_prob_nats"] > nll["log_prob_nats"] and math.isfinite(nll["samples_true_log_prob_nats"])
    result = runner.invoke(cli, ["eval", str(run), "--metrics", "fid"], catch_exceptions=False)
    assert "measures image data" in result.output
    result = runner.invoke(cli, ["sample", str(run), "-n", "500", "--temperature", "0.7"], catch_exceptions=False)
    out = json.loads(result.stdout)
    raw = np.loadtxt(out["csv"], delimiter=",")
    assert raw.shape == (500, 2) and 0.0 < raw[:, 0].mean() < 1.0        # back in the moons' own units
    result = runner.invoke(cli, ["sample", str(run), "--trajectory"])
    assert result.exit_code != 0 and "has no generation trajectories" in result.output
    result = runner.invoke(cli, ["analyze", str(run), "all"], catch_exceptions=False)
    out = json.loads(result.stdout)
    assert set(out["results"]) == {"curves", "flow"} and "latent-scatter" in out["skipped"]
    assert (run / "analysis" / "flow.png").exists()
    result = runner.invoke(cli, ["compare", str(run), "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0 and "nats/point" in (tmp_path / "report.md").read_text()


def test_user_points_run_samples_in_their_units_without_the_data(tmp_path):
    import shutil

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    np.savetxt(data / "train.csv", rng.normal([100, -3, 0.5], [10, 1, 0.1], (400, 3)), delimiter=",")
    np.savetxt(data / "test.csv", rng.normal([100, -3, 0.5], [10, 1, 0.1], (100, 3)), delimiter=",")
    run = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "realnvp-moons", "--dataset", "points", "--data-dir", str(data),
                                 "--max-steps", "3", "--batch-size", "64", "--out", str(run), "--no-progress",
                                 "--set", "model.input_shape=[3]", "--set", "model.hidden=8", "--set", "sample_n=50",
                                 "--set", "tensorboard=false"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    shutil.rmtree(data)                                                  # sampling needs only the run
    result = runner.invoke(cli, ["sample", str(run), "-n", "400"], catch_exceptions=False)
    raw = np.loadtxt(json.loads(result.stdout)["csv"], delimiter=",")
    assert raw.shape == (400, 3) and 80 < raw[:, 0].mean() < 120 and -4 < raw[:, 1].mean() < -2
