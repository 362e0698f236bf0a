"""Speed work that must not change results: runs loaded for sampling get the trainer's channels_last layout
and sample the same images either way; the masked kernels of the causal convolutions are cached only while
the weights stay unchanged; the allocator tuning."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from genzoo.nn.causal import CausalConv2d
from genzoo.runs import load_run

from test_diffusion import SMALL as DDPM_SMALL      # the same options: the same shared runs
from test_pixel_models import SMALL as PIXEL_SMALL


def _conv_weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, CausalConv2d))
            and m.weight.shape[-1] > 1]


@pytest.mark.parametrize("recipe, steps, extra", [
    ("vae-digits", 4, ()),
    ("cgan-fashion", 4, ()),                    # BatchNorm generator, in eval mode
    ("ddpm-linear", 6, DDPM_SMALL),             # U-Net with attention, DDIM
    ("gated-pixelcnn", 12, PIXEL_SMALL),        # the cached one-pixel-at-a-time sampler
])
def test_loaded_runs_use_channels_last_and_sample_the_same_images(trained_runs, recipe, steps, extra):
    run = trained_runs.get(recipe, steps, *extra)
    cfg, model = load_run(run)
    assert cfg.channels_last
    weights = _conv_weights(model)
    assert weights and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)
    _, plain = load_run(run)
    plain.to(memory_format=torch.contiguous_format)
    assert all(w.is_contiguous() for w in _conv_weights(plain))
    with torch.inference_mode():
        a = model.sample(6, generator=torch.Generator().manual_seed(3))
        b = plain.sample(6, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_masked_kernel_cache_follows_weight_updates():
    """Without gradients the masked kernel is reused, but an in-place update, load_state_dict or a layout
    change makes the next call see the new weights; with gradients it is always computed afresh."""
    torch.manual_seed(0)
    conv = CausalConv2d(4, 6, 3, mask="B")
    x = torch.randn(2, 4, 5, 5)

    def reference() -> torch.Tensor:
        return torch.nn.functional.conv2d(torch.nn.functional.pad(x, conv.pads),
                                          conv.weight[:, :, :conv.rows] * conv.mask, conv.bias)

    with torch.no_grad():
        first = conv(x)
        assert conv.masked_weight() is conv.masked_weight()              # cached
        torch.testing.assert_close(first, reference())
        conv.weight.mul_(2)                                              # an optimizer step, an EMA update
        torch.testing.assert_close(conv(x), reference())
        conv.load_state_dict({"weight": torch.randn_like(conv.weight), "bias": conv.bias.clone()})
        torch.testing.assert_close(conv(x), reference())
        conv.to(memory_format=torch.channels_last)
        torch.testing.assert_close(conv(x), reference())
        flat = conv.flat_weight()
        assert flat.is_contiguous() and flat.shape == (6, 4 * conv.rows * 3)
    out = conv(x)
    out.sum().backward()                                                 # the kernel is part of the graph
    assert conv.weight.grad is not None and bool((conv.weight.grad[:, :, conv.rows:] == 0).all())
    one = CausalConv2d(4, 6, 1, mask="B")                                # mask B 1×1: all ones, no padding
    assert one.masked_weight() is one.weight and not any(one.pads)


_FAULTS = """
import resource, sys, torch
from genzoo.runtime import tune_allocator
applied = tune_allocator() if sys.argv[1] == "tuned" else None
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 3, padding=1),
                          torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64 * 28 * 28, 10))
opt = torch.optim.Adam(net.parameters())
x = torch.randn(32, 1, 28, 28)
def step():
    opt.zero_grad(); net(x).square().mean().backward(); opt.step()
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(15):
    step()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, **env: str) -> tuple[str, int]:
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc malloc tuning")
def test_tune_allocator_stops_the_per_step_page_faults(monkeypatch):
    """A conv training step's activations are freed and reallocated every step; with glibc's defaults each step
    faults them back in from the kernel (~6,000 minor faults a step here), after tune_allocator() almost none."""
    _, default = _faults("default")
    applied, tuned = _faults("tuned")
    assert applied == "True"
    assert tuned < 0.2 * default, (tuned, default)
    from genzoo.runtime import tune_allocator

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")               # the user's own settings win
    assert tune_allocator() is False
