"""The side-by-side benchmark against pytorch-generative and diffusers: clear stops when a reference is missing,
the reference loader that skips the reference package's heavy ``__init__`` files, genzoo's side running the
trainer's own step on the batches it hands to the references, and the paired-ratio summary."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import side_by_side_pixel_diffusion as sbs  # noqa: E402

from conftest import MINI_FASHION  # noqa: E402


def test_missing_references_stop_with_the_path_and_the_fix(tmp_path):
    with pytest.raises(SystemExit, match="no pytorch_generative/models/autoregressive/pixel_cnn.py there"):
        sbs.main(["--pytorch-generative", str(tmp_path / "nowhere"), "--diffusers-python", sys.executable])
    (tmp_path / sbs.PIXEL_FILE).parent.mkdir(parents=True)
    (tmp_path / sbs.PIXEL_FILE).write_text("")
    with pytest.raises(SystemExit, match="no such interpreter"):
        sbs.main(["--pytorch-generative", str(tmp_path), "--diffusers-python", str(tmp_path / "bin" / "python")])
    with pytest.raises(SystemExit, match="cannot import diffusers"):   # genzoo's own venv has no diffusers
        sbs.check_diffusers_python(sys.executable)


def test_pytorch_generative_loader_skips_the_package_init_files(tmp_path, monkeypatch):
    """Only the model files are imported: the package ``__init__``s (datasets → torchvision) never run."""
    pkg = tmp_path / "pytorch_generative"
    files = {
        "__init__.py": "raise ImportError('the package __init__ ran')",
        "models/__init__.py": "raise ImportError('models/__init__ ran')",
        "nn/__init__.py": "from pytorch_generative.nn.convolution import CausalConv2d",
        "nn/convolution.py": "from torch import nn\nclass CausalConv2d(nn.Conv2d):\n    pass",
        "models/base.py": "from torch import nn\nclass AutoregressiveModel(nn.Module):\n    pass",
        "models/autoregressive/pixel_cnn.py": textwrap.dedent("""
            from pytorch_generative import nn as pg_nn
            from pytorch_generative.models import base
            class PixelCNN(base.AutoregressiveModel):
                def __init__(self, **kwargs):
                    super().__init__()
                    self.conv = pg_nn.CausalConv2d(1, 4, 3, padding=1)
        """),
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    for name in list(sys.modules):
        if name.startswith("pytorch_generative"):
            monkeypatch.delitem(sys.modules, name)
    try:
        cls = sbs.load_pytorch_generative(tmp_path)
        assert sum(p.numel() for p in cls().parameters()) == 4 * 9 + 4
    finally:
        for name in [n for n in sys.modules if n.startswith("pytorch_generative")]:
            del sys.modules[name]


def test_genzoo_side_runs_the_trainer_step_on_the_batches_it_shares(tmp_path):
    worker = sbs.GenzooWorker(tmp_path)
    spec = {"kind": "train", "recipe": "pixelcnn-fashion16",
            "overrides": ["batch_size=8", "model.hidden=16", "model.layers=1", f"data.data_dir={MINI_FASHION}"]}
    info = worker.setup("pix", spec)
    assert info["batch_size"] == 8 and info["threads"] == 1
    batches = torch.load(info["data_file"])
    assert len(batches) == 8 and batches[0].shape == (8, 1, 16, 16)
    assert set(torch.unique(batches[0] * 3).round().tolist()) <= {0.0, 1.0, 2.0, 3.0}   # the recipe's 4 levels
    trainer = worker.trainers["pix"]                       # the trainer whose train_step is timed
    before = [p.detach().clone() for p in trainer.model.parameters()]
    result = worker.run("pix", 3)
    assert result["images"] == 24 and result["wall_s"] > 0
    assert trainer.stream.i == 2 + 3                   # 2 warm-up steps, then 3 timed ones
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def test_summary_pairs_the_rounds():
    g = [{"images": 100, "wall_s": s, "cpu_s": s} for s in (1.0, 2.0, 1.0)]       # 100, 50, 100 img/s
    r = [{"images": 100, "wall_s": s, "cpu_s": s / 2} for s in (2.0, 2.0, 4.0)]   # 50, 50, 25 img/s
    s = sbs.summarise(g, r)
    assert s["genzoo_images_per_s"] == 100 and s["ref_images_per_s"] == 50
    assert s["ratio"] == 2.0 and s["ratio_range"] == [1.0, 4.0]                  # per-round ratios 2, 1, 4
    assert s["ratio_cpu_time"] == 1.0 and s["rounds"] == 3
    assert "**2.00×**" in sbs.markdown([{"what": "x", "ref_label": "y", "summary": s, "genzoo_params": 1,
                                         "ref_params": 1}])
