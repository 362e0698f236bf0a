"""The GPT family (Radford et al. 2018/2019): nanoGPT's CPU size, training on the token data, cached and uncached
sampling giving the same tokens, top-p, the warm-up + cosine schedule and its exact resume, BPE runs that sample
without their corpus, held-out perplexity at the model's context, and the attention and position analyses."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from genzoo.cli import cli
from genzoo.config import ConfigError, OptimConfig
from genzoo.models import build_model
from genzoo.models.text import filter_logits
from genzoo.nn.transformer import sinusoidal_encoding
from genzoo.run_context import RunContext
from genzoo.training.checkpoint import latest_checkpoint, load_state
from genzoo.training.gradient import scheduled_lr

RIDDLES = Path(__file__).parent / "fixtures" / "text" / "riddles-mini.txt"
TINY = ["--set", "model.layers=2", "--set", "model.heads=2", "--set", "model.d_model=32", "--set", "data.text.window=16",
        "--set", "batch_size=8", "--set", "sample_n=2", "--set", "log_every=4", "--set", "tensorboard=false",
        "--set", "optim.model.warmup_steps=3", "--set", "optim.model.decay_steps=12", "--no-progress"]
SMALL = ["--dataset", "text-file", "--data-dir", str(RIDDLES), *TINY]


def _train(out: Path, *args: str, steps: int = 12) -> Path:
    r = CliRunner().invoke(cli, ["train", "gpt-shakespeare-char", "--max-steps", str(steps), "--out", str(out), *args],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("gpt") / "char", *SMALL)


def test_parameter_count_of_nanogpts_cpu_configuration():
    model = build_model({"family": "gpt", "vocab_size": 65, "window": 64})
    # 4 blocks of 12·128² + 13·128, 65 + 64 embedding rows, the final LayerNorm; the output layer is tied
    assert sum(p.numel() for p in model.parameters()) == 809_856
    with pytest.raises(ConfigError, match="multiple of model.heads"):
        build_model({"family": "gpt", "vocab_size": 65, "d_model": 30, "heads": 4})
    with pytest.raises(ConfigError, match="model.positions"):
        build_model({"family": "gpt", "vocab_size": 65, "positions": "rotary"})
    sin = build_model({"family": "gpt", "vocab_size": 65, "window": 64, "positions": "sinusoidal"})
    assert torch.equal(sin.position_table(), sinusoidal_encoding(64, 128))
    assert sum(p.numel() for p in sin.parameters()) == 809_856 - 64 * 128   # a fixed table has no weights


def test_training_learns_and_the_schedule_is_logged(gpt_run):
    rows = [json.loads(line) for line in (gpt_run / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "loss" in r]
    assert rows[-1]["loss"] < rows[0]["loss"]
    # warm-up over 3 steps to 1e-3, cosine to 1e-4 at step 12: the lr of step 4 (index 3) and of the last one
    assert rows[0]["lr"]["model"] == pytest.approx(scheduled_lr(_optim(), 3, 12))
    assert rows[-1]["lr"]["model"] == pytest.approx(scheduled_lr(_optim(), 11, 12)) and rows[-1]["lr"]["model"] < 1.3e-4
    spec = json.loads((gpt_run / "data_spec.json").read_text())
    assert spec["extra"]["tokenizer"] == "char" and spec["units_per_item"] == 16


def _optim() -> OptimConfig:
    return OptimConfig(name="adamw", lr=1e-3, schedule="cosine", warmup_steps=3, decay_steps=12, min_lr=1e-4)


def test_scheduled_lr_warms_up_then_follows_the_cosine():
    cfg = OptimConfig(lr=1.0, schedule="cosine", warmup_steps=10, decay_steps=110, min_lr=0.1)
    assert scheduled_lr(cfg, 0, 0) == pytest.approx(0.1) and scheduled_lr(cfg, 9, 0) == pytest.approx(1.0)
    assert scheduled_lr(cfg, 10, 0) == pytest.approx(1.0)
    assert scheduled_lr(cfg, 60, 0) == pytest.approx(0.55)              # half way: the mean of lr and min_lr
    assert scheduled_lr(cfg, 110, 0) == pytest.approx(0.1) and scheduled_lr(cfg, 500, 0) == pytest.approx(0.1)
    default = OptimConfig(lr=1.0, schedule="cosine")                    # decays over the run's length
    assert scheduled_lr(default, 50, 100) == pytest.approx(0.5)
    assert scheduled_lr(OptimConfig(lr=2.0, warmup_steps=4), 1, 9) == pytest.approx(1.0)


def test_resume_restores_the_schedule_exactly(gpt_run, tmp_path):
    part = _train(tmp_path / "part", *SMALL, steps=6)
    state = load_state(latest_checkpoint(part))
    assert state["lr_horizon"] == 6
    r = CliRunner().invoke(cli, ["resume", str(part), "--max-steps", "12", "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    a, b = RunContext(part).model, RunContext(gpt_run).model
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_cached_and_uncached_sampling_draw_the_same_tokens(gpt_run):
    model = RunContext(gpt_run).model
    calls: list[int] = []
    forward = model.net.forward
    model.net.forward = lambda ids, **kw: calls.append(ids.shape[1]) or forward(ids, **kw)
    # 45 tokens after a 13-token prompt read by a 16-token context: the context restarts several times
    draw = dict(n=3, prompt="what is the", max_tokens=45, temperature=1.5)
    cached = model.sample(**draw, generator=torch.Generator().manual_seed(5), kv_cache=True)
    reads_cached, calls[:] = list(calls), []
    plain = model.sample(**draw, generator=torch.Generator().manual_seed(5), kv_cache=False)
    assert torch.equal(cached, plain) and (cached[:, 11:] > 0).sum() > 30
    assert sorted(set(reads_cached)) == [1, 8] and max(calls) == 16        # one position per token, or a re-read
    assert sum(reads_cached) < sum(calls) / 3


def test_sample_cli_top_p_and_no_kv_cache(gpt_run, tmp_path):
    out = {}
    for flag in ([], ["--no-kv-cache"]):
        r = CliRunner().invoke(cli, ["sample", str(gpt_run), "-n", "2", "--prompt", "what is", "--top-p", "0.9",
                                     "--max-tokens", "30", "--seed", "3", "--out", str(tmp_path / f"s{len(flag)}.txt"),
                                     *flag])
        assert r.exit_code == 0, r.output
        out[len(flag)] = (tmp_path / f"s{len(flag)}.txt").read_text()
    assert out[0] == out[1] and out[0].count("what is") == 2
    r = CliRunner().invoke(cli, ["sample", str(gpt_run), "--top-p", "1.5"])
    assert r.exit_code == 2 and "--top-p must be in (0, 1]" in r.output


def test_top_p_and_no_kv_cache_are_refused_for_the_lstm(tmp_path):
    run = tmp_path / "lstm"
    r = CliRunner().invoke(cli, ["train", "lstm-aesop", "--max-steps", "2", "--out", str(run), "--dataset", "text-file",
                                 "--data-dir", str(RIDDLES), "--set", "model.units=[8]", "--set", "model.embedding=4",
                                 "--set", "sample_n=1", "--set", "tensorboard=false", "--no-progress"])
    assert r.exit_code == 0, r.output
    for flag in (["--top-p", "0.9"], ["--no-kv-cache"]):
        r = CliRunner().invoke(cli, ["sample", str(run), *flag])
        assert r.exit_code == 2 and f"{flag[0]} does not apply to sampling with model family 'lstm'" in r.output
        assert "(sampling takes --temperature, --top-k, --prompt, --max-tokens)" in r.output


def test_nucleus_keeps_the_fewest_likeliest_tokens():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    kept = filter_logits(logits, top_p=0.7).isfinite()[0].tolist()
    assert kept == [True, True, False, False]                       # 0.5 < 0.7 ≤ 0.5 + 0.3
    assert filter_logits(logits, top_p=0.1).isfinite()[0].tolist() == [True, False, False, False]
    assert filter_logits(logits, top_k=3, top_p=1.0).isfinite()[0].tolist() == [True, True, True, False]


def test_held_out_perplexity_at_the_models_context(gpt_run, tmp_path):
    run = shutil.copytree(gpt_run, tmp_path / "run", symlinks=True)
    r = CliRunner().invoke(cli, ["eval", str(run), "--limit", "300"])
    assert r.exit_code == 0, r.output
    p = json.loads((run / "eval.json").read_text())["metrics"]["perplexity"]
    assert p["window"] == 16 and p["positions"] == 300 and p["tokenizer"] == "char"
    m = p["all"]["model"]
    assert m["perplexity"] == pytest.approx(math.exp(m["nats_per_token"]), rel=1e-6) and p["all"]["chars_per_token"] == 1
    r = CliRunner().invoke(cli, ["compare", str(run), "--out", str(tmp_path / "report")])
    assert r.exit_code == 0, r.output
    assert "perplexity↓" in r.output and "char, window 16, 300 positions" in r.output
    assert f"{m['perplexity']:.3f}" in r.output


def test_bpe_run_samples_without_its_corpus(tmp_path):
    corpus = tmp_path / "riddles.txt"
    shutil.copy(RIDDLES, corpus)
    run = _train(tmp_path / "bpe", "--dataset", "text-file", "--data-dir", str(corpus), *TINY,
                 "--set", "data.text.tokenizer=bpe", "--set", "data.text.bpe_vocab_size=300", steps=4)
    corpus.unlink()
    spec = json.loads((run / "data_spec.json").read_text())
    assert spec["vocab"]["kind"] == "bpe" and spec["extra"]["vocab_size"] == 301
    r = CliRunner().invoke(cli, ["sample", str(run), "-n", "2", "--prompt", "what is", "--max-tokens", "10",
                                 "--out", str(tmp_path / "s.txt")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "s.txt").read_text().count("what is") == 2


def test_attention_and_position_analyses(gpt_run, tmp_path):
    r = CliRunner().invoke(cli, ["analyze", str(gpt_run), "attention", "--prompt", "what is the",
                                 "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "attention.json").read_text())
    assert result["tokens"] == list("what is the") and len(result["mean_distance_back"]) == 2
    assert (tmp_path / "attention.png").stat().st_size > 10_000
    r = CliRunner().invoke(cli, ["analyze", str(gpt_run), "attention", "-n", "12", "--out", str(tmp_path / "d")])
    assert r.exit_code == 0 and len(json.loads((tmp_path / "d" / "attention.json").read_text())["tokens"]) <= 12
    r = CliRunner().invoke(cli, ["analyze", str(gpt_run), "positions", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "positions.json").read_text())["shape"] == [16, 32]
    assert (tmp_path / "positions.png").exists()
    assert (tmp_path / "positions-sinusoidal.png").exists()          # the book's figure, at this model's size
    assert json.loads((tmp_path / "positions.json").read_text())["sinusoidal_neighbour_cosine"] > 0.5


def test_summary_reads_the_context_from_the_data_window():
    """`genzoo summary` sizes the position table by data.text.window, as training does (not the default 20)."""
    r = CliRunner().invoke(cli, ["summary", "gpt-fortunes", "--set", "model.vocab_size=100",
                                 "--set", "data.text.window=32"])
    assert r.exit_code == 0, r.output
    assert "context 32" in r.output and "embed.position" in r.output
