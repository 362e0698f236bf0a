"""The analyses ``genzoo analyze`` knows, declared as data so the command line lists them without importing torch.

Each entry names the module that implements it (under :mod:`genzoo.analysis`), its function, the default size of
the analysis (``-n``) and the modalities it looks at. A new family's figures go in a module of their own and one
line here; :func:`genzoo.analysis.run.run_analysis` imports the module when the analysis runs.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalysisEntry:
    module: str                              # genzoo.analysis.<module>
    function: str
    default_n: int
    modalities: tuple[str, ...] = ("image",)
    help: str = ""


ENTRIES: dict[str, AnalysisEntry] = {
    "reconstructions": AnalysisEntry("run", "reconstructions", 10),
    "latent-scatter": AnalysisEntry("run", "latent_scatter", 5000),
    "latent-grid": AnalysisEntry("run", "latent_grid_analysis", 15),
    "interpolate": AnalysisEntry("run", "interpolate", 10),
    "arithmetic": AnalysisEntry("run", "arithmetic", 5),
    "histograms": AnalysisEntry("run", "histograms", 5000),
    "nearest": AnalysisEntry("run", "nearest", 8),
    "curves": AnalysisEntry("run", "curves", 0, ("image", "points", "tokens", "qa", "image-pair")),
    "flow": AnalysisEntry("run", "flow", 3000, ("points",)),
    "temperatures": AnalysisEntry("run", "temperatures", 3, ("tokens",)),
    "attention": AnalysisEntry("run", "attention", 24, ("tokens",)),
    "positions": AnalysisEntry("run", "positions", 0, ("tokens",)),
    "answers": AnalysisEntry("run", "answers", 3, ("qa",)),
    "growth": AnalysisEntry("growth", "growth", 8,
                            help="the same draws at the end of each resolution phase of a progressively grown GAN"),
    "attention-maps": AnalysisEntry("attention_maps", "attention_maps", 4,
                                    help="where a generator's self-attention looks from a few query pixels (SAGAN "
                                         "Fig. 1/5)"),
    "truncation": AnalysisEntry("truncation", "truncation_grid", 6,
                                help="rows of the same draws at each truncation value (StyleGAN's psi, BigGAN's "
                                     "threshold)"),
    "truncation-curve": AnalysisEntry("truncation", "truncation_curve", 2000,
                                      help="FID, precision and recall of -n samples at each truncation value"),
    "style-mixing": AnalysisEntry("style", "style_mixing", 5,
                                  help="sources A (columns) with the coarse, middle or fine styles of sources B (rows), "
                                       "StyleGAN Fig. 3"),
    "noise-effect": AnalysisEntry("style", "noise_effect", 4,
                                  help="fixed w per row with re-drawn noise, and the per-pixel std over 100 noise "
                                       "draws (StyleGAN Fig. 4)"),
    "style-interpolation": AnalysisEntry("style", "style_interpolation", 4,
                                         help="the same endpoints interpolated in Z and in W, with a pixel-space "
                                              "perceptual path length for each"),
    "translation-grid": AnalysisEntry("translation", "translation_grid", 6, ("image-pair",),
                                      help="original → translated → reconstructed → identity per direction, with the "
                                           "true counterpart of paired data (Foster Figs 5.3/5.8)"),
    "translation-progress": AnalysisEntry("translation", "translation_progress", 4, ("image-pair",),
                                          help="the same held-out images translated at each gallery of training "
                                               "(Foster Fig. 5.12)"),
    "colour-shift": AnalysisEntry("translation", "colour_shift", 378, ("image-pair",),
                                  help="mean colours of sources, translations and true targets: the lambda_id = 0 "
                                       "ablation's measure (Foster Fig. 5.9)"),
}

ANALYSES: tuple[str, ...] = tuple(ENTRIES)
DEFAULT_N: dict[str, int] = {k: e.default_n for k, e in ENTRIES.items()}
MODALITIES: dict[str, tuple[str, ...]] = {k: e.modalities for k, e in ENTRIES.items()}
POINT_ANALYSES = tuple(a for a in ANALYSES if "points" in MODALITIES[a])
