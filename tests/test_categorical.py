"""Foster 1st ed. ch. 1: the Irm outfit table and the multinomial / naive-Bayes models reproduce the book's numbers."""
import json
import math
import re

import pytest
import torch
from click.testing import CliRunner

from genzoo.cli import cli
from genzoo.data.irm import _TABLE_1_1, COMBINATION_1, COMBINATION_2, COUNTS, FEATURES, irm_observations
from genzoo.models.categorical import MultinomialModel, NaiveBayesModel, pixel_naive_bayes_sample


def test_the_rebuilt_table_has_the_books_tables_1_1_and_1_2():
    rows = irm_observations()
    assert len(rows) == 50 and math.prod(len(v) for v in FEATURES.values()) == 4032
    for name, values in FEATURES.items():
        assert [sum(r[name] == v for r in rows) for v in values] == COUNTS[name]
    for row, (glasses, colour, kind, hair, style) in zip(rows, _TABLE_1_1):
        assert (row["glasses"], row["clothing colour"], row["clothing type"], row["hair colour"],
                row["hairstyle"]) == (glasses, colour, kind, hair, style)
    assert sum(r == COMBINATION_1 for r in rows) == 2 and COMBINATION_2 not in rows
    assert irm_observations() == rows          # deterministic


def test_the_books_worked_numbers():
    rows = irm_observations()
    mle = MultinomialModel(FEATURES).fit(rows)
    assert mle.num_parameters == 4031
    assert mle.prob(COMBINATION_1) == pytest.approx(0.04) and mle.prob(COMBINATION_2) == 0
    smoothed = MultinomialModel(FEATURES, 1.0).fit(rows)
    assert smoothed.prob(COMBINATION_2) == pytest.approx(1 / (50 + 4032))
    assert smoothed.prob(COMBINATION_1) == pytest.approx(3 / (50 + 4032))
    nb = NaiveBayesModel(FEATURES).fit(rows)
    assert nb.num_parameters == 23
    assert nb.prob(COMBINATION_1) == pytest.approx(0.46 * 0.16 * 0.44 * 0.38 * 0.44)
    assert round(nb.prob(COMBINATION_1), 4) == 0.0054
    assert nb.prob(COMBINATION_2) > 0 and nb.prob(COMBINATION_2) < nb.prob(COMBINATION_1)
    assert all(sum(t) == pytest.approx(1) for t in nb.theta.values())


def test_naive_bayes_samples_follow_the_fitted_frequencies():
    nb = NaiveBayesModel(FEATURES).fit(irm_observations())
    draws = nb.sample(20000, torch.Generator().manual_seed(0))
    share = sum(d["hair colour"] == "silver grey" for d in draws) / len(draws)
    assert share == pytest.approx(0.48, abs=0.015)
    assert not any(d["hairstyle"] == "long hair in a bun" for d in draws)   # count 0 → never drawn


def test_pixel_naive_bayes_draws_each_pixel_from_its_own_histogram():
    train = torch.zeros(100, 1, 2, 2, dtype=torch.long)
    train[:50, 0, 0, 0] = 3                      # pixel (0, 0): half 0, half 3; the others always 0
    out = pixel_naive_bayes_sample(train, 4, 4000, smoothing=0.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == (4000, 1, 2, 2)
    assert (out[:, 0, 0, 0] == 3).float().mean().item() == pytest.approx(0.5, abs=0.03)
    assert int(out[:, 0, 1:].max()) == 0 and int(out[:, 0, 1, 0].max()) == 0


def test_irm_command_prints_the_books_table():
    result = CliRunner().invoke(cli, ["irm", "--samples", "3"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "7 × 6 × 3 × 4 × 8 = 4,032 combinations" in lines[1]
    rows = {line.split("  ")[0]: line.split() for line in lines if line.startswith(("multinomial", "naive Bayes  "))}
    mle, smoothed, nb = (rows[k] for k in ("multinomial (maximum likelihood)", "multinomial, additive smoothing 1",
                                          "naive Bayes"))
    assert mle[-7:] == ["4,031", "2/50", "=", "0.04", "0/50", "=", "0"]
    assert smoothed[-7:] == ["4,031", "3/4,082", "=", "0.00073", "1/4,082", "=", "0.00024"]
    assert nb[-3:] == ["23", "0.0054", "0.00098"]
    assert "p(combination 1) = 0.46 × 0.16 × 0.44 × 0.38 × 0.44 = 0.0054" in result.output
    assert "long straight 23 (0.46)" in result.output and "silver grey 24 (0.48)" in result.output
    samples = [line for line in lines if line[:4].strip().rstrip(".").isdigit()]
    assert len(samples) == 3 and all(line.count(",") == 2 for line in samples)
    assert not re.search(r"\de-\d|\d{7}", result.output)                  # no float noise


def test_irm_json_has_no_float_noise():
    result = CliRunner().invoke(cli, ["irm", "--samples", "2", "--json"], catch_exceptions=False)
    out = json.loads(result.stdout)
    assert out["multinomial"]["parameters"] == 4031 and out["naive_bayes"]["parameters"] == 23
    assert out["naive_bayes"]["p(combination 1)"] == 0.0054146 and len(out["samples"]) == 2

    def floats(v):
        if isinstance(v, float):
            yield v
        elif isinstance(v, dict):
            for x in v.values():
                yield from floats(x)
        elif isinstance(v, list):
            for x in v:
                yield from floats(x)
    assert all(len(f"{x:.15g}".lstrip("-0.").replace(".", "")) <= 6 for x in floats(out))
    assert CliRunner().invoke(cli, ["irm", "--samples", "0"]).exit_code == 0


def test_irm_probabilities_print_as_the_book_does():
    from genzoo.analysis.irm import outfit, prob

    assert [prob(x) for x in (0.04, 0.0054146, 0.46, 0.000734934, 0, 1.0)] == ["0.04", "0.0054", "0.46", "0.00073",
                                                                                "0", "1"]
    assert outfit(COMBINATION_1) == "long straight red hair, round glasses, white crew-neck T-shirt"
    assert outfit({**COMBINATION_1, "hairstyle": "no hair", "glasses": "none"}).startswith("no hair, no glasses")


def test_planet_pixel_command(tmp_path, mini_data_dir):
    out = tmp_path / "pp.png"
    result = CliRunner().invoke(cli, ["planet-pixel", "--data-dir", mini_data_dir, "--levels", "4", "-n", "5",
                                      "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert out.exists() and info["training_images"] == 512 and 0 < info["test_bits_per_dim"] < 2.0
