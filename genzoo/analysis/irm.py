"""``genzoo irm``: the multinomial and naive-Bayes models of Foster's 50 "Irm" outfits (1st ed. ch. 1), as the
book's numbers (:func:`irm_results`, JSON-able) and as the readable table the command prints
(:func:`format_irm`)."""
from __future__ import annotations

import math
import textwrap
from typing import Any

import torch

from ..data.irm import COMBINATION_1, COMBINATION_2, FEATURES, irm_observations
from ..models.categorical import MultinomialModel, NaiveBayesModel


def irm_results(samples: int = 10, smoothing: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """Both models fitted to the 50 outfits: parameter counts, p(combination 1), p(combination 2) (with and
    without additive smoothing), the naive-Bayes θ̂ and ``samples`` new outfits drawn from it."""
    rows = irm_observations()
    mle = MultinomialModel(FEATURES).fit(rows)
    smoothed = MultinomialModel(FEATURES, smoothing).fit(rows)
    nb = NaiveBayesModel(FEATURES).fit(rows)
    counts = {name: [sum(r[name] == v for r in rows) for v in values] for name, values in FEATURES.items()}
    return {"observations": len(rows), "combinations": mle.combinations,
            "count(combination 1)": sum(r == COMBINATION_1 for r in rows),
            "count(combination 2)": sum(r == COMBINATION_2 for r in rows),
            "multinomial": {"parameters": mle.num_parameters, "p(combination 1)": mle.prob(COMBINATION_1),
                            "p(combination 2)": mle.prob(COMBINATION_2), "smoothing": smoothing,
                            "smoothed p(combination 1)": smoothed.prob(COMBINATION_1),
                            "smoothed p(combination 2)": smoothed.prob(COMBINATION_2)},
            "naive_bayes": {"parameters": nb.num_parameters, "p(combination 1)": nb.prob(COMBINATION_1),
                            "p(combination 2)": nb.prob(COMBINATION_2), "theta": nb.theta, "counts": counts},
            "combination 1": COMBINATION_1, "combination 2": COMBINATION_2, "seed": seed,
            "samples": nb.sample(samples, torch.Generator().manual_seed(seed)) if samples else []}


def round_floats(value: Any, digits: int = 6) -> Any:
    """``value`` with every float rounded to ``digits`` significant digits (for JSON without float noise)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: round_floats(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_floats(v, digits) for v in value]
    return value


def prob(x: float, significant: int = 2) -> str:
    """A probability to ``significant`` digits in plain decimals, as the book prints them: 0.04, 0.0054."""
    if x == 0:
        return "0"
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}".rstrip("0").rstrip(".")


def outfit(o: dict[str, str]) -> str:
    """One outfit in words: "long straight red hair, round glasses, white crew-neck T-shirt"."""
    style, colour = o["hairstyle"], o["hair colour"]
    hair = "no hair" if style == "no hair" else f"{style} ({colour})" if "hair" in style else f"{style} {colour} hair"
    glasses = {"none": "no glasses", "sunglasses": "sunglasses"}.get(o["glasses"], f"{o['glasses']} glasses")
    return f"{hair}, {glasses}, {o['clothing colour']} {o['clothing type']}"


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def format_irm(r: dict[str, Any]) -> str:
    """The book's ch. 1 numbers as text: the two combinations, both models' parameter counts and
    probabilities, the naive-Bayes product written out, θ̂ per feature value (Table 1.2) and the samples."""
    n, k = r["observations"], r["combinations"]
    mn, nb = r["multinomial"], r["naive_bayes"]
    c1, c2 = r["count(combination 1)"], r["count(combination 2)"]
    sizes = " × ".join(str(len(v)) for v in FEATURES.values())
    lines = ["Foster, Generative Deep Learning (1st ed.) ch. 1: the Irm outfits",
             f"{n} observations of {len(FEATURES)} features: {sizes} = {k:,} combinations", "",
             f"combination 1: {outfit(r['combination 1'])}  (observed {c1} times)",
             f"combination 2: {outfit(r['combination 2'])}  (observed {c2} times)", ""]
    a = mn["smoothing"]
    rows = [["model", "parameters", "p(combination 1)", "p(combination 2)"],
            ["multinomial (maximum likelihood)", f"{mn['parameters']:,}",
             f"{c1}/{n} = {prob(mn['p(combination 1)'])}", f"{c2}/{n} = {prob(mn['p(combination 2)'])}"]]
    if a > 0:
        frac = f"/({n}+{a:g}×{k:,})" if a != 1 else f"/{n + k:,}"
        top = (lambda c: f"({c}+{a:g})") if a != 1 else (lambda c: f"{c + 1}")
        rows.append([f"multinomial, additive smoothing {a:g}", f"{mn['parameters']:,}",
                     f"{top(c1)}{frac} = {prob(mn['smoothed p(combination 1)'])}",
                     f"{top(c2)}{frac} = {prob(mn['smoothed p(combination 2)'])}"])
    rows.append(["naive Bayes", f"{nb['parameters']:,}", prob(nb["p(combination 1)"]), prob(nb["p(combination 2)"])])
    lines += _table(rows, right={1}) + [""]
    theta = nb["theta"]
    for i, combo in ((1, r["combination 1"]), (2, r["combination 2"])):
        factors = " × ".join(prob(theta[f][FEATURES[f].index(combo[f])]) for f in FEATURES)
        lead = "naive Bayes: " if i == 1 else " " * len("naive Bayes: ")
        lines.append(f"{lead}p(combination {i}) = {factors} = {prob(nb[f'p(combination {i})'])}")
    lines += ["", f"Naive-Bayes parameters θ̂ = n/N (Table 1.2: n (θ̂), N = {n}):"]
    for f, values in FEATURES.items():
        entries = [f"{v} {c} ({theta[f][j]:.2f})".replace(" ", "\u00a0")   # wrap between entries only
                   for j, (v, c) in enumerate(zip(values, nb["counts"][f]))]
        wrapped = textwrap.wrap(f"{f}: " + ", ".join(entries), width=100, initial_indent="  ",
                                subsequent_indent="      ", break_long_words=False, break_on_hyphens=False)
        lines += [line.replace("\u00a0", " ") for line in wrapped]
    if r["samples"]:
        lines += ["", f"{len(r['samples'])} new outfits drawn from the naive-Bayes model (seed {r['seed']}):"]
        lines += [f"  {i + 1:>2}. {outfit(o)}" for i, o in enumerate(r["samples"])]
    return "\n".join(lines)
