"""Two-domain image data (genzoo.data.two_domain): the CycleGAN folder layout, paired and unpaired, the emoji-styles
npm packs read in place, and a batch stream that re-pairs unpaired data every epoch and resumes exactly."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.config import DataConfig
from genzoo.data import DataError, load_data
from genzoo.data.two_domain import ImagePairSet, PairStream


def write_png(path: Path, value: int, size: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


def make_folder(root: Path, names_a: list[str], names_b: list[str]) -> Path:
    for split in ("train", "test"):
        for i, n in enumerate(names_a):
            write_png(root / f"{split}A" / f"{n}.png", 10 + i)
        for i, n in enumerate(names_b):
            write_png(root / f"{split}B" / f"{n}.png", 200 - i)
    return root


def load(root: Path, split: str = "train", **kw) -> ImagePairSet:
    return load_data(DataConfig(name="two-domain-folder", data_dir=str(root), **kw), split=split)


def test_same_names_make_a_paired_set_aligned_by_name(tmp_path):
    root = make_folder(tmp_path, ["b", "a", "c"], ["c", "a", "b"])
    data = load(root)
    assert data.paired and len(data) == 3 and data.shape == (3, 8, 8)
    assert data.a.meta["names"] == data.b.meta["names"] == ["a", "b", "c"]
    # A's "a" is value 11 (second written); B's "a" is 199 (second written): aligned by name, not by position
    assert data.a.images[0, 0, 0, 0] == 11 and data.b.images[0, 0, 0, 0] == 199
    batch = data.gather(torch.tensor([0, 2]), DataConfig(name="two-domain-folder"), "01", torch.device("cpu"))
    assert batch.x.shape == batch.target.shape == (2, 3, 8, 8)
    assert data.spec.modality == "image-pair" and data.spec.extra["paired"]


def test_unpaired_domains_are_redrawn_every_epoch_and_resume_exactly(tmp_path):
    root = make_folder(tmp_path, [f"a{i}" for i in range(6)], [f"b{i}" for i in range(4)])
    data = load(root, image_size=4)
    assert not data.paired and len(data) == 6 and data.shape == (3, 4, 4)
    cfg = DataConfig(name="two-domain-folder", data_dir=str(root))
    stream = PairStream(data, cfg, "01", 2, seed=3, device=torch.device("cpu"))
    batches = [stream.next() for _ in range(9)]                   # three epochs of three batches
    pairs = [tuple(zip(b.x[:, 0, 0, 0].tolist(), b.target[:, 0, 0, 0].tolist())) for b in batches]
    assert set(pairs[:3]) != set(pairs[3:6])                       # re-paired each epoch
    again = PairStream(data, cfg, "01", 2, seed=3, device=torch.device("cpu"))
    for _ in range(4):
        again.next()
    resumed = PairStream(data, cfg, "01", 2, seed=3, device=torch.device("cpu"))
    resumed.load_state_dict(again.state_dict())
    for want in batches[4:]:
        got = resumed.next()
        assert torch.equal(got.x, want.x) and torch.equal(got.target, want.target)
    b_values = torch.cat([b.target[:, 0, 0, 0] for b in batches[:3]]).tolist()
    assert len(set(b_values)) == 4                                 # an epoch shows every B image


def test_two_domain_folder_errors_name_the_layout(tmp_path):
    make_folder(tmp_path / "x", ["a"], [])                         # no B images: no trainB folder
    with pytest.raises(DataError, match="no trainB folder.*CycleGAN layout"):
        load(tmp_path / "x")
    (tmp_path / "y" / "trainA").mkdir(parents=True)
    (tmp_path / "y" / "trainB").mkdir(parents=True)
    with pytest.raises(DataError, match="no image files"):
        load(tmp_path / "y")
    with pytest.raises(DataError, match="--data-dir"):
        load_data(DataConfig(name="two-domain-folder"), split="train")


def _pack(path: Path, style: str, names: list[str], value: int) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for i, n in enumerate(names):
            buf = io.BytesIO()
            Image.fromarray(np.full((64, 64, 4), [value, i, 0, 255], np.uint8), "RGBA").save(buf, "PNG")
            info = tarfile.TarInfo(f"package/img/{style}/64/{n}.png")
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
    return path


def test_emoji_styles_reads_the_npm_packs_in_place_and_pairs_by_name(tmp_path):
    names = [f"{0x1F600 + i:x}" for i in range(20)]
    _pack(tmp_path / "emoji-datasource-google-16.0.0.tgz", "google", names, 30)
    _pack(tmp_path / "emoji-datasource-twitter-16.0.0.tgz", "twitter", names[::-1] + ["extra"], 90)
    cfg = DataConfig(name="emoji-styles", data_dir=str(tmp_path), image_size=32)
    train, test = load_data(cfg, split="train"), load_data(cfg, split="test")
    assert train.paired and len(train) == 18 and len(test) == 2 and train.shape == (3, 32, 32)
    assert test.a.meta["names"] == [names[9], names[19]]          # every 10th common name is held out
    assert (train.a.images[:, 0] == 30).all() and (train.b.images[:, 0] == 90).all()
    assert torch.equal(train.a.images[:, 1, 0, 0], torch.tensor([i for i in range(20) if i % 10 != 9], dtype=torch.uint8))
    assert torch.equal(train.b.images[:, 1, 0, 0],                 # the twitter pack lists them reversed
                       torch.tensor([19 - i for i in range(20) if i % 10 != 9], dtype=torch.uint8))


def test_emoji_styles_missing_or_corrupt_packs_say_how_to_get_them(tmp_path):
    with pytest.raises(DataError, match="npm pack emoji-datasource-google"):
        load_data(DataConfig(name="emoji-styles", data_dir=str(tmp_path)), split="train")
    (tmp_path / "emoji-datasource-google-16.0.0.tgz").write_bytes(b"\x1f\x8b not really gzip")
    _pack(tmp_path / "emoji-datasource-twitter-16.0.0.tgz", "twitter", ["1f600"], 90)
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_data(DataConfig(name="emoji-styles", data_dir=str(tmp_path)), split="train")


def test_data_domains_swap_the_folder_sides_and_the_emoji_styles(tmp_path):
    root = make_folder(tmp_path / "f", ["a", "b"], ["a", "b"])
    ab, ba = load(root), load(root, domains=["B", "A"])
    assert torch.equal(ab.a.images, ba.b.images) and torch.equal(ab.b.images, ba.a.images)
    with pytest.raises(DataError, match=r"must be \[A, B\] or \[B, A\]"):
        load(root, domains=["A", "C"])
    names = [f"{0x1F600 + i:x}" for i in range(10)]
    _pack(tmp_path / "emoji-datasource-google-16.0.0.tgz", "google", names, 30)
    _pack(tmp_path / "emoji-datasource-twitter-16.0.0.tgz", "twitter", names, 90)
    cfg = DataConfig(name="emoji-styles", data_dir=str(tmp_path), image_size=16)
    gt = load_data(cfg, split="train")
    assert gt.meta == {"feature_data": {"name": "emoji"}, "domains": ["google", "twitter"]}
    tg = load_data(DataConfig(name="emoji-styles", data_dir=str(tmp_path), image_size=16,
                              domains=["twitter", "google"]), split="train")
    assert (tg.a.images[:, 0] == 90).all() and (tg.b.images[:, 0] == 30).all()
    assert tg.meta["domains"] == ["twitter", "google"]


def write_side_by_side(path: Path, left: int, right: int, w: int = 16, h: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2], img[:, w // 2:] = left, right
    Image.fromarray(img).save(path)


def side_by_side(root: Path, split: str = "train", **kw) -> ImagePairSet:
    return load_data(DataConfig(name="side-by-side-folder", data_dir=str(root), **kw), split=split)


def test_side_by_side_folder_cuts_each_image_into_a_and_b(tmp_path):
    for split in ("train", "val", "test"):
        for i in range(3):
            write_side_by_side(tmp_path / split / f"{i + 1}.jpg" if split == "val" else tmp_path / split / f"{i + 1}.png",
                               10 * (i + 1), 200 + i)
    data = side_by_side(tmp_path)
    assert data.paired and len(data) == 3 and data.shape == (3, 8, 8)
    assert data.a.meta["names"] == data.b.meta["names"] == ["1", "2", "3"]
    assert data.a.images[:, 0, 0, 0].tolist() == [10, 20, 30] and data.b.images[:, 0, 0, 0].tolist() == [200, 201, 202]
    btoa = side_by_side(tmp_path, domains=["B", "A"])                  # pix2pix's --direction BtoA
    assert torch.equal(btoa.a.images, data.b.images) and torch.equal(btoa.b.images, data.a.images)
    small = side_by_side(tmp_path, "val", image_size=4, channels=1)
    assert small.shape == (1, 4, 4) and len(small) == 3
    assert len(side_by_side(tmp_path, "test")) == 3
    batch = data.gather(torch.tensor([0, 2]), DataConfig(name="side-by-side-folder"), "pm1", torch.device("cpu"))
    assert batch.x.shape == batch.target.shape == (2, 3, 8, 8) and batch.x.min() >= -1


def test_side_by_side_folder_errors_name_the_layout(tmp_path):
    with pytest.raises(DataError, match="--data-dir"):
        load_data(DataConfig(name="side-by-side-folder"), split="train")
    write_side_by_side(tmp_path / "maps" / "train" / "1.png", 1, 2)
    (tmp_path / "maps" / "val").mkdir()
    with pytest.raises(DataError, match=r"no test/ folder \(found: train, val\).*--split val"):
        side_by_side(tmp_path / "maps", "test")
    with pytest.raises(DataError, match="val: no image files"):
        side_by_side(tmp_path / "maps", "val")
    write_side_by_side(tmp_path / "odd" / "train" / "1.png", 1, 2, w=15)
    with pytest.raises(DataError, match="1.png: is 15×8; an odd width cannot be cut into halves"):
        side_by_side(tmp_path / "odd")
    write_side_by_side(tmp_path / "mixed" / "train" / "1.png", 1, 2)
    write_side_by_side(tmp_path / "mixed" / "train" / "2.png", 1, 2, w=32)
    with pytest.raises(DataError, match="halves are 16×8 but .*1.png's are 8×8; set an image size"):
        side_by_side(tmp_path / "mixed")
    assert side_by_side(tmp_path / "mixed", image_size=8).shape == (3, 8, 8)
    with pytest.raises(DataError, match="unknown split 'dev'"):
        side_by_side(tmp_path / "mixed", "dev")
