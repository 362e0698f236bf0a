"""Writers: one per artifact kind. Each takes the artifact and the path of its main file and returns the JSON
description of what it wrote (the line ``genzoo sample`` prints)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .artifacts import Artifact, ImageGrid, PointCloud, Text


def write_image_grid(art: ImageGrid, path: Path) -> dict[str, Any]:
    """``path`` (.png): the labelled grid; beside it ``.safetensors`` with every image."""
    from safetensors.torch import save_file

    from ..analysis.grid import save_grid

    images = art.images
    shown = images if art.shown is None else images[:art.shown]
    save_grid(shown, path, nrow=art.nrow, scale=2 if images.shape[-1] <= 32 else 1, row_labels=art.row_labels,
              col_labels=art.col_labels, title=art.title)
    result: dict[str, Any] = {"grid": str(path), "shape": list(images.shape)}
    if art.save_tensor:
        tensor_path = path.with_suffix(".safetensors")
        save_file({"images": images.contiguous().cpu()}, str(tensor_path))
        result["tensor"] = str(tensor_path)
    if len(shown) < len(images):
        result["grid_shows"] = f"the first {len(shown)} of {len(images)} images" + (
            " (all are in the tensor file)" if art.save_tensor else "")
    return {**result, **art.info}


def write_point_cloud(art: PointCloud, path: Path) -> dict[str, Any]:
    """``path`` (.png): the picture; beside it ``.csv`` with every point in the data's own units."""
    import numpy as np

    if art.draw is not None:
        art.draw(path)
    csv_path = path.with_suffix(".csv")
    np.savetxt(csv_path, art.raw.double().cpu().numpy(), delimiter=",", fmt="%.6g")
    return {"plot": str(path), "csv": str(csv_path), "shape": list(art.points.shape), "units": art.units,
            **art.info}


def write_text(art: Text, path: Path) -> dict[str, Any]:
    """``path`` with the suffix ``.txt``: the samples, separated by blank lines."""
    from ..training.checkpoint import write_text_atomic

    txt = path.with_suffix(".txt")
    txt.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(txt, (f"# {art.title}\n\n" if art.title else "") + art.text + "\n")
    return {"text": str(txt), "samples": len(art.samples), **art.info}


WRITERS = {ImageGrid: write_image_grid, PointCloud: write_point_cloud, Text: write_text}


def write_artifact(art: Artifact, path: str | Path) -> dict[str, Any]:
    """Write ``art`` with the writer of its kind; ``path`` names the main file (its suffix is the writer's)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return WRITERS[type(art)](art, path)
