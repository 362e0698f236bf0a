"""The "Irm" outfit data of Foster, *Generative Deep Learning* (1st ed.) ch. 1: 50 avatars described by
five categorical features (7 × 6 × 3 × 4 × 8 = 4,032 combinations).

The book prints only the first 10 observations (Table 1.1) and each feature's counts (Table 1.2), plus the
fact that "combination 1" (long straight, red hair, round glasses, crew-neck T-shirt, white) occurs twice.
:func:`irm_observations` rebuilds a 50-row table with exactly those properties: rows 1–10 are Table 1.1,
row 11 repeats observation 4 (combination 1), and rows 12–50 spread the remaining counts of every
feature over the rows by a fixed seeded shuffle, re-drawn until combination 1 occurs exactly twice.
Any other table with the same counts gives the same naive-Bayes model; the multinomial numbers the book
quotes depend only on combination 1's count.
"""
from __future__ import annotations

import random

FEATURES: dict[str, list[str]] = {
    "hairstyle": ["no hair", "long hair in a bun", "long wavy", "long straight", "short wavy", "short straight",
                  "short curly"],
    "hair colour": ["black", "blonde", "brown", "pastel pink", "red", "silver grey"],
    "glasses": ["none", "round", "sunglasses"],
    "clothing type": ["hoodie", "overall", "crew-neck T-shirt", "V-neck T-shirt"],
    "clothing colour": ["black", "blue01", "grey01", "pastel green", "pastel orange", "pink", "red", "white"],
}

# Table 1.2: counts per value, in the order of FEATURES (N = 50).
COUNTS: dict[str, list[int]] = {
    "hairstyle": [7, 0, 1, 23, 1, 11, 7],
    "hair colour": [7, 6, 2, 3, 8, 24],
    "glasses": [11, 22, 17],
    "clothing type": [7, 18, 19, 6],
    "clothing colour": [0, 4, 10, 5, 2, 4, 3, 22],
}

# Table 1.1 (the book's column order is accessory; clothing colour; clothing type; hair colour; hairstyle).
_TABLE_1_1 = [
    ("round", "white", "crew-neck T-shirt", "red", "short straight"),
    ("round", "white", "overall", "silver grey", "short curly"),
    ("sunglasses", "white", "crew-neck T-shirt", "blonde", "short straight"),
    ("round", "white", "crew-neck T-shirt", "red", "long straight"),
    ("round", "white", "overall", "silver grey", "no hair"),
    ("none", "white", "overall", "black", "long straight"),
    ("sunglasses", "white", "overall", "silver grey", "long straight"),
    ("round", "white", "crew-neck T-shirt", "silver grey", "short straight"),
    ("round", "pink", "hoodie", "silver grey", "long straight"),
    ("round", "pastel orange", "crew-neck T-shirt", "blonde", "long straight"),
]

COMBINATION_1 = {"hairstyle": "long straight", "hair colour": "red", "glasses": "round",
                 "clothing type": "crew-neck T-shirt", "clothing colour": "white"}
COMBINATION_2 = {**COMBINATION_1, "clothing colour": "blue01"}


def _row(glasses: str, colour: str, kind: str, hair_colour: str, hairstyle: str) -> dict[str, str]:
    return {"hairstyle": hairstyle, "hair colour": hair_colour, "glasses": glasses, "clothing type": kind,
            "clothing colour": colour}


def irm_observations(seed: int = 0) -> list[dict[str, str]]:
    """The 50 observations (dicts feature → value), reproducing Tables 1.1 and 1.2 exactly."""
    given = [_row(*r) for r in _TABLE_1_1] + [dict(COMBINATION_1)]
    rng = random.Random(seed)
    for _ in range(1000):
        columns = {}
        for name, values in FEATURES.items():
            left = [v for v, c in zip(values, COUNTS[name]) for _ in range(c)]
            for row in given:
                left.remove(row[name])
            rng.shuffle(left)
            columns[name] = left
        rest = [{name: columns[name][i] for name in FEATURES} for i in range(50 - len(given))]
        rows = given + rest
        if sum(r == COMBINATION_1 for r in rows) == 2 and COMBINATION_2 not in rows:
            return rows
    raise RuntimeError("could not rebuild the Irm table")  # unreachable for the book's counts
