"""Font glyphs rendered offline: a labelled EMNIST-like set (``font-glyphs``) and bold/italic style pairs
(``font-styles``) for image-to-image translation (Foster 1st ed. ch. 5, CycleGAN; pix2pix).

Source: the TrueType/OpenType fonts of Debian's ``fonts-*`` packages (``fonts-dejavu-core``/``-extra``,
``fonts-liberation2``, ``fonts-freefont-ttf``, ``fonts-urw-base35``, ``fonts-texgyre``, ``fonts-croscore``,
``fonts-noto-core``, the handwriting-like ``fonts-dkg-handwriting``, ``fonts-humor-sans``, ``fonts-sjfonts``;
``scripts/install-system-data.sh`` installs them) under ``/usr/share/fonts`` and TeX Gyre's
``/usr/share/texmf/fonts/opentype``, or the fonts of ``--data-dir DIR`` (a folder searched recursively, or one
font file), or of ``$GENZOO_DATA/fonts``. The 62 characters ``0-9A-Za-z`` of every face are rendered with Pillow
(FreeType) at 4× the image size, black on white, and downsampled with Lanczos filtering.

Layout: one scale and one baseline per *family* (its regular, bold and italic faces of one width together), so
that case and x-height survive (``o`` stays smaller than ``O``, ``g`` descends) and a glyph and its bold or italic
counterpart line up: the union of the family's ink boxes (tallest ascender to deepest descender, widest glyph)
fills the square less a margin of 1/16 on each side; each glyph is centred horizontally on its own ink and sits on
the common baseline.

What is kept: a face must draw all 62 characters — a character drawn as the face's ``.notdef`` box (the same
pixels as an unassigned code point, U+0378) or drawn empty disqualifies the face (the Noto fonts of non-Latin
scripts carry only digits; the MathJax calligraphic and script faces only capitals). Symbol and math faces (names
with Symbols, Math, Dingbats, Music, Emoji, and URW's dingbats D050000L) are left out even where they map
Latin code points to pictures. A face whose 62 renderings equal an earlier face's exactly (the same font
installed twice) is dropped; so is a second file of one family and style.

Split: by *design*, so the test glyphs are of designs no training face shares. Metric clones shipped by several
packages count as one design (URW's Nimbus Sans, TeX Gyre Heros, GNU FreeSans, croscore Arimo and Liberation
Sans are all Helvetica/Arial; see :data:`DESIGNS`); other families are their own design. Sorted by name, every
10th design (index 9, 19, ...) is ``test``, the others ``train``.

Attributes from the names (:data:`ATTRIBUTES`): bold (weight demi/semibold or heavier), italic (italic or
oblique), serif, sans, mono (fixed pitch as measured, or a mono/typewriter name), handwriting.
"""
from __future__ import annotations

import math
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import transforms as T
from .folders import cache_path, file_stamp, load_cache, path_key, save_cache
from .registry import DataRequest, register_dataset
from .two_domain import ImagePairSet
from .types import DataError, ImageSet

CHARACTERS = string.digits + string.ascii_uppercase + string.ascii_lowercase
PROBE = "\u0378"                       # an unassigned code point: every font draws its .notdef glyph for it
SYSTEM_DIRS = ("/usr/share/fonts", "/usr/share/texmf/fonts/opentype")
FONT_EXTENSIONS = (".ttf", ".otf", ".ttc")
DEFAULT_SIZE = 32
MARGIN = 1 / 16                        # of the side, on each side
CACHE_VERSION = "v2"
ATTRIBUTES = ("bold", "italic", "serif", "sans", "mono", "handwriting")
ROLES = ("regular", "bold", "italic", "bold-italic")   # the faces font-styles can pair
FONT_PACKAGES = ("fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 "
                 "fonts-texgyre fonts-croscore fonts-noto-core fonts-dkg-handwriting fonts-humor-sans fonts-sjfonts")
INSTALL_HINT = (f"run `apt-get install {FONT_PACKAGES}` (or `make setup` as root), or pass --data-dir DIR holding "
                f"your own .ttf/.otf fonts")

