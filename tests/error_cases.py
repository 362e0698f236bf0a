"""Bad inputs and the one-line messages genzoo answers them with: the catalogue behind the README's table.

Each case prepares what it needs in a scratch folder (given a small trained run to break copies of) and
returns the CLI arguments; the message must contain ``expect``. ``tests/test_error_catalogue.py`` checks
every case (exit code 2, one ``genzoo: error:`` line, no traceback) and ``scripts/error_catalogue.py``
prints the table with the messages as they are.
"""
from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MINI = Path(__file__).parent / "fixtures" / "fashion-mnist-mini"
QUICK = ["--max-steps", "2", "--no-progress", "--set", "tensorboard=false", "--set", "sample_every_epoch=false"]


@dataclass
class Case:
    what: str                                   # the bad input, as a person would describe it
    make: Callable[[Path, Path], list[str]]     # (scratch folder, trained run) -> CLI arguments
    expect: str                                 # a fragment the message must contain


def _copy(run: Path, tmp: Path, name: str = "copy") -> Path:
    dst = tmp / name
    shutil.copytree(run, dst)
    return dst


def _latest(run: Path) -> Path:
    return run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()


def _train(*extra: str, recipe: str = "vae-digits", out: str | None = None):
    def make(tmp: Path, run: Path) -> list[str]:
        return ["train", recipe, "--data-dir", str(MINI), "--out", out.format(tmp=tmp) if out else str(tmp / "r"),
                *QUICK, *extra]
    return make


def _dir_with(files: dict[str, bytes]):
    def make(tmp: Path, run: Path) -> list[str]:
        d = tmp / "data"
        d.mkdir()
        for name, content in files.items():
            (d / name).write_bytes(content)
        return ["train", "vae-digits", "--data-dir", str(d), "--out", str(tmp / "r"), *QUICK]
    return make


def _points(text: str):
    def make(tmp: Path, run: Path) -> list[str]:
        d = tmp / "pts"
        d.mkdir()
        (d / "train.csv").write_text(text)
        (d / "test.csv").write_text("0,1\n1,0\n")
        return ["train", "realnvp-moons", "--dataset", "points", "--data-dir", str(d), "--out", str(tmp / "r"), *QUICK]
    return make


def _broken_run(breaker: Callable[[Path], None], *args: str, verb: str = "resume"):
    def make(tmp: Path, run: Path) -> list[str]:
        copy = _copy(run, tmp)
        breaker(copy)
        return [verb, str(copy), *args]
    return make


def _truncate(path_of: Callable[[Path], Path], keep: int = 100):
    def breaker(run: Path) -> None:
        p = path_of(run)
        p.write_bytes(p.read_bytes()[:keep])
    return breaker


def _only_latest(run: Path) -> None:
    latest = _latest(run)
    for p in (run / "checkpoints").glob("step-*"):
        if p != latest:
            shutil.rmtree(p)


def _then(*fns: Callable[[Path], None]) -> Callable[[Path], None]:
    def breaker(run: Path) -> None:
        for fn in fns:
            fn(run)
    return breaker


def _other_family(run: Path) -> None:
    meta = _latest(run) / "meta.json"
    meta.write_text(meta.read_text().replace('"family": "vae"', '"family": "gan"'))


def _sample(*args: str):
    return lambda tmp, run: ["sample", str(run), *args]


def _make_file(tmp: Path, run: Path) -> list[str]:
    (tmp / "afile").write_text("x")
    return ["train", "vae-digits", "--data-dir", str(MINI), "--out", str(tmp / "afile" / "run"), *QUICK]


def _non_run_folder(tmp: Path, run: Path) -> list[str]:
    (tmp / "photos").mkdir()
    (tmp / "photos" / "cat.png").write_bytes(b"x")
    return ["train", "vae-digits", "--data-dir", str(MINI), "--out", str(tmp / "photos"), *QUICK]


def _truncated_idx(tmp: Path, run: Path) -> list[str]:
    d = tmp / "fm"
    shutil.copytree(MINI, d)
    p = d / "train-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:5000]))
    return ["train", "vae-digits", "--data-dir", str(d), "--out", str(tmp / "r"), *QUICK]


