"""Model families. Importing this package registers every family with the model registry."""
from . import autoencoder, autoregressive, bert, diffusion, ebm, gan, gpt, progan, qgen, realnvp, realnvp_points, stylegan, text, vae, wgan  # noqa: F401
from .base import (AdversarialModel, ArrayModel, ArrayModelConfig, GenerativeModel, ModelConfig, build_model,
                   model_families, register_model)

__all__ = ["AdversarialModel", "ArrayModel", "ArrayModelConfig", "GenerativeModel", "ModelConfig", "build_model", "model_families", "register_model"]
