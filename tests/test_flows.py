"""RealNVP layers (Dinh et al. 2017): exact inverses and log-determinants equal to autograd's Jacobian."""
import pytest
import torch
from torch import nn

from genzoo.nn.flows import (ActNorm, AffineCoupling, FlowSequence, Squeeze, channel_mask, checkerboard_mask)


def _conv_net(c: int) -> nn.Module:
    net = nn.Sequential(nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2 * c, 3, padding=1))
    for p in net.parameters():
        nn.init.normal_(p, std=0.3)
    return net


def _image_flow() -> FlowSequence:
    torch.manual_seed(0)
    return FlowSequence([
        AffineCoupling(checkerboard_mask(4, 4, 0), _conv_net(1), 1),
        ActNorm(1),
        AffineCoupling(checkerboard_mask(4, 4, 1), _conv_net(1), 1),
        Squeeze(),
        AffineCoupling(channel_mask(4, 0)[None, :, None, None], _conv_net(4), 4),
        AffineCoupling(channel_mask(4, 1)[None, :, None, None], _conv_net(4), 4),
    ]).double()


def _vector_flow() -> FlowSequence:
    torch.manual_seed(0)

    def mlp():
        net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 4))
        for p in net.parameters():
            nn.init.normal_(p, std=0.5)
        return net
    return FlowSequence([AffineCoupling(channel_mask(2, i % 2)[None], mlp(), 2) for i in range(4)]).double()


@pytest.mark.parametrize("make,shape", [(_image_flow, (3, 1, 4, 4)), (_vector_flow, (5, 2))])
def test_inverse_is_exact(make, shape):
    flow = make()
    x = torch.randn(*shape, dtype=torch.float64)
    flow.train()
    flow(x)                     # ActNorm initialises from this batch
    flow.eval()
    y, _ = flow(x)
    assert torch.allclose(flow.inverse(y), x, atol=1e-10)
    assert not torch.allclose(y.flatten(1), x.flatten(1))      # the flow does change its input


@pytest.mark.parametrize("make,shape", [(_image_flow, (1, 4, 4)), (_vector_flow, (2,))])
def test_log_determinant_equals_the_autograd_jacobian(make, shape):
    flow = make()
    flow.train()
    flow(torch.randn(4, *shape, dtype=torch.float64))
    flow.eval()
    x = torch.randn(*shape, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0].flatten(), x).reshape(x.numel(), x.numel())
    _, logdet = flow(x[None])
    assert logdet.item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-8)


def test_squeeze_round_trip_and_layout():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    y, logdet = Squeeze()(x)
    assert y.shape == (1, 4, 2, 2) and logdet.item() == 0
    assert y[0, :, 0, 0].tolist() == [0, 1, 4, 5]          # the top-left 2×2 block became 4 channels
    assert torch.equal(Squeeze().inverse(y), x)


def test_masks():
    m = checkerboard_mask(2, 3, 0)[0, 0]
    assert m.tolist() == [[1, 0, 1], [0, 1, 0]]
    assert torch.equal(checkerboard_mask(2, 3, 1)[0, 0], 1 - m)
    assert channel_mask(4, 0).tolist() == [1, 1, 0, 0] and channel_mask(4, 1).tolist() == [0, 0, 1, 1]


def test_actnorm_standardises_its_first_batch():
    x = torch.randn(256, 3, 4, 4) * torch.tensor([2.0, 0.5, 3.0])[None, :, None, None] + 1.5
    norm = ActNorm(3).train()
    y, logdet = norm(x)
    assert torch.allclose(y.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.std((0, 2, 3)), torch.ones(3), atol=1e-3)
    assert torch.allclose(logdet, (norm.log_scale.sum() * 16).expand(256))


def _tiny_realnvp():
    from genzoo.models import build_model

    torch.manual_seed(0)
    model = build_model({"family": "realnvp", "input_shape": [1, 4, 4], "scales": 2, "couplings": 2, "hidden": 8,
                         "blocks": 1}).double()
    for layer in model.modules():         # leave the identity start, so the test sees real couplings
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, std=0.2)
    model.train()
    model.log_prob(torch.rand(8, 1, 4, 4, dtype=torch.float64))   # ActNorm initialisation
    return model.eval()


def test_realnvp_is_invertible_and_its_log_determinant_is_the_jacobians():
    model = _tiny_realnvp()
    y = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    zs, _ = model.to_latent(y)
    assert torch.allclose(model.from_latent(zs), y, atol=1e-10)
    x = torch.randn(1, 4, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(
        lambda v: torch.cat([z.flatten() for z in model.to_latent(v[None])[0]]), x).reshape(16, 16)
    assert model.to_latent(x[None])[1].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-8)


def test_realnvp_preprocessing_log_determinant():
    model = _tiny_realnvp()
    x01 = torch.randint(0, 256, (1, 1, 4, 4)).double() / 255
    u = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    y, logdet = model.preprocess(x01, u)
    # y is elementwise in the dequantised value v = (k + u)/256: d y / d v by autograd
    k = torch.round(x01 * 255)
    v = ((k + u) / 256).requires_grad_(True)
    a = model.config.alpha
    p = a + (1 - 2 * a) * v
    (torch.log(p) - torch.log1p(-p)).sum().backward()
    assert logdet.item() == pytest.approx(v.grad.log().sum().item(), rel=1e-10)


def test_realnvp_train_eval_sample_end_to_end(tmp_path):
    import json

    from click.testing import CliRunner
    from conftest import train_args

    from genzoo.cli import cli

    run = tmp_path / "flow"
    runner = CliRunner()
    small = ["--set", "model.hidden=8", "--set", "model.blocks=1", "--set", "batch_size=32", "--set", "sample_n=4"]
    result = runner.invoke(cli, train_args("realnvp-fashion", run, 8, *small), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["bits_per_dim"] < rows[0]["bits_per_dim"]
    result = runner.invoke(cli, ["eval", str(run), "--metrics", "nll", "--limit", "64"], catch_exceptions=False)
    nll = json.loads((run / "eval.json").read_text())["metrics"]["nll"]
    assert nll["levels"] == 256 and 0 < nll["bits_per_dim"] < 8.5
    result = runner.invoke(cli, ["sample", str(run), "-n", "4"], catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["shape"] == [4, 1, 28, 28]
