"""Run configuration: typed dataclasses, recipe loading and ``--set key=value`` overrides.

A run is fully described by one :class:`RunConfig`. Recipes (``genzoo/recipes/*.yaml``) are partial
configs; the CLI merges a recipe, command-line flags and ``--set`` overrides into the resolved config
that is written to ``RUN_DIR/config.yaml`` and read back by ``resume``, ``sample`` and ``analyze``.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RECIPE_DIR = Path(__file__).parent / "recipes"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


@dataclass
class TextDataConfig:
    """How a text corpus becomes token windows (Foster 1st ed. ch. 6, Listings 6.1-6.2)."""

    tokenizer: str = "word"           # word (Keras Tokenizer(filters='')) | char | bpe (byte-pair encoding)
    window: int = 20                  # the book's seq_length: tokens read before each prediction
    stride: int = 1                   # windows start every `stride` tokens (the book's step=1)
    held_out: float = 0.1             # every 10th story is held out (the test split)
    lower: bool = True
    min_count: int = 1                # words seen fewer times in training become <unk>
    num_words: int | None = None      # keep the most frequent num_words - 1 words
    bpe_vocab_size: int = 4000        # bpe: the vocabulary size to train (alphabet + merges)
    options: dict[str, Any] = field(default_factory=dict)   # per corpus, its reader's own: {fortunes: {files: [...]}}


@dataclass
class QADataConfig:
    """How question-answering data becomes (document, answer span, question) items (Foster 1st ed. ch. 6,
    the question generator; the book's ``utils/write.py``)."""

    glove: str | None = None          # a GloVe text file (word v1 v2 ...): vectors trimmed to the vocabulary
    max_document_length: int = 200    # the book's _MAX_DOC_LENGTH: longer documents are cut (spans past it dropped)
    max_question_length: int = 30     # question tokens kept (before <end>)
    max_answer_length: int = 30       # answer spans longer than this are dropped
    num_words: int | None = None      # keep the most frequent num_words - 1 words (the book's GloVe-trimmed 9,984)
    min_count: int = 1                # words seen fewer times in training become <unk>
    held_out: float = 0.1             # every 10th document is held out when the files bring no test split
    lower: bool = True
    sources: list[str] = field(default_factory=lambda: ["shakespeare", "fortunes"])   # offline-qa: where pairs come from


@dataclass
class DataConfig:
    """Which data to train on and how to prepare it (image fields for images, ``text`` for corpora)."""

    name: str = "fashion-mnist"
    data_dir: str | None = None       # overrides $GENZOO_DATA and the system locations
    split: str = "train"
    image_size: int | None = None     # resize (and centre-crop) to this size; default: the model's input
    channels: int | None = None       # 1 (grey) or 3 (RGB); default: the model's input
    limit: int | None = None          # keep the first N images (book: AE digits uses x_train[:1000])
    classes: list[int] | None = None  # keep only these labels (book: CIFAR-10 horses = [7])
    attributes: list[str] | None = None  # attribute columns carried as condition (CelebA-format data)
    binarize: bool = False            # threshold at 0.5 after scaling to [0, 1]
    pairing: str = "auto"             # two-domain data: auto (as the data is) | unpaired (train a paired set unpaired)
    quantize: int | None = None       # K grey levels (PixelCNN-style targets)
    domains: list[str] | None = None  # two-domain data: the two domains, A first (e.g. [B, A]: pix2pix's BtoA)
    text: TextDataConfig = field(default_factory=TextDataConfig)
    qa: QADataConfig = field(default_factory=QADataConfig)


@dataclass
class OptimConfig:
    """One optimizer. Defaults follow Keras (eps 1e-7, RMSprop rho 0.9) since the recipes come from Keras code."""

    name: str = "adam"                # adam | adamw | rmsprop | nadam | sgd
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-7
    weight_decay: float = 0.0
    rho: float = 0.9                  # RMSprop decay (Keras "rho", PyTorch "alpha")
    momentum: float = 0.0
    # Per-step schedule (genzoo.training.gradient.scheduled_lr): linear warm-up from lr/warmup_steps to lr over
    # warmup_steps, then constant or a cosine decay to min_lr at decay_steps (default: the run's target step), or
    # linear: constant until decay_start (default: half of decay_steps), then a straight line to min_lr at decay_steps
    # (CycleGAN, Zhu et al. 2017 §4: 100 epochs at 2e-4, then linearly to 0 over the next 100).
    schedule: str = "constant"        # constant | cosine | linear
    warmup_steps: int = 0
    decay_steps: int | None = None
    decay_start: int | None = None
    min_lr: float = 0.0


@dataclass
class RunConfig:
    """Everything a run needs: the recipe's model and data plus the training loop's knobs."""

    recipe: str = "custom"
    model: dict[str, Any] = field(default_factory=dict)   # {"family": ..., family-specific fields}
    data: DataConfig = field(default_factory=DataConfig)
    optim: dict[str, OptimConfig] = field(default_factory=lambda: {"model": OptimConfig()})
    epochs: int = 10
    max_steps: int | None = None      # stop after this many optimizer steps (generator steps for GANs)
    max_minutes: float | None = None  # also stop (with a checkpoint) after this many minutes of this invocation
    max_cpu_minutes: float | None = None  # … or after this much CPU time of this process (fair on a shared machine)
    batch_size: int = 32              # global batch: split across processes under torchrun
    seed: int = 0
    n_critic: int = 1                 # discriminator/critic steps per generator step (adversarial only)
    lr_decay: float = 1.0             # multiply every learning rate by this after each epoch (book's step decay)
    grad_clip: float | None = None    # clip the global gradient norm of each optimizer step
    ema_decay: float | None = None    # keep an exponential moving average of the (generator) weights
    ema_warmup: bool = False          # decay min(ema_decay, (1+step)/(10+step)): short runs forget the initial weights
    checkpoint_every: int = 1000      # steps between checkpoints (also written at each epoch end and at the end)
    checkpoint_every_epoch: bool = True
    keep_checkpoints: int = 2
    log_every: int = 50               # steps between metric lines (the only host sync of the hot loop)
    sample_every_epoch: bool = True
    sample_every: int | None = None   # also a gallery samples/step-NNNNNNN.png every this many steps
    sample_n: int = 64
    precision: str = "auto"           # auto (bf16 autocast on bf16 GPUs, fp32 on CPU) | fp32 | bf16
    channels_last: bool = True        # NHWC activations: faster convolutions with oneDNN and cuDNN
    compile: bool = False             # torch.compile the networks
    num_threads: int | None = None    # torch.set_num_threads; default: PyTorch's choice
    tensorboard: bool = True          # also log to TensorBoard when the package is installed
    device: str = "auto"              # auto | cpu | cuda | cuda:N

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------------
# Building dataclasses from plain dicts, with errors that name the bad key.

def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert ``value`` to the annotated type ``tp`` (dataclasses, lists, dicts, optionals, scalars)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for a in args:
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp) or (Any,)
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        _, vt = typing.get_args(tp) or (str, Any)
        return {k: _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type, data: dict[str, Any] | None, where: str = "config") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys are an error that lists the valid ones."""
    data = dict(data or {})
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field without default
        raise ConfigError(f"{where}: {e}") from None


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated recursively with ``update`` (mappings merge, everything else replaces)."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value``; the value is read as YAML so numbers, booleans, lists and null work."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value, e.g. --set model.z_dim=16")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {text!r}: cannot parse the value ({e})") from None
    return key.split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a raw (dict) config; keys are checked when the config is built."""
    out = dict(raw)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for part in path[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            node[part] = child
            node = child
        node[path[-1]] = value
    return out


def available_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str) -> dict[str, Any]:
    """Read a recipe by name (``vae-digits``) or from a YAML file path."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = RECIPE_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise ConfigError(
            f"unknown recipe {name_or_path!r}; `genzoo list` shows the recipes: {', '.join(available_recipes())}"
        )
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    raw.setdefault("recipe", path.stem)
    return raw


def config_from_recipe(recipe: str, overrides: list[str] | None = None, **flags: Any) -> RunConfig:
    """Recipe → resolved config: flags (``dataset``, ``epochs``…) first, then ``--set`` overrides."""
    raw = load_recipe(recipe)
    mapping = {"dataset": ("data", "name"), "data_dir": ("data", "data_dir"), "epochs": ("epochs",),
               "max_steps": ("max_steps",), "batch_size": ("batch_size",), "seed": ("seed",)}
    sets = []
    for key, value in flags.items():
        if value is None:
            continue
        if key not in mapping:
            raise ConfigError(f"unknown flag {key}")
        sets.append(".".join(mapping[key]) + "=" + _yaml_scalar(value))
    raw = apply_overrides(raw, sets + list(overrides or []))
    if flags.get("epochs") is not None and flags.get("max_steps") is None:
        raw["max_steps"] = None  # an explicit --epochs wins over a recipe's step budget
    return build_config(raw)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def build_config(raw: dict[str, Any]) -> RunConfig:
    cfg = from_dict(RunConfig, raw)
    if not cfg.model.get("family"):
        raise ConfigError("config.model.family is missing: a recipe must name its model family")
    validate(cfg)
    return cfg


def validate(cfg: RunConfig) -> None:
    """Range checks that a type check cannot do."""
    checks = [
        (cfg.epochs >= 1 or cfg.max_steps is not None,
         f"epochs must be >= 1, got {cfg.epochs} (a run of 0 epochs would only sample an untrained model)"),
        (cfg.max_steps is None or cfg.max_steps >= 1,
         f"max_steps must be >= 1, got {cfg.max_steps} (a run of 0 steps would only sample an untrained model)"),
        (cfg.max_minutes is None or cfg.max_minutes > 0, "max_minutes must be > 0"),
        (cfg.max_cpu_minutes is None or cfg.max_cpu_minutes > 0, "max_cpu_minutes must be > 0"),
        (cfg.batch_size >= 1, "batch_size must be >= 1"),
        (cfg.n_critic >= 1, "n_critic must be >= 1"),
        (cfg.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
        (cfg.keep_checkpoints >= 1, "keep_checkpoints must be >= 1"),
        (cfg.log_every >= 1, "log_every must be >= 1"),
        (cfg.sample_every is None or cfg.sample_every >= 1, "sample_every must be >= 1 (or null: epoch ends only)"),
        (cfg.precision in ("auto", "fp32", "bf16"), f"precision must be auto, fp32 or bf16, got {cfg.precision!r}"),
        (cfg.ema_decay is None or 0.0 < cfg.ema_decay < 1.0, "ema_decay must be in (0, 1)"),
        (cfg.grad_clip is None or cfg.grad_clip > 0, "grad_clip must be > 0"),
        (cfg.lr_decay > 0, "lr_decay must be > 0"),
        (cfg.data.channels in (None, 1, 3), "data.channels must be 1 or 3"),
        (cfg.data.pairing in ("auto", "unpaired"), f"data.pairing must be auto or unpaired, got {cfg.data.pairing!r}"),
        (cfg.data.quantize is None or cfg.data.quantize >= 2, "data.quantize must be >= 2"),
        (cfg.data.text.window >= 1 and cfg.data.text.stride >= 1, "data.text.window and data.text.stride must be >= 1"),
        (0 < cfg.data.text.held_out < 1, "data.text.held_out must be in (0, 1)"),
        (cfg.data.text.tokenizer in ("word", "char", "bpe"), "data.text.tokenizer must be word, char or bpe"),
        (cfg.data.text.bpe_vocab_size >= 2, "data.text.bpe_vocab_size must be >= 2"),
        (cfg.data.domains is None or (len(cfg.data.domains) == 2 and cfg.data.domains[0] != cfg.data.domains[1]),
         f"data.domains={cfg.data.domains} must name two different domains, A first (e.g. [B, A]), or be null"),
        (cfg.data.limit is None or cfg.data.limit >= 1,
         f"data.limit={cfg.data.limit} keeps no images: give a positive count, or null (--set data.limit=null) "
         f"for all of them"),
    ]
    for name, opt in cfg.optim.items():
        checks.append((opt.lr > 0, f"optim.{name}.lr must be > 0"))
        checks.append((opt.schedule in ("constant", "cosine", "linear"),
                       f"optim.{name}.schedule must be constant, cosine or linear, got {opt.schedule!r}"))
        checks.append((opt.decay_start is None or (opt.decay_start >= opt.warmup_steps and (
            opt.decay_steps is None or opt.decay_start < opt.decay_steps)),
                       f"optim.{name}.decay_start must be in [warmup_steps, decay_steps)"))
        checks.append((opt.warmup_steps >= 0, f"optim.{name}.warmup_steps must be >= 0"))
        checks.append((0 <= opt.min_lr <= opt.lr, f"optim.{name}.min_lr must be in [0, lr={opt.lr}]"))
        checks.append((opt.decay_steps is None or opt.decay_steps > opt.warmup_steps,
                       f"optim.{name}.decay_steps must be greater than warmup_steps={opt.warmup_steps} "
                       f"(the cosine decays after the warm-up), or null for the run's length"))
        checks.append((opt.name in ("adam", "adamw", "rmsprop", "nadam", "sgd"),
                       f"optim.{name}.name must be one of adam, adamw, rmsprop, nadam, sgd; got {opt.name!r}"))
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)


def config_text(cfg: RunConfig) -> str:
    """The resolved config as the YAML that ``config.yaml`` (and each checkpoint's copy) holds."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def save_config(cfg: RunConfig, path: Path) -> None:
    Path(path).write_text(config_text(cfg))


def read_config(path: Path) -> RunConfig:
    """A run's resolved config. A missing, corrupt or empty file is named with the copy to restore it from:
    every checkpoint keeps the config it was written with."""
    if not path.exists():
        raise ConfigError(f"{path} not found: is {path.parent} a genzoo run folder (made by `genzoo train`)?")
    copies = sorted(path.parent.glob("checkpoints/step-*/config.yaml"))
    fix = (f"restore it from the copy kept with the newest checkpoint: cp {copies[-1]} {path}" if copies else
           "no checkpoint holds a copy; write it again from the recipe (`genzoo train RECIPE` records one)")
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path} is not valid YAML{where} (the run's config is corrupt): {fix}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} cannot be read ({e}): {fix}") from None
    if not raw:
        raise ConfigError(f"{path} is empty (the run's config was lost): {fix}")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} does not hold a config mapping (got {type(raw).__name__}): {fix}")
    return build_config(raw)
