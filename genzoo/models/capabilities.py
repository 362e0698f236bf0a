"""Declared capabilities: what a trained model can do besides computing its training loss.

A family declares each capability by inheriting its protocol class, e.g.
``class VAE(ImageModel, Samples, Encodes, Reconstructs, EvidenceBound)``. Tasks (:mod:`genzoo.tasks`),
metrics (``genzoo eval``) and analyses (``genzoo analyze``) ask :func:`supports`, never ``hasattr`` or a
family name, so a new family gains every task, metric and analysis its capabilities allow by declaring
them. A model whose ability depends on its configuration (a latent diffusion model has no pixel-space
bound) says why in :meth:`Capability.unavailable`.

The options a capability's method takes (``--temperature``, ``--steps``, …) are the keyword-only
parameters of that method's signature: :func:`accepted_options` reads them, so the declaration cannot
drift from the code.
"""
from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from torch import Tensor

# Keyword parameters every generating method takes that are not user options.
_PLUMBING = {"generator", "condition", "noise", "progress"}


class Capability:
    """Base of the protocol classes; ``label`` names the capability in messages."""

    label: ClassVar[str] = ""

    def unavailable(self, capability: type["Capability"]) -> str | None:
        """Why this model, as configured, lacks ``capability`` it declares (None: it has it)."""
        return None

    def check_options(self, options: dict[str, Any]) -> None:
        """Raise a ConfigError for option values this model refuses (e.g. an unknown sampler); the names were
        already checked against the method's signature."""


class Samples(Capability):
    """Draws new data items: ``sample(n, *, generator, condition, **options)`` in the modality's unit range."""

    label = "sampling"

    def sample(self, n: int, *, generator: Any = None, condition: Tensor | None = None, **options: Any) -> Tensor:
        raise NotImplementedError


class Encodes(Capability):
    """Maps data to a latent code and back: ``encode(x, condition)`` (a VAE returns ``(mu, log_var)``) and
    ``decode(z, condition)``."""

    label = "encoder (data to latent codes)"


class FromLatent(Capability):
    """``decode(z, condition)``: data items from latent vectors of ``latent_dim``; ``latent_prior`` is where
    new codes come from: ``normal`` (VAEs, GANs) or ``box`` (an autoencoder's box of training codes)."""

    label = "generation from a latent vector"
    latent_prior: ClassVar[str] = "normal"


class Truncates(Capability):
    """The truncation trick: ``sample(n, *, truncation=t)`` trades diversity for fidelity. ``truncation_kind`` says
    what ``t`` is — ``psi`` (StyleGAN, Karras et al. 2019 §3: w' = w̄ + ψ(w − w̄), ψ = 1 untruncated, 0 the mean
    image) or ``threshold`` (BigGAN, Brock et al. 2019 §3.1: z drawn from a normal truncated to |z| < t) — and
    ``truncation_values`` the values the truncation figure and the FID-vs-diversity curve use, from the least to
    the most truncated."""

    label = "truncation trick"
    truncation_kind: ClassVar[str] = "psi"
    truncation_values: ClassVar[tuple[float, ...]] = (1.0, 0.7, 0.5, 0.3, 0.0)


class Grows(Capability):
    """A progressively grown generator (Karras et al. 2018): ``growth_resolutions`` lists the resolutions it grows
    through (4, 8, …, the data's size), ``trained_phase()`` returns the (level, α) of the last step trained, and
    ``generate_at(z, level, alpha)`` the model-space images of that phase at its own resolution."""

    label = "progressive growing"


class MixesStyles(Capability):
    """A style-based generator (Karras et al. 2019, §2-3): ``mapping(z)`` gives w ``[N, w_dim]``;
    ``synthesize(ws, *, noise)`` gives images in [0, 1] from per-layer styles ``ws`` ``[N, num_styles, w_dim]``
    and per-layer noise maps (``noise_inputs(n, generator=)``; None draws fresh noise); ``truncate(ws, psi)``
    moves styles towards the tracked mean w̄; ``style_resolutions[i]`` is the resolution style ``i`` acts at
    (coarse / middle / fine styles of the style-mixing figure)."""

    label = "style mixing (mapping network and per-layer styles)"
    num_styles: int
    style_resolutions: tuple[int, ...]


