"""Metrics: likelihood bounds now; sample-quality metrics (FID/KID/precision-recall) next."""
from .likelihood import bits_per_dim, dataset_elbo

__all__ = ["bits_per_dim", "dataset_elbo"]
