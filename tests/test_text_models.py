"""The book's text LSTMs (Foster 1st ed. ch. 6): parameter counts, the data → configure → build order, training,
generation, next-word tables, the human-in-the-loop writer, held-out perplexity and resume."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from conftest import assert_resumes_exactly
from genzoo.cli import cli
from genzoo.config import ConfigError
from genzoo.models import build_model
from genzoo.run_context import RunContext
from genzoo.tasks.generation import interactive_writer

RIDDLES = Path(__file__).parent / "fixtures" / "text" / "riddles-mini.txt"
SMALL = ["--dataset", "text-file", "--data-dir", str(RIDDLES), "--set", "model.units=[32]",
         "--set", "model.embedding=16", "--set", "batch_size=8", "--set", "sample_n=2", "--set", "log_every=5",
         "--set", "tensorboard=false", "--no-progress"]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("text") / "lstm"
    r = CliRunner().invoke(cli, ["train", "lstm-aesop", "--max-steps", "12", "--out", str(out), *SMALL],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


@pytest.mark.parametrize("recipe_units, total", [([256], 1_853_901), ([256, 256], 2_379_213)])
def test_parameter_counts_match_the_book(recipe_units, total):
    model = build_model({"family": "lstm", "vocab_size": 4169, "units": recipe_units})
    assert sum(p.numel() for p in model.parameters()) == total          # Figs. 6.3 and 6.12
    lstm = model.net.rnns[0]
    assert "bias_hh_l0" in dict(lstm.named_buffers()) and not lstm.bias_hh_l0.any()   # one bias per gate, as Keras
    assert lstm.bias_ih_l0[256:512].eq(1).all()                         # Keras' unit_forget_bias


def test_config_errors():
    with pytest.raises(ConfigError, match="comes from the data's tokeniser"):
        build_model({"family": "lstm"})
    with pytest.raises(ConfigError, match="loss_positions=last"):
        build_model({"family": "lstm", "vocab_size": 50, "bidirectional": True})


def test_training_configures_the_model_from_the_data(text_run):
    cfg = (text_run / "config.yaml").read_text()
    spec = json.loads((text_run / "data_spec.json").read_text())
    assert spec["modality"] == "tokens" and spec["units_per_item"] == 20
    assert f"vocab_size: {spec['extra']['vocab_size']}" in cfg
    from genzoo.training.checkpoint import latest_checkpoint

    assert (latest_checkpoint(text_run) / "data_spec.json").exists()
    summary = json.loads((text_run / "train_summary.json").read_text())
    assert summary["tokens_per_s"] > 0 and "images_per_s" not in summary
    assert Path(summary["samples"]).suffix == ".txt" and Path(summary["samples"]).read_text().startswith("# lstm-aesop")


def test_sampling_prints_text_and_writes_txt(text_run, tmp_path):
    r = CliRunner().invoke(cli, ["sample", str(text_run), "-n", "3", "--prompt", "what is the",
                                 "--temperature", "0.5", "--max-tokens", "8", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout.strip().splitlines()[-1])
    text = Path(result["text"]).read_text()
    assert result["samples"] == 3 and text.count("what is the") == 3
    assert all(n <= 3 + 8 for n in result["tokens"])
    r = CliRunner().invoke(cli, ["sample", str(text_run), "-n", "1", "--out", str(tmp_path / "mine.txt")])
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["text"] == str(tmp_path / "mine.txt")
    r = CliRunner().invoke(cli, ["sample", str(text_run), "--prompt", "what is the tortoize"])
    assert r.exit_code == 2 and "'tortoize'" in r.output and "vocabulary" in r.output
    r = CliRunner().invoke(cli, ["sample", str(text_run), "--steps", "3"])
    assert r.exit_code == 2 and "takes --temperature, --top-k, --prompt, --max-tokens" in r.output


def test_next_word_tables_and_the_interactive_writer(text_run, tmp_path):
    r = CliRunner().invoke(cli, ["sample", str(text_run), "--next-words", "--prompt", "what is", "--prompt",
                                 "xyzzy plugh", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    table = Path(json.loads(r.stdout.strip().splitlines()[-1])["text"]).read_text()
    assert '"what is" →' in table and "%" in table and "cannot be read" in table
    ctx = RunContext(text_run)
    top = ctx.model.top_next("what is", 10)
    assert len(top) == 10 and abs(sum(p for _, p in top) - 1) < 1 and top == sorted(top, key=lambda t: -t[1])
    answers = iter(["0", "the", "nosuchword", "q"])
    shown: list[str] = []
    text = interactive_writer(ctx.model, "what is", read=lambda q: next(answers), show=shown.append)
    assert text.startswith("what is") and "nosuchword" in " ".join(shown)   # refused with the reason, then q


def test_perplexity_eval_beside_the_baselines(text_run, tmp_path):
    run = shutil.copytree(text_run, tmp_path / "run", symlinks=True)
    r = CliRunner().invoke(cli, ["eval", str(run)])
    assert r.exit_code == 0, r.output
    p = json.loads((run / "eval.json").read_text())["metrics"]["perplexity"]
    for view in ("all", "text"):
        scores = p[view]
        assert {"model", "unigram", "bigram_add_k", "bigram_kneser_ney"} <= set(scores)
        assert scores["model"]["perplexity"] == pytest.approx(torch.tensor(scores["model"]["nats_per_token"]).exp().item())
    assert p["text"]["model"]["perplexity"] > p["all"]["model"]["perplexity"]   # the repeated markers are easy
    r = CliRunner().invoke(cli, ["eval", str(run), "--metrics", "fid"])
    assert r.exit_code == 2 and "measures image data" in r.output
    r = CliRunner().invoke(cli, ["eval", str(run), "--limit", "40"])     # the first 40 held-out windows only
    assert r.exit_code == 0, r.output
    few = json.loads((run / "eval.json").read_text())["metrics"]["perplexity"]
    assert few["positions"] == 40 < p["positions"] and few["text_positions"] <= 40
    assert few["all"]["unigram"]["perplexity"] != p["all"]["unigram"]["perplexity"]   # baselines: the same 40


def test_temperature_analysis(text_run, tmp_path):
    r = CliRunner().invoke(cli, ["analyze", str(text_run), "temperatures", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "temperatures.json").read_text())["samples"]
    assert {row["temperature"] for row in rows} == {0.2, 1.0}
    assert "(Foster Fig. 6.9)" in (tmp_path / "temperatures.txt").read_text()


def test_resume_continues_exactly(text_run, tmp_path):
    assert_resumes_exactly("lstm-aesop", SMALL, text_run, tmp_path, 12)
