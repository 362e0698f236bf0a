"""Turn a feature network trained by `genzoo feature-net` into the one shipped in genzoo/assets/feature-nets/.

    GENZOO_SHIPPED_FEATURE_NETS=0 genzoo feature-net --dataset fashion-mnist --shape 1,28,28 --epochs 5 --retrain
    python scripts/ship_feature_net.py            # reads it from $GENZOO_CACHE/feature-nets/<key>/

Floating-point weights are stored in fp16 (half the size); the network runs in fp32. Before writing, the
script measures what fp16 storage changes on the real test split: the largest feature difference, the test
accuracy, and the FID between test and training features, each with the fp32 and the fp16 weights. It
refuses to ship when the FIDs differ by more than ``--fid-tolerance`` (relative).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))



def reproduce(dataset: str, shape: str, epochs: int) -> str:
    """The commands that rebuild the shipped network."""
    return (f"GENZOO_SHIPPED_FEATURE_NETS=0 genzoo feature-net --dataset {dataset} --shape {shape} --epochs {epochs} "
            f"--retrain && python scripts/ship_feature_net.py --dataset {dataset} --shape {shape} --epochs {epochs}")


def main() -> None:
    import torch
    from safetensors.torch import load_file, save_file

    from genzoo.config import DataConfig
    from genzoo.data import load_images
    from genzoo.data.loader import make_batch
    from genzoo.metrics.features import SHIPPED_ROOT, FeatureNet, FeatureNetSpec, feature_root, spec_for
    from genzoo.metrics.sample_quality import fid
    from genzoo.nn.classifier import BookCNN

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--shape", default="1,28,28")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--source", type=Path, help="Folder with weights.safetensors + meta.json (default: the cache).")
    ap.add_argument("--fid-tolerance", type=float, default=1e-3)
    ap.add_argument("--train-cpu-seconds", type=float,
                    help="CPU time of the training command (e.g. from /usr/bin/time), recorded in the meta file.")
    args = ap.parse_args()

    shape = tuple(int(v) for v in args.shape.split(","))
    data_cfg = DataConfig(name=args.dataset)
    spec: FeatureNetSpec = spec_for(data_cfg, shape, epochs=args.epochs)
    source = args.source or feature_root() / spec.key
    meta = json.loads((source / "meta.json").read_text())
    if meta["key"] != spec.key:
        sys.exit(f"{source} holds {meta['key']}, not {spec.key}")
    full = load_file(str(source / "weights.safetensors"))
    half = {k: v.half() if v.is_floating_point() else v for k, v in full.items()}

    def net_of(state: dict) -> FeatureNet:
        net = BookCNN(spec.shape, int(meta["num_classes"]))
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        return FeatureNet(net, spec, meta)

    def images(split: str):
        data = load_images(spec.data_config(data_cfg), spec.shape, split=split)
        x = make_batch(data, torch.arange(len(data)), spec.data_config(data_cfg), "01", torch.device("cpu"))
        return x.x, x.y

    x_test, y_test = images("test")
    x_train, _ = images("train")
    x_train = x_train[torch.randperm(len(x_train), generator=torch.Generator().manual_seed(0))[:10_000]]
    check = {}
    outs = {}
    for name, state in (("fp32", full), ("fp16", half)):
        net = net_of(state)
        f_test, logits = net(x_test)
        f_train, _ = net(x_train)
        outs[name] = f_test
        check[name] = {"test_accuracy": (logits.argmax(1) == y_test).float().mean().item(),
                       "fid_test_vs_10k_train": fid(f_test, f_train)}
    diff = (outs["fp16"] - outs["fp32"]).abs()
    scale = outs["fp32"].abs().max().item()
    rel_fid = abs(check["fp16"]["fid_test_vs_10k_train"] - check["fp32"]["fid_test_vs_10k_train"]) / max(
        check["fp32"]["fid_test_vs_10k_train"], 1e-12)
    check.update({"max_abs_feature_difference": diff.max().item(), "largest_feature": scale,
                  "mean_abs_feature_difference": diff.mean().item(), "fid_relative_difference": rel_fid,
                  "images": len(x_test)})
    print(json.dumps(check, indent=2))
    if rel_fid > args.fid_tolerance:
        sys.exit(f"fp16 storage changes the FID by {rel_fid:.2e} (> {args.fid_tolerance}); not shipping")

    folder = SHIPPED_ROOT / spec.key
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in half.items()}, str(folder / "weights.safetensors"))
    shipped = {**meta, "storage": "fp16 weights (run in fp32)", "fp16_check": check, "reproduce": reproduce(args.dataset, args.shape, args.epochs),
               "parameters": sum(p.numel() for p in net_of(full).net.parameters())}
    if args.train_cpu_seconds:
        shipped["train_cpu_seconds"] = args.train_cpu_seconds
    (folder / "meta.json").write_text(json.dumps(shipped, indent=2) + "\n")
    print(f"wrote {folder} ({sum(p.stat().st_size for p in folder.iterdir()) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
