"""Mixup: the blend and its labels, stateless reproducible draws, and a mixup run on real faces that resumes exactly."""

from __future__ import annotations

import pytest
import torch

from fer_lib.engine import TrainConfig, fit
from fer_lib.engine.mixup import Mixup

from .test_engine import fer, history_without_timing, kill_after_first_epoch, one_thread, quick_config, tiny_model  # noqa: F401


def test_blend_is_lambda_weighted_with_the_partner_labels() -> None:
    x = torch.randn(16, 3, 8, 8)
    labels = torch.arange(16)
    mixed = Mixup(0.4, seed=0)(x, labels, epoch=2, step=5)
    assert 0 <= mixed.lam <= 1 and mixed.lam not in (0.0, 1.0)
    perm = mixed.partner_labels  # labels are the row indices here, so the partner labels are the permutation
    assert sorted(perm.tolist()) == list(range(16)) and not torch.equal(perm, labels)
    torch.testing.assert_close(mixed.inputs, mixed.lam * x + (1 - mixed.lam) * x[perm])
    assert torch.equal(mixed.labels, labels)


def test_draws_depend_on_seed_epoch_step_and_rank_only() -> None:
    x, labels = torch.randn(32, 2, 4, 4), torch.arange(32)
    first = Mixup(0.2, seed=7)(x, labels, epoch=1, step=3)
    again = Mixup(0.2, seed=7)(x, labels, epoch=1, step=3)
    assert first.lam == again.lam and torch.equal(first.partner_labels, again.partner_labels)
    for other in (Mixup(0.2, seed=8)(x, labels, 1, 3), Mixup(0.2, seed=7)(x, labels, 1, 4), Mixup(0.2, seed=7, rank=1)(x, labels, 1, 3)):
        assert other.lam != first.lam


def test_invalid_alpha_is_refused() -> None:
    with pytest.raises(ValueError, match="mixup_alpha >= 0"):
        TrainConfig(mixup_alpha=-0.1)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        Mixup(0.0, seed=0)


def test_mixup_run_trains_otherwise_and_resumes_exactly(fer, tmp_path) -> None:
    cfg = quick_config(epochs=2, mixup_alpha=0.4)
    reference = fit(tiny_model(), fer["train"], fer["val"], fer["test"], cfg)
    plain = fit(tiny_model(), fer["train"], fer["val"], fer["test"], quick_config(epochs=2))
    assert reference.history["train_loss"].tolist() != plain.history["train_loss"].tolist()
    assert reference.config["mixup_alpha"] == 0.4

    kill_after_first_epoch(fer, cfg, tmp_path)
    resumed = fit(tiny_model(seed=123), fer["train"], fer["val"], fer["test"], cfg, tmp_path)
    assert history_without_timing(resumed) == history_without_timing(reference)
    assert torch.equal(resumed.honest.predictions.logits, reference.honest.predictions.logits)
