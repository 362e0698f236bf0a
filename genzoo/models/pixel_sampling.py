"""Sampling autoregressive image models pixel by pixel, naively or from cached activations.

Both samplers visit pixels in raster order (and, for a softmax over colour, channels R → G → B) and
draw each value by inverting the CDF of the predicted distribution at a pre-drawn uniform number, one
per (image, channel, pixel) plus one per pixel for a mixture component. The uniforms come from the
caller's generator before any network runs, so the naive sampler (Foster 2nd ed. ch. 5: a full forward
pass for every pixel) and the cached sampler (Ramachandran et al. 2017: every layer computed only at the
new pixel, from buffers of earlier activations) draw the same images whenever their distributions agree.

Completion (inpainting) keeps the rows above ``start_row`` of given images and samples the rest.
"""
from __future__ import annotations

import sys

import torch
from torch import Tensor

from ..progress import report


def draw_uniforms(n: int, channels: int, height: int, width: int, generator: torch.Generator | None) -> Tensor:
    """The random stream of one sampling run: N×(C+1)×H×W uniforms in [0, 1), float64, on the CPU."""
    return torch.rand(n, channels + 1, height, width, generator=generator, dtype=torch.float64)


@torch.no_grad()
def autoregressive_sample(model, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None,
                          cached: bool = True, temperature: float = 1.0, given: Tensor | None = None,
                          start_row: int = 0) -> Tensor:
    """``n`` images in [0, 1] (N×C×H×W) from ``model`` (a :class:`~genzoo.models.autoregressive.PixelModel`)."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    c_img, height, width = model.config.input_shape
    device = model.device
    dtype = next(model.parameters()).dtype
    levels = model.config.levels
    uniforms = draw_uniforms(n, c_img, height, width, generator).to(device)
    x = torch.zeros(n, c_img, height, width, device=device, dtype=dtype)
    if given is not None:
        if tuple(given.shape[1:]) != (c_img, height, width) or len(given) != n:
            raise ValueError(f"images to complete must be {n}×{c_img}×{height}×{width}, got {tuple(given.shape)}")
        known = model.to_levels(given.to(device)).to(dtype) / (levels - 1)
        x[:, :, :start_row] = known[:, :, :start_row]
    if condition is not None:
        condition = condition.to(device=device, dtype=dtype)
    head, net = model.head, model.net
    state = net.init_state(x, condition) if cached else None
    from tqdm import tqdm

    # The naive sampler runs a full forward pass per pixel (minutes for a grid): show its rows go by.
    rows = tqdm(range(height), desc=f"naive sampler, {n} images", unit="row",
                disable=True if cached else None,   # None: on a terminal only
                file=sys.stderr, mininterval=1.0, leave=False, dynamic_ncols=True)
    for r in rows:
        report(r, height, "rows")
        for c in range(width):
            if r < start_row:
                if cached:
                    net.step(state, r, c)   # fills the caches; the pixel is given
                continue
            for channels in head.passes:
                out = net.step(state, r, c) if cached else net(x, condition)[:, :, r, c]
                values = head.sample_pixel(out, channels, uniforms[:, :, r, c], temperature)
                unit = values.to(dtype) / (levels - 1)
                x[:, channels, r, c] = unit
                if cached:
                    net.write_pixel(state, r, c, channels, unit)
        if cached:
            net.end_row(state, r)
    return x.float()
