"""Font glyphs (genzoo.data.fonts): a dozen installed Debian fonts rendered into a labelled set and into bold/italic
pairs, the faces left out (.notdef, symbol fonts, copies), the split by design, the cache, and the feature network
genzoo trains on the glyphs."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from genzoo.config import ConfigError, DataConfig, RunConfig, validate
from genzoo.data import DataError, load_data
from genzoo.data import fonts
from genzoo.data.fonts import CHARACTERS, SYSTEM_DIRS, render_face
from genzoo.data.registry import DataRequest

# 12 designs (sorted: Century Schoolbook, DejaVu Sans, DejaVu Sans Mono, DejaVu Serif, Delphine, DkgHandwriting,
# Humor Sans, Liberation Mono, Noto Sans, Noto Serif, Palatino, Steve): the 10th, Noto Serif, is the test split.
FACES = ["C059-Roman.otf", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSansMono.ttf",
         "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "Delphine.ttf", "dkg.ttf", "Humor-Sans.ttf",
         "LiberationMono-Regular.ttf", "LiberationMono-Bold.ttf", "NotoSans-Regular.ttf", "NotoSerif-Regular.ttf",
         "NotoSerif-Bold.ttf", "P052-Roman.otf", "SteveHand.ttf"]
LEFT_OUT = ["NotoSansArabic-Regular.ttf", "StandardSymbolsPS.otf"]     # digits only; a symbol font


def system_font(name: str) -> Path:
    for root in SYSTEM_DIRS:
        found = sorted(Path(root).rglob(name)) if Path(root).is_dir() else []
        if found:
            return found[0]
    pytest.skip(f"{name} is not installed (scripts/install-system-data.sh installs the Debian font packages)")


@pytest.fixture(scope="module")
def font_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fonts")
    for name in FACES + LEFT_OUT:
        os.symlink(system_font(name), d / name)
    sub = d / "copies"
    sub.mkdir()
    shutil.copy(system_font("DejaVuSans.ttf"), sub / "ZCopyOfDejaVuSans.ttf")   # the same face twice
    return d


def glyphs(font_dir: Path, split: str = "train", **kw):
    return load_data(DataConfig(name="font-glyphs", data_dir=str(font_dir), **kw), split=split)


def test_glyphs_are_labelled_black_on_white_with_attributes_and_split_by_design(font_dir):
    train, test = glyphs(font_dir), glyphs(font_dir, "test")
    assert train.shape == (1, 32, 32) and train.class_names == list(CHARACTERS) == train.meta["classes"]
    assert set(test.meta["designs"]) == {"Noto Serif"} and "Noto Serif" not in train.meta["designs"]
    assert len(test) == 2 * 62 and len(train) == (len(FACES) - 2) * 62
    assert torch.equal(train.labels[:62], torch.arange(62)) and train.num_classes == 62
    x = train.images.float()
    assert (x[:, 0, 0, 0] == 255).all() and (x.amin(dim=(1, 2, 3)) < 60).all()     # white ground, dark ink
    skipped = dict(train.meta["skipped"])
    assert skipped["NotoSansArabic-Regular.ttf"].startswith("lacks 52 of the 62")
    assert skipped["StandardSymbolsPS.otf"] == "a symbol or math font"
    assert "a second copy of DejaVu Sans Book" in skipped["ZCopyOfDejaVuSans.ttf"]
    names = train.attribute_names
    by_font = {f: train.attributes[i] for i, f in enumerate(train.meta["fonts"])}
    attr = {f: {n for n, v in zip(names, a) if v} for f, a in by_font.items()}
    assert attr["DejaVu Sans Bold"] == {"bold", "sans"} and attr["DejaVu Sans Oblique"] == {"italic", "sans"}
    assert attr["DejaVu Sans Mono Book"] == {"mono", "sans"} and attr["C059 Roman"] == {"serif"}
    assert attr["Liberation Mono Regular"] == {"mono"} and attr["Humor Sans Regular"] == {"handwriting", "sans"}
    assert attr["Steve Hand"] == {"handwriting"} and attr["DkgHandwriting Roman"] == {"handwriting"}
    picked = glyphs(font_dir, attributes=["mono", "bold"])
    assert picked.attribute_names == ["mono", "bold"] and picked.attributes.shape == (len(train), 2)


def test_one_scale_per_face_keeps_case_and_the_baseline(font_dir):
    data = glyphs(font_dir)
    face = data.images[:62, 0].float()                                # C059 Roman, in character order
    ink = (face < 128).float()
    rows = lambda ch: ink[CHARACTERS.index(ch)].sum(1).nonzero().squeeze(1)       # noqa: E731
    assert ink[CHARACTERS.index("o")].sum() < 0.75 * ink[CHARACTERS.index("O")].sum()
    assert rows("x")[-1] == rows("X")[-1]                              # both sit on the baseline
    assert rows("g")[-1] > rows("x")[-1] + 3                           # g descends below it
    three = glyphs(font_dir, channels=3, image_size=16)
    assert three.shape == (3, 16, 16)


def test_a_missing_character_is_told_by_the_notdef_box():
    why = render_face(system_font("NotoSansArabic-Regular.ttf"), 0, 16)
    assert isinstance(why, str) and "lacks 52" in why and "ABC" in why
    face = render_face(system_font("DejaVuSans.ttf"), 0, 16)
    assert face.family == "DejaVu Sans" and face.glyphs.shape == (62, 16, 16) and not face.mono


def test_rendered_glyphs_are_cached(font_dir, monkeypatch):
    first = glyphs(font_dir, image_size=24)

    def no_rendering(*a, **k):
        raise AssertionError("rendered again instead of reading the cache")

    monkeypatch.setattr(fonts, "render_library", no_rendering)
    again = glyphs(font_dir, image_size=24)
    assert torch.equal(first.images, again.images) and again.meta["fonts"] == first.meta["fonts"]
    assert again.meta["skipped"] == first.meta["skipped"]


def styles(font_dir: Path, split: str = "train", **kw):
    return load_data(DataConfig(name="font-styles", data_dir=str(font_dir), **kw), split=split)


def test_font_styles_pairs_a_familys_regular_and_bold_glyphs(font_dir):
    data, test = styles(font_dir), styles(font_dir, "test")
    assert data.paired and data.shape == (1, 32, 32)
    assert data.meta["families"] == ["DejaVu Sans", "DejaVu Serif", "Liberation Mono"]
    assert test.meta["families"] == ["Noto Serif"] and len(test) == 62
    assert data.a.meta["names"] == data.b.meta["names"] and data.a.meta["names"][62 + 10] == "DejaVu Serif/A"
    assert data.a.meta["fonts"][0] == "DejaVu Sans Book" and data.b.meta["fonts"][0] == "DejaVu Sans Bold"
    ink_a, ink_b = ((255 - s.images.float()).sum(dim=(1, 2, 3)) for s in (data.a, data.b))
    assert (ink_b > ink_a).all()                                        # bold is darker, glyph by glyph
    x = CHARACTERS.index("x")
    baseline = [(s.images[x, 0] < 128).any(1).nonzero().max().item() for s in (data.a, data.b)]
    assert baseline[0] == baseline[1]                                   # one layout per family: aligned pairs
    assert data.meta["feature_data"] == {"name": "font-glyphs", "data_dir": str(font_dir)}
    italic = styles(font_dir, domains=["regular", "italic"])
    assert italic.meta["families"] == ["DejaVu Sans"] and italic.b.meta["fonts"][0] == "DejaVu Sans Oblique"
    back = styles(font_dir, domains=["bold", "regular"])
    assert torch.equal(back.a.images, data.b.images) and torch.equal(back.b.images, data.a.images)
    with pytest.raises(DataError, match="two different faces of regular, bold, italic, bold-italic"):
        styles(font_dir, domains=["regular", "heavy"])
    with pytest.raises(DataError, match="no font family of the test split has both a regular and a italic"):
        styles(font_dir, "test", domains=["regular", "italic"])


def test_feature_network_trains_on_the_glyphs(font_dir):
    from genzoo.metrics.features import spec_for, train_feature_net

    cfg = DataConfig(name="font-glyphs", data_dir=str(font_dir))
    net = train_feature_net(spec_for(cfg, (1, 32, 32), epochs=1), cfg, progress=False, log=lambda m: None)
    assert net.meta["num_classes"] == 62 and net.meta["test_images"] == 2 * 62
    assert 0.0 <= net.meta["test_accuracy"] <= 1.0 and net.meta["train_images"] == (len(FACES) - 2) * 62
    pairs = styles(font_dir)
    features, _ = net(pairs.b.images[:8].float() / 255)
    assert features.shape == (8, net.num_features) and torch.isfinite(features).all()


def test_errors_name_the_cause_and_the_fix(tmp_path, font_dir):
    with pytest.raises(DataError, match="no .ttf/.otf/.ttc fonts found.*apt-get install fonts-dejavu-core"):
        glyphs(tmp_path)
    os.symlink(system_font("DejaVuSans.ttf"), tmp_path / "DejaVuSans.ttf")
    with pytest.raises(DataError, match="test split is empty.*fewer than 10 designs"):
        glyphs(tmp_path, "test")
    with pytest.raises(DataError, match="unknown split 'valid'"):
        glyphs(font_dir, "valid")
    with pytest.raises(DataError, match="unknown attribute.*valid names: bold, italic"):
        glyphs(font_dir, attributes=["smile"])
    with pytest.raises(DataError, match="data.domains.*applies to two-domain datasets"):
        glyphs(font_dir, domains=["regular", "bold"])
    cfg = RunConfig()
    cfg.data.domains = ["A", "A"]
    with pytest.raises(ConfigError, match="data.domains.*two different domains"):
        validate(cfg)


def test_fonts_are_found_in_data_dir_then_genzoo_data_fonts_then_the_system(tmp_path, monkeypatch):
    monkeypatch.delenv("GENZOO_DATA", raising=False)
    assert fonts.font_roots(DataRequest()) == [Path(d) for d in SYSTEM_DIRS]
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path))
    assert fonts.font_roots(DataRequest()) == [Path(d) for d in SYSTEM_DIRS]      # no fonts/ folder there
    (tmp_path / "fonts").mkdir()
    assert fonts.font_roots(DataRequest()) == [tmp_path / "fonts"]
    assert fonts.font_roots(DataRequest(data_dir="/x")) == [Path("/x")]
