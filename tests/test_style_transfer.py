"""Neural style transfer (issue 18): the book's losses against hand computations, L-BFGS, the command, the VGG19
weight loaders on fake files of each format, and the feed-forward style network (train, resume, apply)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from genzoo.cli import cli
from genzoo.data.types import DataError
from genzoo.nn.vgg import LAYER_NAMES, TORCHVISION_INDEX, VGG19Features
from genzoo.style_transfer.features import build_features
from genzoo.style_transfer.gatys import stylise_lbfgs
from genzoo.style_transfer.losses import (LossWeights, PerceptualLoss, content_loss, gram_matrix, style_layer_loss,
                                          total_variation_loss)
from genzoo.style_transfer.weights import load_vgg19, preprocess_caffe, preprocess_torchvision

from conftest import assert_resumes_exactly


# -- losses ------------------------------------------------------------------------------------------------------
def test_gram_matrix_by_hand():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)       # 2 channels, 2 positions
    assert torch.equal(gram_matrix(f)[0], torch.tensor([[5.0, 11.0], [11.0, 25.0]]))


def test_style_loss_book_and_gatys_norms():
    gen = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    target = torch.zeros(1, 2, 2)
    sq = 5 ** 2 + 11 ** 2 + 11 ** 2 + 25 ** 2
    # book (the Keras code): channels = 3, size = the image's pixels (here 64) whatever the layer
    assert style_layer_loss(gen, target, "book", 64).item() == pytest.approx(sq / (4 * 9 * 64 ** 2))
    # the text's formula: the layer's N_l = 2 channels and M_l = 2 positions
    assert style_layer_loss(gen, target, "gatys", 64).item() == pytest.approx(sq / (4 * 4 * 4))


def test_content_and_total_variation_by_hand():
    a, b = torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    assert content_loss(a, b).item() == 8.0
    x = torch.tensor([[0.0, 0.2], [0.4, 0.6]]).view(1, 1, 2, 2)
    # only pixel (0, 0) has both neighbours: ((0 - 0.4)² + (0 - 0.2)²) in the 0–255 scale, to the power 1.25
    expected = ((0.4 * 255) ** 2 + (0.2 * 255) ** 2) ** 1.25
    assert total_variation_loss(x).item() == pytest.approx(expected, rel=1e-5)


def test_perceptual_loss_weights_and_layer_factors():
    torch.manual_seed(0)
    f = build_features("vgg19-random")
    content, style = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    layers = ("block1_conv1", "block2_conv1")
    one = PerceptualLoss(f, style, LossWeights(2.0, 3.0, 0.5, (1.0, 0.0)), "block5_conv2", layers)
    t = one.terms(content, one.content_targets(content))
    assert t["content"].item() == 0.0                      # the content image is its own target
    first = style_layer_loss(f(content, ["block1_conv1"])["block1_conv1"], one.style_grams["block1_conv1"],
                             "book", 32 * 32)
    assert t["style"].item() == pytest.approx(first.item() / 2, rel=1e-5)   # factor 0 drops layer 2; mean over 2
    assert t["loss"].item() == pytest.approx(3.0 * t["style"].item() + 0.5 * t["tv"].item(), rel=1e-5)


def test_lbfgs_lowers_the_loss_and_keeps_snapshots():
    torch.manual_seed(0)
    f = build_features("vgg19-random")
    content = torch.rand(1, 3, 32, 32)
    style = torch.linspace(0, 1, 32).view(1, 1, 1, 32).expand(1, 3, 32, 32).contiguous()
    loss = PerceptualLoss(f, style, LossWeights(100, 100, 0.1), "block5_conv2", f.style_layers)
    start = loss.terms(content, loss.content_targets(content))["loss"].item()
    res = stylise_lbfgs(loss, content, 2, max_eval=4, snapshots=(1, 2))
    assert sorted(res.snapshots) == [1, 2] and res.evaluations <= 2 * (4 + 2)   # the line search may overrun
    losses = [h["loss"] for h in res.history]
    assert losses[-1] < 0.5 * start and all(math.isfinite(v) for v in losses)
    assert losses == sorted(losses, reverse=True)


# -- the command ---------------------------------------------------------------------------------------------------
@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h) in enumerate(((48, 40), (30, 30))):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


def test_command_writes_image_snapshots_and_json(images, tmp_path):
    out = tmp_path / "out" / "result.png"
    r = CliRunner().invoke(cli, ["style-transfer", *images, "--size", "32", "--iterations", "2", "--max-eval", "3",
                                 "--snapshots", "1,2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for name in ("result.png", "result-iter1.png", "result-iter2.png", "result-progress.png", "result.json"):
        assert (out.parent / name).exists(), name
    rec = json.loads((out.parent / "result.json").read_text())
    assert rec["features"] == "vgg19-random" and "random" in rec["features_description"]
    assert rec["content_layer"] == "block4_conv2" and len(rec["style_layers"]) == 5   # vgg19-random's default
    scale = 128 * 128 / (27 * 32)          # the defaults are per 128×128 image: content and TV sums grow with pixels
    assert rec["weights"] == pytest.approx({"content": 15.0 * scale, "style": 100.0, "tv": 0.1 * scale})
    assert rec["size"] == [27, 32] and len(rec["history"]) == 2
    assert "no ImageNet weights" in r.output
    assert Image.open(out).size == (32, 27)


def test_offline_image_names():
    from genzoo.style_transfer.images import read_image

    img, src = read_image("coffee")
    assert src == "offline:coffee" and img.mode == "RGB" and img.size == (600, 400)


@pytest.mark.parametrize("args, message", [
    (["missing.png", "coffee"], "no image file 'missing.png'"),
    (["coffee", "coffee", "--content-layer", "block6_conv1"], "is not a layer of vgg19-random"),
    (["coffee", "coffee", "--style-layers", "block1_conv1,conv9"], "--style-layers conv9"),
    (["coffee", "coffee", "--style-layer-weights", "1,2"], "2 values for 5 style layers"),
    (["coffee", "coffee", "--snapshots", "5", "--iterations", "2"], "outside 1..2"),
    (["coffee", "coffee", "--features", "alexnet"], "unknown feature network 'alexnet'"),
    (["coffee", "coffee", "--features", "vgg19-imagenet"], "needs the weights file"),
    (["coffee", "coffee", "--vgg", "nowhere.pth"], "not a file"),
    (["coffee"], "give a STYLE image"),
])
def test_command_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.delenv("GENZOO_VGG19", raising=False)
    r = CliRunner().invoke(cli, ["style-transfer", *args, "--size", "32", "--out", str(tmp_path / "o.png")])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_command_bad_weights_file(tmp_path):
    bad = tmp_path / "vgg19.pth"
    bad.write_bytes(b"not a checkpoint" * 10)
    r = CliRunner().invoke(cli, ["style-transfer", "coffee", "coffee", "--vgg", str(bad), "--size", "32",
                                 "--out", str(tmp_path / "o.png")])
    assert r.exit_code == 2 and "not a readable PyTorch state dict" in r.output, r.output


# -- weight loaders on fake files of each format ---------------------------------------------------------------------
def fake_torchvision_state() -> dict[str, torch.Tensor]:
    """Real key names and shapes of torchvision's vgg19 (features + a stand-in classifier key), random fp16 values."""
    g = torch.Generator().manual_seed(0)
    ref = VGG19Features()
    state = {}
    for name, k in TORCHVISION_INDEX.items():
        conv = ref.convs[name]
        state[f"features.{k}.weight"] = torch.randn(conv.weight.shape, generator=g).half()
        state[f"features.{k}.bias"] = torch.randn(conv.bias.shape, generator=g).half()
    state["classifier.6.bias"] = torch.zeros(1000)
    return state


