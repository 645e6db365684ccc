"""EMA of the weights: the warmed-up update, and an EMA run on real faces that evaluates the average and resumes exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fer_lib.engine import TrainConfig, evaluate, fit
from fer_lib.engine.weight_average import weight_average

from .test_engine import fer, history_without_timing, kill_after_first_epoch, one_thread, quick_config, tiny_model  # noqa: F401


def test_update_follows_the_warmed_up_decay_and_copies_integer_buffers() -> None:
    model = nn.BatchNorm1d(3)
    averaged = weight_average(model, decay=0.9)
    expected = model.weight.detach().clone()
    averaged.update_parameters(model)  # the first update copies the model
    for step in range(1, 100):
        with torch.no_grad():
            model.weight.add_(1.0)
            model.num_batches_tracked.add_(1)
        averaged.update_parameters(model)
        decay = min(0.9, (1 + step) / (10 + step))  # warm-up: the average follows closely at first
        expected = decay * expected + (1 - decay) * model.weight.detach()
        torch.testing.assert_close(averaged.module.weight, expected)
    assert decay == 0.9  # the warm-up ended inside the loop
    assert averaged.module.num_batches_tracked.item() == model.num_batches_tracked.item() == 99


def test_invalid_decay_is_refused() -> None:
    with pytest.raises(ValueError, match="0 <= ema_decay < 1"):
        TrainConfig(ema_decay=1.0)
    with pytest.raises(ValueError, match="must be in"):
        weight_average(nn.Linear(2, 2), decay=0.0)


def test_ema_run_evaluates_the_average_and_resumes_exactly(fer, tmp_path) -> None:
    cfg = quick_config(epochs=2, ema_decay=0.95)
    model = tiny_model()
    reference = fit(model, fer["train"], fer["val"], fer["test"], cfg)
    plain = fit(tiny_model(), fer["train"], fer["val"], fer["test"], quick_config(epochs=2))
    # the same training steps (EMA does not touch the trained weights), other evaluated weights
    assert reference.history["train_loss"].tolist() == plain.history["train_loss"].tolist()
    assert reference.history["val_loss"].tolist() != plain.history["val_loss"].tolist()
    # the returned model holds the averaged weights of the honest epoch: they reproduce its test predictions
    again = evaluate(model, *fer["test"].tensors(), reference.normalize(), cfg)
    torch.testing.assert_close(again.logits, reference.honest.predictions.logits)

    kill_after_first_epoch(fer, cfg, tmp_path)
    resumed = fit(tiny_model(seed=123), fer["train"], fer["val"], fer["test"], cfg, tmp_path)
    assert history_without_timing(resumed) == history_without_timing(reference)
    assert torch.equal(resumed.honest.predictions.logits, reference.honest.predictions.logits)


def test_without_validation_the_model_ends_with_the_last_average(fer) -> None:
    cfg = quick_config(epochs=2, ema_decay=0.95)
    model = tiny_model()
    result = fit(model, fer["train"], None, fer["test"], cfg)
    again = evaluate(model, *fer["test"].tensors(), result.normalize(), cfg)
    assert result.honest.epoch == 2
    torch.testing.assert_close(again.logits, result.honest.predictions.logits)
