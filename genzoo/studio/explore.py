"""The studio's latent explorer: the primitives its Explore panels are built from, for any model that declares
:class:`~genzoo.models.capabilities.FromLatent` (and, for the map, :class:`~genzoo.models.capabilities.Encodes`).

- :func:`latent_map` encodes held-out images and lays them out in 2-D: the latent plane itself for ``z_dim = 2``
  (Foster 1st ed. ch. 3, Fig. 3-6/3-14), else the plane of the codes' first two principal components. A point of
  the plane maps back to a code (:meth:`LatentMap.code_at`), so a click decodes where it lands.
- :func:`code_of` gives the code of a held-out image (encode) or of a seed (a draw from the model's prior), the
  ends of an interpolation and the start of the sliders.
- :func:`attribute_vector_of` is the book's attribute vector (mean code with − mean code without, unit length;
  Foster ch. 3, "latent space arithmetic", Fig. 3-22): an attribute column of CelebA-format data (``Smiling``, as
  the book) or, for labelled data, a class against the rest.
- :func:`decode_pngs` decodes codes to PNG images.

The page does the arithmetic (lerp between two codes, code + f·vector, a slider moving one dimension) and asks for
the decoded images, so each panel is one decode request per picture shown. Nothing here names a model family.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..analysis.latent import attribute_vector, decode_codes, encode_dataset, principal_axes
from ..config import ConfigError
from ..models.capabilities import Encodes, FromLatent, why_not
from ..run_context import item_index

MAP_POINTS = 2000        # held-out images on the map (evenly spread over the test split)
SLIDER_DIMS = 8          # latent dimensions given sliders (those the map's codes vary most along)


@dataclass
class LatentMap:
    """Held-out codes and their 2-D layout: ``points = (codes − mean) @ basisᵀ``."""

    codes: Tensor            # N×D
    index: Tensor            # N item numbers of the test split
    labels: Tensor | None    # N class labels, if the data has them
    mean: Tensor             # D
    basis: Tensor            # 2×D (orthonormal rows)
    points: Tensor           # N×2
    explained: list[float]   # variance ratio of each axis
    plane: str               # what the two axes are

    def code_at(self, x: float, y: float) -> Tensor:
        """The code at ``(x, y)`` of the plane (for ``z_dim > 2``: on the plane through the mean, 0 off it)."""
        return self.mean + torch.tensor([x, y], dtype=self.mean.dtype) @ self.basis

    def slider_dims(self) -> list[int]:
        """The latent dimensions the held-out codes vary most along (a VAE leaves many at the prior)."""
        return self.codes.var(0).argsort(descending=True)[:SLIDER_DIMS].tolist()


def need(model: Any, capability: type) -> None:
    reason = why_not(model, capability)
    if reason is not None:
        raise ConfigError(f"the latent explorer needs {capability.label}: {reason}")


def _condition(model: Any, n: int, label: int | None) -> Tensor | None:
    k = int(getattr(model.config, "num_classes", 0) or 0)
    if not k:
        if label is not None:
            raise ConfigError("label applies to class-conditional models only (model.num_classes > 0)")
        return None
    label = 0 if label is None else label
    if not 0 <= label < k:
        raise ConfigError(f"label must be in [0, {k - 1}]")
    return torch.nn.functional.one_hot(torch.full((n,), label), k).float()


@torch.no_grad()
def latent_map(ctx: Any, n: int = MAP_POINTS) -> LatentMap:
    """Encode ``n`` held-out images spread over the test split (μ for a VAE) and lay them out in 2-D."""
    model = ctx.model
    need(model, Encodes)
    data = ctx.data("test")
    index = item_index(len(data), n, spread=True)
    codes, _ = encode_dataset(model, data, ctx.cfg.data, index)
    codes = codes.float()
    d = codes.shape[1]
    if d <= 2:
        basis = torch.eye(2, d)
        mean = torch.zeros(d)
        plane, explained = f"the latent plane (z_dim = {d})", [1.0, 0.0] if d == 1 else [0.5, 0.5]
    else:
        mean, basis, explained = principal_axes(codes, 2)
        plane = (f"the first two principal components of {len(codes)} codes (z_dim = {d}; "
                 f"{100 * sum(explained):.0f}% of their variance)")
    points = (codes - mean) @ basis.T
    labels = data.labels[index] if getattr(data, "labels", None) is not None else None
    return LatentMap(codes, index, labels, mean, basis, points, explained, plane)


def map_json(m: LatentMap, data: Any) -> dict[str, Any]:
    """The map as the page draws it (coordinates rounded to 4 decimals to keep it small), with what attribute
    arithmetic can contrast."""
    labels = m.labels.tolist() if m.labels is not None else [None] * len(m.index)
    kind, names = attribute_names(data)
    class_names = getattr(data, "class_names", None)
    return {"plane": m.plane, "explained": [round(e, 4) for e in m.explained],
            "points": [[round(x, 4), round(y, 4), lab, int(i)]
                       for (x, y), lab, i in zip(m.points.tolist(), labels, m.index.tolist())],
            "class_names": class_names, "attributes": {"kind": kind, "names": names},
            "slider_dims": m.slider_dims(),
            "code_range": [round(float(m.codes.min()), 3), round(float(m.codes.max()), 3)]}


@torch.no_grad()
def code_of(ctx: Any, *, index: int | None = None, seed: int | None = None, box: LatentMap | None = None,
            label: int | None = None) -> Tensor:
    """The code of test image ``index`` (encoded; μ for a VAE) or a draw from the prior with ``seed`` (N(0, I), or
    uniform in the box of held-out codes for an autoencoder, whose codes follow no fixed distribution)."""
    model = ctx.model
    need(model, FromLatent)
    if index is not None:
        need(model, Encodes)
        data = ctx.data("test")
        if not 0 <= index < len(data):
            raise ConfigError(f"image index must be in [0, {len(data) - 1}] (the test split)")
        codes, _ = encode_dataset(model, data, ctx.cfg.data, torch.tensor([index]))
        return codes[0].float()
    g = torch.Generator().manual_seed(0 if seed is None else seed)
    d = int(model.config.z_dim)
    if model.latent_prior == "box":
        if box is None:
            raise ConfigError("an autoencoder's codes come from the box of its held-out codes: open the map first")
        lo, hi = box.codes.min(0).values, box.codes.max(0).values
        return lo + (hi - lo) * torch.rand(d, generator=g)
    return torch.randn(d, generator=g)


def attribute_names(data: Any) -> tuple[str, list[str]]:
    """What attribute arithmetic can contrast in ``data``: its binary attribute columns (CelebA-format data, e.g.
    ``Smiling``) or else its classes (each against the rest); ``("none", [])`` for unlabelled data."""
    if getattr(data, "attributes", None) is not None:
        k = data.attributes.shape[1]
        return "attribute", list(data.attribute_names or [str(i) for i in range(k)])
    if getattr(data, "labels", None) is not None:
        k = int(data.labels.max()) + 1 if len(data.labels) else 0
        names = list(data.class_names or [])
        return "class", [names[i] if i < len(names) else f"class {i}" for i in range(k)]
    return "none", []


def attribute_vector_of(ctx: Any, m: LatentMap, attribute: int) -> tuple[Tensor, str, float]:
    """The unit attribute vector of attribute column (or class) ``attribute``: the mean code of the map's images
    that have it minus that of those that do not. Returns the vector, its name and its length before scaling."""
    data = ctx.data("test")
    kind, names = attribute_names(data)
    if kind == "none":
        raise ConfigError("attribute arithmetic needs labelled test data (classes or attribute columns)")
    if not 0 <= attribute < len(names):
        raise ConfigError(f"attribute must be {'an attribute column' if kind == 'attribute' else 'a class'} in "
                          f"[0, {len(names) - 1}]")
    has = data.attributes[m.index, attribute] > 0.5 if kind == "attribute" else data.labels[m.index] == attribute
    if has.all() or not has.any():
        raise ConfigError(f"{names[attribute]!r} is {'every one' if has.all() else 'none'} of the map's "
                          f"{len(has)} images: nothing to contrast")
    raw = attribute_vector(m.codes, has)
    return raw / raw.norm().clamp_min(1e-12), names[attribute], float(raw.norm())


def png_data_url(image: Tensor, scale: int = 1) -> str:
    """A ``C×H×W`` image in [0, 1] as a ``data:image/png`` URL (grey or RGB), enlarged ``scale`` times."""
    from PIL import Image

    x = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    if x.shape[0] == 1:
        pic = Image.fromarray(x[0].numpy(), "L")
    else:
        pic = Image.fromarray(x[:3].permute(1, 2, 0).contiguous().numpy(), "RGB")
    if scale > 1:
        pic = pic.resize((pic.width * scale, pic.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    pic.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@torch.no_grad()
def decode_pngs(ctx: Any, codes: Tensor, label: int | None = None) -> list[str]:
    """Decode ``N×D`` codes (under class ``label`` for a conditional model) to PNG data URLs."""
    model = ctx.model
    need(model, FromLatent)
    d = int(model.config.z_dim)
    if codes.dim() != 2 or codes.shape[1] != d:
        raise ConfigError(f"each code must have z_dim = {d} numbers, got {list(codes.shape)}")
    images = decode_codes(model, codes.float(), _condition(model, len(codes), label))
    scale = max(1, 96 // max(images.shape[-1], 1))
    return [png_data_url(im, scale) for im in images]


MAX_WRITER_TOKENS = 2000     # tokens the writer's text may hold


@torch.no_grad()
def writer_step(ctx: Any, text: str, pick: int | None, top: int = 10) -> dict[str, Any]:
    """One step of Foster ch. 6's human-in-the-loop writer (:func:`genzoo.tasks.generation.interactive_writer`):
    ``text`` so far, plus the token id ``pick`` the person chose (None: just show the choices), gives the new text
    and the model's ``top`` likeliest next tokens, each with its probability and id. ``text`` round-trips
    through the model's tokeniser, so words it does not know are refused with near words it does."""
    from ..models.capabilities import NextToken

    model = ctx.model
    reason = why_not(model, NextToken)
    if reason is not None:
        raise ConfigError(f"the writer needs next-token prediction: {reason}")
    tok = model.need_tokenizer()
    _, ids = model.encode_prompt(text) if text.strip() else ([], [])
    if pick is not None:
        if not 0 < pick <= len(tok.tokens):
            raise ConfigError(f"token id {pick} is outside this {len(tok.tokens)}-token vocabulary")
        ids = [*ids, pick]
    if len(ids) > MAX_WRITER_TOKENS:
        raise ConfigError(f"the writer's text is at most {MAX_WRITER_TOKENS} tokens; start a new one")
    raw = tok.decode(ids) if ids else ""
    choices = model.top_next(raw, top)
    return {"text": raw, "shown": tok.decode(ids, tidy=True) if ids else "", "tokens": len(ids),
            "choices": [{"token": w, "p": round(p, 5), "id": tok.word_index.get(w) if w else None}
                        for w, p in choices]}