@pytest.fixture(scope="module")
def fake_state():
    return fake_torchvision_state()


def assert_maps_every_layer(net: VGG19Features, state: dict[str, torch.Tensor]) -> None:
    for name, k in TORCHVISION_INDEX.items():
        assert torch.equal(net.convs[name].weight, state[f"features.{k}.weight"].float()), name
        assert torch.equal(net.convs[name].bias, state[f"features.{k}.bias"].float()), name


def test_torchvision_pth_and_safetensors(fake_state, tmp_path):
    from safetensors.torch import save_file

    pth, st = tmp_path / "vgg19-dcbb9e9d.pth", tmp_path / "vgg19.safetensors"
    torch.save(fake_state, pth)
    save_file(fake_state, str(st))
    for path in (pth, st):
        net, prep = load_vgg19(path)
        assert prep == "torchvision"
        assert_maps_every_layer(net, fake_state)
    f = build_features("auto", vgg=str(st))
    assert f.name == "vgg19-imagenet" and f.preprocess is preprocess_torchvision
    # truncated: half the file
    half = tmp_path / "half.pth"
    half.write_bytes(pth.read_bytes()[: pth.stat().st_size // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_vgg19(half)
    half_st = tmp_path / "half.safetensors"
    half_st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_vgg19(half_st)


def test_wrong_or_partial_state(fake_state, tmp_path):
    partial = {k: v for k, v in fake_state.items() if not k.startswith("features.16.")}   # no block3_conv4
    torch.save(partial, tmp_path / "vgg16ish.pth")
    with pytest.raises(DataError, match="layers missing: block3_conv4"):
        load_vgg19(tmp_path / "vgg16ish.pth")
    wrong = dict(fake_state, **{"features.0.weight": torch.zeros(64, 1, 3, 3)})
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(DataError, match=r"block1_conv1.weight has shape \(64, 1, 3, 3\)"):
        load_vgg19(tmp_path / "wrong.pth")
    torch.save({"a.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(DataError, match="no VGG19 conv weights"):
        load_vgg19(tmp_path / "other.pth")


def test_keras_h5(fake_state, tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:        # the layout Keras' save_weights writes (Keras 2)
        f.attrs["layer_names"] = [b"input_1", *(n.encode() for n in LAYER_NAMES)]
        f.create_group("input_1").attrs["weight_names"] = []
        for name, k in TORCHVISION_INDEX.items():
            group = f.create_group(name)
            kernel = fake_state[f"features.{k}.weight"].permute(2, 3, 1, 0).numpy()   # OIHW → HWIO
            group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            group.create_dataset(f"{name}/kernel:0", data=kernel)
            group.create_dataset(f"{name}/bias:0", data=fake_state[f"features.{k}.bias"].numpy())
    net, prep = load_vgg19(path)
    assert prep == "caffe"
    assert_maps_every_layer(net, fake_state)
    assert build_features("vgg19-imagenet", vgg=str(path)).preprocess is preprocess_caffe
    bad = tmp_path / "bad.h5"
    bad.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_vgg19(bad)


def test_preprocessing_of_each_format():
    x = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)    # an RGB pixel
    caffe = preprocess_caffe(x).flatten().tolist()          # BGR, 0–255, minus the mean pixel
    assert caffe == pytest.approx([0 - 103.939, 127.5 - 116.779, 255 - 123.68])
    tv = preprocess_torchvision(x).flatten().tolist()
    assert tv == pytest.approx([(1 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0 - 0.406) / 0.225])


# -- the feed-forward network ------------------------------------------------------------------------------------------
def photo_dir(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(root / f"p{i}.png")
    return root


def test_style_net_trains_resumes_and_stylises(tmp_path):
    data = photo_dir(tmp_path)
    args = ["--data-dir", str(data), "--no-progress", "--batch-size", "2", "--set", "tensorboard=false",
            "--set", "log_every=1", "--set", "model.input_shape=[3,32,32]", "--set", "model.filters=8",
            "--set", "model.blocks=1", "--set", "model.style=coffee", "--set", "max_cpu_minutes=null"]
    ref = tmp_path / "ref"
    r = CliRunner().invoke(cli, ["train", "style-net-starry-night", "--max-steps", "4", "--out", str(ref), *args])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output[r.output.index("{"):])
    assert result["steps"] == 4 if "steps" in result else True
    log = [json.loads(line) for line in (ref / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    losses = [row["loss"] for row in log if "loss" in row]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert_resumes_exactly("style-net-starry-night", args, ref, tmp_path, 4)
    out = tmp_path / "ff.png"
    r = CliRunner().invoke(cli, ["style-transfer", "chelsea", "--model", str(ref), "--size", "30", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["features"] == "vgg19-random" and Image.open(out).size == (30, 20)


def test_style_net_refuses_other_runs(trained_runs, tmp_path):
    run = trained_runs.get("ae-digits", 2)
    r = CliRunner().invoke(cli, ["style-transfer", "chelsea", "--model", str(run), "--out", str(tmp_path / "o.png")])
    assert r.exit_code == 2 and "cannot stylise" in r.output, r.output


def test_style_net_config_errors(tmp_path):
    r = CliRunner().invoke(cli, ["train", "style-net-starry-night", "--set", "model.style_norm=l2",
                                 "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "model.style_norm must be one of book, gatys" in r.output, r.output


def test_command_with_imagenet_weights_file_uses_the_books_settings(fake_state, tmp_path, monkeypatch):
    from safetensors.torch import save_file

    weights = tmp_path / "vgg19.safetensors"
    save_file(fake_state, str(weights))
    monkeypatch.setenv("GENZOO_VGG19", str(weights))
    out = tmp_path / "book.png"
    r = CliRunner().invoke(cli, ["style-transfer", "coffee", "chelsea", "--size", "32", "--iterations", "1",
                                 "--max-eval", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["features"] == "vgg19-imagenet" and rec["features_info"]["preprocessing"] == "torchvision"
    assert rec["content_layer"] == "block5_conv2" and rec["weights"] == {"content": 1.0, "style": 100.0, "tv": 20.0}
