"""``genzoo compare RUN...``: one table of the runs' ``eval.json`` and training summaries, printed and
written as Markdown and HTML with each run's sample grid and loss curves side by side.

Bits/dim are only comparable on the same data scale: the 8-bit scale (256 values per pixel: the VAE bounds
with dequantisation, the diffusion bound, the image flows, 256-level PixelCNNs) or a pixel model's own
K-level data (e.g. 4 levels, or binarised: 2). So the table has one bits/dim column per scale present,
named by it ("bits/dim 8-bit↓", "bits/dim 4-level↓"), never one column that mixes them.
"""
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
    ("ppl", "perplexity↓"), ("ppl_text", "perplexity, text↓"), ("bits_per_char", "bits/char↓"),
    ("text_eval", "text scored on"), ("tr_l1", "translation L1↓ A→B/B→A"), ("tr_ssim", "translation SSIM↑"),
    ("tr_fid", "translation FID↓"), ("eval_s", "eval s"),
]
# Language-model columns (genzoo.metrics.text_eval), shown when a row has them: perplexities compare only between
# rows scored on the same tokeniser, window and positions, which "text scored on" names.
TEXT_COLUMNS = ("ppl", "ppl_text", "bits_per_char", "text_eval")
# Image-to-image translation columns (genzoo.metrics.translation_eval), shown when a row has them: one value per
# direction the model learned, against the true counterparts of the held-out pairs.
TRANSLATION_COLUMNS = ("tr_l1", "tr_ssim", "tr_fid")


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
    row["bpd_scale"] = None
    for name, label in (("nll", "exact"), ("iwae", f"IWAE-{m.get('iwae', {}).get('k')}"), ("elbo", "ELBO"),
                        ("vlb", "VLB")):
        if name in m:
            r = m[name]
            if "points" in r:  # continuous points: nats per point, no bits/dim
                row["nll_bpd"], row["likelihood"] = None, f"exact, {-r['log_prob_nats']:.3f} nats/point"
            elif "levels" in r:  # discrete model: bits/dim on its own K-level scale
                row["nll_bpd"], row["likelihood"] = r["bits_per_dim"], f"exact, {r['levels']} levels"
                row["bpd_scale"] = scale_name(int(r["levels"]))
            else:              # the 8-bit scale: dequantised bounds, the diffusion bound (always 8-bit data)
                row["nll_bpd"], row["likelihood"] = r.get("bits_per_dim_8bit", r.get("bits_per_dim")), label
                row["bpd_scale"] = "8-bit"
            break
    else:
        row["nll_bpd"] = row["likelihood"] = None
    rec = m.get("recon", {})
    row["recon_mse"], row["psnr"], row["ssim"] = rec.get("mse"), rec.get("psnr_db"), rec.get("ssim")
    mem = m.get("memorization", {})
    row["memorization"] = (f"{mem['sample_to_train_l1']:.3f}/{mem['held_out_to_train_l1']:.3f}"
                           if mem else None)
    ppl = m.get("perplexity")
    row["ppl"] = ppl["all"]["model"]["perplexity"] if ppl else None
    row["ppl_text"] = ppl["text"]["model"]["perplexity"] if ppl else None
    row["bits_per_char"] = ppl["all"]["model"].get("bits_per_char") if ppl else None
    row["text_eval"] = (f"{ppl['tokenizer']}, window {ppl['window']}, {ppl['positions']:,} positions"
                        if ppl else None)
    tr = m.get("translation") or {}
    for key, score in (("tr_l1", "l1"), ("tr_ssim", "ssim"), ("tr_fid", "fid")):
        values = [tr[d][score] for d in ("AB", "BA") if score in tr.get(d, {})]
        row[key] = "/".join(f"{v:.3f}" if score != "fid" else f"{v:.2f}" for v in values) or None
    row["eval_s"] = round(sum(ev.get("seconds", {}).values()), 1) if ev.get("seconds") else None
    row["features"] = (m.get("fid") or m.get("kid") or m.get("pr") or {}).get("features", {}).get("name")
    return row


def scale_name(levels: int) -> str:
    """The data scale bits/dim are measured on: ``8-bit`` for 256 levels, else ``K-level``."""
    return "8-bit" if levels == 256 else f"{levels}-level"


