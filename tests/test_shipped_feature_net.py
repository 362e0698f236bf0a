"""The Fashion-MNIST feature network shipped with genzoo: found for its exact spec before the cache, stored in
fp16 and run in fp32, kept apart from networks trained here, and packaged."""
from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from conftest import MINI_FASHION
from genzoo.config import DataConfig
from genzoo.data import load_images
from genzoo.data.loader import make_batch
from genzoo.metrics import features
from genzoo.metrics.features import (SHIPPED_ROOT, FeatureNetSpec, get_feature_net, load_feature_net,
                                     shipped_feature_net, spec_for, train_feature_net)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 1-epoch network on the mini fixture, and a 'shipped' fp16 copy of it in its own folder."""
    import os

    os.environ["GENZOO_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    cfg = DataConfig(name="fashion-mnist", data_dir=str(MINI_FASHION))
    spec = FeatureNetSpec(dataset="fashion-mnist", shape=(1, 28, 28), epochs=1)
    net = train_feature_net(spec, cfg, progress=False, log=lambda m: None)
    root = tmp_path_factory.mktemp("shipped")
    folder = root / spec.key
    folder.mkdir()
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in net.net.state_dict().items()},
              str(folder / "weights.safetensors"))
    (folder / "meta.json").write_text(json.dumps({**net.meta, "storage": "fp16"}))
    return cfg, spec, net, root


def test_the_shipped_network_is_used_before_the_cache_and_agrees_with_fp32(trained, monkeypatch):
    cfg, spec, cached, root = trained
    monkeypatch.setattr(features, "SHIPPED_ROOT", root)
    net = load_feature_net(spec)
    assert net.meta["source"] == "shipped with genzoo" and net.meta["key"] == spec.key
    assert all(p.dtype == torch.float32 for p in net.net.parameters())       # fp16 on disk, fp32 in use
    data = load_images(cfg, (1, 28, 28), split="test")
    x = make_batch(data, torch.arange(len(data)), cfg, "01", torch.device("cpu")).x
    f16, logits16 = net(x)
    f32, logits32 = cached(x)
    assert (f16 - f32).abs().max() <= 2e-3 * f32.abs().max()
    assert (logits16.argmax(1) == logits32.argmax(1)).float().mean() > 0.99
    log: list[str] = []
    again = get_feature_net(cfg, (1, 28, 28), epochs=1, log=log.append)
    assert log == [] and again.meta["source"] == "shipped with genzoo"          # nothing trained
    # real-data features of the shipped network are cached apart from those of the network trained here
    assert net.folder != cached.folder and net.folder.name == spec.key + "-shipped"


def test_the_shipped_network_needs_the_exact_spec(trained, monkeypatch):
    cfg, spec, cached, root = trained
    monkeypatch.setattr(features, "SHIPPED_ROOT", root)
    assert shipped_feature_net(FeatureNetSpec(dataset="fashion-mnist", shape=(1, 28, 28), epochs=2)) is None
    assert shipped_feature_net(FeatureNetSpec(dataset="fashion-mnist", shape=(1, 32, 32), epochs=1)) is None
    assert shipped_feature_net(FeatureNetSpec(dataset="fashion-mnist", shape=(1, 28, 28), epochs=1, seed=1)) is None
    monkeypatch.setenv("GENZOO_SHIPPED_FEATURE_NETS", "0")                      # opt out: the cache decides
    assert load_feature_net(spec, cfg.data_dir).meta.get("source") is None
    monkeypatch.delenv("GENZOO_SHIPPED_FEATURE_NETS")
    meta_path = root / spec.key / "meta.json"
    meta = json.loads(meta_path.read_text())
    try:
        meta_path.write_text(json.dumps({**meta, "spec": {**meta["spec"], "lr": 1e-3}}))  # trained differently
        assert shipped_feature_net(spec) is None
    finally:
        meta_path.write_text(json.dumps(meta))


def test_retraining_drops_the_cached_real_features(trained, tmp_path):
    cfg, spec, cached, _ = trained
    data = load_images(cfg, (1, 28, 28), split="test")
    cached.dataset_features(data, cfg, "test")
    assert list(cached.folder.glob("real-*.safetensors"))
    train_feature_net(spec, cfg, progress=False, log=lambda m: None)
    assert not list(cached.folder.glob("real-*.safetensors"))


def test_the_fashion_mnist_network_ships_with_the_package():
    spec = spec_for(DataConfig(name="fashion-mnist"), (1, 28, 28))             # what `genzoo eval` asks for
    folder = SHIPPED_ROOT / spec.key
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["key"] == spec.key and meta["spec"] == json.loads(json.dumps(asdict(spec)))
    assert meta["test_accuracy"] > 0.88 and meta["test_images"] == 10_000 and meta["train_images"] == 60_000
    assert "genzoo feature-net --dataset fashion-mnist --shape 1,28,28 --epochs 5" in meta["reproduce"]
    assert meta["fp16_check"]["fid_relative_difference"] < 1e-3 and meta["parameters"] == 468_458
    assert (folder / "weights.safetensors").stat().st_size < 1_100_000           # fp16: under 1.1 MB
    net = shipped_feature_net(spec)
    assert net is not None and net.num_features == 128
    package_data = re.search(r"\[tool\.setuptools\.package-data\]\s*genzoo = \[(.*)\]",
                             (ROOT / "pyproject.toml").read_text()).group(1)
    assert '"assets/feature-nets/*/*.json"' in package_data and '"assets/feature-nets/*/*.safetensors"' in package_data


NOTO = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")


@pytest.mark.skipif(not (NOTO.exists() and EMOJI_TEST.exists()), reason="fonts-noto-color-emoji or unicode-data missing")
def test_the_shipped_emoji_network_classifies_the_unicode_groups_as_recorded():
    from genzoo.data import load_images
    from genzoo.metrics.features import classifier_accuracy, load_feature_net, spec_for

    cfg = DataConfig(name="emoji")
    spec = spec_for(cfg, (3, 32, 32))
    net = load_feature_net(spec)
    assert net is not None and net.meta["source"] == "shipped with genzoo" and net.meta["num_classes"] == 10
    test = load_images(spec.data_config(cfg), spec.shape, split="test")
    accuracy = classifier_accuracy(net.net, test, spec.data_config(cfg))
    assert abs(accuracy - net.meta["fp16_check"]["fp16"]["test_accuracy"]) < 1e-6
    assert accuracy > net.meta["test_majority_class_accuracy"] + 0.2       # well above always saying People & Body


def test_a_run_at_another_size_uses_the_shipped_network_on_resized_images():
    """Fashion-MNIST at a size without a network of its own (64×64 here) is measured with a shipped one: generated
    and real images alike are area-resized to its size first, and the metrics' name says so."""
    import torch.nn.functional as F

    from genzoo.config import ConfigError
    from genzoo.metrics.features import shipped_at_other_size

    spec = spec_for(DataConfig(name="fashion-mnist"), (1, 64, 64))
    assert shipped_feature_net(spec) is None
    other = shipped_at_other_size(spec)
    assert other is not None and other.spec.shape in ((1, 28, 28), (1, 32, 32))
    size = other.spec.shape[1:]
    net = other.resized((1, 64, 64))
    assert f"resized from 64×64 to {size[0]}×{size[1]}" in net.meta["label"]
    x = torch.rand(6, 1, 64, 64)
    f, logits = net(x)
    f_ref, logits_ref = other(F.interpolate(x, size=size, mode="area"))
    assert torch.allclose(f, f_ref) and torch.allclose(logits, logits_ref)
    with pytest.raises(ConfigError, match="shape"):
        net(torch.rand(2, 1, 28, 28))
    with pytest.raises(ConfigError, match="channel"):
        other.resized((3, 64, 64))
    got = get_feature_net(DataConfig(name="fashion-mnist"), (1, 64, 64), log=lambda m: None)
    assert got.input_shape == (1, 64, 64)
    # the 32×32 runs of the advanced GANs have a shipped network of their own
    assert shipped_feature_net(spec_for(DataConfig(name="fashion-mnist"), (1, 32, 32))) is not None
