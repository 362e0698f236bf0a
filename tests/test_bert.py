"""The BERT-style masked language model (Devlin et al. 2019; Foster 1st ed. §9): BERT's masking and its
proportions, [MASK] in the saved vocabulary, the parameter count at BERT-base's size, training and exact resume,
the fill-mask task, and held-out masked-token accuracy on fixed masks."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from conftest import assert_resumes_exactly
from genzoo.cli import cli
from genzoo.config import ConfigError
from genzoo.data.masking import MASK_TOKEN, MaskingRule, mask_tokens, step_generator
from genzoo.data.tokenizers import BPETokenizer, WordTokenizer, tokenizer_from_dict
from genzoo.models import build_model
from genzoo.run_context import RunContext

RIDDLES = Path(__file__).parent / "fixtures" / "text" / "riddles-mini.txt"
SMALL = ["--dataset", "text-file", "--data-dir", str(RIDDLES), "--set", "data.text.window=16",
         "--set", "model.d_model=32", "--set", "model.heads=2", "--set", "model.layers=2", "--set", "batch_size=8",
         "--set", "log_every=4", "--set", "tensorboard=false", "--no-progress"]


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bert_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bert") / "run"
    r = CliRunner().invoke(cli, ["train", "bert-fortunes", "--max-steps", "12", "--out", str(out), *SMALL],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


# -- masking --------------------------------------------------------------------------------------------
def test_masking_proportions_follow_bert():
    """15 % of each sequence's eligible tokens selected (exactly round(0.15 n)), of those 80 % [MASK], 10 %
    random, 10 % kept (binomial tolerances of 4 standard deviations), never a separator, uniform over positions."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(2, 100, (3000, 64), generator=g)
    ids[:, 10:30] = 1                                    # a story marker run: never selected
    ids[::7, 50:] = 0                                    # padding on some rows: never selected
    eligible = (ids != 0) & (ids != 1)
    m = mask_tokens(ids, mask_id=100, ordinary=range(1, 100), eligible=eligible, generator=step_generator(0, 0))
    n = eligible.sum(1)
    assert torch.equal(m.selected.sum(1), torch.round(n * 0.15).clamp_min(1))
    assert not (m.selected & ~eligible).any()
    kinds = m.kind[m.selected].long()
    total = int(m.selected.sum())
    for k, p in enumerate((0.8, 0.1, 0.1)):
        share = float((kinds == k).sum()) / total
        assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / total), (k, share)
    assert (m.inputs[m.kind == 0] == 100).all()
    assert torch.equal(m.inputs[m.kind == 2], ids[m.kind == 2])
    randoms = m.inputs[m.kind == 1]
    assert randoms.min() >= 1 and randoms.max() < 100              # text tokens, never [MASK]
    assert torch.equal(m.inputs[~m.selected], ids[~m.selected])     # unselected tokens are untouched
    column = m.selected[:, 30:50].double().mean(0)                  # eligible everywhere: 0.15 at every position
    rate = float(m.selected[:, 30:50].double().mean())
    assert (column - rate).abs().max() < 5 * math.sqrt(rate * (1 - rate) / len(ids))


def test_masks_are_a_function_of_seed_and_step():
    ids = torch.randint(1, 50, (8, 32))
    kw = dict(mask_id=50, ordinary=range(1, 50), eligible=torch.ones_like(ids, dtype=torch.bool))
    a = mask_tokens(ids, generator=step_generator(3, 7), **kw)
    b = mask_tokens(ids, generator=step_generator(3, 7), **kw)
    c = mask_tokens(ids, generator=step_generator(3, 8), **kw)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.selected, b.selected)
    assert not torch.equal(a.selected, c.selected)
    with pytest.raises(ConfigError, match="mask_rate"):
        MaskingRule(rate=0).check()
    with pytest.raises(ConfigError, match="together <= 1"):
        MaskingRule(mask=0.9, random=0.2).check()