# Families that clone one design (metric-compatible URW / TeX Gyre / GNU FreeFont / Liberation / croscore faces, and
# Noto's display cuts): the split keeps each design on one side.
DESIGNS = {
    "Nimbus Sans": "Helvetica", "Nimbus Sans Narrow": "Helvetica", "TeX Gyre Heros": "Helvetica",
    "TeX Gyre Heros Cn": "Helvetica", "FreeSans": "Helvetica", "Arimo": "Helvetica", "Liberation Sans": "Helvetica",
    "Nimbus Roman": "Times", "TeX Gyre Termes": "Times", "FreeSerif": "Times", "Tinos": "Times",
    "Liberation Serif": "Times",
    "Nimbus Mono PS": "Courier", "TeX Gyre Cursor": "Courier", "FreeMono": "Courier",
    "Cousine": "Liberation Mono",
    "P052": "Palatino", "TeX Gyre Pagella": "Palatino",
    "C059": "Century Schoolbook", "TeX Gyre Schola": "Century Schoolbook",
    "URW Bookman": "Bookman", "TeX Gyre Bonum": "Bookman",
    "URW Gothic": "Avant Garde", "TeX Gyre Adventor": "Avant Garde",
    "Z003": "Zapf Chancery", "TeX Gyre Chorus": "Zapf Chancery",
    "Noto Sans Display": "Noto Sans", "Noto Serif Display": "Noto Serif",
}
# Classes of designs whose names do not say (the rest: "sans"/"serif"/"mono"/... words in the name)
DESIGN_CLASS = {"Helvetica": "sans", "Avant Garde": "sans", "Times": "serif", "Palatino": "serif",
                "Century Schoolbook": "serif", "Bookman": "serif", "Courier": "serif", "Zapf Chancery": "handwriting",
                "MathJax_Main": "serif", "MathJax_Typewriter": "serif"}
SKIP_WORD = re.compile(r"^(symbols?|math|dingbats?|music|emoji|d050000l)\d*$")   # a word of a family name
HANDWRITING_WORDS = ("handwriting", "hand", "humor", "comic", "script", "chancery", "delphine", "brush", "marker")
MONO_WORDS = ("mono", "typewriter", "courier", "cursor")
WEIGHTS = (("extralight", 200), ("ultralight", 200), ("semibold", 600), ("demibold", 600), ("extrabold", 800),
           ("ultrabold", 800), ("thin", 100), ("hairline", 100), ("light", 300), ("book", 400), ("regular", 400),
           ("roman", 400), ("normal", 400), ("medium", 500), ("demi", 600), ("bold", 700), ("heavy", 900),
           ("black", 900))
WIDTHS = ("semicondensed", "condensed", "narrow", "semiexpanded", "expanded", "extended")


def squash(name: str) -> str:
    """Lower case without spaces, hyphens or underscores ("Bold Oblique" → "boldoblique")."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def weight_of(style: str) -> int:
    """CSS-like weight (100..900) named in a style; 400 when it names none ("Oblique", "Hand")."""
    s = squash(style)
    for word, weight in WEIGHTS:
        if word in s:
            return weight
    return 400


def is_slanted(style: str) -> bool:
    s = squash(style)
    return "italic" in s or "oblique" in s or "slanted" in s


def width_of(style: str) -> str:
    """The width a style names ("condensed", ...) or "" for normal width."""
    s = squash(style)
    return next((w for w in WIDTHS if w in s), "")


@dataclass
class Face:
    """One rendered font face: where it came from, its names and 62 glyphs (uint8 ``62×S×S``, black on white)."""

    path: str
    index: int
    family: str
    style: str
    mono: bool
    glyphs: np.ndarray | None = None

    @property
    def name(self) -> str:
        return f"{self.family} {self.style}"

    @property
    def design(self) -> str:
        """The design the split keeps together (:data:`DESIGNS`), else the family itself."""
        return DESIGNS.get(self.family, self.family)

    @property
    def pair_family(self) -> str:
        """The family and width the regular/bold/italic faces of one font share ("DejaVu Sans Condensed")."""
        width = width_of(self.style)
        return f"{self.family} {width.capitalize()}" if width and width not in squash(self.family) else self.family

    def attributes(self) -> dict[str, bool]:
        names = squash(self.family + " " + self.style)
        family = squash(self.family)
        known = DESIGN_CLASS.get(self.design) or DESIGN_CLASS.get(self.family)
        hand = known == "handwriting" or any(w in names for w in HANDWRITING_WORDS)
        mono = self.mono or any(w in family for w in MONO_WORDS)
        sans = known == "sans" or "sans" in family
        serif = known == "serif" or (not sans and "serif" in family)
        return {"bold": weight_of(self.style) >= 600, "italic": is_slanted(self.style), "serif": serif,
                "sans": sans, "mono": mono, "handwriting": hand}


def font_roots(request: DataRequest) -> list[Path]:
    """Where fonts are looked for: ``--data-dir`` (a folder or one font file) alone, else ``$GENZOO_DATA/fonts``
    when it exists, else the system folders of Debian's font packages."""
    if request.data_dir:
        return [Path(request.data_dir)]
    base = os.environ.get("GENZOO_DATA")
    if base and (Path(base) / "fonts").is_dir():
        return [Path(base) / "fonts"]
    return [Path(d) for d in SYSTEM_DIRS]


