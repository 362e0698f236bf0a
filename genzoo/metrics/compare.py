"""``genzoo compare RUN...``: one table of the runs' ``eval.json`` and training summaries, printed and
written as Markdown and HTML with each run's sample grid and loss curves side by side."""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

COLUMNS: list[tuple[str, str]] = [
    ("run", "run"), ("recipe", "recipe"), ("epochs", "epochs"), ("train_min", "train min"),
    ("fid", "FID↓"), ("kid", "KID×10³↓"), ("precision", "precision↑"), ("recall", "recall↑"),
    ("is", "IS-analogue↑"), ("nll_bpd", "bits/dim↓"), ("likelihood", "bound"), ("recon_mse", "recon MSE↓"),
    ("psnr", "PSNR dB↑"), ("ssim", "SSIM↑"), ("memorization", "sample/held-out NN L1"),
    ("eval_s", "eval s"),
]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def run_row(run_dir: Path) -> dict[str, Any]:
    """The comparable numbers of one run (missing ones are None)."""
    ev = _read_json(run_dir / "eval.json")
    tr = _read_json(run_dir / "train_summary.json")
    m = ev.get("metrics", {})
    row: dict[str, Any] = {"run": run_dir.name, "recipe": ev.get("recipe") or _recipe(run_dir),
                           "epochs": tr.get("epochs"),
                           "train_min": round(tr["wall_s"] / 60, 1) if tr.get("wall_s") else None}
    row["fid"] = m.get("fid", {}).get("value")
    row["kid"] = m["kid"]["value"] * 1e3 if "kid" in m else None
    row["precision"] = m.get("pr", {}).get("precision")
    row["recall"] = m.get("pr", {}).get("recall")
    row["is"] = m.get("is", {}).get("value")
    for name, label in (("nll", "exact"), ("iwae", f"IWAE-{m.get('iwae', {}).get('k')}"), ("elbo", "ELBO")):
        if name in m:
            r = m[name]
            if "points" in r:  # continuous points: nats per point, no bits/dim
                row["nll_bpd"], row["likelihood"] = None, f"exact, {-r['log_prob_nats']:.3f} nats/point"
            elif "levels" in r:  # discrete model: bits/dim on its own K-level scale
                row["nll_bpd"], row["likelihood"] = r["bits_per_dim"], f"exact, {r['levels']} levels"
            else:
                row["nll_bpd"], row["likelihood"] = r["bits_per_dim_8bit"], label
            break
    else:
        row["nll_bpd"] = row["likelihood"] = None
    rec = m.get("recon", {})
    row["recon_mse"], row["psnr"], row["ssim"] = rec.get("mse"), rec.get("psnr_db"), rec.get("ssim")
    mem = m.get("memorization", {})
    row["memorization"] = (f"{mem['sample_to_train_l1']:.3f}/{mem['held_out_to_train_l1']:.3f}"
                           if mem else None)
    row["eval_s"] = round(sum(ev.get("seconds", {}).values()), 1) if ev.get("seconds") else None
    row["features"] = (m.get("fid") or m.get("kid") or m.get("pr") or {}).get("features", {}).get("name")
    return row


def _recipe(run_dir: Path) -> str | None:
    try:
        from ..config import read_config

        return read_config(run_dir / "config.yaml").recipe
    except Exception:
        return None


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:.1f}"
        return f"{value:.3f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2e}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(label for _, label in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    body = ["| " + " | ".join(_fmt(r.get(key)) for key, _ in COLUMNS) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def text_table(rows: list[dict[str, Any]]) -> str:
    cells = [[label for _, label in COLUMNS]] + [[_fmt(r.get(k)) for k, _ in COLUMNS] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(COLUMNS))) for c in cells)


def _images(run_dir: Path) -> tuple[Path | None, Path | None]:
    samples = run_dir / "samples" / "final.png"
    if not samples.exists():
        pngs = sorted((run_dir / "samples").glob("*.png")) if (run_dir / "samples").is_dir() else []
        samples = pngs[-1] if pngs else None
    curves = run_dir / "analysis" / "curves.png"
    if not curves.exists() and (run_dir / "metrics.jsonl").exists():
        try:
            from ..analysis import run_analysis

            run_analysis(run_dir, "curves")
        except Exception:
            pass
    return samples, curves if curves.exists() else None


def compare_runs(run_dirs: list[Path], out: Path | None = None) -> dict[str, Any]:
    """Build the table; with ``out`` (a path without suffix) also write ``out.md`` and ``out.html``."""
    rows = [run_row(Path(r)) for r in run_dirs]
    result: dict[str, Any] = {"rows": rows, "text": text_table(rows)}
    features = sorted({r["features"] for r in rows if r.get("features")})
    note = ("Sample-quality metrics on " + "; ".join(features) + " — comparable only with numbers on the same "
            "features.") if features else ""
    if out is None:
        result["note"] = note
        return result
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    md = ["# genzoo comparison", "", markdown_table(rows), "", note, ""]
    cells = []
    for r, run_dir in zip(rows, run_dirs):
        samples, curves = _images(Path(run_dir))
        rel = [os.path.relpath(p, out.parent) if p else None for p in (samples, curves)]
        md.append(f"## {r['run']} ({r['recipe']})\n")
        md += [f"![samples]({rel[0]}) " if rel[0] else "", f"![curves]({rel[1]})" if rel[1] else "", ""]
        imgs = "".join(f'<img src="{html.escape(p)}" style="max-height:260px;margin:4px">' for p in rel if p)
        cells.append(f"<div><h3>{html.escape(r['run'])} ({html.escape(str(r['recipe']))})</h3>{imgs}</div>")
    (out.with_suffix(".md")).write_text("\n".join(md))
    table_html = ["<table border=1 cellpadding=4 style='border-collapse:collapse'><tr>"
                  + "".join(f"<th>{html.escape(lbl)}</th>" for _, lbl in COLUMNS) + "</tr>"]
    table_html += ["<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(k)))}</td>" for k, _ in COLUMNS) + "</tr>"
                   for r in rows]
    page = (f"<!doctype html><meta charset=utf-8><title>genzoo comparison</title><h1>genzoo comparison</h1>"
            f"{''.join(table_html)}</table><p>{html.escape(note)}</p>{''.join(cells)}")
    (out.with_suffix(".html")).write_text(page)
    result.update({"markdown": str(out.with_suffix(".md")), "html": str(out.with_suffix(".html")), "note": note})
    return result