def test_special_tokens_live_in_the_saved_vocabulary():
    tok = WordTokenizer(special_tokens=[MASK_TOKEN]).fit("the cat sat on the mat")
    again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    mask = again.special_id(MASK_TOKEN)
    assert mask == tok.vocab_size - 1 == again.vocab_size - 1 and again.index_word[mask] == MASK_TOKEN
    assert again.ordinary_ids == range(1, mask) and again.unknown_id == mask - 1
    assert again.encode("the [MASK] sat") == [1, again.unknown_id, 3]   # text never encodes to a special
    bpe = BPETokenizer(vocab_size=40, special_tokens=[MASK_TOKEN]).fit("the cat sat on the mat , the cat")
    bpe_again = tokenizer_from_dict(json.loads(json.dumps(bpe.to_dict())))
    assert bpe_again.special_id(MASK_TOKEN) == bpe_again.vocab_size - 1 == bpe.special_id(MASK_TOKEN)
    assert bpe_again.encode("the cat") == bpe.encode("the cat")
    plain = WordTokenizer().fit("the cat sat")
    assert "special_tokens" not in plain.to_dict()                        # other runs' vocabularies unchanged
    with pytest.raises(ConfigError, match="no special token"):
        plain.special_id(MASK_TOKEN)


# -- the model ------------------------------------------------------------------------------------------
def test_bert_base_size_has_bert_base_parameters():
    """At BERT-base's size (Devlin et al. 2019: L=12, H=768, A=12, 110 M parameters; vocabulary 30,522, 512
    positions) the encoder has BERT-base's 108,891,648 encoder parameters less the 1,536 of its segment
    embeddings (not used here); the MLM output layer adds BERT's transform and output bias."""
    with torch.device("meta"):
        model = build_model({"family": "bert", "vocab_size": 30522, "window": 512, "mask_id": 30521,
                             "d_model": 768, "heads": 12, "layers": 12})
    count = lambda m: sum(p.numel() for p in m.parameters())   # noqa: E731  (shared weights once)
    assert count(model.net) == 108_891_648 - 2 * 768
    assert count(model.mlm) == 768 * 768 + 768 + 2 * 768 + 30522
    assert model.net.head is None                               # the decoder is the token embedding


def test_config_errors():
    with pytest.raises(ConfigError, match="comes from the data's tokeniser"):
        build_model({"family": "bert"})
    with pytest.raises(ConfigError, match="multiple of model.heads"):
        build_model({"family": "bert", "vocab_size": 50, "mask_id": 49, "d_model": 30, "heads": 4})
    with pytest.raises(ConfigError, match="mask_rate"):
        build_model({"family": "bert", "vocab_size": 50, "mask_id": 49, "mask_rate": 1.5})
    with pytest.raises(ConfigError, match="the \\[MASK\\] id"):
        build_model({"family": "bert", "vocab_size": 50})


def test_training_puts_mask_in_the_run_vocabulary(bert_run):
    spec = json.loads((bert_run / "data_spec.json").read_text())
    cfg = yaml.safe_load((bert_run / "config.yaml").read_text())["model"]
    assert spec["vocab"]["special_tokens"] == [MASK_TOKEN]
    assert cfg["mask_id"] == cfg["vocab_size"] - 1 == spec["extra"]["vocab_size"] - 1 and cfg["window"] == 16
    rows = [json.loads(line) for line in (bert_run / "metrics.jsonl").read_text().splitlines()]
    assert {"loss", "masked_accuracy", "tokens_per_s"} <= set(rows[-1])
    r = CliRunner().invoke(cli, ["summary", "bert-fortunes", "--set", f"model.vocab_size={cfg['vocab_size']}",
                                 "--set", f"model.mask_id={cfg['mask_id']}", "--set", "model.window=16",
                                 "--set", "model.d_model=32", "--set", "model.heads=2", "--set", "model.layers=2"])
    assert r.exit_code == 0, r.output
    model = RunContext(bert_run).model
    assert f"Total params: {sum(p.numel() for p in model.parameters()):,}" in r.output   # the tied weight once


def test_resume_continues_exactly(bert_run, tmp_path):
    assert_resumes_exactly("bert-fortunes", SMALL, bert_run, tmp_path, 12)



