"""Model families. Importing this package registers every family with the model registry."""
from . import (autoencoder, autoregressive, bert, biggan, cyclegan, diffusion, ebm, gan, gpt, pix2pix, progan,  # noqa: F401
               qgen, realnvp, realnvp_points, sagan, style_net, stylegan, text, vae, wgan)
from .base import (AdversarialModel, ArrayModel, ArrayModelConfig, GenerativeModel, ModelConfig, build_model,
                   model_families, register_model)

__all__ = ["AdversarialModel", "ArrayModel", "ArrayModelConfig", "GenerativeModel", "ModelConfig", "build_model", "model_families", "register_model"]
