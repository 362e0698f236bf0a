"""Evaluation: bits/dim, the IWAE bound against an exact marginal, FID/KID/precision-recall/IS on known
cases and on real images under corruption, the feature network, `genzoo eval` and `genzoo compare`."""
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from genzoo.cli import cli
from genzoo.config import ConfigError, DataConfig, load_recipe
from genzoo.data import load_images
from genzoo.data.loader import Batch, make_batch
from genzoo.metrics import bits_per_dim, fid, inception_score, kid, precision_recall
from genzoo.metrics.features import FeatureNetSpec, get_feature_net, load_feature_net, train_feature_net
from genzoo.models import build_model
from genzoo.nn.classifier import BookCNN
from genzoo.nn.summary import count_params

from conftest import MINI_FASHION, train_args


# -- likelihood ---------------------------------------------------------------------------------------
def test_bits_per_dim_conversion():
    # A uniform density on [0, 1]^D (log p = 0) is 8 bits/dim on the 256-level scale;
    # density 2 per dimension saves one bit; an NLL of D·ln 2 nats costs one.
    assert bits_per_dim(0.0, 784) == pytest.approx(8.0)
    assert bits_per_dim(-784 * math.log(2), 784) == pytest.approx(7.0)
    assert bits_per_dim(784 * math.log(2), 784) == pytest.approx(9.0)
    assert bits_per_dim(0.0, 10, scale_bits=1) == pytest.approx(1.0)


def _tiny_vae(variance: float):
    cfg = load_recipe("homl-vae")["model"]
    d = 784
    cfg.update(z_dim=2, encoder_units=[32], decoder_units=[32], recon_weight=1.0, kl_weight=2 * variance / d,
               output_activation="sigmoid")
    torch.manual_seed(0)
    return build_model(cfg).eval()


def _exact_log_px(model, x: torch.Tensor, half_width: float = 6.0, steps: int = 241) -> torch.Tensor:
    """log p(x) = log ∫ p(x|z) N(z; 0, I) dz by a 2-D trapezoid-free Riemann sum on a fine grid."""
    g = torch.linspace(-half_width, half_width, steps)
    zz = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    cell = math.log((g[1] - g[0]).item() ** 2)
    log_pz = (-0.5 * zz.pow(2) - 0.5 * math.log(2 * math.pi)).sum(1)
    with torch.no_grad():
        recon = model.decode(zz)
        out = []
        for xi in x:
            log_px_z = model.log_likelihood(xi.expand_as(recon), recon)
            out.append(torch.logsumexp(log_px_z + log_pz, 0) + cell)
    return torch.stack(out)


def test_iwae_bound_is_above_elbo_and_converges_to_the_exact_likelihood():
    # A z = 2 VAE, briefly trained, whose marginal log p(x) a fine 2-D grid gives exactly.
    model = _tiny_vae(variance=0.3)
    cfg = DataConfig(name="fashion-mnist", data_dir=str(MINI_FASHION))
    train = load_images(cfg, (1, 28, 28))
    xs = make_batch(train, torch.arange(len(train)), cfg, "01", torch.device("cpu")).x
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    model.train()
    for _ in range(300):
        loss = model.loss(Batch(xs[torch.randint(0, len(xs), (64,))]))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = xs[:6]
    exact = _exact_log_px(model, x).mean().item()
    assert _exact_log_px(model, x, steps=481).mean().item() == pytest.approx(exact, abs=1e-3)  # grid converged
    torch.manual_seed(1)
    elbo = torch.stack([model.elbo(x) for _ in range(200)]).mean().item()

    def iwae(k, reps):
        return torch.stack([torch.logsumexp(model.log_importance_weights(x, None, k), 0) - math.log(k)
                            for _ in range(reps)]).mean().item()

    bounds = [iwae(1, 200), iwae(10, 40), iwae(100, 10), iwae(1000, 4)]
    assert bounds[0] == pytest.approx(elbo, abs=0.3)             # IWAE-1 is the ELBO
    assert elbo < bounds[1] < bounds[2] < bounds[3] <= exact + 0.1, (elbo, bounds, exact)
    assert exact - elbo > 1.0, "the test needs a posterior mismatch to be meaningful"
    assert exact - bounds[3] < 0.5 * (exact - elbo), (elbo, bounds, exact)


