"""Datasets: named readers, standard-format readers, transforms and the batch stream."""
from . import mnist  # noqa: F401  (registers fashion-mnist and mnist)
from .loader import Batch, BatchStream, load_images, make_batch
from .registry import DataRequest, dataset_info, dataset_names, register_dataset
from .types import DataError, ImageSet

try:  # readers added by other modules register themselves on import
    from . import formats  # noqa: F401
except ImportError:  # pragma: no cover - formats.py is optional while it is being written
    pass

__all__ = ["Batch", "BatchStream", "DataError", "DataRequest", "ImageSet", "dataset_info", "dataset_names",
           "load_images", "make_batch", "register_dataset"]
