"""Datasets: named readers, standard-format readers, transforms and the batch stream."""
from . import celeba, cifar, emoji, folders, mnist, points, quickdraw  # noqa: F401  (each registers its datasets)
from .loader import Batch, BatchStream, load_images, make_batch
from .registry import DataRequest, dataset_info, dataset_names, register_dataset
from .types import DataError, ImageSet

__all__ = ["Batch", "BatchStream", "DataError", "DataRequest", "ImageSet", "dataset_info", "dataset_names",
           "load_images", "make_batch", "register_dataset"]