# -- sample-quality metrics on known distributions ---------------------------------------------------
def test_fid_matches_the_gaussian_closed_form():
    torch.manual_seed(0)
    a = torch.randn(20000, 8)
    b = torch.randn(20000, 8) * 2 + 1        # FID = |μ|² + tr(I + 4I − 2·2I) = 8 + 8
    assert fid(a, b) == pytest.approx(16.0, rel=0.03)
    assert fid(a, torch.randn(20000, 8)) < 0.02


def test_kid_is_unbiased_and_detects_a_shift():
    torch.manual_seed(0)
    a, b = torch.randn(3000, 16), torch.randn(3000, 16)
    mean, std = kid(a, b, subsets=50, subset_size=500)
    assert abs(mean) < 3 * std / math.sqrt(50) + 1e-3
    shifted, _ = kid(a, b + 0.5, subsets=50, subset_size=500)
    assert shifted > 20 * abs(mean) + 0.01


def test_precision_recall_extremes_and_mode_dropping():
    torch.manual_seed(0)
    a = torch.randn(1000, 4)
    assert precision_recall(a, a.clone()) == (1.0, 1.0)
    p, r = precision_recall(a, a + 100)
    assert p == 0.0 and r == 0.0
    half = a[a[:, 0] > 0]                     # "mode dropping": samples cover half the real set
    p, r = precision_recall(a, half)
    assert p > 0.95 and r < 0.75


def test_inception_score_range():
    confident = F.one_hot(torch.arange(1000) % 10, 10).float() * 30
    assert inception_score(confident)[0] == pytest.approx(10.0, rel=0.05)  # splits are not exactly balanced
    assert inception_score(torch.zeros(1000, 10))[0] == pytest.approx(1.0)


def test_book_cnn_parameter_count():
    assert count_params(BookCNN((3, 32, 32), 10)) == (591_914, 640)   # Foster ch. 2: 592,554 in total