CASES: list[Case] = [
    # -- recipes and config values (reported before any tensor work)
    Case("a misspelled recipe: `genzoo train vae-digit`", lambda t, r: ["train", "vae-digit", *QUICK],
         "unknown recipe 'vae-digit'"),
    Case("`--set` without a value: `--set model.z_dim`", _train("--set", "model.z_dim"), "expected key=value"),
    Case("an unknown top-level key: `--set epoch=3`", _train("--set", "epoch=3"), "unknown key(s) ['epoch']"),
    Case("an unknown model field: `--set model.zdim=3`", _train("--set", "model.zdim=3"), "zdim"),
    Case("a value of the wrong type: `--set batch_size=big`", _train("--set", "batch_size=big"),
         "batch_size: expected an integer"),
    Case("a batch size of 0", _train("--batch-size", "0"), "batch_size must be >= 1"),
    Case("`--epochs 0` (would sample an untrained model)",
         lambda t, r: ["train", "vae-digits", "--out", str(t / "r"), "--epochs", "0"], "epochs must be >= 1"),
    Case("`--max-steps 0`", lambda t, r: ["train", "vae-digits", "--out", str(t / "r"), "--max-steps", "0"],
         "max_steps must be >= 1"),
    Case("`--set data.limit=0`", _train("--set", "data.limit=0"), "data.limit=0 keeps no images"),
    Case("an unknown optimizer: `--set optim.model.name=adamax`", _train("--set", "optim.model.name=adamax"),
         "optim.model.name must be one of"),
    Case("a negative learning rate", _train("--set", "optim.model.lr=-1"), "optim.model.lr must be > 0"),
    Case("an unknown precision: `--set precision=fp16`", _train("--set", "precision=fp16"),
         "precision must be auto, fp32 or bf16"),
    Case("`--set num_threads=0`", _train("--set", "num_threads=0"), "num_threads must be >= 1"),
    Case("a GPU asked for where there is none: `--set device=cuda`", _train("--set", "device=cuda"),
         "CUDA is not available"),
    # -- data
    Case("an unknown dataset: `--dataset fashion`", _train("--dataset", "fashion"), "unknown dataset 'fashion'"),
    Case("a `--data-dir` that does not exist", lambda t, r: ["train", "vae-digits", "--data-dir", str(t / "nope"),
                                                             "--out", str(t / "r"), *QUICK], "does not exist"),
    Case("a `--data-dir` without the dataset's files", _dir_with({"readme.txt": b"hello"}), "fashion"),
    Case("a truncated IDX image file", _truncated_idx, "train-images-idx3-ubyte.gz"),
    Case("`image-folder` on a folder with no images", lambda t, r: ["train", "vae-digits", "--dataset", "image-folder",
                                                                    "--data-dir", str(t), "--out", str(t / "r"), *QUICK],
         "no image files"),
    Case("a point CSV with a NaN", _points("0,1\n2,nan\n3,4\n5,6\n"), "line 2, column 2"),
    Case("a point CSV with words in it", _points("0,1\n2,abc\n"), "cannot read it as an N×D array"),
    Case("points of one coordinate", _points("1\n2\n3\n"), "coordinate"),
    # -- run folders
    Case("`--out` a folder of your own files", _non_run_folder, "not a genzoo run"),
    Case("`--out` below a file", _make_file, "is a file, not a folder"),
    Case("`--out` a folder that already holds a run", lambda t, r: ["train", "vae-digits", "--data-dir", str(MINI),
                                                                    "--out", str(r), *QUICK], "already holds a run"),
    Case("`resume` of a folder that is not a run", lambda t, r: ["resume", str(t)], "config.yaml not found"),
    Case("`resume` of a finished run", lambda t, r: ["resume", str(r)], "nothing to train"),
    Case("`resume --set model.z_dim=3` (changes what was trained)", lambda t, r: ["resume", str(r), "--set",
                                                                                   "model.z_dim=3"],
         "cannot change when a run is resumed"),
    Case("`resume` of a run another process is training", None, "in use by another genzoo process"),  # see below
    Case("a corrupt `config.yaml`", _broken_run(lambda run: (run / "config.yaml").write_text("model: [\n"),
                                                "--max-steps", "9"), "is not valid YAML"),
    Case("an empty `config.yaml`", _broken_run(lambda run: (run / "config.yaml").write_text(""), "--max-steps", "9"),
         "is empty"),
    # -- checkpoints
    Case("a truncated `model.safetensors` (an older checkpoint exists)",
         _broken_run(_truncate(lambda run: _latest(run) / "model.safetensors"), "--max-steps", "9"),
         "fall back to the older checkpoint"),
    Case("a truncated `model.safetensors` (no older checkpoint)",
         _broken_run(_then(_only_latest, _truncate(lambda run: _latest(run) / "model.safetensors")), "--max-steps", "9"),
         "no older checkpoint"),
    Case("a truncated `state.pt`", _broken_run(_truncate(lambda run: _latest(run) / "state.pt"), "--max-steps", "9"),
         "state.pt is unreadable"),
    Case("a checkpoint written by another model family", _broken_run(_other_family, verb="sample"),
         "was written by model family 'gan'"),
    # -- sampling
    Case("`sample -n 0`", _sample("-n", "0"), "-n must be >= 1"),
    Case("`sample -n 100000000` (more than memory holds)", _sample("-n", "100000000"), "GiB"),
    Case("`sample --label 3` on an unconditional model", _sample("--label", "3"), "--label needs a class-conditional"),
    Case("`sample --temperature` on a VAE", _sample("--temperature", "0.5"),
         "--temperature does not apply to sampling with model family 'vae' (sampling takes no options)"),
    Case("`sample --steps` on a VAE", _sample("--steps", "10"), "--steps does not apply to sampling"),
    Case("`sample --trajectory` on a VAE", _sample("--trajectory", "-n", "4"),
         "model family 'vae' has no generation trajectories (it offers sampling"),
    # -- training numerics
    Case("a learning rate that makes the loss NaN", _train("--set", "optim.model.lr=1e12", "--max-steps", "30"),
         "became NaN or Inf"),
    Case("`GENZOO_NUM_THREADS=many`", None, "GENZOO_NUM_THREADS must be a whole number"),  # see below
]


