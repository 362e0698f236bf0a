"""Dataset readers on tiny files written in each standard format, plus their error messages."""
from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.config import DataConfig
from genzoo.data import DataError, DataRequest, ImageSet, dataset_info, dataset_names, load_images
from genzoo.data.idx import read_idx

NOTO = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


def read(name: str, **kw) -> ImageSet:
    return dataset_info(name).reader(DataRequest(**kw))


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_all_readers_registered():
    assert {"emoji", "image-folder", "npz", "celeba", "cifar10", "quickdraw", "fashion-mnist"} <= set(dataset_names())


# --------------------------------------------------------------------------------------------------
# IDX (fashion-mnist)
# --------------------------------------------------------------------------------------------------

def idx_bytes(arr: np.ndarray) -> bytes:
    assert arr.dtype == np.uint8
    return bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape) + arr.tobytes()


def write_fashion(d: Path, n: int = 6, gz: bool = True) -> np.ndarray:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    for prefix in ("train", "t10k"):
        for stem, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            data = idx_bytes(arr)
            if gz:
                (d / f"{stem}.gz").write_bytes(gzip.compress(data))
            else:
                (d / stem).write_bytes(data)
    return images


def test_read_idx_plain_and_gz(tmp_path):
    arr = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    (tmp_path / "a-idx3-ubyte").write_bytes(idx_bytes(arr))
    (tmp_path / "a-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
        t = read_idx(tmp_path / name)
        assert t.shape == (3, 4, 5) and t.dtype == torch.uint8
        assert torch.equal(t, torch.from_numpy(arr))


def test_read_idx_truncated_names_file(tmp_path):
    arr = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    p = tmp_path / "short-idx3-ubyte"
    p.write_bytes(idx_bytes(arr)[:-7])
    with pytest.raises(DataError, match="short-idx3-ubyte.*truncated"):
        read_idx(p)
    gz = tmp_path / "short-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(idx_bytes(arr))[:20])
    with pytest.raises(DataError, match="short-idx3-ubyte.gz"):
        read_idx(gz)
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x01\x02\x03\x04hello")
    with pytest.raises(DataError, match="bad-idx.*magic"):
        read_idx(bad)


def test_fashion_mnist_from_tiny_idx(tmp_path):
    images = write_fashion(tmp_path, gz=False)
    data = read("fashion-mnist", data_dir=str(tmp_path), split="test")
    assert data.images.shape == (6, 1, 28, 28) and data.labels.tolist() == list(range(6))
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    assert data.class_names[0] == "T-shirt/top"


def test_fashion_mnist_truncated_gz(tmp_path):
    write_fashion(tmp_path)
    truncate(tmp_path / "train-images-idx3-ubyte.gz", 0.6)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        read("fashion-mnist", data_dir=str(tmp_path))


# --------------------------------------------------------------------------------------------------
# emoji
# --------------------------------------------------------------------------------------------------

@pytest.mark.skipif(not NOTO.exists(), reason="fonts-noto-color-emoji is not installed")
def test_emoji_32px_white_background_and_cache():
    t0 = time.perf_counter()
    train = read("emoji", image_size=32)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    test = read("emoji", image_size=32, split="test")
    second = time.perf_counter() - t0
    assert len(train) + len(test) == 3926
    assert len(test) == 3926 // 10  # every 10th glyph
    assert train.images.shape[1:] == (3, 32, 32) and train.images.dtype == torch.uint8
    assert len(train.meta["glyph_names"]) == len(train)
    # Transparent corners become pure white; only the four hair-component glyphs (U+1F9B0..U+1F9B3)
    # draw a dashed frame out to the bitmap's edge.
    framed = {"u1F9B0", "u1F9B1", "u1F9B2", "u1F9B3"}
    for data in (train, test):
        corners = data.images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
        white = (corners == 255).flatten(1).all(1)
        assert {n for n, w in zip(data.meta["glyph_names"], white.tolist()) if not w} <= framed
        assert white.sum() >= len(data) - 4
    assert train.images.float().std() > 20  # real pictures, not blank
    assert second < max(1.0, first / 3)  # the second read comes from the cache
    grey = read("emoji", image_size=32, split="test", channels=1)
    assert grey.images.shape == (len(test), 1, 32, 32)


EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")


@pytest.mark.skipif(not (NOTO.exists() and EMOJI_TEST.exists()), reason="fonts-noto-color-emoji or unicode-data missing")
def test_emoji_are_labelled_by_their_unicode_groups():
    train, test = read("emoji", image_size=32), read("emoji", image_size=32, split="test")
    assert train.class_names == test.class_names and len(train.class_names) == 10
    assert train.class_names[:2] == ["Smileys & Emotion", "People & Body"] and train.class_names[-1] == "Flags"
    group = {n: train.class_names[k] for d in (train, test) for n, k in zip(d.meta["glyph_names"], d.labels.tolist())}
    assert group["u1F600"] == "Smileys & Emotion"          # grinning face: a single code point in the cmap
    assert group["u1F415"] == "Animals & Nature"           # dog
    assert group["u1F355"] == "Food & Drink"               # pizza
    # ligature glyphs (named glyphNNNNN by the font) are reached through GSUB: flags and skin tones
    counts = torch.bincount(torch.cat([train.labels, test.labels]), minlength=10)
    assert counts[train.class_names.index("Flags")] > 250        # 258 country flags and the subdivision flags
    assert counts[train.class_names.index("People & Body")] > 1500   # skin-tone and gender variants included
    assert counts.sum() == 3926 and (counts > 0).all()


def test_emoji_groups_fall_back_to_the_base_emoji():
    from genzoo.data.emoji_groups import group_of

    listed = {(0x1F3C3,): "People & Body", (0x1F1EB, 0x1F1F7): "Flags", (0x2764,): "Smileys & Emotion"}
    assert group_of((0x1F3C3, 0x1F3FD, 0x200D, 0x2640, 0xFE0F), listed) == "People & Body"   # skin tone + gender
    assert group_of((0x1F1EB, 0x1F1F7), listed) == "Flags"
    assert group_of((0x2764, 0xFE0F), listed) == "Smileys & Emotion"                         # variation selector
    assert group_of((0x31, 0x20E3), listed) == "Component"                                   # nothing listed


@pytest.mark.skipif(not NOTO.exists(), reason="fonts-noto-color-emoji is not installed")
def test_emoji_without_the_unicode_groups_file_are_unlabelled_and_say_how_to_label(tmp_path, monkeypatch):
    from genzoo.data import emoji_groups

    (tmp_path / "NotoColorEmoji.ttf").symlink_to(NOTO)
    monkeypatch.setattr(emoji_groups, "SYSTEM_DIRS", [str(tmp_path / "nowhere")])
    data = read("emoji", data_dir=str(tmp_path), image_size=32, split="test")
    assert data.labels is None and "unicode-data" in data.meta["labels_hint"]


def test_emoji_corrupt_font_names_file(tmp_path):
    (tmp_path / "NotoColorEmoji.ttf").write_bytes(b"not a font at all" * 10)
    with pytest.raises(DataError, match=r"NotoColorEmoji\.ttf.*(corrupt|reinstall)"):
        read("emoji", data_dir=str(tmp_path), image_size=32)


@pytest.mark.skipif(not NOTO.exists(), reason="fonts-noto-color-emoji is not installed")
def test_emoji_truncated_font_names_file(tmp_path):
    (tmp_path / "NotoColorEmoji.ttf").write_bytes(NOTO.read_bytes()[:2_000_000])
    with pytest.raises(DataError, match=str(tmp_path / "NotoColorEmoji.ttf")):
        read("emoji", data_dir=str(tmp_path), image_size=32)


# --------------------------------------------------------------------------------------------------
# image-folder and npz
# --------------------------------------------------------------------------------------------------

def solid(size: tuple[int, int], colour, mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def test_image_folder_with_classes(tmp_path):
    (tmp_path / "dog").mkdir()
    (tmp_path / "cat" / "deeper").mkdir(parents=True)
    solid((20, 30), (255, 0, 0)).save(tmp_path / "dog" / "a.png")
    solid((40, 40), (0, 0, 255)).save(tmp_path / "dog" / "b.JPG", quality=95)
    solid((16, 16), (0, 0, 0, 0), "RGBA").save(tmp_path / "cat" / "deeper" / "clear.png")
    solid((10, 12), 128, "L").save(tmp_path / "cat" / "grey.bmp")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    data = read("image-folder", data_dir=str(tmp_path), image_size=8)
    assert data.images.shape == (4, 3, 8, 8)
    assert data.class_names == ["cat", "dog"]
    assert data.labels.tolist() == [0, 0, 1, 1]
    assert (data.images[0] == 255).all()              # transparent → white
    assert (data.images[1] == 128).all()              # grey → RGB
    assert data.images[2, 0].min() == 255 and data.images[2, 2].max() == 0  # red
    grey = read("image-folder", data_dir=str(tmp_path), image_size=8, channels=1)
    assert grey.images.shape == (4, 1, 8, 8)


def test_image_folder_flat_same_size_and_errors(tmp_path):
    for i in range(3):
        solid((12, 10), (i * 50, 0, 0)).save(tmp_path / f"{i}.png")
    data = read("image-folder", data_dir=str(tmp_path))
    assert data.images.shape == (3, 3, 10, 12) and data.labels is None
    solid((5, 5), (0, 0, 0)).save(tmp_path / "small.png")
    with pytest.raises(DataError, match="data.image_size"):
        read("image-folder", data_dir=str(tmp_path))
    buf = io.BytesIO()
    solid((12, 10), (0, 0, 0)).save(buf, "PNG")
    (tmp_path / "broken.png").write_bytes(buf.getvalue()[:40])
    with pytest.raises(DataError, match="broken.png"):
        read("image-folder", data_dir=str(tmp_path), image_size=8)
    with pytest.raises(DataError, match="--data-dir"):
        read("image-folder")


@pytest.mark.parametrize("layout", ["nhw", "nhwc", "nchw", "flat", "float01", "keras"])
def test_npz_layouts(tmp_path, layout):
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 256, (5, 3, 6, 6), dtype=np.uint8)
    labels = np.arange(5)
    grey = ref[:, :1]
    arrays = {
        "nhw": dict(images=grey[:, 0], labels=labels),
        "nhwc": dict(x=ref.transpose(0, 2, 3, 1), y=labels),
        "nchw": dict(images=ref),
        "flat": dict(x=grey.reshape(5, 36), y=labels),
        "float01": dict(images=ref.transpose(0, 2, 3, 1).astype(np.float32) / 255.0, labels=labels),
        "keras": dict(x_train=grey[:, 0], y_train=labels, x_test=grey[:2, 0], y_test=labels[:2]),
    }[layout]
    np.savez(tmp_path / "set.npz", **arrays)
    data = read("npz", data_dir=str(tmp_path))  # the folder's single .npz
    expect = grey if layout in ("nhw", "flat", "keras") else ref
    assert torch.equal(data.images, torch.from_numpy(expect))
    if layout != "nchw":
        assert data.labels.tolist() == labels.tolist()
    if layout == "keras":
        assert len(read("npz", data_dir=str(tmp_path / "set.npz"), split="test")) == 2


def test_npz_errors_name_file(tmp_path):
    np.savez(tmp_path / "a.npz", images=np.zeros((4, 8, 8), np.uint8))
    truncate(tmp_path / "a.npz")
    with pytest.raises(DataError, match="a.npz"):
        read("npz", data_dir=str(tmp_path / "a.npz"))
    np.savez(tmp_path / "b.npz", pixels=np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(DataError, match="2 .npz files"):
        read("npz", data_dir=str(tmp_path))
    with pytest.raises(DataError, match="b.npz.*images or x"):
        read("npz", data_dir=str(tmp_path / "b.npz"))
    np.savez(tmp_path / "c.npz", images=np.zeros((4, 5, 7, 9), np.uint8))
    with pytest.raises(DataError, match="c.npz.*channel axis"):
        read("npz", data_dir=str(tmp_path / "c.npz"))
    np.savez(tmp_path / "d.npz", images=np.full((2, 4, 4), -0.5, np.float32))
    with pytest.raises(DataError, match=r"d.npz.*\[0, 1\]"):
        read("npz", data_dir=str(tmp_path / "d.npz"))


# --------------------------------------------------------------------------------------------------
# CelebA
# --------------------------------------------------------------------------------------------------

ATTRS = ["5_o_Clock_Shadow", "Bald", "Eyeglasses", "Male", "Smiling"]


def write_celeba(root: Path, csv: bool = False, nested: bool = False, partition: bool = True) -> np.ndarray:
    img_dir = root / "img_align_celeba" / ("img_align_celeba" if nested else "")
    img_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    values = rng.choice([-1, 1], size=(6, len(ATTRS)))
    files = [f"{i:06d}.jpg" for i in range(1, 7)]
    for i, f in enumerate(files):
        solid((178 // 4, 218 // 4), (40 * i, 255 - 40 * i, 100)).save(img_dir / f, quality=95)
    if csv:
        lines = ["image_id," + ",".join(ATTRS)] + [f + "," + ",".join(map(str, v)) for f, v in zip(files, values)]
        (root / "list_attr_celeba.csv").write_text("\n".join(lines) + "\n")
    else:
        lines = [str(len(files)), " ".join(ATTRS)] + [f + " " + " ".join(f"{v:2d}" for v in row)
                                                    for f, row in zip(files, values)]
        (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    if partition:
        parts = [0, 0, 0, 0, 1, 2]
        (root / "list_eval_partition.txt").write_text("".join(f"{f} {p}\n" for f, p in zip(files, parts)))
    return values


def test_celeba_txt_partition_attributes_and_cache(tmp_path):
    values = write_celeba(tmp_path)
    train = read("celeba", data_dir=str(tmp_path), image_size=16)
    assert train.images.shape == (4, 3, 16, 16) and train.images.dtype == torch.uint8
    assert train.attribute_names == ATTRS
    assert torch.equal(train.attributes, torch.from_numpy((values[:4] > 0).astype(np.float32)))
    assert train.images[1, 0].float().mean() == pytest.approx(40, abs=3)  # colour of 000002.jpg
    test = read("celeba", data_dir=str(tmp_path), image_size=16, split="test", attributes=("Smiling", "Bald"))
    assert len(test) == 1 and test.attribute_names == ["Smiling", "Bald"]
    assert test.attributes[0].tolist() == [float(values[5, 4] > 0), float(values[5, 1] > 0)]
    assert len(read("celeba", data_dir=str(tmp_path), image_size=16, split="valid")) == 1
    again = read("celeba", data_dir=str(tmp_path), image_size=16)
    assert torch.equal(again.images, train.images)
    caches = list((Path(os.environ["GENZOO_CACHE"]) / "celeba").glob("train-16px-*.npz"))
    assert caches
    with pytest.raises(DataError, match="Eyebrows.*valid names: 5_o_Clock_Shadow, Bald"):
        read("celeba", data_dir=str(tmp_path), attributes=("Eyebrows",))


def test_celeba_csv_variant_nested_without_partition(tmp_path):
    values = write_celeba(tmp_path, csv=True, nested=True, partition=False)
    data = read("celeba", data_dir=str(tmp_path), image_size=8, channels=1)
    assert data.images.shape == (6, 1, 8, 8)  # the official ranges put 000001-000006 in train
    assert torch.equal(data.attributes, torch.from_numpy((values > 0).astype(np.float32)))


def test_celeba_errors_name_file(tmp_path):
    write_celeba(tmp_path)
    attr = tmp_path / "list_attr_celeba.txt"
    good = attr.read_text()
    attr.write_text(good[: len(good) * 2 // 3].rsplit("\n", 1)[0] + "\n")
    with pytest.raises(DataError, match="list_attr_celeba.txt.*truncated"):
        read("celeba", data_dir=str(tmp_path), image_size=8)
    attr.write_text(good)
    truncate(tmp_path / "img_align_celeba" / "000003.jpg", 0.3)
    with pytest.raises(DataError, match="000003.jpg"):
        read("celeba", data_dir=str(tmp_path), image_size=8)
    (tmp_path / "img_align_celeba" / "000003.jpg").unlink()
    with pytest.raises(DataError, match="img_align_celeba.*000003.jpg"):
        read("celeba", data_dir=str(tmp_path), image_size=8)
    with pytest.raises(DataError, match="list_attr_celeba"):
        read("celeba", data_dir=str(tmp_path / "elsewhere"))


# --------------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------------

def cifar_pickle(obj: dict) -> bytes:
    """A protocol-2 pickle naming numpy.core like the original (NumPy 1.x, Python 2) files do."""
    return pickle.dumps(obj, protocol=2).replace(b"numpy._core", b"numpy.core")


def write_cifar(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, (30, 3072), dtype=np.uint8)
    labels = np.arange(30) % 10
    for b in range(5):
        sl = slice(4 * b, 4 * b + 4)
        (folder / f"data_batch_{b + 1}").write_bytes(cifar_pickle(
            {b"batch_label": b"training batch", b"labels": labels[sl].tolist(), b"data": data[sl]}))
    (folder / "test_batch").write_bytes(cifar_pickle(
        {b"batch_label": b"testing batch", b"labels": labels[20:].tolist(), b"data": data[20:]}))
    names = [b"plane", b"car", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (folder / "batches.meta").write_bytes(cifar_pickle({b"label_names": names, b"num_vis": 3072}))
    return data, labels


def test_cifar10_folder_and_archive(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    data, labels = write_cifar(folder)
    train = read("cifar10", data_dir=str(tmp_path))
    assert train.images.shape == (20, 3, 32, 32)
    assert torch.equal(train.images[0, 0].flatten(), torch.from_numpy(data[0, :1024]))  # R plane first
    assert train.labels.tolist() == labels[:20].tolist()
    assert train.class_names[:2] == ["plane", "car"]
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tf:
        tf.add(folder, arcname="cifar-10-batches-py")
    archive_dir = tmp_path / "archive"
    archive_dir.mkdir()
    (tmp_path / "cifar-10-python.tar.gz").rename(archive_dir / "cifar-10-python.tar.gz")
    test = read("cifar10", data_dir=str(archive_dir), split="test")
    assert len(test) == 10 and test.labels.tolist() == labels[20:].tolist()
    assert torch.equal(test.images.reshape(10, -1), torch.from_numpy(data[20:]))
    small = read("cifar10", data_dir=str(archive_dir / "cifar-10-python.tar.gz"), image_size=16, channels=1)
    assert small.images.shape == (20, 1, 16, 16)


def test_cifar10_errors_name_file(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tf:
        tf.add(folder, arcname="cifar-10-batches-py")
    truncate(folder / "data_batch_3")
    with pytest.raises(DataError, match="data_batch_3.*truncated"):
        read("cifar10", data_dir=str(folder))
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3"):
        read("cifar10", data_dir=str(folder))
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DataError, match="test_batch.*3072"):
        read("cifar10", data_dir=str(folder), split="test")
    (folder / "test_batch").write_bytes(pickle.dumps(print))  # not an array: refused, never called
    with pytest.raises(DataError, match="test_batch.*refusing"):
        read("cifar10", data_dir=str(folder), split="test")
    archive = truncate(tmp_path / "cifar-10-python.tar.gz", 0.5)
    with pytest.raises(DataError, match="cifar-10-python.tar.gz"):
        read("cifar10", data_dir=str(archive))


# --------------------------------------------------------------------------------------------------
# Quick, Draw!
# --------------------------------------------------------------------------------------------------

def test_quickdraw_categories_and_split(tmp_path):
    rng = np.random.default_rng(4)
    camel = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    cat = rng.integers(0, 256, (30, 784), dtype=np.uint8)
    np.save(tmp_path / "camel.npy", camel)
    np.save(tmp_path / "full_numpy_bitmap_cat.npy", cat)
    train = read("quickdraw", data_dir=str(tmp_path))
    assert train.images.shape == (45 + 27, 1, 28, 28)
    assert train.class_names == ["camel", "cat"]
    assert train.labels.bincount().tolist() == [45, 27]
    test = read("quickdraw", data_dir=str(tmp_path), split="test")
    assert test.labels.tolist() == [0] * 5 + [1] * 3
    assert torch.equal(test.images[:5].reshape(5, -1), torch.from_numpy(camel[45:]))  # last 10% of camel
    one = read("quickdraw", data_dir=str(tmp_path / "camel.npy"))
    assert one.class_names == ["camel"] and len(one) == 45
    cfg = DataConfig(name="quickdraw", data_dir=str(tmp_path), image_size=32, limit=10)
    loaded = load_images(cfg, shape=(1, 32, 32))
    assert loaded.images.shape == (10, 1, 32, 32)


def test_quickdraw_errors_name_file(tmp_path):
    np.save(tmp_path / "camel.npy", np.zeros((50, 784), np.uint8))
    truncate(tmp_path / "camel.npy")
    with pytest.raises(DataError, match="camel.npy"):
        read("quickdraw", data_dir=str(tmp_path))
    np.save(tmp_path / "camel.npy", np.zeros((50, 100), np.uint8))
    with pytest.raises(DataError, match="camel.npy.*N×784"):
        read("quickdraw", data_dir=str(tmp_path))
    with pytest.raises(DataError, match="no Quick, Draw!"):
        read("quickdraw", data_dir=str(tmp_path / "missing"))
