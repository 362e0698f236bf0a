"""The real Inception-v3 FID features (Heusel et al. 2017), for users who have the weights.

torchmetrics' ``NoTrainInceptionV3`` (which needs the ``torch-fidelity`` package) reproduces the
TensorFlow FID network; it downloads ``pt_inception-2015-12-05-6726825d.pth`` unless
``$GENZOO_INCEPTION_WEIGHTS`` names a local copy. Neither the package's download host nor the weights
are reachable on offline machines, so this path fails with a message saying what to install or set.
"""
from __future__ import annotations

import os

import torch
from torch import Tensor

from ..config import ConfigError

WEIGHTS_ENV = "GENZOO_INCEPTION_WEIGHTS"
WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
               "weights-inception-2015-12-05-6726825d.pth")


class InceptionFeatures:
    """Images in [0, 1] → (2048-d pool features, 1008-way logits) of the FID Inception network."""

    num_features = 2048

    def __init__(self) -> None:
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
        except ImportError as e:  # pragma: no cover - torchmetrics is a dependency
            raise ConfigError(f"torchmetrics is missing ({e})") from None
        path = os.environ.get(WEIGHTS_ENV)
        if path and not os.path.isfile(path):
            raise ConfigError(f"${WEIGHTS_ENV}={path} is not a file; point it at the FID Inception weights "
                              f"({WEIGHTS_URL})")
        try:
            self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                                          feature_extractor_weights_path=path)
        except ModuleNotFoundError:
            raise ConfigError("Inception FID needs the torch-fidelity package: `pip install torch-fidelity` "
                              "(or use the default --features genzoo)") from None
        except Exception as e:
            raise ConfigError(f"the Inception-v3 weights could not be loaded ({type(e).__name__}: {e}). Without a "
                              f"network, download {WEIGHTS_URL} elsewhere and set ${WEIGHTS_ENV} to the file, or "
                              f"use the default --features genzoo") from None
        self.meta = {"label": "Inception-v3 pool3 features", "key": "inception-v3-compat",
                     "test_accuracy": None}

    @torch.no_grad()
    def __call__(self, images01: Tensor, batch_size: int = 100) -> tuple[Tensor, Tensor]:
        feats, logits = [], []
        for s in range(0, len(images01), batch_size):
            x = images01[s:s + batch_size].float()
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            f, lg = self.net((x * 255).round().to(torch.uint8))
            feats.append(f.float())
            logits.append(lg.float())
        return torch.cat(feats), torch.cat(logits)

    def dataset_features(self, data, data_cfg, split: str) -> tuple[Tensor, Tensor]:
        from ..data.loader import make_batch

        parts = [self(make_batch(data, torch.arange(s, min(s + 1000, len(data))), data_cfg, "01",
                                 torch.device("cpu")).x) for s in range(0, len(data), 1000)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
