"""Config building, overrides and their error messages."""
import pytest

from genzoo.config import ConfigError, apply_overrides, available_recipes, build_config, load_recipe
from genzoo.runs import config_from_recipe


def test_every_recipe_builds():
    names = available_recipes()
    assert {"ae-digits", "vae-digits", "vae-faces", "homl-vae", "homl-denoising-ae",
            "homl-sparse-ae-l1", "homl-sparse-ae-kl"} <= set(names)
    for name in names:
        cfg = build_config(load_recipe(name))
        assert cfg.model["family"]


def test_set_reaches_nested_and_top_level_fields():
    cfg = config_from_recipe("vae-digits", ["model.z_dim=16", "checkpoint_every=500", "optim.model.lr=1e-3",
                                            "data.limit=100", "ema_decay=0.999"])
    assert cfg.model["z_dim"] == 16 and cfg.checkpoint_every == 500
    assert cfg.optim["model"].lr == pytest.approx(1e-3) and cfg.data.limit == 100 and cfg.ema_decay == 0.999


def test_flags_map_to_fields_and_epochs_clear_step_budget():
    cfg = config_from_recipe("vae-digits", [], dataset="mnist", epochs=3, batch_size=64, seed=5)
    assert (cfg.data.name, cfg.epochs, cfg.batch_size, cfg.seed, cfg.max_steps) == ("mnist", 3, 64, 5, None)


@pytest.mark.parametrize("override, message", [
    ("model.not_a_field=1", "unknown key"),
    ("not_a_field=1", "unknown key"),
    ("batch_size=abc", "expected an integer"),
    ("batch_size=0", "batch_size must be >= 1"),
    ("precision=fp8", "precision must be"),
    ("optim.model.name=adagrad", "optim.model.name must be one of"),
    ("ema_decay=1.5", "ema_decay must be in"),
    ("model.arch=rnn", "model.arch must be conv or dense"),
])
def test_bad_values_name_the_field(override, message):
    from genzoo.models import build_model

    with pytest.raises(ConfigError, match=message):
        cfg = config_from_recipe("vae-digits", [override])
        build_model(cfg.model)


def test_override_syntax_errors():
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["z_dim"])
    with pytest.raises(ConfigError, match="unknown recipe"):
        load_recipe("no-such-recipe")
