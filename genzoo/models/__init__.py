"""Model families. Importing this package registers every family with the model registry."""
from . import autoencoder, autoregressive, diffusion, ebm, gan, realnvp, realnvp_points, vae, wgan  # noqa: F401
from .base import AdversarialModel, GenerativeModel, ModelConfig, build_model, model_families, register_model

__all__ = ["AdversarialModel", "GenerativeModel", "ModelConfig", "build_model", "model_families", "register_model"]