class Translates(Capability):
    """Image-to-image translation between two domains (pix2pix, Isola et al. 2017; CycleGAN, Zhu et al. 2017; Foster
    1st ed. ch. 5): ``translate(x, *, direction)`` maps model-space images of domain ``direction[0]`` to domain
    ``direction[1]`` (model space in and out); ``directions`` lists the directions it learned (``("AB", "BA")`` for a
    CycleGAN, ``("AB",)`` for pix2pix). ``translation_views(x, *, direction)`` gives the columns of the book's
    evaluation grid (Figs 5.3/5.8) after the original, in [0, 1]: the translation and, for a cycle-consistent model,
    the reconstruction and the identity mapping."""

    label = "image-to-image translation"
    directions: ClassVar[tuple[str, ...]] = ("AB",)


class Reconstructs(Capability):
    """``reconstruct(x, condition)``: the model's reconstruction of ``x``, in [0, 1]."""

    label = "reconstruction"


class Stylises(Capability):
    """``stylise(x)``: images in [0, 1] repainted in the style the model was trained on, in one pass (a feed-forward
    style network, Johnson et al. 2016); ``features`` names the network its perceptual loss used."""

    label = "stylisation in one pass"


class ExactLikelihood(Capability):
    """``log_prob(x, condition)``: exact log-likelihood per item (nats). ``likelihood_protocol`` says what it is
    of; ``discrete_levels`` (if not None) the number of levels per value, for bits/dim."""

    label = "exact likelihood"
    likelihood_protocol: ClassVar[str] = "model-defined"
    discrete_levels: ClassVar[int | None] = None


class EvidenceBound(Capability):
    """``elbo(x, condition)`` and ``log_importance_weights(x, condition, k)`` (Burda et al. 2016): a lower bound
    on the log-likelihood and the importance-weighted estimate built on it."""

    label = "evidence lower bound (ELBO)"


class VariationalBound(Capability):
    """``variational_bound(x0, condition, t_samples, ...)``: the diffusion bound (Ho et al. 2020, eq. 5)."""

    label = "diffusion variational bound"


class Completes(Capability):
    """``complete(images, start_row, *, generator, condition, **options)``: keeps the rows above
    ``start_row`` of images (model range) and generates the rest; returns [0, 1] images."""

    label = "image completion"


class Inpaints(Capability):
    """``inpaint(images, mask, *, ...)`` keeps ``images`` where ``mask`` is 1 and generates the rest;
    ``mask(n, kind, start)`` builds the standard masks (bottom, top, left, right, center)."""

    label = "inpainting"


@dataclass
class Trajectory:
    """Snapshots of a generating chain: ``images`` hold, per item, ``len(row_labels)`` rows of
    ``len(steps)`` images; ``steps`` are the chain's step numbers of the columns."""

    images: Tensor
    steps: list[int]
    row_labels: list[str] = field(default_factory=lambda: [""])
    description: str = "the chain from noise to the sample"
    step_label: Callable[[int], str] = str


class Trajectories(Capability):
    """``trajectory(n, snapshots, *, generator, condition, **options) -> Trajectory``."""

    label = "generation trajectories"


class Interpolates(Capability):
    """``interpolate(pairs, points, *, generator, condition, **options)``: rows of ``points`` samples from
    starting noise interpolated between two draws; ``interpolation`` describes how."""

    label = "interpolation between draws"
    interpolation: ClassVar[str] = "interpolated starting noise"


class NextToken(Capability):
    """A language model: ``next_token_logits(context_ids) -> [B, V]`` for the token after each context (held-out
    perplexity, sampling), and ``top_next(prompt, k)`` the likeliest next tokens of a text prompt."""

    label = "next-token prediction"


class Attends(Capability):
    """A Transformer: ``attention(prompt) -> (tokens, [heads, T, T] per layer)``, the attention weights among a
    prompt's tokens, and ``position_table() -> [context, d]``, the position embeddings it adds to them."""

    label = "attention maps"


@dataclass
class PixelAttention:
    """What an image generator's self-attention layer looked at while drawing ``images`` ([n, C, H, W] in [0, 1]):
    ``weights`` [n, N_query, N_key], each row summing to 1 over the keys, on a ``query_shape`` grid of queries and
    a ``key_shape`` grid of keys (smaller than the queries' when keys are pooled); ``gamma`` the layer's learned
    output scale (0 at initialisation: the attention then changes nothing)."""

    images: Tensor
    weights: Tensor
    query_shape: tuple[int, int]
    key_shape: tuple[int, int]
    layer: str
    gamma: float


class AttendsPixels(Capability):
    """An image generator with self-attention (SAGAN, Zhang et al. 2019): ``attention_maps(n, *, generator,
    condition) -> PixelAttention``, ``n`` samples with the attention weights of a generator attention layer."""

    label = "self-attention maps over image positions"


