"""Model families. Importing this package registers every family with the model registry."""
from . import autoencoder, vae  # noqa: F401
from .base import AdversarialModel, GenerativeModel, ModelConfig, build_model, model_families, register_model

try:
    from . import gan, wgan  # noqa: F401
except ImportError:  # pragma: no cover - while the GAN family is being written
    pass

__all__ = ["AdversarialModel", "GenerativeModel", "ModelConfig", "build_model", "model_families", "register_model"]
