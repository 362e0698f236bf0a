"""Long work says what it does: `genzoo eval` announces each metric on stderr (stdout stays JSON), the naive
PixelCNN sampler, the likelihood loops and diffusion chains draw bars on a terminal, and the feature network
reports every epoch with its accuracy."""
from __future__ import annotations

import io
import json
import sys

import torch
from click.testing import CliRunner

from conftest import MINI_FASHION, train_args
from genzoo.cli import cli
from genzoo.config import DataConfig
from genzoo.models import build_model


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so tqdm draws (it stays quiet when stderr is a file or pipe)."""

    def isatty(self) -> bool:
        return True


def _on_terminal(monkeypatch) -> _Terminal:
    """Replace stderr inside the test itself (pytest's capture re-installs its own stream after fixtures)."""
    fake = _Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    return fake


def test_eval_announces_every_metric_on_stderr_and_keeps_stdout_json(tmp_path):
    run = tmp_path / "vae"
    runner = CliRunner()
    r = runner.invoke(cli, train_args("homl-vae", run, 10, "--batch-size", "32"), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["eval", str(run), "--metrics", "elbo,iwae,recon,memorization", "--iwae-k", "4",
                            "--iwae-images", "64", "--num-samples", "40"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)                     # nothing but the JSON result on stdout
    assert set(result["metrics"]) == {"elbo", "iwae", "recon", "memorization"}
    lines = r.stderr.splitlines()
    starts = [ln for ln in lines if ln.endswith(" ...")]
    assert starts == [
        "elbo: ELBO, one posterior draw per image, on 128 test images ...",
        "iwae: IWAE bound with k = 4 importance samples on the first 64 test images ...",
        "recon: reconstruction MSE/PSNR/SSIM of 128 test images ...",
        "memorization: nearest training image (L1) of 500 samples and 500 test images ...",
    ]
    assert "generating 40 samples (seed 0, batches of 500) for the sample metrics" in lines
    for name in result["metrics"]:        # and a result line after each start line
        assert any(ln.startswith(f"{name}: ") and ln.endswith(" s)") for ln in lines), name


def test_naive_pixel_sampler_shows_rows_on_a_terminal_only(monkeypatch):
    terminal = _on_terminal(monkeypatch)
    torch.manual_seed(0)
    model = build_model({"family": "pixelcnn", "input_shape": [1, 6, 6], "hidden": 8, "layers": 1}).eval()
    model.sample(2, generator=torch.Generator().manual_seed(0), sampler="cached")
    assert terminal.getvalue() == ""                  # the cached sampler takes seconds: no bar
    model.sample(2, generator=torch.Generator().manual_seed(0), sampler="naive")
    assert "naive sampler, 2 images" in terminal.getvalue() and "row" in terminal.getvalue()


def test_naive_pixel_sampler_is_quiet_when_stderr_is_not_a_terminal(capsys):
    torch.manual_seed(0)
    model = build_model({"family": "pixelcnn", "input_shape": [1, 6, 6], "hidden": 8, "layers": 1}).eval()
    model.sample(2, generator=torch.Generator().manual_seed(0), sampler="naive")
    assert capsys.readouterr().err == ""


def test_likelihood_and_diffusion_bars(monkeypatch):
    from genzoo.data import load_images
    from genzoo.metrics.likelihood import dataset_log_prob, dataset_variational_bound
    from genzoo.schedulers.samplers import SHOW_PROGRESS, sampler_progress

    torch.manual_seed(0)
    terminal = _on_terminal(monkeypatch)
    cfg = DataConfig(name="fashion-mnist", data_dir=str(MINI_FASHION), quantize=4)
    pixel = build_model({"family": "pixelcnn", "input_shape": [1, 28, 28], "hidden": 8, "layers": 1}).eval()
    data = load_images(cfg, (1, 28, 28), split="test")
    quiet = dataset_log_prob(pixel, data, cfg)
    assert terminal.getvalue() == ""
    loud = dataset_log_prob(pixel, data, cfg, progress=True)
    assert "nll" in terminal.getvalue() and "img" in terminal.getvalue()
    assert loud == quiet                              # the bar changes nothing
    diffusion = build_model({"family": "diffusion", "input_shape": [1, 28, 28], "schedule": "linear",
                             "timesteps": 50, "base_channels": 8, "channel_mults": [1, 2],
                             "attention_resolutions": [], "sample_steps": 4}).eval()
    cfg8 = DataConfig(name="fashion-mnist", data_dir=str(MINI_FASHION))
    dataset_variational_bound(diffusion, load_images(cfg8, (1, 28, 28), split="test").subset(torch.arange(8)),
                              cfg8, t_samples=2, progress=True)
    assert "vlb" in terminal.getvalue()
    before = terminal.getvalue()
    with torch.inference_mode():
        diffusion.sample(2, generator=torch.Generator().manual_seed(0))
    assert terminal.getvalue() == before              # training's sample grids draw no bar
    with torch.inference_mode(), sampler_progress():
        diffusion.sample(2, generator=torch.Generator().manual_seed(0))
    assert "denoising 2 images" in terminal.getvalue() and SHOW_PROGRESS.get() is False


def test_feature_net_reports_each_epoch_with_its_accuracy():
    from genzoo.metrics.features import FeatureNetSpec, train_feature_net

    lines: list[str] = []
    spec = FeatureNetSpec(dataset="fashion-mnist", shape=(1, 28, 28), epochs=2)
    net = train_feature_net(spec, DataConfig(name="fashion-mnist", data_dir=str(MINI_FASHION)), progress=False,
                            log=lines.append)
    epochs = [ln for ln in lines if ln.startswith("feature net epoch ")]
    assert [ln.split(":")[0] for ln in epochs] == ["feature net epoch 1/2", "feature net epoch 2/2"]
    assert all("train loss" in ln and "train accuracy 0." in ln for ln in epochs)
    assert lines[0].startswith("training the feature network fashion-mnist-1x28x28") and "512 images" in lines[0]
    assert lines[-1].startswith(f"feature network {spec.key}: test accuracy {net.meta['test_accuracy']:.4f}")
