"""The shared Transformer blocks (genzoo.nn.transformer): parameter count of nanoGPT's CPU configuration, the
explicit-softmax path equals the fused one, causal masking, the key/value cache, padding masks, sinusoids."""
from __future__ import annotations

import math

import pytest
import torch

from genzoo.nn.transformer import Transformer, sinusoidal_encoding


@pytest.fixture(scope="module")
def decoder() -> Transformer:
    torch.manual_seed(0)
    return Transformer(65, context=64, d_model=128, heads=4, layers=4).eval()


def test_parameter_count_of_the_cpu_configuration(decoder):
    # 12·d² + 13·d per block, token and position tables, final LayerNorm; the output layer is tied (no weights).
    d = 128
    expected = 4 * (12 * d * d + 13 * d) + 65 * d + 64 * d + 2 * d
    assert sum(p.numel() for p in decoder.parameters()) == expected == 809_856
    assert decoder.head is None and len(decoder.state_dict()) == len(list(decoder.parameters()))
    untied = Transformer(65, 64, 128, 4, 4, tie_weights=False)
    assert sum(p.numel() for p in untied.parameters()) == expected + 65 * d


def test_explicit_weights_equal_fused_attention_and_are_causal(decoder):
    ids = torch.randint(0, 65, (2, 17))
    with torch.no_grad():
        fused = decoder(ids)
        explicit, weights = decoder(ids, return_weights=True)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    assert len(weights) == 4 and weights[0].shape == (2, 4, 17, 17)
    w = weights[2]
    assert torch.allclose(w.sum(-1), torch.ones(2, 4, 17))
    assert w.triu(1).abs().max() == 0                          # no position sees a later one
    # changing a later token leaves earlier logits unchanged
    other = ids.clone()
    other[:, 10] = (other[:, 10] + 1) % 65
    with torch.no_grad():
        torch.testing.assert_close(decoder(other)[:, :10], fused[:, :10])


def test_kv_cache_gives_the_uncached_logits(decoder):
    ids = torch.randint(0, 65, (3, 30))
    with torch.no_grad():
        full = decoder(ids)
        cache = decoder.new_cache(3)
        steps = [decoder(ids[:, :9], cache=cache)] + [decoder(ids[:, i:i + 1], cache=cache) for i in range(9, 25)]
        steps.append(decoder(ids[:, 25:], cache=cache))       # several new positions after a filled cache
    assert cache.length == 30
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="do not fit the cache"):
        decoder(torch.zeros(3, 40, dtype=torch.long), cache=cache)


def test_bidirectional_encoder_with_padding():
    torch.manual_seed(1)
    enc = Transformer(40, context=32, d_model=32, heads=2, layers=2, causal=False, positions="sinusoidal").eval()
    ids = torch.randint(0, 40, (2, 12))
    pad = torch.ones(2, 12, dtype=torch.bool)
    pad[0, 8:] = False
    with torch.no_grad():
        h = enc.features(ids, pad_mask=pad)
        h2, weights = enc.features(ids, pad_mask=pad, return_weights=True)
        alone = enc.features(ids[:1, :8])
    torch.testing.assert_close(h, h2, atol=1e-5, rtol=1e-5)
    assert weights[0][0, :, :, 8:].abs().max() == 0 and weights[0][1].triu(1).abs().max() > 0
    torch.testing.assert_close(h[:1, :8], alone, atol=1e-5, rtol=1e-5)   # padding changes nothing
    with pytest.raises(ValueError, match="bidirectional"):
        enc.new_cache(2)


def test_sinusoidal_encoding_is_the_papers_formula():
    pe = sinusoidal_encoding(50, 16)
    p, i = 7, 3
    assert pe.shape == (50, 16)
    assert math.isclose(pe[p, 2 * i], math.sin(p / 10000 ** (2 * i / 16)), rel_tol=1e-6)
    assert math.isclose(pe[p, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 16)), rel_tol=1e-6)
    assert sinusoidal_encoding(10, 7).shape == (10, 7)


def test_flops_per_token_counts_linear_weights_and_attention(decoder):
    d, t = 128, 64
    linear = 4 * 12 * d * d + 65 * d                           # blocks' linear weights + the (tied) output layer
    assert decoder.matmul_flops_per_token() == 2 * linear + 4 * 4 * (t + 1) / 2 * d
