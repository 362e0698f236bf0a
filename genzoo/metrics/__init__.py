"""Metrics: likelihood bounds, feature-based sample quality, reconstruction and memorisation checks."""
from .likelihood import bits_per_dim, dataset_elbo, dataset_iwae, dataset_log_prob
from .sample_quality import fid, inception_score, kid, precision_recall

__all__ = ["bits_per_dim", "dataset_elbo", "dataset_iwae", "dataset_log_prob", "fid", "inception_score", "kid",
           "precision_recall"]
