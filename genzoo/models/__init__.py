"""Model families. Importing this package registers every family with the model registry."""
from . import (autoencoder, autoregressive, bert, biggan, diffusion, ebm, gan, gpt, progan, qgen, realnvp,  # noqa: F401
               realnvp_points, sagan, stylegan, text, vae, wgan)
from .base import (AdversarialModel, ArrayModel, ArrayModelConfig, GenerativeModel, ModelConfig, build_model,
                   model_families, register_model)

__all__ = ["AdversarialModel", "ArrayModel", "ArrayModelConfig", "GenerativeModel", "ModelConfig", "build_model", "model_families", "register_model"]
