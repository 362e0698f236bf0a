"""Diffusion noise schedules and reverse-process samplers, independent of any network."""
from .samplers import SAMPLERS, Inpainting, SamplerSettings, reverse_step, sample_loop, timesteps
from .schedules import SCHEDULES, NoiseSchedule, cosine_betas, linear_betas, split_prediction, training_target

__all__ = ["SAMPLERS", "SCHEDULES", "Inpainting", "NoiseSchedule", "SamplerSettings", "cosine_betas", "linear_betas",
           "reverse_step", "sample_loop", "split_prediction", "timesteps", "training_target"]