def _locked(tmp: Path, run: Path) -> list[str]:
    return ["resume", str(run), "--max-steps", "99"]   # the test holds the run's lock while this runs


CASES[[c.what for c in CASES].index("`resume` of a run another process is training")].make = _locked
CASES[[c.what for c in CASES].index("`GENZOO_NUM_THREADS=many`")].make = _train()
ENV = {"`GENZOO_NUM_THREADS=many`": {"GENZOO_NUM_THREADS": "many"}}
LOCKED = {"`resume` of a run another process is training"}


def train_fixture_run(out: Path) -> Path:
    """The small run the cases break copies of: vae-digits, 20 steps, checkpoints at steps 16 and 20."""
    from click.testing import CliRunner

    from genzoo.cli import cli

    r = CliRunner().invoke(cli, ["train", "vae-digits", "--data-dir", str(MINI), "--out", str(out), "--max-steps", "20",
                                 "--no-progress", "--set", "checkpoint_every=8", "--set", "tensorboard=false",
                                 "--set", "sample_every_epoch=false", "--set", "num_threads=1"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


def run_case(case: Case, tmp: Path, run: Path) -> tuple[int, str]:
    """Run one case through the CLI; returns (exit code, the ``genzoo: error:`` line or all output)."""
    import os

    from click.testing import CliRunner

    from genzoo.cli import cli
    from genzoo.training.runlock import RunLock

    args = case.make(tmp, run)
    env = ENV.get(case.what, {})
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    lock = RunLock(run).acquire("train") if case.what in LOCKED else None
    try:
        r = CliRunner().invoke(cli, args, catch_exceptions=False)
    finally:
        if lock is not None:
            lock.release()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    errors = [line for line in r.output.splitlines() if line.startswith("genzoo: error:")]
    return r.exit_code, errors[0] if len(errors) == 1 else r.output
