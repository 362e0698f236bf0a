"""Datasets: named readers, standard-format readers, transforms and the batch stream."""
from . import celeba, cifar, emoji, folders, fonts, mnist, photos, points, qa, quickdraw, tokens, two_domain  # noqa: F401  (each registers its datasets)
from .loader import Batch, BatchStream, load_data, load_images, make_batch
from .registry import DataRequest, dataset_info, dataset_names, register_dataset
from .tokens import TokenSet
from .types import DataError, DataSpec, ImageSet

__all__ = ["Batch", "BatchStream", "DataError", "DataRequest", "DataSpec", "ImageSet", "TokenSet", "dataset_info",
           "dataset_names", "load_data", "load_images", "make_batch", "register_dataset"]