# -- fill-mask ------------------------------------------------------------------------------------------
def test_fill_mask_prints_top_10_and_writes_txt(bert_run, tmp_path):
    r = CliRunner().invoke(cli, ["sample", str(bert_run), "--fill-mask", "--prompt", "what is the [MASK] ?",
                                 "--prompt", "why did the [MASK] cross the [MASK] ?", "--prompt", "the tortoize [MASK]",
                                 "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    result = _last_json(r.stdout)
    assert Path(result["text"]).name == "fill-mask-0.txt"
    text = Path(result["text"]).read_text()
    assert text.count("[MASK] 1 →") == 2 and text.count("[MASK] 2 →") == 1 and "'tortoize'" in text
    ctx = RunContext(bert_run)
    first, second = ctx.model.fill_mask("why did the [MASK] cross the [MASK] ?", 10)
    for top in (first, second):
        probs = [p for _, p in top]
        assert len(top) == 10 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        assert MASK_TOKEN not in [w for w, _ in top]
    assert text.count("%") == 30


def test_fill_mask_needs_no_data_and_refuses_clearly(bert_run, tmp_path):
    run = shutil.copytree(bert_run, tmp_path / "run", symlinks=True)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["data"]["data_dir"] = str(tmp_path / "gone.txt")                  # the corpus is not needed
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    runner = CliRunner()
    r = runner.invoke(cli, ["sample", str(run), "--fill-mask", "--prompt", "what is [MASK] ?"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["sample", str(run), "--fill-mask", "--prompt", "what is the tortoize [MASK]"])
    assert r.exit_code == 2 and "'tortoize'" in r.output and "vocabulary" in r.output
    r = runner.invoke(cli, ["sample", str(run), "--fill-mask", "--prompt", "what is the"])
    assert r.exit_code == 2 and "has no [MASK]" in r.output
    r = runner.invoke(cli, ["sample", str(run), "--fill-mask", "--prompt", " ".join(["what"] * 17) + " [MASK]"])
    assert r.exit_code == 2 and "at most 16" in r.output
    r = runner.invoke(cli, ["sample", str(run), "--fill-mask", "--temperature", "0.5"])
    assert r.exit_code == 2 and "does not apply to fill-mask" in r.output
    r = runner.invoke(cli, ["sample", str(run)])
    assert r.exit_code == 2 and "has no sampling (it offers fill-mask)" in r.output


# -- evaluation -----------------------------------------------------------------------------------------
def test_masked_eval_on_fixed_masks_beside_unigram(bert_run, tmp_path):
    runs = []
    for name, steps in (("a", "12"), ("b", "4")):
        run = tmp_path / name
        if name == "a":
            shutil.copytree(bert_run, run, symlinks=True)
        else:
            assert CliRunner().invoke(cli, ["train", "bert-fortunes", "--max-steps", steps, "--out", str(run),
                                            *SMALL]).exit_code == 0
        r = CliRunner().invoke(cli, ["eval", str(run)])
        assert r.exit_code == 0, r.output
        runs.append(json.loads((run / "eval.json").read_text()))
    a, b = (e["metrics"]["masked"] for e in runs)
    assert "perplexity" in runs[0]["skipped"] and "next-token" in runs[0]["skipped"]["perplexity"]
    for view in ("all", "mask", "random", "kept"):
        assert a[view]["positions"] == b[view]["positions"]
        assert a[view]["unigram"] == b[view]["unigram"]           # the same masked positions for both runs
    assert a["mask"]["positions"] + a["random"]["positions"] + a["kept"]["positions"] == a["all"]["positions"]
    assert 0.7 < a["mask"]["positions"] / a["all"]["positions"] < 0.9
    scores = a["all"]
    assert 0 <= scores["accuracy"] <= 1 and scores["perplexity"] == pytest.approx(math.exp(scores["nats_per_token"]))
    r = CliRunner().invoke(cli, ["eval", str(tmp_path / "a"), "--metrics", "masked"])
    again = json.loads((tmp_path / "a" / "eval.json").read_text())["metrics"]["masked"]
    assert r.exit_code == 0 and again == a                                                  # deterministic
