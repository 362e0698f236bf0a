"""The image-to-image translation networks of Foster 1st ed. ch. 5 (genzoo.nn.translation): shapes, parameter
counts of the book's configurations, skips, and the PatchGAN map size of the book's erratum."""
import torch

from genzoo.nn import count_params
from genzoo.nn.translation import PatchDiscriminator, ResNetGenerator, UNetGenerator


def test_unet_generator_is_listing_5_2():
    g = UNetGenerator(3, 32)
    x = torch.randn(2, 3, 128, 128)
    y = g(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    # Conv k4 3→32, 32→64, 64→128, 128→256; up-convs 256→128, 256→64, 128→32; out 64→3 (instance norm has no weights)
    assert count_params(g) == (1_545_411, 0)
    # a skip really carries the input's layout: the output depends on a pixel the bottleneck alone could blur away
    g.eval()
    x2 = x.clone()
    x2[:, :, 0, 0] += 5
    assert not torch.allclose(g(x2)[:, :, :4, :4], g(x)[:, :, :4, :4])


def test_patch_discriminator_gives_a_16x16_map_at_128px_the_books_erratum():
    d = PatchDiscriminator(3, 32)
    assert d(torch.randn(1, 3, 128, 128)).shape == (1, 1, 16, 16)
    assert count_params(d) == (1_568 + 32_832 + 131_200 + 524_544 + 4_097, 0)      # 694,241
    assert count_params(PatchDiscriminator(3, 64))[0] == 2_764_737            # the Monet recipe's 64 filters
    cond = PatchDiscriminator(3, 32, condition_channels=3)                     # pix2pix: the input image too
    assert cond(torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64)).shape == (1, 1, 8, 8)


def test_resnet_generator_keeps_the_size_with_nine_residual_blocks():
    g = ResNetGenerator(3, 32, blocks=9)
    x = torch.randn(1, 3, 64, 64)
    assert g(x).shape == x.shape
    blocks = [m for m in g.modules() if type(m).__name__ == "ResidualBlock"]
    assert len(blocks) == 9
    assert count_params(g) == (2_850_563, 0)       # c7s1-32, d64, d128, 9 × R128, u64, u32, c7s1-3


def test_the_even_kernel_same_padding_matches_keras_and_torch():
    import torch.nn.functional as F

    from genzoo.nn.translation import conv4_same

    conv = conv4_same(2, 3)
    x = torch.randn(1, 2, 9, 8)
    assert torch.allclose(conv(x), F.conv2d(x, conv[1].weight, conv[1].bias, padding="same"), atol=1e-6)
