"""Energy-based model (Foster 2nd ed. ch. 7): the book's network, the Langevin step, the replay buffer,
the contrastive-divergence loss with its regulariser, sampling, and the CLI end to end."""
import json

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from conftest import train_args

from genzoo.cli import cli
from genzoo.config import ConfigError
from genzoo.data.loader import Batch
from genzoo.models import build_model
from genzoo.runs import config_from_recipe, load_run, prepare_model


def _ebm(**overrides):
    cfg = {"family": "ebm", "input_shape": [1, 28, 28], "data_range": "pm1", **overrides}
    torch.manual_seed(0)
    return build_model(cfg)


class _Quadratic(torch.nn.Module):
    """score(x) = −½‖x − c‖² on the padded canvas: its Langevin chains must climb towards c."""

    def __init__(self, c: float):
        super().__init__()
        self.c = c
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return -0.5 * (x - self.c).pow(2).flatten(1).sum(1) + 0 * self.w


def test_book_network_size_and_padding():
    model = prepare_model(config_from_recipe("ebm-fashion"))
    assert sum(p.numel() for p in model.parameters()) == 76_993
    seen = []
    model.net.register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    s = model.score(x)
    assert s.shape == (3,) and seen[0] == (3, 1, 32, 32)
    assert torch.allclose(s, model.net(F.pad(x, (2, 2, 2, 2), value=-1.0)))
    assert torch.allclose(model.energy(x), -s)


def test_langevin_step_is_the_books_update():
    model = _ebm(langevin_noise=0.0, step_size=10.0, langevin_grad_clip=0.03).double()
    x = (torch.rand(4, 1, 28, 28, dtype=torch.float64) * 2 - 1) * 0.9
    v = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model.score(v).sum(), v)
    expected = (x + 10.0 * g.clamp(-0.03, 0.03)).clamp(-1, 1)
    out, _ = model.langevin(x, 1)
    assert torch.allclose(out, expected, atol=1e-12)
    noisy = _ebm(langevin_noise=0.05, step_size=10.0, langevin_grad_clip=0.03).double()   # order: noise, clip, step
    torch.manual_seed(5)
    eps = torch.randn(x.shape, dtype=torch.float64)
    w = (x + 0.05 * eps).clamp(-1, 1).requires_grad_(True)
    (g,) = torch.autograd.grad(noisy.score(w).sum(), w)
    expected = (w.detach() + 10.0 * g.clamp(-0.03, 0.03)).clamp(-1, 1)
    torch.manual_seed(5)
    assert torch.allclose(noisy.langevin(x, 1)[0], expected, atol=1e-12)
    assert bool((model.langevin(x * 10, 3)[0].abs() <= 1).all())         # clipped to the pixel range


def test_langevin_climbs_the_score_towards_its_mode_and_records_the_chain():
    model = _ebm(langevin_noise=0.005, step_size=0.2, langevin_grad_clip=1.0)
    model.net = _Quadratic(0.5)
    start = torch.rand(8, 1, 28, 28) * 2 - 1
    end, snaps = model.langevin(start, 40, record=4)
    assert (end - 0.5).abs().mean() < 0.02 < (start - 0.5).abs().mean()
    assert len(snaps) == 5 and torch.equal(snaps[0], start) and torch.equal(snaps[-1], end)
    with torch.inference_mode():                                          # gradients still flow inside
        assert model.sample(2, steps=40).sub(0.75).abs().max() < 0.05     # (x + 1) / 2 of 0.5


def test_replay_buffer_restarts_fills_and_keeps_the_newest():
    model = _ebm(buffer_size=10, langevin_steps=1, new_fraction=0.0, langevin_noise=0.0)
    model.net = _Quadratic(0.0)
    first = model.negative_samples(4)                  # empty buffer: every chain starts from uniform noise
    assert int(model.replay_filled) == 4 and int(model.replay_next) == 4
    assert torch.equal(model.replay[:4], first)
    assert bool((model.replay[4:] == 0).all())
    second = model.negative_samples(4)                 # draws only from the 4 filled slots (0 stays 0 otherwise)
    assert bool((second.flatten(1).abs().amax(1) > 0).all())
    third = model.negative_samples(4)                  # wraps: slots 8, 9, 0, 1
    assert int(model.replay_filled) == 10 and int(model.replay_next) == 2
    assert torch.equal(model.replay[8:10], third[:2]) and torch.equal(model.replay[0:2], third[2:])
    assert torch.equal(model.replay[2:4], first[2:]) and torch.equal(model.replay[4:8], second)
    marker = torch.full((1, 28, 28), 0.123)
    model.replay[:] = marker                           # every draw now continues a stored chain
    out = model.negative_samples(6)                    # one clipped step down the gradient −x of −½x²
    assert torch.allclose(out, torch.full_like(out, 0.123 - 10.0 * 0.03), atol=1e-6)
    restart = _ebm(buffer_size=4096, langevin_steps=1, new_fraction=0.3, langevin_noise=0.0)
    restart.net = _Quadratic(0.0)
    restart.replay_filled.fill_(4096)                  # a full buffer of zeros: restarts are the non-zero ones
    torch.manual_seed(1)
    fresh = (restart.negative_samples(4000).flatten(1).abs().amax(1) > 0.35).float().mean().item()
    assert fresh == pytest.approx(0.3, abs=0.03)