def font_files(roots: list[Path]) -> list[Path]:
    """Font files (.ttf/.otf/.ttc) under ``roots``, recursively (symlinks followed), sorted, without duplicates."""
    found: dict[Path, Path] = {}
    for root in roots:
        if root.is_file():
            found.setdefault(root.resolve(), root)
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in filenames:
                if f.lower().endswith(FONT_EXTENSIONS) and not f.startswith("."):
                    p = Path(dirpath) / f
                    found.setdefault(p.resolve(), p)
    return sorted(found.values(), key=lambda p: (p.name.lower(), str(p)))


def _ink(font, ch: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """White-on-black rendering of ``ch`` cropped to its box, and the box relative to the baseline origin."""
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = font.getbbox(ch, anchor="ls")
    w, h = max(x1 - x0, 1), max(y1 - y0, 1)
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((-x0, -y0), ch, font=font, fill=255, anchor="ls")
    return np.asarray(img), (x0, y0, x0 + w, y0 + h)


@dataclass
class OpenFace:
    """A face that draws all 62 characters: its :class:`Face` (no glyphs yet), Pillow font and ink boxes."""

    face: Face
    font: object
    boxes: list[tuple[int, int, int, int]]


def open_face(path: Path, index: int, size: int) -> OpenFace | str:
    """Face ``index`` of ``path``, opened at 4× ``size`` (64..512 px) and checked, or the reason it is left out."""
    from PIL import ImageFont

    try:
        font = ImageFont.truetype(str(path), min(max(4 * size, 64), 512), index=index)
        family, style = font.getname()
    except (OSError, ValueError) as e:
        return f"unreadable ({e})"
    family, style = family or path.stem, style or "Regular"
    if any(SKIP_WORD.match(w) for w in re.split(r"[^a-z0-9]+", family.lower())):
        return "a symbol or math font"
    try:
        probe, _ = _ink(font, PROBE)
        inks = [_ink(font, ch) for ch in CHARACTERS]
    except (OSError, ValueError) as e:
        return f"cannot render ({e})"
    missing = [ch for ch, (a, _) in zip(CHARACTERS, inks)
               if not a.any() or (a.shape == probe.shape and np.array_equal(a, probe))]
    if missing:
        return f"lacks {len(missing)} of the 62 characters ({''.join(missing[:12])}{'...' if len(missing) > 12 else ''})"
    mono = len({round(font.getlength(ch), 1) for ch in CHARACTERS}) == 1
    return OpenFace(Face(str(path), index, family, style, mono), font, [b for _, b in inks])


def draw_glyphs(face: OpenFace, layout: tuple[int, int, int], size: int) -> np.ndarray:
    """The 62 glyphs (uint8 ``62×size×size``, black on white) of ``face`` in a square of ``side`` render pixels
    whose ink rows span ``top..bottom`` (``layout = (top, bottom, side)``): each glyph centred horizontally on its
    ink, on the common baseline, then downsampled with Lanczos filtering."""
    from PIL import Image

    top, bottom, side = layout
    y_top = (side - (bottom - top)) // 2
    glyphs = np.empty((len(CHARACTERS), size, size), np.uint8)
    for i, ch in enumerate(CHARACTERS):
        a, (x0, y0, x1, _) = _ink(face.font, ch)
        canvas = np.zeros((side, side), np.uint8)
        x, y = (side - (x1 - x0)) // 2, y_top + y0 - top
        canvas[y:y + a.shape[0], x:x + a.shape[1]] = a
        glyphs[i] = np.asarray(Image.fromarray(255 - canvas).resize((size, size), Image.LANCZOS))
    return glyphs


def layout_of(faces: list[OpenFace]) -> tuple[int, int, int]:
    """One layout for faces that belong together: the union of their ink boxes (tallest ascender to deepest
    descender, widest glyph) fills the square less :data:`MARGIN` on each side."""
    boxes = [b for f in faces for b in f.boxes]
    top, bottom = min(b[1] for b in boxes), max(b[3] for b in boxes)
    widest = max(b[2] - b[0] for b in boxes)
    return top, bottom, math.ceil(max(bottom - top, widest) / (1 - 2 * MARGIN))


def render_face(path: Path, index: int, size: int) -> Face | str:
    """One face's 62 glyphs in a layout of its own, or the reason it is left out."""
    opened = open_face(path, index, size)
    if isinstance(opened, str):
        return opened
    opened.face.glyphs = draw_glyphs(opened, layout_of([opened]), size)
    return opened.face


def face_indices(path: Path) -> list[int]:
    """The face numbers of a font file (one for .ttf/.otf; every face of a .ttc collection)."""
    if path.suffix.lower() != ".ttc":
        return [0]
    try:
        with open(path, "rb") as f:
            head = f.read(12)
        return list(range(int.from_bytes(head[8:12], "big"))) if head[:4] == b"ttcf" else [0]
    except OSError:
        return [0]


def render_library(paths: list[Path], size: int) -> tuple[list[Face], list[tuple[str, str]]]:
    """Every usable face of ``paths`` (see the module docstring) and the ``(face, reason)`` of each left out.

    The faces of one family and width (regular, bold, italic, ...) share one layout, so a glyph and its bold or
    italic counterpart have the same scale and baseline."""
    opened: list[OpenFace] = []
    skipped: list[tuple[str, str]] = []
    seen_names: dict[tuple[str, str], str] = {}
    labels: dict[int, str] = {}
    for path in paths:
        for index in face_indices(path):
            label = f"{path.name}" + (f"#{index}" if index else "")
            face = open_face(path, index, size)
            if isinstance(face, str):
                skipped.append((label, face))
                continue
            key = (face.face.family, face.face.style)
            if key in seen_names:
                skipped.append((label, f"a second copy of {face.face.name} ({seen_names[key]})"))
                continue
            seen_names[key] = labels[len(opened)] = label
            opened.append(face)
    groups: dict[str, list[OpenFace]] = {}
    for f in opened:
        groups.setdefault(f.face.pair_family, []).append(f)
    layouts = {family: layout_of(members) for family, members in groups.items()}
    faces: list[Face] = []
    seen_pixels: dict[bytes, str] = {}
    for i, f in enumerate(opened):
        f.face.glyphs = draw_glyphs(f, layouts[f.face.pair_family], size)
        digest = f.face.glyphs.tobytes()
        if digest in seen_pixels:
            skipped.append((labels[i], f"draws exactly as {seen_pixels[digest]}"))
        else:
            seen_pixels[digest] = labels[i]
            faces.append(f.face)
    return faces, skipped


@dataclass
class FontLibrary:
    """The usable faces of the fonts found (their glyphs in one ``F×62×S×S`` array) and what was left out."""

    faces: list[Face]
    images: np.ndarray
    skipped: list[tuple[str, str]]
    roots: list[Path]

    def test_designs(self) -> set[str]:
        designs = sorted({f.design for f in self.faces})
        return {d for i, d in enumerate(designs) if i % 10 == 9}

    def in_split(self, split: str) -> list[int]:
        """Indices of the faces of ``split`` (train: every design but every 10th; test: every 10th)."""
        test = self.test_designs()
        return [i for i, f in enumerate(self.faces) if (f.design in test) == (split == "test")]


def load_library(request: DataRequest, size: int) -> FontLibrary:
    """The rendered faces of the fonts :func:`font_roots` finds, from the cache (``cache_dir()/fonts``) when the
    font files (paths, sizes, modification times) and the size are unchanged."""
    roots = font_roots(request)
    paths = font_files(roots)
    if not paths:
        raise DataError(f"no .ttf/.otf/.ttc fonts found in {', '.join(str(r) for r in roots)}: {INSTALL_HINT}")
    key = path_key(*(file_stamp(p) for p in paths), size, CACHE_VERSION)
    cfile = cache_path("fonts", f"glyphs-{size}px-{key}.npz")
    cached = load_cache(cfile)
    fields = ("images", "paths", "indices", "families", "styles", "mono", "skipped")
    if cached is not None and all(k in cached for k in fields):
        faces = [Face(str(p), int(i), str(fa), str(st), bool(m)) for p, i, fa, st, m in
                 zip(cached["paths"], cached["indices"], cached["families"], cached["styles"], cached["mono"])]
        skipped = [(str(a), str(b)) for a, b in cached["skipped"].reshape(-1, 2)]
        images = cached["images"]
    else:
        faces, skipped = render_library(paths, size)
        images = (np.stack([f.glyphs for f in faces]) if faces
                  else np.empty((0, len(CHARACTERS), size, size), np.uint8))
        save_cache(cfile, images=images, paths=np.array([f.path for f in faces], dtype=str),
                   indices=np.array([f.index for f in faces], dtype=np.int64),
                   families=np.array([f.family for f in faces], dtype=str),
                   styles=np.array([f.style for f in faces], dtype=str),
                   mono=np.array([f.mono for f in faces], dtype=bool),
                   skipped=np.array(skipped, dtype=str).reshape(-1, 2))
    for f, g in zip(faces, images):
        f.glyphs = g
    if not faces:
        reasons = "; ".join(f"{a}: {b}" for a, b in skipped[:5])
        raise DataError(f"none of the {len(paths)} font files in {', '.join(str(r) for r in roots)} has a face that "
                        f"draws all 62 characters 0-9A-Za-z ({reasons}); {INSTALL_HINT}")
    return FontLibrary(faces, images, skipped, roots)


def check_split(name: str, split: str) -> None:
    if split not in ("train", "test"):
        raise DataError(f"{name}: unknown split {split!r}; use train or test (test: every 10th font design)")


def image_size(name: str, request: DataRequest) -> int:
    size = request.image_size or DEFAULT_SIZE
    if size < 8:
        raise DataError(f"{name}: image size must be at least 8 pixels, got {size}")
    return size


def to_images(glyphs: np.ndarray, request: DataRequest) -> torch.Tensor:
    """uint8 ``N×S×S`` glyphs as ``N×C×S×S`` (grey, or the request's channels)."""
    x = torch.from_numpy(np.ascontiguousarray(glyphs))[:, None]
    return T.to_channels(x, request.channels) if request.channels else x


# --------------------------------------------------------------------------------------------------
# font-glyphs


@register_dataset("font-glyphs", "Glyphs 0-9A-Za-z of the installed fonts (Debian fonts-* packages, or --data-dir): "
                  "62 classes, grey 32×32, bold/italic/serif/sans/mono/handwriting attributes, split by font design",
                  (1, DEFAULT_SIZE, DEFAULT_SIZE))
def font_glyphs(request: DataRequest) -> ImageSet:
    """Every glyph of every usable face of the ``request.split`` designs, face by face in character order.

    Labels are character indices into :data:`CHARACTERS` (``meta["classes"]``); attributes the 0/1 columns of
    :data:`ATTRIBUTES` (``request.attributes`` picks some by name). ``meta`` also holds each glyph's face
    (``fonts``: "family style"), ``families``, ``designs``, and the faces left out with the reason
    (``skipped``)."""
    check_split("font-glyphs", request.split)
    size = image_size("font-glyphs", request)
    lib = load_library(request, size)
    cols = list(ATTRIBUTES)
    if request.attributes:
        unknown = [a for a in request.attributes if a not in ATTRIBUTES]
        if unknown:
            raise DataError(f"font-glyphs: unknown attribute(s) {', '.join(unknown)}; valid names: "
                            f"{', '.join(ATTRIBUTES)}")
        cols = list(request.attributes)
    keep = lib.in_split(request.split)
    if not keep:
        raise DataError(f"font-glyphs: the {request.split} split is empty: the {len(lib.faces)} usable faces of "
                        f"{', '.join(str(r) for r in lib.roots)} are of fewer than 10 designs, so none is held out; "
                        f"add fonts or use the train split")
    faces = [lib.faces[i] for i in keep]
    n = len(CHARACTERS)
    images = to_images(lib.images[keep].reshape(-1, size, size), request)
    labels = torch.arange(n).repeat(len(faces))
    attrs = torch.tensor([[float(f.attributes()[c]) for c in cols] for f in faces]).repeat_interleave(n, 0)
    meta = {"classes": list(CHARACTERS), "fonts": [f.name for f in faces for _ in range(n)],
            "families": [f.family for f in faces for _ in range(n)],
            "designs": [f.design for f in faces for _ in range(n)],
            "faces": len(faces), "test_designs": sorted(lib.test_designs()), "skipped": lib.skipped}
    return ImageSet(images, labels=labels, attributes=attrs, class_names=list(CHARACTERS), attribute_names=cols,
                    source=f"font-glyphs:{request.split} ({len(faces)} faces)", meta=meta)


# --------------------------------------------------------------------------------------------------
# font-styles


def face_roles(faces: list[Face]) -> dict[str, dict[str, int]]:
    """For each family (and width) the face index of each role in :data:`ROLES` it has.

    regular: the upright face of weight 400 (else the lightest upright of 300..500, e.g. URW Bookman Light);
    bold: the upright face of weight 700 (else the one of 600..800 nearest 700, e.g. Demi); italic and
    bold-italic: the slanted faces of those two weights."""
    by_family: dict[str, list[int]] = {}
    for i, f in enumerate(faces):
        by_family.setdefault(f.pair_family, []).append(i)
    roles: dict[str, dict[str, int]] = {}
    for family, members in sorted(by_family.items()):
        weights = {i: weight_of(faces[i].style) for i in members}
        found: dict[str, int] = {}
        for slanted, (light, bold) in ((False, ("regular", "bold")), (True, ("italic", "bold-italic"))):
            group = [i for i in members if is_slanted(faces[i].style) == slanted]
            regular = ([i for i in group if weights[i] == 400]
                       or sorted((i for i in group if 300 <= weights[i] <= 500), key=lambda i: weights[i]))
            strong = sorted((i for i in group if 600 <= weights[i] <= 800), key=lambda i: abs(weights[i] - 700))
            if regular:
                found[light] = regular[0]
            if strong:
                found[bold] = strong[0]
        if "italic" in found and "regular" in found and weights[found["italic"]] != weights[found["regular"]]:
            del found["italic"]                 # an italic of another weight is not the regular's italic
        roles[family] = found
    return roles


def parse_domains(request: DataRequest) -> tuple[str, str]:
    domains = tuple(request.domains) if request.domains else ("regular", "bold")
    bad = [d for d in domains if d not in ROLES]
    if len(domains) != 2 or domains[0] == domains[1] or bad:
        raise DataError(f"font-styles: data.domains={list(domains)} must name two different faces of "
                        f"{', '.join(ROLES)} (A first), e.g. --set data.domains=[regular,italic]")
    return domains


@register_dataset("font-styles", "Paired glyphs 0-9A-Za-z of one font family in two faces: regular (A) and bold (B) "
                  "by default, data.domains=[regular,italic] and others; grey 32×32, split by font design",
                  (1, DEFAULT_SIZE, DEFAULT_SIZE), modality="image-pair")
def font_styles(request: DataRequest) -> ImagePairSet:
    """For every family with both faces of ``request.domains`` (default regular → bold): its 62 glyphs in each
    face, named ``FAMILY/CHAR`` on both sides (paired). Families sorted by name; the split is font-glyphs' (by
    design). ``meta["feature_data"]`` names the labelled set whose feature network scores translations."""
    check_split("font-styles", request.split)
    size = image_size("font-styles", request)
    role_a, role_b = parse_domains(request)
    lib = load_library(request, size)
    keep = set(lib.in_split(request.split))
    pairs = [(family, r[role_a], r[role_b]) for family, r in face_roles(lib.faces).items()
             if role_a in r and role_b in r and r[role_a] in keep]
    if not pairs:
        raise DataError(f"font-styles: no font family of the {request.split} split has both a {role_a} and a {role_b} "
                        f"face among the {len(lib.faces)} usable faces of {', '.join(str(r) for r in lib.roots)}; "
                        f"{INSTALL_HINT}")
    names = [f"{family}/{ch}" for family, _, _ in pairs for ch in CHARACTERS]
    ia, ib = [a for _, a, _ in pairs], [b for _, _, b in pairs]
    source = f"font-styles:{request.split}"
    feature_data = {"name": "font-glyphs", **({"data_dir": request.data_dir} if request.data_dir else {})}
    a = ImageSet(to_images(lib.images[ia].reshape(-1, size, size), request), source=f"{source} {role_a}",
                 meta={"names": names, "fonts": [lib.faces[i].name for i in ia]})
    b = ImageSet(to_images(lib.images[ib].reshape(-1, size, size), request), source=f"{source} {role_b}",
                 meta={"names": names, "fonts": [lib.faces[i].name for i in ib]})
    return ImagePairSet(a, b, paired=True, source=source,
                        meta={"feature_data": feature_data, "domains": [role_a, role_b],
                              "families": [family for family, _, _ in pairs]})
