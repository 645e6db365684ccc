"""The GPU recipe, dry-run on the CPU: every model step of the study trains two optimizer steps with its ``paper`` recipe."""

from __future__ import annotations

import math

import pytest

from fer_lib import profiles
from fer_lib.dry_run import dry_run_step, model_steps
from fer_lib.errors import ConfigError
from fer_lib.models import model_input_kind

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fold_cache() -> dict:
    """Each dataset's first fold is built once for the whole module (the five FER2013 steps share one)."""
    return {}


@pytest.mark.parametrize("step", model_steps(), ids=lambda step: step.label)
def test_every_study_step_trains_with_its_paper_recipe(fer_data, fold_cache, step) -> None:
    model, dataset = step.parameters["model"], step.parameters["dataset"]
    result = dry_run_step(model, dataset, "paper", steps=2, n_images=4, data_root=fer_data, fold_cache=fold_cache)
    recipe = profiles.resolve_recipe("paper", model, dataset)
    assert (result.steps, result.batch_size) == (2, 2)
    assert result.sample_shape[-2:] == (recipe["img_size"], recipe["img_size"])
    assert len(result.sample_shape) == (4 if model_input_kind(model) == "clip" else 3)
    assert result.model_kwargs == recipe["model_kwargs"]
    assert result.amp == ("bf16" if recipe.get("amp", "auto") == "auto" else recipe["amp"])
    assert math.isfinite(result.train_loss) and result.params > 0


def test_a_recipe_key_that_is_no_setting_fails(fer_data, monkeypatch) -> None:
    monkeypatch.setitem(profiles.MODEL_OVERRIDES, ("paper", "ststnet"), {"epoch": 3})
    with pytest.raises(ValueError, match=r"recipe keys \['epoch'\]"):
        dry_run_step("ststnet", "megc2019", data_root=fer_data, n_images=4)


def test_a_model_parameter_the_model_does_not_take_fails(fer_data, monkeypatch) -> None:
    monkeypatch.setitem(profiles.MODEL_OVERRIDES, ("paper", "ststnet"), {"model_kwargs": {"stem_stride": 2}})
    with pytest.raises(TypeError, match="stem_stride"):
        dry_run_step("ststnet", "megc2019", data_root=fer_data, n_images=4)


@pytest.mark.parametrize("steps, n_images", [(2, 3), (0, 4)])
def test_too_few_images_for_the_steps(steps, n_images) -> None:
    with pytest.raises(ConfigError, match="n_images >="):
        dry_run_step("ststnet", "megc2019", steps=steps, n_images=n_images)
