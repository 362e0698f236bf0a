"""Word- and character-level tokenisers with Keras ``Tokenizer(filters='')`` semantics (Foster 1st ed. ch. 6),
and byte-pair encoding (:class:`BPETokenizer`, Sennrich et al. 2016, as GPT uses; trained by Hugging Face
``tokenizers``).

Indexing (both kinds), as Keras' ``fit_on_texts``: tokens are counted over all fitted texts; the index is
by descending count, ties broken by first occurrence; index 0 is reserved (never a token, the padding id);
``vocab_size = len(index) + 1`` is the book's ``total_words``. A word is what ``text.split(' ')`` gives,
empty strings dropped, after lower-casing (``lower=True``) -- no characters are filtered, so punctuation
that the cleaning padded with spaces is a token of its own. ``num_words=N`` keeps the ``N - 1`` most
frequent tokens (Keras' meaning: ids below N), ``min_count=C`` drops tokens seen fewer than C times.

Words not in the vocabulary. The fitted index may end with an unknown token (``unknown_token="<unk>"``,
the default): it is appended at the **end**, after every real token, so the book's indices stay as Fig.
6.2 prints them (``'|': 1, ',': 2, 'the': 3, 'and': 4, '.': 5``) -- Keras' ``oov_token`` would take index 1
and shift them all. ``encode(text, unknown=...)`` then says what happens to a token outside the index:

* ``"unk"`` (default): the unknown id -- for held-out text and for tokens dropped by ``num_words`` or
  ``min_count``;
* ``"error"``: :class:`~genzoo.config.ConfigError` naming the unknown words with the nearest vocabulary
  words (difflib) -- for prompts typed by a person;
* ``"skip"``: dropped, as Keras' ``texts_to_sequences`` does without an ``oov_token`` (the book's
  ``generate_text`` on a seed with a new word).

With ``unknown_token=None`` the index is exactly the book's (4,169 entries for Aesop); then ``"unk"`` is
not available.

Special tokens. ``special_tokens=("[MASK]",)`` appends tokens that no text holds after the unknown token
(a masked language model's ``[MASK]``, Devlin et al. 2019): they get ids of their own, are saved with the
tokeniser, and are never counted by :meth:`fit` nor produced by :meth:`encode` of text (encode a prompt's
pieces around them and insert :meth:`special_id` yourself). ``to_dict()``/``from_dict()`` round-trip a fitted tokeniser through JSON, so a run keeps its
vocabulary and sampling never needs the corpus.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from ..config import ConfigError

UNKNOWN_TOKEN = "<unk>"
FORMAT_VERSION = 1
_UNKNOWN_POLICIES = ("unk", "error", "skip")


class _Tokenizer:
    """What both kinds share: fitting, the index, encoding with an unknown-token policy, (de)serialising."""

    kind: ClassVar[str] = ""
    joiner: ClassVar[str] = ""

    def __init__(self, *, lower: bool = True, num_words: int | None = None, min_count: int = 1,
                 unknown_token: str | None = UNKNOWN_TOKEN, special_tokens: Sequence[str] = ()) -> None:
        if num_words is not None and num_words < 2:
            raise ConfigError(f"num_words must be at least 2 (id 0 is reserved), got {num_words}")
        if min_count < 1:
            raise ConfigError(f"min_count must be at least 1, got {min_count}")
        self.lower = lower
        self.num_words = num_words
        self.min_count = min_count
        self.unknown_token = unknown_token
        self.special_tokens = tuple(special_tokens)
        if unknown_token is not None and unknown_token in self.special_tokens:
            raise ConfigError(f"special token {unknown_token!r} is the unknown token; give it once")
        self.tokens: list[str] = []            # tokens[i] has id i + 1
        self.word_index: dict[str, int] = {}
        self._text_index: dict[str, int] = {}      # word_index without the special tokens (what text encodes to)
        self.counts: dict[str, int] = {}       # training counts of the kept tokens (not saved)

    # -- splitting: the only difference between the kinds
    def split(self, text: str) -> list[str]:
        raise NotImplementedError

    # -- fitting
    def fit(self, texts: Iterable[str] | str) -> "_Tokenizer":
        """Count the tokens of ``texts`` (a string counts as one text) and build the index."""
        if isinstance(texts, str):
            texts = [texts]
        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(self.split(t))      # Counter keeps first-occurrence order; sorted() is stable
        if not counts:
            raise ConfigError("cannot fit a tokeniser on empty text")
        for t in (self.unknown_token, *self.special_tokens):
            if t is not None:
                counts.pop(t, None)   # the unknown token's own occurrences map to its id; specials are no text
        ranked = [t for t, c in sorted(counts.items(), key=lambda kv: -kv[1]) if c >= self.min_count]
        if self.num_words is not None:
            ranked = ranked[:self.num_words - 1]
        self._set_tokens(ranked)
        self.counts = {t: counts[t] for t in ranked}
        return self

    def _set_tokens(self, ranked: Sequence[str]) -> None:
        self.tokens = (list(ranked) + ([self.unknown_token] if self.unknown_token is not None else [])
                       + list(self.special_tokens))
        self.word_index = {t: i + 1 for i, t in enumerate(self.tokens)}
        specials = set(self.special_tokens)
        self._text_index = ({t: i for t, i in self.word_index.items() if t not in specials} if specials
                            else self.word_index)
        if len(self.word_index) != len(self.tokens):
            raise ConfigError(f"{self.kind} tokeniser: the vocabulary lists a token twice")

    @property
    def vocab_size(self) -> int:
        """``len(index) + 1`` (the reserved 0 included), the book's ``total_words``."""
        return len(self.tokens) + 1

    @property
    def unknown_id(self) -> int | None:
        return self.word_index.get(self.unknown_token) if self.unknown_token is not None else None

    def special_id(self, token: str) -> int:
        """The id of the special token ``token`` (a ConfigError naming the fix when the vocabulary lacks it)."""
        if token not in self.special_tokens:
            raise ConfigError(f"the vocabulary has no special token {token!r} (it has "
                              f"{', '.join(map(repr, self.special_tokens)) or 'none'}); a model that needs it "
                              f"asks for it when its data is read")
        return self.word_index[token]

    @property
    def ordinary_ids(self) -> range:
        """The ids of tokens text can hold (the unknown token included, the reserved 0 and specials not)."""
        return range(1, len(self.tokens) - len(self.special_tokens) + 1)

    @property
    def index_word(self) -> dict[int, str]:
        return {i + 1: t for i, t in enumerate(self.tokens)}

    def _check_fitted(self) -> None:
        if not self.tokens:
            raise ConfigError(f"the {self.kind} tokeniser is not fitted; call fit(texts) or load it from_dict")

    # -- encoding
    def encode(self, text: str, unknown: str = "unk") -> list[int]:
        """Ids of ``text``'s tokens; tokens outside the vocabulary follow ``unknown`` (module docstring)."""
        self._check_fitted()
        if unknown not in _UNKNOWN_POLICIES:
            raise ConfigError(f"unknown= must be one of {', '.join(_UNKNOWN_POLICIES)}, got {unknown!r}")
        index = self._text_index
        pieces = self.split(text)
        if unknown == "skip":
            return [index[t] for t in pieces if t in index]
        unk = self.unknown_id
        missing = [t for t in pieces if t not in index]
        if missing and (unknown == "error" or unk is None):
            self._raise_unknown(missing, unknown)
        return [index.get(t, unk) for t in pieces] if missing else [index[t] for t in pieces]

    def _raise_unknown(self, missing: list[str], unknown: str) -> None:
        seen = list(dict.fromkeys(missing))
        vocab = [t for t in self._text_index if t != self.unknown_token]
        parts = []
        for t in seen[:10]:
            near = difflib.get_close_matches(t, vocab, n=3, cutoff=0.6) if self.kind == "word" else []
            parts.append(f"{t!r}" + (f" (did you mean {', '.join(map(repr, near))}?)" if near else ""))
        more = f" and {len(seen) - 10} more" if len(seen) > 10 else ""
        what = "words" if self.kind == "word" else "characters"
        fix = ("use words the model knows" if unknown == "error" else
               "encode with unknown='skip' to drop them, or fit the tokeniser with an unknown_token")
        raise ConfigError(f"{what} not in the {len(vocab):,}-{what[:-1]} vocabulary: {', '.join(parts)}{more}; "
                          f"{fix}")

    def encode_many(self, texts: Iterable[str], unknown: str = "unk") -> list[list[int]]:
        return [self.encode(t, unknown) for t in texts]

    # -- decoding
    def ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``; 0 (reserved) gives nothing, as the book's ``generate_text`` prints ''."""
        self._check_fitted()
        out = []
        for i in ids:
            i = int(i)
            if i == 0:
                continue
            if not 0 < i <= len(self.tokens):
                raise ConfigError(f"token id {i} is outside this {self.vocab_size}-id vocabulary")
            out.append(self.tokens[i - 1])
        return out

    def decode(self, ids: Iterable[int], tidy: bool = False) -> str:
        raise NotImplementedError

    def token_chars(self) -> list[float]:
        """Characters of text each id stands for, index 0 included (0): a word and its separating space."""
        return [0.0] + [len(t) + 1.0 for t in self.tokens]

    # -- saving
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description of the fitted tokeniser (settings and the tokens in id order)."""
        self._check_fitted()
        end = len(self.ordinary_ids) - (1 if self.unknown_token is not None else 0)
        d = {"kind": self.kind, "version": FORMAT_VERSION, "lower": self.lower, "num_words": self.num_words,
             "min_count": self.min_count, "unknown_token": self.unknown_token, "tokens": self.tokens[:end]}
        if self.special_tokens:
            d["special_tokens"] = list(self.special_tokens)
        return d

    @classmethod
    def _check_format(cls, d: dict[str, Any]) -> None:
        """Refuse a description of another kind or of a format version this genzoo does not read."""
        if d.get("kind") != cls.kind:
            raise ConfigError(f"this describes a {d.get('kind')!r} tokeniser, not a {cls.kind!r} one")
        if d.get("version") != FORMAT_VERSION:
            raise ConfigError(f"{cls.kind} tokeniser format version {d.get('version')!r} is not supported "
                              f"(this genzoo reads version {FORMAT_VERSION})")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "_Tokenizer":
        """The tokeniser :meth:`to_dict` described (no corpus needed)."""
        cls._check_format(d)
        try:
            tok = cls(lower=bool(d["lower"]), num_words=d["num_words"], min_count=int(d["min_count"]),
                      unknown_token=d["unknown_token"], special_tokens=[str(t) for t in d.get("special_tokens", [])])
            tokens = [str(t) for t in d["tokens"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"the saved {cls.kind} tokeniser is incomplete or malformed ({e!r})") from None
        if not tokens:
            raise ConfigError(f"the saved {cls.kind} tokeniser has no tokens")
        tok._set_tokens(tokens)
        return tok

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, lower={self.lower})"


class WordTokenizer(_Tokenizer):
    """Keras ``Tokenizer(char_level=False, filters='', lower=True, split=' ')``, with an unknown token at
    the end of the index (module docstring)."""

    kind = "word"
    joiner = " "

    def split(self, text: str) -> list[str]:
        if self.lower:
            text = text.lower()
        return [w for w in text.split(" ") if w]

    def decode(self, ids: Iterable[int], tidy: bool = False) -> str:
        """Tokens joined by single spaces, as the book's ``generate_text`` prints them; ``tidy=True`` makes it
        read as prose instead (:func:`tidy_words`)."""
        words = self.ids_to_tokens(ids)
        return tidy_words(words) if tidy else " ".join(words)


class CharTokenizer(_Tokenizer):
    """Keras ``Tokenizer(char_level=True, filters='', lower=True)``: every character (the space too) is a
    token; with the same unknown-token policy."""

    kind = "char"
    joiner = ""

    def split(self, text: str) -> list[str]:
        return list(text.lower() if self.lower else text)

    def decode(self, ids: Iterable[int], tidy: bool = False) -> str:
        """The characters concatenated; ``tidy=True`` reattaches punctuation the cleaning padded."""
        text = "".join(self.ids_to_tokens(ids))
        return tidy_words(text.split(" ")) if tidy else text

    def token_chars(self) -> list[float]:
        return [0.0] + [1.0] * len(self.tokens)


class BPETokenizer(_Tokenizer):
    """Byte-pair encoding (Sennrich, Haddow & Birch 2016, "Neural machine translation of rare words with subword
    units"; GPT's tokeniser, Radford et al. 2018/2019) within the words of the cleaned text, trained with
    Hugging Face ``tokenizers`` (a well-kept Rust implementation; training a 4,000-piece vocabulary on the
    Shakespeare corpus takes seconds).

    The cleaned text is words separated by single spaces (punctuation its own word); each word is split into
    pieces, a piece inside a word marked by a ``##`` prefix (``answer`` → ``answ ##er``), so decoding puts the
    spaces back exactly. The story marker ``|`` is always a one-character word and stays one token. The
    vocabulary: ``vocab_size`` pieces in Hugging Face's order (the alphabet, then merges by frequency), id 0
    reserved and an unknown token (characters the training text never had) at the end, as the other kinds.
    """

    kind = "bpe"
    joiner = " "
    PREFIX = "##"

    def __init__(self, *, lower: bool = True, vocab_size: int = 4000, unknown_token: str = UNKNOWN_TOKEN,
                 special_tokens: Sequence[str] = ()) -> None:
        if vocab_size < 2:
            raise ConfigError(f"data.text.bpe_vocab_size must be at least 2, got {vocab_size}")
        super().__init__(lower=lower, unknown_token=unknown_token, special_tokens=special_tokens)
        self.target_size = vocab_size
        self._hf = None
        self._to_ours: list[int] = []      # Hugging Face id → our id

    @staticmethod
    def _library():
        try:
            import tokenizers
        except ImportError:
            raise ConfigError("the bpe tokeniser needs Hugging Face tokenizers: pip install 'tokenizers>=0.15,<1' "
                              "(make setup installs it)") from None
        return tokenizers

    def fit(self, texts: Iterable[str] | str) -> "BPETokenizer":
        """Train the merges on ``texts`` (the training stories) and build the index."""
        lib = self._library()
        texts = [texts] if isinstance(texts, str) else list(texts)
        texts = [t.lower() if self.lower else t for t in texts]
        if not any(t.strip() for t in texts):
            raise ConfigError("cannot fit a tokeniser on empty text")
        hf = lib.Tokenizer(lib.models.BPE(unk_token=self.unknown_token, continuing_subword_prefix=self.PREFIX))
        hf.pre_tokenizer = lib.pre_tokenizers.WhitespaceSplit()
        trainer = lib.trainers.BpeTrainer(vocab_size=self.target_size, special_tokens=[self.unknown_token],
                                          continuing_subword_prefix=self.PREFIX, show_progress=False)
        hf.train_from_iterator(texts, trainer)
        self._attach(hf)
        return self

    def _attach(self, hf) -> None:
        pieces = sorted(hf.get_vocab().items(), key=lambda kv: kv[1])
        self._hf = hf
        self._set_tokens([t for t, _ in pieces if t != self.unknown_token])
        self._to_ours = [self.word_index[t] for t, _ in pieces]

    def split(self, text: str) -> list[str]:
        self._check_fitted()
        return self._hf.encode(text.lower() if self.lower else text).tokens

    def encode(self, text: str, unknown: str = "unk") -> list[int]:
        self._check_fitted()
        if unknown not in _UNKNOWN_POLICIES:
            raise ConfigError(f"unknown= must be one of {', '.join(_UNKNOWN_POLICIES)}, got {unknown!r}")
        enc = self._hf.encode(text.lower() if self.lower else text)
        ids = [self._to_ours[i] for i in enc.ids]
        unk = self.unknown_id
        if unk in ids:
            if unknown == "error":
                bad = [text[a:b] for (a, b), i in zip(enc.offsets, ids) if i == unk]
                raise ConfigError(f"characters not in the bpe vocabulary: {', '.join(map(repr, dict.fromkeys(bad)))}; "
                                  f"use characters of the training text")
            if unknown == "skip":
                ids = [i for i in ids if i != unk]
        return ids

    def words(self, ids: Iterable[int]) -> list[str]:
        """The words the pieces of ``ids`` spell (a ``##`` piece continues the word before it)."""
        words: list[str] = []
        for t in self.ids_to_tokens(ids):
            if t.startswith(self.PREFIX) and words:
                words[-1] += t[len(self.PREFIX):]
            else:
                words.append(t[len(self.PREFIX):] if t.startswith(self.PREFIX) else t)
        return words

    def decode(self, ids: Iterable[int], tidy: bool = False) -> str:
        words = self.words(ids)
        return tidy_words(words) if tidy else " ".join(words)

    def token_chars(self) -> list[float]:
        """A piece's characters, plus its word's separating space when it starts a word."""
        n = len(self.PREFIX)
        return [0.0] + [float(len(t) - n) if t.startswith(self.PREFIX) else len(t) + 1.0 for t in self.tokens]

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        d = {"kind": self.kind, "version": FORMAT_VERSION, "lower": self.lower, "vocab_size": self.target_size,
             "unknown_token": self.unknown_token, "model": self._hf.to_str()}
        if self.special_tokens:
            d["special_tokens"] = list(self.special_tokens)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BPETokenizer":
        cls._check_format(d)
        lib = cls._library()
        try:
            tok = cls(lower=bool(d["lower"]), vocab_size=int(d["vocab_size"]), unknown_token=d["unknown_token"],
                      special_tokens=[str(t) for t in d.get("special_tokens", [])])
            hf = lib.Tokenizer.from_str(d["model"])
        except Exception as e:   # a missing key, a wrong type, or the Rust parser's error on a damaged model
            raise ConfigError(f"the saved bpe tokeniser is incomplete or malformed ({e!r})") from None
        tok._attach(hf)
        return tok


_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "%"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "#"}


def tidy_words(words: Sequence[str]) -> str:
    """Word tokens as prose: a run of story markers (``|``) becomes a blank line, no space before ``, . ; : ! ? ) ] }`` or after
    ``( [ {``, double quotes alternately opening (attached to the next word) and closing (to the previous),
    ``- -`` → ``--`` and a lone ``-`` between words joined (``charcoal - burner`` → ``charcoal-burner``)."""
    words = [w for w in words if w]
    out: list[str] = []
    glue_next = False
    open_quote = False
    story_break = False
    for i, w in enumerate(words):
        if w == "|":
            story_break, open_quote, glue_next = bool(out), False, False
            continue
        if story_break:
            out.append("\n\n" + w)
            story_break = False
            glue_next = w in _NO_SPACE_AFTER or w == '"'
            open_quote = w == '"'
            continue
        attach = False
        if w in _NO_SPACE_BEFORE:
            attach = True
        elif w == '"':
            attach = open_quote           # a closing quote sticks to what it closes
        elif w == "-":
            if out and out[-1].endswith("-"):
                out[-1] += "-"
                continue
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if nxt != "-" and out and out[-1][-1:].isalnum() and nxt[:1].isalnum():
                out[-1] += "-"
                glue_next = True
                continue
        if out and (attach or glue_next):
            out[-1] += w
        else:
            out.append(w)
        glue_next = w in _NO_SPACE_AFTER or (w == '"' and not open_quote)
        if w == '"':
            open_quote = not open_quote
    text = " ".join(out).replace(" \n\n", "\n\n")
    return re.sub(r" {2,}", " ", text).strip()


def tokenizer_from_dict(d: dict[str, Any]) -> _Tokenizer:
    """A :class:`WordTokenizer`, :class:`CharTokenizer` or :class:`BPETokenizer` from its :meth:`~_Tokenizer.to_dict` form."""
    kinds = {c.kind: c for c in (WordTokenizer, CharTokenizer, BPETokenizer)}
    if not isinstance(d, dict) or d.get("kind") not in kinds:
        raise ConfigError(f"not a saved tokeniser (its 'kind' must be one of {', '.join(kinds)}): "
                          f"{str(d)[:80]}")
    return kinds[d["kind"]].from_dict(d)


Tokenizer = _Tokenizer
"""The type both kinds share (for annotations)."""