def _scale_order(scale: str) -> tuple[int, int]:
    return (0, 0) if scale == "8-bit" else (1, -int(scale.split("-")[0]))


def columns(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The table's columns for ``rows``: :data:`COLUMNS` with the one bits/dim column replaced by one per data
    scale the rows have (8-bit first, then K-level scales from most to fewest levels); none when no row has
    bits/dim."""
    scales = sorted({r["bpd_scale"] for r in rows if r.get("bpd_scale") and r.get("nll_bpd") is not None},
                    key=_scale_order)
    out: list[tuple[str, str]] = []
    text = any(r.get("ppl") is not None for r in rows)
    translation = any(r.get("tr_l1") or r.get("tr_fid") for r in rows)
    for key, label in COLUMNS:
        if key in TEXT_COLUMNS and not text or key in TRANSLATION_COLUMNS and not translation:
            continue
        if key == "nll_bpd":
            out += [(f"bpd@{s}", f"bits/dim {s}↓") for s in scales]
        else:
            out.append((key, label))
    return out


def _cell(row: dict[str, Any], key: str) -> Any:
    if key.startswith("bpd@"):
        return row.get("nll_bpd") if row.get("bpd_scale") == key[4:] else None
    return row.get(key)


SCALE_NOTE = ("Bits/dim compare only within a column: 8-bit = 256 values per pixel (a uniform guess scores 8); "
              "K-level = the pixel model's own K-valued data (a uniform guess scores log2 K).")


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


def format_cell(row: dict[str, Any], key: str) -> str:
    """Column ``key`` of ``row`` as the tables print it (the studio's comparison shows the same text)."""
    return _fmt(_cell(row, key))


def markdown_table(rows: list[dict[str, Any]]) -> str:
    cols = columns(rows)
    head = "| " + " | ".join(label for _, label in cols) + " |"
    sep = "|" + "|".join("---" for _ in cols) + "|"
    body = ["| " + " | ".join(_fmt(_cell(r, key)) for key, _ in cols) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def text_table(rows: list[dict[str, Any]]) -> str:
    cols = columns(rows)
    cells = [[label for _, label in cols]] + [[_fmt(_cell(r, k)) for k, _ in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(cols))) for c in cells)


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


def report_paths(out: Path) -> tuple[Path, Path]:
    """The Markdown and HTML files of ``--out``: ``OUT/report.md`` and ``OUT/report.html`` for a folder, or
    ``OUT`` with both suffixes when it ends in ``.md`` or ``.html`` (the file spelling)."""
    out = Path(out)
    base = out.with_suffix("") if out.suffix.lower() in (".md", ".html") else out / "report"
    return base.with_suffix(".md"), base.with_suffix(".html")


def compare_runs(run_dirs: list[Path], out: Path | None = None) -> dict[str, Any]:
    """Build the table; with ``out`` (a folder, or a ``.md``/``.html`` file name, see :func:`report_paths`)
    also write the Markdown and HTML reports."""
    rows = [run_row(Path(r)) for r in run_dirs]
    result: dict[str, Any] = {"rows": rows, "text": text_table(rows)}
    features = sorted({r["features"] for r in rows if r.get("features")})
    notes = []
    if features:
        notes.append("Sample-quality metrics on " + "; ".join(features) + " — comparable only with numbers on the "
                     "same features.")
    if any(k.startswith("bpd@") for k, _ in columns(rows)):
        notes.append(SCALE_NOTE)
    note = " ".join(notes)
    if out is None:
        result["note"] = note
        return result
    md_path, html_path = report_paths(out)
    out = md_path
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
    md_path.write_text("\n".join(md))
    cols = columns(rows)
    table_html = ["<table border=1 cellpadding=4 style='border-collapse:collapse'><tr>"
                  + "".join(f"<th>{html.escape(lbl)}</th>" for _, lbl in cols) + "</tr>"]
    table_html += ["<tr>" + "".join(f"<td>{html.escape(_fmt(_cell(r, k)))}</td>" for k, _ in cols) + "</tr>"
                   for r in rows]
    page = (f"<!doctype html><meta charset=utf-8><title>genzoo comparison</title><h1>genzoo comparison</h1>"
            f"{''.join(table_html)}</table><p>{html.escape(note)}</p>{''.join(cells)}")
    html_path.write_text(page)
    result.update({"markdown": str(md_path), "html": str(html_path), "note": note})
    return result
