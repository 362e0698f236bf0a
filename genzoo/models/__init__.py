"""Model families. Importing this package registers every family with the model registry."""
from . import autoencoder, autoregressive, bert, biggan, diffusion, ebm, gan, gpt, qgen, realnvp, realnvp_points, sagan, text, vae, wgan  # noqa: F401
from .base import (AdversarialModel, ArrayModel, ArrayModelConfig, GenerativeModel, ModelConfig, build_model,
                   model_families, register_model)

__all__ = ["AdversarialModel", "ArrayModel", "ArrayModelConfig", "GenerativeModel", "ModelConfig", "build_model", "model_families", "register_model"]