# -- the feature network and the metrics on real images ---------------------------------------------
@pytest.fixture(scope="module")
def mini_net(tmp_path_factory):
    import os

    os.environ["GENZOO_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    cfg = DataConfig(name="fashion-mnist", data_dir=str(MINI_FASHION))
    spec = FeatureNetSpec(dataset="fashion-mnist", shape=(1, 28, 28), epochs=20)
    net = train_feature_net(spec, cfg, progress=False, log=lambda m: None)
    return cfg, net


def _real(cfg, split):
    data = load_images(cfg, (1, 28, 28), split=split)
    return make_batch(data, torch.arange(len(data)), cfg, "01", torch.device("cpu")).x


def test_feature_net_learns_and_is_cached(mini_net):
    cfg, net = mini_net
    assert net.meta["test_accuracy"] > 0.6      # 512 training images; the full set reaches ≥ 0.9
    again = load_feature_net(net.spec, cfg.data_dir)
    # cached apart from a network of the same spec for the system's dataset: a fixture's net never serves real data
    assert load_feature_net(net.spec) is None and again.folder != net.folder.parent / net.spec.key
    x = _real(cfg, "test")[:16]
    assert torch.equal(again(x)[0], net(x)[0])
    assert again.meta["key"] == net.spec.key and "BookCNN" in again.meta["label"]
    with pytest.raises(ConfigError, match="takes images of shape"):
        net(torch.rand(2, 3, 28, 28))


def test_fid_on_real_images_grows_with_noise_and_blur(mini_net):
    cfg, net = mini_net
    test, train = _real(cfg, "test"), _real(cfg, "train")
    f_test = net(test)[0]
    base = fid(f_test, net(train)[0])
    torch.manual_seed(0)
    noisy = [fid(f_test, net((train + s * torch.randn_like(train)).clamp(0, 1))[0]) for s in (0.1, 0.2, 0.4)]
    blurred = []
    for sigma in (1.2, 2.0, 3.0):
        radius = 4
        t = torch.arange(-radius, radius + 1).float()
        k = torch.exp(-t ** 2 / (2 * sigma ** 2))
        k = (k / k.sum())
        kernel = (k[:, None] * k[None, :])[None, None]
        blurred.append(fid(f_test, net(F.conv2d(train, kernel, padding=radius))[0]))
    assert base < noisy[0] < noisy[1] < noisy[2], (base, noisy)
    assert base < blurred[0] < blurred[1] < blurred[2], (base, blurred)


def test_kid_of_two_real_splits_is_near_zero(mini_net):
    cfg, net = mini_net
    f_train = net(_real(cfg, "train"))[0]
    real_a, real_b = f_train[:256], f_train[256:]
    mean, std = kid(real_a, real_b, subsets=50, subset_size=200)
    noisy_train = _real(cfg, "train")
    torch.manual_seed(0)
    noisy = net((noisy_train + 0.3 * torch.randn_like(noisy_train)).clamp(0, 1))[0][256:]
    worse, _ = kid(real_a, noisy, subsets=50, subset_size=200)
    assert abs(mean) < 0.1 * worse, (mean, worse)


# -- genzoo eval / compare end to end ------------------------------------------------------------------
def test_eval_and_compare_end_to_end(tmp_path, mini_net):
    cfg, net = mini_net
    runner = CliRunner()
    vae, gan = tmp_path / "vae", tmp_path / "gan"
    for recipe, out in (("homl-vae", vae), ("homl-gan", gan)):
        r = runner.invoke(cli, train_args(recipe, out, 20, "--batch-size", "32"), catch_exceptions=False)
        assert r.exit_code == 0, r.output
    common = ["--num-samples", "300", "--iwae-k", "4", "--feature-epochs", "20"]
    r = runner.invoke(cli, ["eval", str(vae), *common], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    record = json.loads((vae / "eval.json").read_text())
    m = record["metrics"]
    assert set(m) >= {"elbo", "iwae", "fid", "kid", "pr", "is", "memorization", "recon"}
    assert m["iwae"]["iwae_nats"] >= m["iwae"]["elbo_same_images_nats"]   # Jensen, on the same draws
    assert m["iwae"]["images"] == 128 and m["iwae"]["k"] == 4
    assert m["fid"]["value"] > 0 and "BookCNN" in m["fid"]["name"] and m["fid"]["generated"] == 300
    assert m["fid"]["features"]["test_accuracy"] == net.meta["test_accuracy"]   # the cached net was reused
    assert 0 <= m["pr"]["precision"] <= 1 and 0 <= m["recon"]["ssim"] <= 1 and m["recon"]["psnr_db"] > 5
    assert 1 <= m["is"]["value"] <= 10 and m["memorization"]["ratio"] > 0.5
    assert "nll" in record["skipped"] and set(record["seconds"]) == set(m)

    r = runner.invoke(cli, ["eval", str(gan), "--metrics", "fid,pr", *common], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["eval", str(gan), "--metrics", "elbo"])
    assert r.exit_code != 0 and "has no evidence lower bound (ELBO)" in r.output
    r = runner.invoke(cli, ["eval", str(gan), "--metrics", "fidd"])
    assert r.exit_code != 0 and "unknown metric" in r.output

    report = tmp_path / "report"                           # --out is a folder: report/report.{md,html}
    r = runner.invoke(cli, ["compare", str(vae), str(gan), "--out", str(report)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "FID" in r.output and "vae" in r.output and "gan" in r.output and "bits/dim 8-bit" in r.output
    md = (report / "report.md").read_text()
    assert f"{m['fid']['value']:.3f}"[:4] in md and "![samples](../vae/samples/" in md
    assert "<table" in (report / "report.html").read_text()


def test_inception_features_say_what_is_missing(monkeypatch):
    import builtins

    from genzoo.metrics.inception import InceptionFeatures

    monkeypatch.setenv("GENZOO_INCEPTION_WEIGHTS", "/nonexistent/weights.pth")
    with pytest.raises(ConfigError, match="is not a file"):
        InceptionFeatures()
    monkeypatch.delenv("GENZOO_INCEPTION_WEIGHTS")
    real_import = builtins.__import__

    def no_fidelity(name, *args, **kwargs):
        if name.startswith("torch_fidelity"):
            raise ModuleNotFoundError("No module named 'torch_fidelity'")
        return real_import(name, *args, **kwargs)

    import torchmetrics.image.fid as tm_fid
    monkeypatch.setattr(tm_fid, "_TORCH_FIDELITY_AVAILABLE", False)
    monkeypatch.setattr(builtins, "__import__", no_fidelity)
    with pytest.raises(ConfigError, match="torch-fidelity"):
        InceptionFeatures()


def test_feature_net_refuses_unlabelled_data(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(40):
        Image.new("L", (28, 28), color=i * 5).save(folder / f"{i}.png")
    cfg = DataConfig(name="image-folder", data_dir=str(folder))
    with pytest.raises(ConfigError, match="no class labels"):
        get_feature_net(cfg, (1, 28, 28), epochs=1, progress=False, log=lambda m: None)


# -- compare: bits/dim of different scales ------------------------------------------------------------
def _fake_run(root: Path, name: str, metrics: dict) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "eval.json").write_text(json.dumps({"recipe": name, "metrics": metrics}))
    return run


def test_compare_keeps_bits_per_dim_of_different_scales_apart(tmp_path):
    from genzoo.metrics.compare import compare_runs

    runs = [_fake_run(tmp_path, "vae", {"elbo": {"elbo_nats": -3000.0, "bits_per_dim_8bit": 5.5}}),
            _fake_run(tmp_path, "pixel4", {"nll": {"log_prob_nats": -150.0, "bits_per_dim": 0.845, "levels": 4}}),
            _fake_run(tmp_path, "binary", {"nll": {"log_prob_nats": -60.0, "bits_per_dim": 0.125, "levels": 2}}),
            _fake_run(tmp_path, "ddpm", {"vlb": {"bound_nats": -2000.0, "bits_per_dim": 3.68}}),
            _fake_run(tmp_path, "pixel256", {"nll": {"log_prob_nats": -2100.0, "bits_per_dim": 3.9, "levels": 256}}),
            _fake_run(tmp_path, "gan", {})]
    result = compare_runs(runs, tmp_path / "out")
    header, *lines = result["text"].splitlines()
    cols = header.split("  ")
    cols = [c.strip() for c in cols if c.strip()]
    assert [c for c in cols if c.startswith("bits/dim")] == ["bits/dim 8-bit↓", "bits/dim 4-level↓",
                                                             "bits/dim 2-level↓"]
    table = {r["run"]: r for r in result["rows"]}
    assert table["vae"]["bpd_scale"] == "8-bit" and table["ddpm"]["bpd_scale"] == "8-bit"
    assert table["pixel256"]["bpd_scale"] == "8-bit" and table["pixel4"]["bpd_scale"] == "4-level"
    assert table["gan"]["bpd_scale"] is None
    md = (tmp_path / "out" / "report.md").read_text()
    md_rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in md.splitlines() if line.startswith("| ")}
    head = [c.strip("| ") for c in md_rows["run"]]
    col8, col4, col2 = (head.index(f"bits/dim {s}↓") for s in ("8-bit", "4-level", "2-level"))
    assert md_rows["vae"][col8] == "5.500" and md_rows["vae"][col4] == "–" and md_rows["vae"][col2] == "–"
    assert md_rows["pixel4"][col4] == "0.845" and md_rows["pixel4"][col8] == "–"
    assert md_rows["binary"][col2] == "0.125" and md_rows["ddpm"][col8] == "3.680"
    assert "compare only within a column" in md
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<th>bits/dim 8-bit↓</th>" in page and "<th>bits/dim 4-level↓</th>" in page
    alone = compare_runs(runs[-1:])                               # no likelihood at all: no bits/dim column
    assert "bits/dim" not in alone["text"] and "compare only within" not in alone["note"]


def test_compare_out_spellings_and_bad_paths(tmp_path):
    run = _fake_run(tmp_path, "vae", {"elbo": {"elbo_nats": -3000.0, "bits_per_dim_8bit": 5.5}})
    runner = CliRunner()
    r = runner.invoke(cli, ["compare", str(run), "--out", str(tmp_path / "old" / "table.md")], catch_exceptions=False)
    assert r.exit_code == 0 and (tmp_path / "old" / "table.md").exists() and (tmp_path / "old" / "table.html").exists()
    (tmp_path / "file").write_text("x")
    r = runner.invoke(cli, ["compare", str(run), "--out", str(tmp_path / "file" / "sub")])
    assert r.exit_code == 2 and f"{tmp_path / 'file'} is a file, not a folder" in r.output
