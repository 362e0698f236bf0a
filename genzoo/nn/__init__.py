"""Shared building blocks: layers with Keras-compatible shapes, conv/dense stacks, summaries."""
from .layers import (Reshape, UpsampleConv2d, Upsampled, activation, batch_norm, conv_same, conv_transpose_same,
                     init_he_, init_keras_, init_normal_, one_hot_maps)
from .stacks import conv_stack, dense_stack
from .summary import count_params, format_summary, layer_rows

__all__ = ["Reshape", "UpsampleConv2d", "Upsampled", "activation", "batch_norm", "conv_same", "conv_transpose_same",
           "conv_stack", "count_params", "dense_stack", "format_summary", "init_he_", "init_keras_", "init_normal_", "layer_rows", "one_hot_maps"]
from .coders import ConvDecoder, ConvEncoder, DenseDecoder, DenseEncoder  # noqa: E402

__all__ += ["ConvDecoder", "ConvEncoder", "DenseDecoder", "DenseEncoder"]
