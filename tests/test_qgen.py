"""The question generator of Foster 1st ed. ch. 6 (after Wang, Yuan & Trischler 2017): the NewsQA and SQuAD readers
on hand-written fixtures, the offline stand-in, GloVe trimming, the book's parameter count, joint training with
resume, greedy and beam decoding, attention and copying, the sample/eval/analyze commands and clear errors."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from genzoo.cli import cli
from genzoo.config import ConfigError, DataConfig, QADataConfig
from genzoo.data.qa import (END_TOKEN, START_TOKEN, fortune_pairs, load_glove, load_qa, qa_words, read_newsqa_csv,
                            read_squad_json)
from genzoo.data.types import DataError
from genzoo.models import build_model
from genzoo.nn.seq2seq import copy_distribution
from genzoo.run_context import RunContext

QA = Path(__file__).parent / "fixtures" / "qa"
GLOVE = QA / "glove.tiny.8d.txt"
SMALL = ["--dataset", "newsqa", "--data-dir", str(QA / "newsqa"), "--set", "model.tagger_units=16",
         "--set", "model.units=24", "--set", "model.attention_units=16", "--set", "batch_size=4",
         "--set", "log_every=5", "--set", "tensorboard=false", "--set", f"data.qa.glove={GLOVE}", "--no-progress"]
JOE = ("The winning goal was scored by 23-year-old striker Joe Bloggs during the match between Arsenal and "
       "Barcelona. Arsenal recently signed the striker for 50 million pounds.")


def _train(out: Path, steps: int, *extra: str) -> Path:
    r = CliRunner().invoke(cli, ["train", "qgen-offline", "--max-steps", str(steps), "--out", str(out), *SMALL,
                                 *extra], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("qgen")
    return {"plain": _train(root / "plain", 60),
            "both": _train(root / "both", 60, "--set", "model.attention=true", "--set", "model.copy=true")}


# -- data ---------------------------------------------------------------------------------------------------

def test_newsqa_reader_merges_rows_and_maps_token_ranges():
    docs, skipped = read_newsqa_csv(QA / "newsqa" / "train.csv")
    assert skipped == 1 and len(docs) == 3                       # the unanswered row, and three stories
    joe = docs[0]
    answers = {" ".join(joe.words[a:b]): " ".join(q) for q, (a, b) in joe.questions}
    assert answers["joe bloggs"] == "who scored the winning goal ?"
    assert answers["july 31st 2005"] == "when is the next match ?"        # the first of two ranges
    assert len(joe.spans) == len(joe.questions) + 1                       # every range is an answer label
    # "23-year-old" is one NewsQA token but three words and two dashes once cleaned: the ranges follow
    assert joe.words[6:11] == ["23", "-", "year", "-", "old"]


def test_squad_reader_v2_and_spans_without_glued_punctuation():
    docs, skipped = read_squad_json(QA / "squad" / "train-v2.0.json")
    assert skipped == 1                                                   # is_impossible
    spans = [" ".join(d.words[a:b]) for d in docs for _, (a, b) in d.questions]
    assert spans == ["joe bloggs", "50 million pounds", "heavy rain", "anna price", "leeds", "since 1998"]


def test_splits_vocabulary_and_special_tokens():
    cfg = DataConfig(name="newsqa", data_dir=str(QA / "newsqa"))
    train = load_qa(cfg, "train")
    test = load_qa(cfg, "test", train.spec)
    tok = train.tokenizer
    assert START_TOKEN in tok.word_index and END_TOKEN in tok.word_index and tok.unknown_id == tok.vocab_size - 1
    assert "museum" not in tok.word_index                                 # only in the held-out file
    assert test.meta["held_out"] == "the held-out file test.csv" and len(test) == 2
    batch = test.gather(torch.arange(len(test)))
    assert batch.question[:, 0].eq(tok.word_index[START_TOKEN]).all()
    assert (batch.x == tok.unknown_id).any()                              # held-out words the training never saw
    # the extended ids: every <unk> of a document has its own id past the vocabulary
    unk = batch.x == tok.unknown_id
    assert (batch.doc_ext[unk] >= tok.vocab_size).all() and (batch.doc_ext[~unk] == batch.x[~unk]).all()
    # labels: every answer of a document, including its second range
    joe = train.documents[0]
    labelled = [w for w, y in zip(joe.words, train.answer_labels[0].tolist()) if y]
    assert labelled == ["joe", "bloggs", "barcelona", "50", "million", "pounds", "two", "weeks", "time", "july",
                        "31st", "2005"]
    assert train.spec.modality == "qa" and train.spec.unit == "pairs"


def test_split_without_a_test_file_holds_out_whole_documents(tmp_path):
    one = tmp_path / "all.csv"
    shutil.copy(QA / "newsqa" / "train.csv", one)
    cfg = DataConfig(name="newsqa", data_dir=str(one), qa=QADataConfig(held_out=0.34))
    train, test = load_qa(cfg, "train"), load_qa(cfg, "test")
    train_docs = {" ".join(d.words) for d in train.documents}
    assert test.documents and not any(" ".join(d.words) in train_docs for d in test.documents)


def test_glove_is_trimmed_to_the_vocabulary():
    cfg = DataConfig(name="newsqa", data_dir=str(QA / "newsqa"), qa=QADataConfig(glove=str(GLOVE)))
    data = load_qa(cfg, "train")
    tok = data.tokenizer
    assert data.embedding_init.shape == (tok.vocab_size, 8) and data.spec.extra["embedding_dim"] == 8
    line = next(ln for ln in GLOVE.read_text().splitlines() if ln.startswith("striker "))
    assert torch.allclose(data.embedding_init[tok.word_index["striker"]], torch.tensor([float(v) for v in line.split()[1:]]))
    assert data.spec.extra["glove_found"] == sum(1 for ln in GLOVE.read_text().splitlines()
                                                 if ln.split()[0] in tok.word_index)


def test_offline_stand_in_holds_real_question_answer_pairs():
    try:
        docs = fortune_pairs()
    except DataError:
        pytest.skip("Debian fortunes are not installed")
    pairs = {" ".join(q): " ".join(d.words[a:b]) for d in docs for q, (a, b) in d.questions}
    assert len(pairs) > 100
    # the riddles' "questions for the great answers" put the answer first
    assert pairs.get("what's dr . presume's full name ?") == "dr . livingston i . presume ."


@pytest.mark.parametrize("content, match", [
    ("story_id,story_text,question\n1,a b c,who ?\n", "no column answer_token_ranges"),
    ("story_id,story_text,question,answer_token_ranges\n1,a b c,who ?,2-3\n", "row 2: answer_token_ranges '2-3'"),
    ("story_id,story_text,question,answer_token_ranges\n1,a b c,who ?,1:9\n", "row 2: answer range 1:9 is not inside"),
])
def test_malformed_newsqa_names_the_file_and_row(tmp_path, content, match):
    bad = tmp_path / "train.csv"
    bad.write_text(content)
    with pytest.raises(DataError, match=match) as e:
        read_newsqa_csv(bad)
    assert str(bad) in str(e.value)


def test_malformed_squad_and_glove_are_clear(tmp_path):
    bad = tmp_path / "train.json"
    bad.write_text('{"data": [')
    with pytest.raises(DataError, match="not valid JSON"):
        read_squad_json(bad)
    bad.write_text(json.dumps({"data": [{"paragraphs": [{"context": "Joe Bloggs scored.", "qas": [
        {"id": "x", "question": "Who?", "answers": [{"text": "Bloggs", "answer_start": 0}]}]}]}]}))
    with pytest.raises(DataError, match=r"qas\[0\] \(id x\): the context at answer_start 0 is 'Joe Bl'"):
        read_squad_json(bad)
    glove = tmp_path / "glove.txt"
    glove.write_text("the 0.1 0.2\ngoal 0.3\n")
    tok = load_qa(DataConfig(name="newsqa", data_dir=str(QA / "newsqa")), "train").tokenizer
    with pytest.raises(DataError, match="line 2 has 1 numbers but line 1 has 2"):
        load_glove(glove, tok)
    with pytest.raises(DataError, match="no such file"):
        load_glove(tmp_path / "missing.txt", tok)
    with pytest.raises(ConfigError, match="reads your own files"):
        load_qa(DataConfig(name="squad"), "train")


# -- the model ----------------------------------------------------------------------------------------------

def test_parameter_count_at_the_books_settings():
    model = build_model({"family": "qgen", "vocab_size": 9984, "start_id": 1, "end_id": 2, "unknown_id": 9983})
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()}
    # Embedding(9984, 100); Bidirectional(GRU(100)) with Keras' reset_after biases; Dense(2); GRU(200) on 200-d
    # states; GRU(200) on 100-d embeddings; Dense(9984, use_bias=False)
    assert counts == {"embedding": 998_400, "tagger": 121_200, "tagger_head": 402, "encoder": 241_200,
                      "decoder": 181_200, "dropout": 0, "projection": 1_996_800}
    assert sum(counts.values()) == 3_539_202
    with pytest.raises(ConfigError, match="comes from the data's vocabulary"):
        build_model({"family": "qgen"})


def test_copy_distribution_points_at_out_of_vocabulary_words():
    logits = torch.zeros(1, 1, 5)
    weights = torch.tensor([[[0.0, 0.75, 0.25]]])
    source = torch.tensor([[3, 5, 6]])                      # two words of the document past a 5-word vocabulary
    p = copy_distribution(logits, weights, torch.tensor([[[0.2]]]), source, 7)
    assert torch.allclose(p.sum(-1), torch.ones(1, 1))
    assert math.isclose(float(p[0, 0, 5]), 0.8 * 0.75, rel_tol=1e-6) and math.isclose(float(p[0, 0, 3]), 0.2 / 5, rel_tol=1e-6)


@torch.no_grad()
def test_training_and_decoding_agree_on_the_copy_probabilities(runs):
    """The loss evaluates See et al.'s mixture at the target only; decoding builds the whole distribution: the two
    must give the same probability for every target word."""
    ctx = RunContext(runs["both"])
    model, data = ctx.model, ctx.data("train")
    batch = data.gather(torch.arange(4))
    states, mask = model._document(batch.x, batch.doc_len)
    h0 = model._encode(states, batch.span)
    q = batch.question
    out, weights, gate_in, _ = model._decode(q[:, :-1], h0, states, model._keys(states), mask)
    probs = copy_distribution(model.projection(out), weights, torch.sigmoid(model.gate(gate_in)), batch.doc_ext,
                              model.config.vocab_size + batch.max_oov)
    targets = batch.question_ext[:, 1:]
    keep = targets > 0
    full = -probs.gather(2, targets.unsqueeze(-1)).squeeze(-1)[keep].log()
    _, _, q_nll, _ = model._losses(batch)
    assert torch.allclose(full, q_nll, atol=1e-5)


def test_joint_training_learns_and_glove_starts_the_embedding(runs):
    rows = [json.loads(line) for line in (runs["plain"] / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["question_nats"] < rows[0]["question_nats"] and rows[-1]["tagger_nats"] < rows[0]["tagger_nats"]
    spec = json.loads((runs["plain"] / "data_spec.json").read_text())
    assert spec["modality"] == "qa" and spec["extra"]["embedding_dim"] == 8 and spec["extra"]["glove_found"] > 0
    assert "embedding: 8" in (runs["plain"] / "config.yaml").read_text()
    summary = json.loads((runs["plain"] / "train_summary.json").read_text())
    assert summary["pairs_per_s"] > 0


@torch.no_grad()
def test_greedy_is_the_argmax_path_and_beam_search_decodes(runs):
    ctx = RunContext(runs["both"])
    model = ctx.model
    words = qa_words(JOE)
    span = model.resolve_answer(words, "joe bloggs")
    (greedy, score), = model.generate([words], [span], beam=1, max_tokens=8)
    # the same path by hand: the argmax of the full distribution at every step
    ids, ext, oov = model._ids(words)
    doc = torch.tensor([ids])
    states, mask = model._document(doc, torch.tensor([len(ids)]))
    h = model._encode(states, torch.tensor([span]))
    token, by_hand, total = model.config.start_id, [], 0.0
    for _ in range(8):
        inp = torch.tensor([[token if token < model.config.vocab_size else model.config.unknown_id]])
        out, w, g, h = model._decode(inp, h, states, model._keys(states), mask)
        logp = model._step_log_probs(out, w, g, torch.tensor([ext]), max(1, len(oov)))[0]
        logp[0] = logp[model.config.start_id] = float("-inf")
        token = int(logp.argmax())
        total += float(logp[token])
        if token == model.config.end_id:
            break
        by_hand.append(token)
    assert greedy == model._words(by_hand, oov) and math.isclose(score, total, rel_tol=1e-4, abs_tol=1e-4)
    beam = model.questions([words], [[span]], beam=3, max_tokens=8)[0]["questions"][0]
    assert beam["answer"] == "joe bloggs" and isinstance(beam["question"], str)


def test_resume_is_exact(runs, tmp_path):
    whole = _train(tmp_path / "whole", 8)
    half = _train(tmp_path / "half", 4)
    r = CliRunner().invoke(cli, ["resume", str(half), "--max-steps", "8", "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    a, b = RunContext(whole, use_ema=False).model, RunContext(half, use_ema=False).model
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


# -- commands -----------------------------------------------------------------------------------------------

def test_sample_asks_about_a_document(runs, tmp_path):
    r = CliRunner().invoke(cli, ["sample", str(runs["both"]), "--prompt", JOE, "--answer", "Joe Bloggs",
                                 "--answer", "0:3", "--beam", "2", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output.strip().splitlines()[-1])
    asked = result["questions"]
    assert [q["answer"] for q in asked] == ["joe bloggs", "the winning goal"]
    assert all(q["chosen_by"] == "--answer" for q in asked)
    assert "answer probability per word" in (tmp_path / "sample-0.txt").read_text()
    # no --answer: the tagger's spans; no --prompt: held-out items beside their reference questions
    r = CliRunner().invoke(cli, ["sample", str(runs["plain"]), "--prompt", JOE, "--out", str(tmp_path)])
    assert r.exit_code == 0 and json.loads(r.output.strip().splitlines()[-1])["questions"][0]["chosen_by"] == "tagger"
    r = CliRunner().invoke(cli, ["sample", str(runs["plain"]), "-n", "2", "--out", str(tmp_path)])
    assert r.exit_code == 0 and "reference: how much did the renovation cost ?" in r.output


@pytest.mark.parametrize("args, match", [
    (["--prompt", JOE, "--answer", "joe blogs"], "the words 'joe blogs' are not in the document"),
    (["--prompt", JOE, "--answer", "5:99"], "0 <= START < END <= 32"),
    (["--answer", "joe"], "--answer needs the document"),
    (["--temperature", "0.5"], "--temperature does not apply to question generation"),
    (["--prompt", JOE, "--beam", "0"], "--beam must be >= 1"),
])
def test_sample_errors_are_one_line(runs, tmp_path, args, match):
    r = CliRunner().invoke(cli, ["sample", str(runs["plain"]), "--out", str(tmp_path), *args])
    assert r.exit_code == 2 and match in r.output and "Traceback" not in r.output


def test_eval_scores_questions_and_the_tagger(runs):
    r = CliRunner().invoke(cli, ["eval", str(runs["both"])], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    m = json.loads((runs["both"] / "eval.json").read_text())["metrics"]["questions"]
    assert m["items"] == 2 and 0 <= m["bleu4"] <= 100 and 0 <= m["rougeL_f"] <= 1
    assert 0 <= m["tagger"]["f1"] <= 1 and m["question_perplexity"] > 1
    assert m["examples"][0]["reference"] == "how much did the renovation cost ?"
    assert "baseline_most_frequent_question" in m
    assert "perplexity" in json.loads((runs["both"] / "eval.json").read_text())["skipped"]


def test_analyze_answers_writes_the_books_figure(runs, tmp_path):
    r = CliRunner().invoke(cli, ["analyze", str(runs["plain"]), "answers", "-n", "1", "--out", str(tmp_path)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "answers.json").read_text())
    assert (tmp_path / "answers.png").stat().st_size > 10_000
    assert [a["answer"] for a in result["joe_bloggs_book_answers"]] == [
        "joe bloggs", "arsenal", "barcelona", "50 million pounds", "july 31st 2005"]
    assert len(result["documents"]) == 2 and len(result["documents"][0]["probabilities"]) == len(qa_words(JOE) + qa_words(
        "The next match is in two weeks time, on July 31st 2005."))
