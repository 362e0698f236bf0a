"""Training loops by objective: the shared loop (budgets, logging, checkpoints, exact resume, the NaN guard)
carries a loop without gradients as well as the gradient trainers. The loop here is a real evolution
strategy — the (1+1)-ES with Rechenberg's 1/5th success rule — fitting the mean image of Fashion-MNIST
pictures, the shape World Models' CMA-ES controller will take."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from conftest import MINI_FASHION
from genzoo.config import ConfigError
from genzoo.data import load_images
from genzoo.models.base import ArrayModel, ArrayModelConfig
from genzoo.runs import config_from_recipe
from genzoo.training.checkpoint import latest_checkpoint
from genzoo.training.loop import NonFiniteLossError, TrainingLoop
from genzoo.training.trainer import LOOPS, SingleObjectiveTrainer, make_trainer, register_loop


class MeanImage(ArrayModel):
    """One 7×7 image, shown at 28×28 (blocks of 4×4 pixels) and fitted to the data by mean squared error;
    it has no loss to differentiate."""

    family = "test-mean-image"
    training_loop = "test-one-plus-one-es"

    def __init__(self, config: ArrayModelConfig):
        super().__init__(config)
        c, h, w = config.input_shape
        self.mean = nn.Parameter(torch.zeros(c, h // 4, w // 4), requires_grad=False)

    def fitness(self, x: Tensor) -> Tensor:
        image = self.mean.repeat_interleave(4, -1).repeat_interleave(4, -2)
        return (x - image).pow(2).mean()


class OnePlusOneES(TrainingLoop):
    """(1+1)-ES (Rechenberg 1973): perturb, keep the child if it is no worse; grow the step size on success
    and shrink it on failure so that about a fifth of the children succeed. No host sync per step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sigma = torch.tensor(0.05)

    @torch.no_grad()
    def train_step(self) -> dict[str, Tensor]:
        x = self._next_batch().x
        mean = self.model.mean
        parent = self.model.fitness(x)
        noise = torch.randn_like(mean) * self.sigma
        mean += noise
        child = self.model.fitness(x)
        better = child <= parent
        mean -= noise * (~better)                                    # undo a worse child
        self.sigma = self.sigma * torch.where(better, 1.5, 1.5 ** -0.25)
        return {"loss": torch.minimum(parent, child), "sigma": self.sigma}

    def objective_state(self) -> dict:
        return {"es": {"sigma": self.sigma}}

    def load_objective_state(self, state: dict) -> None:
        self.sigma = state["es"]["sigma"]


register_loop("test-one-plus-one-es", OnePlusOneES)


def _loop(tmp_path, name="run"):
    cfg = config_from_recipe("vae-digits", ["data.data_dir=" + str(MINI_FASHION), "log_every=5",
                                            "checkpoint_every=10", "tensorboard=false", "sample_every_epoch=false"])
    model = MeanImage(ArrayModelConfig(family=MeanImage.family, input_shape=[1, 28, 28]))
    data = load_images(cfg.data, (1, 28, 28))
    torch.manual_seed(cfg.seed)                      # what `genzoo train` does before building the loop
    return make_trainer(cfg, tmp_path / name, model, data), data


def test_a_loop_without_gradients_trains_logs_and_checkpoints(tmp_path):
    loop, data = _loop(tmp_path)
    assert isinstance(loop, OnePlusOneES)
    summary = loop.fit(max_steps=300, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows][:3] == [5, 10, 15]
    assert {"loss", "sigma", "images_per_s"} <= set(rows[-1]) and "lr" not in rows[-1]
    x = data.gather(torch.arange(len(data)), loop.cfg.data, "01", torch.device("cpu")).x
    best = nn.functional.avg_pool2d(x.mean(0), 4).repeat_interleave(4, -1).repeat_interleave(4, -2)
    start, optimum = x.pow(2).mean(), (x - best).pow(2).mean()
    fitted = loop.model.fitness(x)
    assert fitted - optimum < 0.5 * (start - optimum)               # the strategy closes most of the gap
    assert summary["steps"] == 300 and summary["stopped_by"] == "target"
    ck = latest_checkpoint(tmp_path / "run")
    assert ck.name == "step-00000300"
    assert torch.equal(load_file(str(ck / "model.safetensors"))["mean"], loop.model.mean)


def test_a_loop_without_gradients_resumes_exactly(tmp_path):
    straight, _ = _loop(tmp_path, "straight")
    straight.fit(max_steps=40, progress=False)
    first, _ = _loop(tmp_path, "split")
    first.fit(max_steps=20, progress=False)
    again, _ = _loop(tmp_path, "split")
    again.restore()
    assert again.step == 20 and torch.equal(again.sigma, first.sigma)
    again.fit(max_steps=40, progress=False)
    assert torch.equal(again.model.mean, straight.model.mean)
    assert torch.equal(again.sigma, straight.sigma)


def test_the_nan_guard_watches_every_loop(tmp_path):
    loop, _ = _loop(tmp_path)
    loop.fit(max_steps=10, progress=False)
    loop.sigma = torch.tensor(float("nan"))
    with pytest.raises(NonFiniteLossError, match="step-00000010") as err:
        loop.fit(max_steps=30, progress=False)
    assert "learning rate" not in str(err.value)                   # no gradient advice for a gradient-free loop
    assert latest_checkpoint(tmp_path / "run").name == "step-00000010"


def test_loops_are_chosen_by_declaration(tmp_path):
    assert LOOPS["gradient"] is SingleObjectiveTrainer
    with pytest.raises(ValueError, match="already registered"):
        register_loop("gradient", OnePlusOneES)

    class Unregistered(MeanImage):
        family = "test-unregistered"
        training_loop = "nobody-registered-this"

    cfg = config_from_recipe("vae-digits", ["data.data_dir=" + str(MINI_FASHION), "tensorboard=false"])
    model = Unregistered(ArrayModelConfig(family=Unregistered.family))
    with pytest.raises(ConfigError, match="nobody-registered-this.*known: adversarial, gradient"):
        make_trainer(cfg, tmp_path / "run", model, load_images(cfg.data, (1, 28, 28)))
