"""Labels for the Noto Color Emoji images: each glyph's Unicode emoji *group* ("Smileys & Emotion", "People & Body",
…, "Flags"), from Unicode's ``emoji-test.txt`` (Debian package ``unicode-data``).

The font names most glyphs ``glyph01234``: a glyph is reached from code points through the font's ``cmap`` (single
code points) and its ``GSUB`` ligatures (sequences: skin tones, ZWJ families, flags). Inverting both gives each
glyph's code-point sequence, which is looked up in ``emoji-test.txt`` (ignoring the variation selector U+FE0F).
Sequences newer than the test file fall back to their base emoji: the sequence without skin tones, gender signs,
direction arrows, hair components and joiners, then its first code point. What matches nothing (the keycap digits,
the single regional-indicator letters, a few private-use glyphs) is put with the group ``Component``. These groups
are the classes of the colour feature network (:mod:`genzoo.metrics.features`): Unicode's own categorisation, not
a visual one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .folders import cache_path, file_stamp, load_cache, path_key, save_cache
from .registry import DataRequest, search_dirs

TEST_FILE = "emoji-test.txt"
SYSTEM_DIRS = ["/usr/share/unicode/emoji"]
INSTALL_HINT = ("the emoji's groups come from Unicode's emoji-test.txt: run `apt-get install unicode-data`, or put "
                "emoji-test.txt in the --data-dir folder")
FALLBACK_GROUP = "Component"
VARIATION_SELECTOR = 0xFE0F
# Parts of a sequence that modify a base emoji: joiner, gender signs, "facing right", skin tones, hair.
MODIFIERS = {0x200D, 0x2640, 0x2642, 0x27A1, *range(0x1F3FB, 0x1F400), *range(0x1F9B0, 0x1F9B4)}


def find_test_file(request: DataRequest) -> Path | None:
    """``emoji-test.txt`` in ``--data-dir`` (or beside the font given there), else Debian's; None if absent."""
    dirs = search_dirs(request, "emoji", SYSTEM_DIRS)
    if request.data_dir and Path(request.data_dir).is_file():
        dirs.insert(0, Path(request.data_dir).parent)
    return next((d / TEST_FILE for d in dirs if (d / TEST_FILE).is_file()), None)


def read_groups(test_file: Path) -> tuple[list[str], dict[tuple[int, ...], str]]:
    """The group names in file order and each listed sequence's group (without U+FE0F)."""
    groups: list[str] = []
    sequences: dict[tuple[int, ...], str] = {}
    group = None
    for line in test_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
            groups.append(group)
        elif line and not line.startswith("#") and group is not None and ";" in line:
            try:
                cps = tuple(int(x, 16) for x in line.split(";")[0].split())
            except ValueError:
                continue
            sequences.setdefault(tuple(c for c in cps if c != VARIATION_SELECTOR), group)
    if not sequences:
        raise ValueError(f"{test_file} lists no emoji sequences")
    if FALLBACK_GROUP not in groups:
        groups.append(FALLBACK_GROUP)
    return groups, sequences


def glyph_sequences(tt) -> dict[str, tuple[int, ...]]:
    """Each glyph's code points, from the inverted ``cmap`` and ``GSUB`` ligature tables of an open TTFont."""
    single = {glyph: (cp,) for cp, glyph in sorted(tt.getBestCmap().items(), reverse=True)}  # lowest cp wins
    ligatures: dict[str, list[str]] = {}
    if "GSUB" in tt:
        for lookup in tt["GSUB"].table.LookupList.Lookup:
            if lookup.LookupType != 4:
                continue
            for sub in lookup.SubTable:
                for first, ligs in sub.ligatures.items():
                    for lig in ligs:
                        ligatures.setdefault(lig.LigGlyph, [first, *lig.Component])
    out: dict[str, tuple[int, ...]] = {}

    def expand(glyph: str, depth: int = 0) -> tuple[int, ...]:
        if glyph in out:
            return out[glyph]
        if glyph in single:
            seq = single[glyph]
        elif glyph in ligatures and depth < 16:
            seq = tuple(c for part in ligatures[glyph] for c in expand(part, depth + 1))
        else:
            seq = ()
        out[glyph] = seq
        return seq

    for glyph in list(single) + list(ligatures):
        expand(glyph)
    return out


def group_of(seq: tuple[int, ...], sequences: dict[tuple[int, ...], str]) -> str:
    """The group of a code-point sequence, falling back to its base emoji (see the module docstring)."""
    key = tuple(c for c in seq if c != VARIATION_SELECTOR)
    base = tuple(c for c in key if c not in MODIFIERS)
    for candidate in (key, base, base[:1]):
        if candidate and candidate in sequences:
            return sequences[candidate]
    return FALLBACK_GROUP


def emoji_labels(font: Path, glyph_names: list[str], request: DataRequest) -> tuple[np.ndarray, list[str]] | None:
    """Group index per glyph (in ``glyph_names`` order) and the group names; None without ``emoji-test.txt``.
    Cached under ``cache_dir()/emoji`` by the font's and the test file's stamps."""
    test_file = find_test_file(request)
    if test_file is None:
        return None
    path = cache_path("emoji", f"groups-{path_key(file_stamp(font), file_stamp(test_file), len(glyph_names), 'v1')}.npz")
    cached = load_cache(path)
    if cached is not None and "labels" in cached and "groups" in cached:
        return cached["labels"], [str(g) for g in cached["groups"]]
    from fontTools.ttLib import TTFont

    groups, sequences = read_groups(test_file)
    with open(font, "rb") as fh, TTFont(fh, lazy=True) as tt:
        seqs = glyph_sequences(tt)
    index = {g: i for i, g in enumerate(groups)}
    labels = np.array([index[group_of(seqs.get(name, ()), sequences)] for name in glyph_names], dtype=np.int64)
    save_cache(path, labels=labels, groups=np.array(groups))
    return labels, groups