class FillsMask(Capability):
    """A masked language model (Devlin et al. 2019): ``fill_mask(prompt, k)`` the ``k`` likeliest tokens, with
    their probabilities, at each ``[MASK]`` of a text prompt; ``mask(ids, generator)`` BERT's masking of a batch
    of token ids and ``masked_logits(inputs, selected)`` the logits ``[N, V]`` at its selected positions (held-out
    masked-token accuracy and cross-entropy)."""

    label = "fill-mask"


class AsksQuestions(Capability):
    """A question generator (Foster 1st ed. ch. 6): ``answer_probabilities(words)`` is the tagger's per-token
    probability of being part of an answer, ``questions(documents, spans, *, answer, beam, max_tokens, threshold)``
    a question for each answer span of each document (the given spans, the ``answer`` option's, or the spans the
    tagger chooses), and ``score_questions(batch)`` the teacher-forced losses of a batch of held-out items."""

    label = "question generation from a document"


class ReplayBuffer(Capability):
    """``buffer_samples(n, generator)``: stored chains of training (an EBM's replay buffer)."""

    label = "replay buffer"


def _protocols() -> set[type[Capability]]:
    return {c for c in globals().values() if isinstance(c, type) and issubclass(c, Capability) and c is not Capability}


def supports(model: Any, capability: type[Capability]) -> bool:
    """True when ``model`` declares ``capability`` and has it as configured."""
    return isinstance(model, capability) and model.unavailable(capability) is None


def why_not(model: Any, capability: type[Capability]) -> str | None:
    """Why ``model`` cannot do ``capability`` (None when it can), naming the family and what it does offer."""
    family = getattr(model, "family", type(model).__name__)
    if not isinstance(model, capability):
        offered = [c.label for c in declared(model)]
        return (f"model family {family!r} has no {capability.label}"
                + (f" (it offers {', '.join(offered)})" if offered else ""))
    reason = model.unavailable(capability)
    return None if reason is None else f"{family}: {reason}"


def declared(model: Any) -> list[type[Capability]]:
    """The capability classes ``model``'s family declares, in the order of its bases."""
    return [c for c in type(model).__mro__ if c in _PROTOCOLS]


def accepted_options(method: Callable[..., Any]) -> list[str]:
    """The user options a capability method takes: its keyword-only parameters minus the plumbing."""
    params = inspect.signature(method).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in _PLUMBING]


@dataclass(frozen=True)
class OptionSpec:
    """One user option of a capability method, typed from its annotation: ``kind`` int | float | bool | str,
    ``choices`` from a ``Literal[...]`` annotation, ``default`` the model's configured value (``model.config.NAME``
    or ``model.config.sample_NAME``; None when the method falls back on something else)."""

    name: str
    kind: str
    choices: tuple[Any, ...] = ()
    default: Any = None


_KINDS = (("bool", bool), ("int", int), ("float", float), ("str", str))


def _kind_of(hint: Any) -> tuple[str, tuple[Any, ...]]:
    """``(kind, choices)`` of a resolved annotation such as ``float | None`` or ``Literal["ddpm", "ddim"] | None``."""
    union = typing.get_origin(hint) is not typing.Literal and typing.get_args(hint)
    args = [a for a in (union or (hint,)) if a is not type(None)]
    for a in args:
        if typing.get_origin(a) is typing.Literal:
            choices = typing.get_args(a)
            return next((k for k, t in _KINDS if isinstance(choices[0], t)), "str"), choices
    for k, t in _KINDS:
        if t in args:
            return k, ()
    return "str", ()


def option_specs(model: Any, method: Callable[..., Any]) -> list[OptionSpec]:
    """The typed user options of ``method`` (a bound capability method of ``model``), in signature order."""
    try:
        hints = typing.get_type_hints(method)
    except (NameError, TypeError):          # an annotation that does not resolve: every option is text
        hints = {}
    specs = []
    for name in accepted_options(method):
        kind, choices = _kind_of(hints.get(name, str))
        default = None
        for field_name in (name, f"sample_{name}"):
            value = getattr(getattr(model, "config", None), field_name, None)
            if isinstance(value, (bool, int, float, str)):
                default = value
                break
        specs.append(OptionSpec(name, kind, choices, default))
    return specs


_PROTOCOLS = _protocols()

__all__ = ["AsksQuestions", "Attends", "AttendsPixels", "Capability", "Completes", "Encodes", "EvidenceBound", "ExactLikelihood",
           "FillsMask", "FromLatent", "Grows", "Inpaints", "Interpolates", "MixesStyles", "NextToken", "OptionSpec", "PixelAttention",
           "Reconstructs", "ReplayBuffer", "Samples", "Trajectories", "Trajectory", "Translates", "Truncates", "VariationalBound",
           "accepted_options", "declared", "option_specs", "supports", "why_not"]