def test_loss_is_contrastive_divergence_plus_the_squared_score_penalty():
    model = _ebm(alpha=0.1, langevin_steps=2)
    torch.manual_seed(0)
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    out = model.loss(Batch(real))
    assert out["cdiv"].item() == pytest.approx(out["fake_score"].item() - out["real_score"].item(), abs=1e-6)
    assert out["loss"].item() == pytest.approx(out["cdiv"].item() + out["reg"].item(), abs=1e-6)
    assert out["reg"].item() > 0
    out["loss"].backward()
    assert all(p.grad is not None for p in model.net.parameters())


def test_contrastive_divergence_separates_real_from_noise():
    model = _ebm(langevin_steps=5, buffer_size=256)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    real = torch.full((32, 1, 28, 28), -1.0)
    real[:, :, 8:20, 8:20] = 1.0                       # a white square on black: one "real" image
    for _ in range(25):
        out = model.loss(Batch(real))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    with torch.no_grad():
        noise = torch.rand(32, 1, 28, 28) * 2 - 1
        assert model.score(real).mean() > model.score(noise).mean() + 0.5


def test_buffer_and_trajectory_edge_cases():
    model = _ebm(buffer_size=4)
    with pytest.raises(ConfigError, match="at least one batch"):
        model.negative_samples(6)
    with pytest.raises(ConfigError, match="empty"):
        model.buffer_samples(2)
    model.replay_filled.fill_(3)
    with pytest.raises(ConfigError, match="-n 3 or fewer"):
        model.buffer_samples(5)
    traj = model.trajectory(2, 10, steps=4, generator=torch.Generator().manual_seed(0))
    assert traj.steps == [0, 1, 2, 3, 4] and traj.images.shape[0] == 2 * 5


def test_config_errors():
    with pytest.raises(ConfigError, match="pm1"):
        _ebm(data_range="01")
    with pytest.raises(ConfigError, match="pad_to"):
        _ebm(pad_to=16)
    with pytest.raises(ConfigError, match="out of range"):
        _ebm(langevin_steps=0)


def test_ebm_cli_train_resume_sample_chains_buffer(tmp_path, mini_data_dir):
    run = tmp_path / "ebm"
    runner = CliRunner()
    small = ["--set", "model.langevin_steps=3", "--set", "model.sample_steps=6", "--set", "model.buffer_size=100",
             "--set", "batch_size=16", "--set", "sample_n=4", "--set", "checkpoint_every=2"]
    result = runner.invoke(cli, train_args("ebm-fashion", run, 3, *small), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _, model = load_run(run)
    assert int(model.replay_filled) == 48
    saved = model.replay.clone()
    result = runner.invoke(cli, ["resume", str(run), "--max-steps", "4", "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    _, resumed = load_run(run)
    assert int(resumed.replay_filled) == 64 and torch.equal(resumed.replay[:48], saved[:48])   # chains kept
    straight = tmp_path / "straight"                   # an uninterrupted run of 4 steps ends in the same state
    result = runner.invoke(cli, train_args("ebm-fashion", straight, 4, *small), catch_exceptions=False)
    _, whole = load_run(straight)
    assert torch.equal(whole.replay, resumed.replay)
    assert all(torch.equal(a, b) for a, b in zip(whole.parameters(), resumed.parameters()))
    result = runner.invoke(cli, ["sample", str(run), "-n", "3", "--trajectory", "--steps", "10"], catch_exceptions=False)
    out = json.loads(result.stdout)
    assert out["shape"] == [33, 1, 28, 28] and out["steps_shown"][0] == 0 and out["steps_shown"][-1] == 10
    from genzoo.analysis.grid import grid_layout

    layout = grid_layout(out["grid"])                  # a column per snapshot, headed by its Langevin step
    assert layout["rows"] == 3 and layout["col_labels"] == [str(k) for k in out["steps_shown"]]
    result = runner.invoke(cli, ["sample", str(run), "-n", "5", "--from-buffer"], catch_exceptions=False)
    assert json.loads(result.stdout)["shape"] == [5, 1, 28, 28]
    result = runner.invoke(cli, ["sample", str(run), "-n", "2", "--eta", "0.5"])
    assert result.exit_code == 2 and "--eta does not apply to sampling with model family 'ebm' (sampling takes --steps)" \
        in result.output
    result = runner.invoke(cli, ["sample", str(run), "-n", "2", "--from-buffer", "--steps", "3"])
    assert result.exit_code == 2 and "--steps does not apply to the replay buffer" in result.output
    assert "--steps applies to sampling (the default) and a trajectory (--trajectory)" in result.output
