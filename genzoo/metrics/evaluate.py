"""``genzoo eval``: every applicable metric of a run under one fixed, written-down protocol → ``eval.json``.

Protocol (also in the README):

* held-out data: the run's dataset, ``--split`` (default ``test``), whole (class subsets as configured),
  pixels scaled to [0, 1] exactly as the model sees them (binarised/quantised if configured);
* likelihood (fp32): ``elbo`` (1 posterior draw per image, whole split) and ``iwae`` (k = 64 importance
  samples, the first 1,000 images, with the ELBO of the same draws beside it) for VAEs; ``nll`` the exact ``log_prob`` of models that have one; ``vlb`` the
  variational bound of pixel-space diffusion models (the first 1,000 images, the sum over t estimated
  from 50 uniform draws of t per image unless ``--vlb-t 0`` asks for all T terms); nats/image and bits/dim;
* sample quality: ``num_samples`` = 10,000 generated images (seed 0, classes cycled for conditional
  models) against the held-out split, on the features of genzoo's own classifier for the dataset
  (:mod:`genzoo.metrics.features`) or of Inception-v3 when its weights are available: ``fid``; ``kid``
  (100 subsets of 1,000); ``pr`` (improved precision/recall, k = 3); ``is`` (Inception-Score analogue,
  10 splits, with the real split's score as the reference);
* ``memorization``: 500 samples' mean L1 distance to their nearest training image, against 500
  held-out images' (the book's "Rule 2"); ratio ≈ 1 means no copying, ≪ 1 copying;
* ``recon`` (autoencoders): MSE, PSNR (dB, per image then averaged) and SSIM (11×11 Gaussian window)
  of the reconstructions of the held-out split.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import ConfigError
from ..data.loader import make_batch
from ..data.types import ImageSet
from ..models.capabilities import (AsksQuestions, Capability, EvidenceBound, ExactLikelihood, FillsMask, NextToken,
                                   Reconstructs, Samples, Translates, Truncates, VariationalBound, supports,
                                   why_not)
from ..training.checkpoint import write_text_atomic

ALL_METRICS = ("elbo", "iwae", "nll", "vlb", "fid", "kid", "pr", "is", "memorization", "recon", "perplexity",
               "masked", "questions", "translation")
SAMPLE_METRICS = ("fid", "kid", "pr", "is")
MEMORIZATION_SAMPLES = 500


class EvalContext:
    """The run, its model and data, and the generated samples and features, computed once and shared."""

    def __init__(self, run_dir: Path, split: str, num_samples: int, seed: int, limit: int | None,
                 features: str, feature_epochs: int, log: Callable[[str], None], progress: bool = True,
                 sample_options: dict[str, Any] | None = None):
        from ..run_context import RunContext

        self.run_dir, self.split, self.num_samples, self.seed = Path(run_dir), split, num_samples, seed
        self.sample_options = dict(sample_options or {})     # e.g. the truncation of a Truncates model
        self.features_kind, self.feature_epochs, self.log, self.progress = features, feature_epochs, log, progress
        self.run = RunContext(self.run_dir)
        self.cfg, self.model = self.run.cfg, self.run.model
        data = self.run.data(split)
        if limit:
            data = data.subset(torch.arange(min(limit, len(data))))
        self.data = data
        self.modality = type(self.model).modality
        self.shape = tuple(self.model.sample_item_shape)
        self._samples: Tensor | None = None
        self._net = None
        self._fake: tuple[Tensor, Tensor] | None = None
        self._real: tuple[Tensor, Tensor] | None = None

    # -- data and samples ---------------------------------------------------------------------------
    def images01(self, data: ImageSet, index: Tensor) -> Tensor:
        batch = make_batch(data, index, self.cfg.data, self.model.config.data_range, torch.device("cpu"))
        return self.model.to_unit(batch.x)

    def samples(self) -> Tensor:
        """``num_samples`` images in [0, 1], drawn once (seeded; classes cycled for conditional models)."""
        if self._samples is None:
            from tqdm import tqdm

            g = torch.Generator().manual_seed(self.seed)
            k = self.model.config.num_classes
            out = []
            self.log(f"generating {self.num_samples} samples (seed {self.seed}, batches of 500) for the "
                     f"sample metrics")
            bar = tqdm(total=self.num_samples, desc="samples", unit="img", disable=None if self.progress else True,
                       file=sys.stderr, mininterval=1.0, leave=False, dynamic_ncols=True)
            from ..schedulers.samplers import sampler_progress

            # diffusion models: a bar of denoising steps too
            with bar, torch.inference_mode(), sampler_progress(self.progress):
                for s in range(0, self.num_samples, 500):
                    n = min(500, self.num_samples - s)
                    cond = F.one_hot(torch.arange(s, s + n) % k, k).float() if k else None
                    out.append(self.model.sample(n, generator=g, condition=cond, **self.sample_options).float().cpu())
                    bar.update(n)
            self._samples = torch.cat(out).clamp(0, 1)
            if not torch.isfinite(self._samples).all():
                raise ConfigError(f"{self.run_dir}: the model generates NaN/Inf images; it cannot be evaluated")
        return self._samples

    def set_sample_options(self, options: dict[str, Any]) -> None:
        """Draw the samples with ``options`` (e.g. another truncation) from now on; the real data's features, the
        feature network and the model are kept."""
        self.sample_options = dict(options)
        self._samples = self._fake = None

    # -- features -----------------------------------------------------------------------------------
    @property
    def net(self):
        if self._net is None:
            if self.features_kind == "inception":
                from .inception import InceptionFeatures

                self._net = InceptionFeatures()
            elif self.features_kind == "genzoo":
                from .features import get_feature_net

                self._net = get_feature_net(self.cfg.data, self.shape, epochs=self.feature_epochs, log=self.log)
            else:
                raise ConfigError(f"unknown --features {self.features_kind!r}; use genzoo or inception")
        return self._net

    def fake_features(self) -> tuple[Tensor, Tensor]:
        if self._fake is None:
            self._fake = self.net(self.samples())
        return self._fake

    def real_features(self) -> tuple[Tensor, Tensor]:
        if self._real is None:
            self._real = self.net.dataset_features(self.data, self.cfg.data, self.split)
        return self._real

    def feature_description(self) -> dict[str, Any]:
        meta = self.net.meta
        return {"name": meta["label"], "key": meta["key"], "test_accuracy": meta.get("test_accuracy"),
                "num_features": self.net.num_features}


# -- applicability --------------------------------------------------------------------------------
# The capability each metric needs (:mod:`genzoo.models.capabilities`).
NEEDS: dict[str, type[Capability]] = {"elbo": EvidenceBound, "iwae": EvidenceBound, "nll": ExactLikelihood,
                                      "vlb": VariationalBound, "recon": Reconstructs, "perplexity": NextToken,
                                      "masked": FillsMask, "questions": AsksQuestions, "translation": Translates,
                                      **{m: Samples for m in SAMPLE_METRICS + ("memorization",)}}
# The data each metric measures (every other metric measures images).
MODALITIES: dict[str, tuple[str, ...]] = {"nll": ("image", "points"), "perplexity": ("tokens",), "masked": ("tokens",),
                                          "questions": ("qa",), "translation": ("image-pair",)}


def can_sample(model) -> bool:
    return supports(model, Samples)


def not_applicable(ctx: EvalContext, name: str) -> str | None:
    """Why metric ``name`` does not apply to this run (None when it does)."""
    model = ctx.model
    kinds = MODALITIES.get(name, ("image",))
    if ctx.modality not in kinds:
        fit = [m for m in ALL_METRICS if ctx.modality in MODALITIES.get(m, ("image",))]
        return (f"this metric measures {' or '.join(kinds)} data; a model of {ctx.modality} is measured by "
                f"{', '.join(fit)}")
    reason = why_not(model, NEEDS[name])
    if reason is not None:
        return reason
    if name == "vlb" and (ctx.cfg.data.binarize or ctx.cfg.data.quantize):
        return "the diffusion bound is defined for 8-bit data (this run binarises or quantises its images)"
    if name in SAMPLE_METRICS and ctx.features_kind == "genzoo" and ctx.data.labels is None:
        return (f"dataset {ctx.cfg.data.name!r} has no labels to train genzoo's feature network on; use "
                f"--features inception with the weights file")
    return None


# -- the metrics ----------------------------------------------------------------------------------
def _elbo(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .likelihood import dataset_elbo

    return dataset_elbo(ctx.model, ctx.data, ctx.cfg.data, seed=ctx.seed, progress=ctx.progress)


def _iwae(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .likelihood import dataset_iwae

    n = min(opts["iwae_images"], len(ctx.data))
    return dataset_iwae(ctx.model, ctx.data.subset(torch.arange(n)), ctx.cfg.data, k=opts["iwae_k"], seed=ctx.seed,
                        progress=ctx.progress)


def _nll(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .likelihood import dataset_log_prob, point_baselines

    out = dataset_log_prob(ctx.model, ctx.data, ctx.cfg.data, progress=ctx.progress)
    if ctx.data.is_points:
        out.update(point_baselines(ctx.model, ctx.data, ctx.cfg.data, ctx.num_samples, ctx.seed))
    return out


def _vlb(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .likelihood import dataset_variational_bound

    n = min(opts["vlb_images"], len(ctx.data))
    return dataset_variational_bound(ctx.model, ctx.data.subset(torch.arange(n)), ctx.cfg.data,
                                     t_samples=opts["vlb_t"] or None, seed=ctx.seed, progress=ctx.progress)


def _sample_protocol(ctx: EvalContext) -> dict[str, Any]:
    return {"features": ctx.feature_description(), "generated": ctx.num_samples,
            "reference": f"{ctx.split} split, {len(ctx.data)} images"}


def _fid(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .sample_quality import fid

    value = fid(ctx.real_features()[0], ctx.fake_features()[0])
    return {"value": value, "name": f"FID ({ctx.net.meta['label']})", **_sample_protocol(ctx)}


def _kid(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .sample_quality import kid

    mean, std = kid(ctx.real_features()[0], ctx.fake_features()[0], seed=ctx.seed)
    return {"value": mean, "std": std, "name": f"KID ({ctx.net.meta['label']})", "subsets": 100,
            "subset_size": 1000, **_sample_protocol(ctx)}


def _pr(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .sample_quality import precision_recall

    p, r = precision_recall(ctx.real_features()[0], ctx.fake_features()[0], k=3)
    return {"precision": p, "recall": r, "k": 3, "name": f"precision/recall ({ctx.net.meta['label']})",
            **_sample_protocol(ctx)}


def _is(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .sample_quality import inception_score

    mean, std = inception_score(ctx.fake_features()[1], seed=ctx.seed)
    real_mean, _ = inception_score(ctx.real_features()[1], seed=ctx.seed)
    return {"value": mean, "std": std, "real_data_value": real_mean, "splits": 10,
            "name": f"Inception-Score analogue ({ctx.net.meta['label']} class probabilities)",
            **_sample_protocol(ctx)}


def _memorization(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from ..analysis.latent import nearest_neighbours
    from ..data import load_images

    n = MEMORIZATION_SAMPLES
    train = load_images(ctx.cfg.data, ctx.shape)

    def chunks():
        for s in range(0, len(train), 4096):
            yield ctx.images01(train, torch.arange(s, min(s + 4096, len(train))))

    d_samples, _ = nearest_neighbours(ctx.samples()[:n], chunks, "l1")
    held = torch.randperm(len(ctx.data), generator=torch.Generator().manual_seed(ctx.seed))[:n]
    d_held, _ = nearest_neighbours(ctx.images01(ctx.data, held), chunks, "l1")
    ms, mh = d_samples.mean().item(), d_held.mean().item()
    return {"sample_to_train_l1": ms, "held_out_to_train_l1": mh, "ratio": ms / mh if mh > 0 else None,
            "samples": len(d_samples), "held_out": len(d_held), "training_images": len(train),
            "min_sample_to_train_l1": d_samples.min().item(),
            "metric": "mean absolute pixel difference on [0, 1] to the nearest training image"}


@torch.no_grad()
def _recon(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    model, data = ctx.model, ctx.data
    mse, psnr, ssims = [], [], []
    for s in range(0, len(data), 500):
        index = torch.arange(s, min(s + 500, len(data)))
        batch = make_batch(data, index, ctx.cfg.data, model.config.data_range, model.device)
        target = model.to_unit(batch.x).cpu()
        recon = model.reconstruct(batch.x, model.condition_of(batch)).float().cpu().clamp(0, 1)
        err = (recon - target).pow(2).flatten(1).mean(1)
        mse.append(err)
        psnr.append(10 * torch.log10(1.0 / err.clamp_min(1e-10)))
        ssims.append(ssim(recon, target, data_range=1.0, reduction="none"))
    mse_t, psnr_t, ssim_t = torch.cat(mse), torch.cat(psnr), torch.cat(ssims)
    return {"mse": mse_t.mean().item(), "psnr_db": psnr_t.mean().item(), "ssim": ssim_t.mean().item(),
            "images": len(mse_t), "pixels": "[0, 1]", "ssim_window": "Gaussian 11×11, σ = 1.5"}


def _perplexity(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .text_eval import held_out_perplexity

    return held_out_perplexity(ctx.model, ctx.data, ctx.run.data(ctx.cfg.data.split))


def _masked(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .text_eval import held_out_masked

    return held_out_masked(ctx.model, ctx.data, ctx.run.data(ctx.cfg.data.split), seed=ctx.seed)


def _questions(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .question_eval import held_out_questions

    return held_out_questions(ctx.model, ctx.data, ctx.run.data(ctx.cfg.data.split), beam=opts.get("beam") or 1)


def _translation(ctx: EvalContext, opts: dict) -> dict[str, Any]:
    from .translation_eval import translation_scores

    return translation_scores(ctx)


def describe(ctx: EvalContext, name: str, opts: dict) -> str:
    """What metric ``name`` is about to compute, and on how many items (printed when it starts)."""
    if name == "translation":
        return (f"every {ctx.split} image of each source domain translated: L1/SSIM against its true counterpart "
                f"(paired data), FID against the target domain, beside the untranslated images' scores")
    if name == "masked":
        return (f"masked-token accuracy and cross-entropy on {len(ctx.data.tokens):,} {ctx.split} tokens in windows "
                f"of {ctx.model.config.window}, each masked 10 times by the model's rule from seed {ctx.seed}, beside "
                f"a unigram baseline on the same positions")
    if name == "questions":
        return (f"BLEU/ROUGE-L of a question generated for each of {len(ctx.data):,} {ctx.split} answers against its "
                f"reference question; teacher-forced question perplexity; the answer tagger's F1")
    if name == "perplexity":
        return (f"held-out cross-entropy at {len(ctx.data):,} positions of the {ctx.split} split, beside unigram "
                f"and bigram baselines fitted on the training split")
    held = f"{len(ctx.data)} {ctx.split} images"
    sample = f"{ctx.num_samples} generated images against {held}"
    return {
        "elbo": f"ELBO, one posterior draw per image, on {held}",
        "iwae": f"IWAE bound with k = {opts['iwae_k']} importance samples on the first "
                f"{min(opts['iwae_images'], len(ctx.data))} {ctx.split} images",
        "nll": f"exact log-likelihood of {len(ctx.data)} held-out {'points' if ctx.data.is_points else 'images'}",
        "vlb": f"diffusion variational bound on the first {min(opts['vlb_images'], len(ctx.data))} {ctx.split} "
               f"images, " + (f"{opts['vlb_t']} draws of t per image" if opts["vlb_t"] else "all T terms"),
        "fid": f"FID: feature statistics of {sample}",
        "kid": f"KID: 100 subsets of 1,000 features of {sample}",
        "pr": f"improved precision/recall (k = 3) of {sample}",
        "is": f"Inception-Score analogue (10 splits) of {ctx.num_samples} generated images",
        "memorization": f"nearest training image (L1) of {MEMORIZATION_SAMPLES} samples and {MEMORIZATION_SAMPLES} "
                        f"{ctx.split} images",
        "recon": f"reconstruction MSE/PSNR/SSIM of {held}",
    }[name]


METRIC_FUNCTIONS: dict[str, Callable[[EvalContext, dict], dict[str, Any]]] = {
    "elbo": _elbo, "iwae": _iwae, "nll": _nll, "vlb": _vlb, "fid": _fid, "kid": _kid, "pr": _pr, "is": _is,
    "memorization": _memorization, "recon": _recon, "perplexity": _perplexity, "masked": _masked,
    "questions": _questions, "translation": _translation}


def parse_metrics(text: str) -> list[str] | None:
    """``"auto"``/``"all"`` → None (every applicable metric); else a validated list."""
    if text.strip() in ("auto", "all", ""):
        return None
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    aliases = {"precision": "pr", "recall": "pr", "ssim": "recon", "psnr": "recon", "mse": "recon",
               "nearest": "memorization", "inception-score": "is"}
    names = [aliases.get(n, n) for n in names]
    unknown = [n for n in names if n not in METRIC_FUNCTIONS]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; available: {', '.join(ALL_METRICS)} (or auto)")
    return list(dict.fromkeys(names))


def evaluate_run(run_dir: str | Path, metrics: str = "auto", split: str = "test", num_samples: int = 10_000,
                 iwae_k: int = 64, iwae_images: int = 1000, vlb_images: int = 1000, vlb_t: int = 50,
                 features: str = "genzoo", feature_epochs: int = 5, limit: int | None = None,
                 seed: int = 0, truncation: float | None = None, log: Callable[[str], None] = print,
                 progress: bool = True) -> dict[str, Any]:
    """Evaluate a run; merges into and rewrites ``RUN/eval.json`` (with ``truncation``: ``RUN/eval-truncation-T.json``,
    the sample metrics of samples drawn with the truncation trick); returns the new results. ``log`` gets a line
    as each metric starts and ends; ``progress`` draws bars on stderr for the long loops."""
    wanted = parse_metrics(metrics)
    if vlb_images < 1 or vlb_t < 0:
        raise ConfigError("--vlb-images must be >= 1 and --vlb-t >= 0 (0 = all T terms)")
    if num_samples < 2:
        raise ConfigError("--num-samples must be >= 2")
    sample_options = {} if truncation is None else {"truncation": truncation}
    ctx = EvalContext(Path(run_dir), split, num_samples, seed, limit, features, feature_epochs, log, progress,
                      sample_options)
    if truncation is not None:
        reason = why_not(ctx.model, Truncates)
        if reason:
            raise ConfigError(f"--truncation: {reason}")
        ctx.model.check_options(sample_options)
        if wanted and set(wanted) - set(SAMPLE_METRICS):
            raise ConfigError(f"--truncation changes the samples only: use it with {', '.join(SAMPLE_METRICS)}")
        wanted = wanted or list(SAMPLE_METRICS)
    names = wanted or list(ALL_METRICS)
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    for name in names:
        reason = not_applicable(ctx, name)
        if reason:
            if wanted:  # asked for explicitly: say why it cannot run
                raise ConfigError(f"metric {name!r} does not apply to {run_dir}: {reason}")
            skipped[name] = reason
            continue
        t0 = time.perf_counter()
        opts = {"iwae_k": iwae_k, "iwae_images": iwae_images, "vlb_images": vlb_images, "vlb_t": vlb_t}
        log(f"{name}: {describe(ctx, name, opts)} ...")
        results[name] = METRIC_FUNCTIONS[name](ctx, opts)
        seconds[name] = round(time.perf_counter() - t0, 2)
        log(f"{name}: {_headline(name, results[name])}  ({seconds[name]:.1f} s)")
    out_path = ctx.run_dir / ("eval.json" if truncation is None else f"eval-truncation-{truncation:g}.json")
    record: dict[str, Any] = {}
    if out_path.exists():
        try:
            record = json.loads(out_path.read_text())
        except json.JSONDecodeError:
            record = {}
    record.update({"run": str(ctx.run_dir), "recipe": ctx.cfg.recipe, "family": ctx.model.family,
                   "dataset": ctx.cfg.data.name, "split": split, "held_out_items": len(ctx.data),
                   "seed": seed, **({"truncation": truncation} if truncation is not None else {})})
    record.setdefault("metrics", {}).update(results)
    record.setdefault("seconds", {}).update(seconds)
    record["skipped"] = {k: v for k, v in {**record.get("skipped", {}), **skipped}.items()
                         if k not in record["metrics"]}
    record["last_eval_seconds"] = round(time.perf_counter() - t_all, 2)
    write_text_atomic(out_path, json.dumps(record, indent=2))
    return {"eval_json": str(out_path), "metrics": results, "skipped": skipped, "seconds": seconds,
            "total_seconds": record["last_eval_seconds"]}


def _headline(name: str, r: dict[str, Any]) -> str:
    if name == "translation":
        from .translation_eval import headline

        return headline(r)
    if name == "masked":
        a = r["all"]
        return (f"masked-token accuracy {a['accuracy']:.3f}, {a['nats_per_token']:.3f} nats/token at "
                f"{a['positions']:,} masked positions; unigram {a['unigram']['accuracy']:.3f}, "
                f"{a['unigram']['nats_per_token']:.3f}")
    if name == "questions":
        return (f"BLEU-4 {r['bleu4']:.2f}, ROUGE-L F {r['rougeL_f']:.3f}, question perplexity "
                f"{r['question_perplexity']:.1f}, tagger F1 {r['tagger']['f1']:.3f}")
    if name == "perplexity":
        m, t = r["all"]["model"], r["text"]["model"]
        return (f"perplexity {m['perplexity']:.1f} ({t['perplexity']:.1f} without the repeated story markers), "
                f"{m['bits_per_char']:.3f} bits/char; Kneser-Ney bigram {r['all']['bigram_kneser_ney']['perplexity']:.1f}")
    if name == "vlb":
        return (f"{r['bound_nats']:.2f} nats/image, {r['bits_per_dim']:.3f} ± {r['bits_per_dim_stderr']:.3f} bits/dim "
                f"(upper bound on the {'class-conditional ' if r.get('conditional') else ''}NLL)")
    if name == "nll" and "points" in r:
        ref = f", true density {r['true_log_prob_nats']:.3f}" if "true_log_prob_nats" in r else ""
        return (f"log-likelihood {r['log_prob_nats']:.3f} nats/point (Gaussian fit {r['gaussian_log_prob_nats']:.3f}"
                f"{ref})")
    if name in ("elbo", "iwae", "nll"):
        key = {"elbo": "elbo_nats", "iwae": "iwae_nats", "nll": "log_prob_nats"}[name]
        bpd = r["bits_per_dim"] if "bits_per_dim" in r else r["bits_per_dim_8bit"]
        return f"{r[key]:.2f} nats/image, {bpd:.3f} bits/dim"
    if name == "pr":
        return f"precision {r['precision']:.3f}, recall {r['recall']:.3f}"
    if name == "memorization":
        return f"sample→train L1 {r['sample_to_train_l1']:.4f} vs held-out→train {r['held_out_to_train_l1']:.4f}"
    if name == "recon":
        return f"MSE {r['mse']:.4f}, PSNR {r['psnr_db']:.2f} dB, SSIM {r['ssim']:.3f}"
    if name == "is":
        return f"{r['value']:.3f} (real data {r['real_data_value']:.3f})"
    return f"{r['value']:.4g}" + (f" ± {r['std']:.2g}" if "std" in r else "")
