"""The training engine on real faces: overfitting, determinism, exact resume, checkpoint safety, protocols, bf16 vs fp32.

Every run uses a tiny ResNet18 (widths 8–64) and one thread, so the file stays well under a minute on 2 busy cores.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fer_lib.data import FaceDataset, create_dataset, subject_kfold
from fer_lib.engine import (
    CHECKPOINT_NAME,
    CheckpointMismatchError,
    DistContext,
    TrainConfig,
    batch_slices,
    evaluate,
    fit,
    load_checkpoint,
    lr_factor,
    model_input,
    resolve_amp,
    seed_everything,
)
from fer_lib.engine.config import ADDED_FIELD_DEFAULTS, semantic_diff
from fer_lib.engine.distributed import epoch_indices
from fer_lib.engine.loop import EvalResult
from fer_lib.errors import ConfigError
from fer_lib.models import create_model
from fer_lib.preprocess import BatchAugment, Normalize

fit_module = importlib.import_module("fer_lib.engine.fit")  # the module, not the function the package re-exports
TINY = {"widths": (8, 16, 32, 64)}
TIMING = ["train_s", "seconds", "images_per_s", "cpu_per_wall", "load_avg"]


def tiny_model(seed: int = 0, num_classes: int = 7) -> nn.Module:
    seed_everything(seed)
    return create_model("resnet18_fer", num_classes=num_classes, **TINY)


def quick_config(**overrides) -> TrainConfig:
    # amp="bf16", not the default "auto": the tests exercise bf16 autocast whatever this machine would pick; a checkpoint
    # after every epoch, so that a test can kill a run after its first one
    base = dict(
        epochs=3, batch_size=32, eval_batch_size=50, lr=0.05, amp="bf16", num_threads=1, progress=False, deterministic=True, device="cpu",
        checkpoint_interval_s=0.0,
    )  # fmt: skip
    return TrainConfig(**{**base, **overrides})


def random_rows(dataset: FaceDataset, n: int, seed: int) -> FaceDataset:
    return dataset.subset(np.sort(np.random.default_rng(seed).choice(len(dataset), n, replace=False)))


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread, also for ``evaluate`` outside ``fit``: other test sessions share these 2 cores, and spinning
    OpenMP threads that wait for a busy core are far slower than one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def fer(fer_data) -> dict[str, FaceDataset]:
    """Small random subsets of the official FER2013 splits (random, because the files are ordered by class)."""
    sizes = {"train": 256, "val": 128, "test": 128}
    return {split: random_rows(create_dataset("fer2013", fer_data, split), n, seed=i) for i, (split, n) in enumerate(sizes.items())}


@pytest.fixture(scope="module")
def reference_run(fer, tmp_path_factory):
    """One uninterrupted 3-epoch run with augmentation, bf16 autocast and channels_last, checkpointing to a run folder."""
    run_dir = tmp_path_factory.mktemp("reference")
    model = tiny_model()
    return model, fit(model, fer["train"], fer["val"], fer["test"], quick_config(), run_dir), run_dir


def history_without_timing(result) -> list[dict]:
    return result.history.drop(columns=TIMING).to_dict(orient="records")


def test_overfits_64_real_images(fer_data) -> None:
    images = random_rows(create_dataset("fer2013", fer_data, "train"), 64, seed=3)
    model = tiny_model()
    cfg = quick_config(epochs=25, batch_size=16, optimizer="adamw", lr=3e-3, weight_decay=0.0, label_smoothing=0.0, warmup_epochs=0, augment=None)
    result = fit(model, images, None, None, cfg)
    assert result.history["train_acc"].iloc[-1] >= 0.95
    in_eval_mode = evaluate(model, *images.tensors(), result.normalize(), cfg)
    assert (in_eval_mode.preds == in_eval_mode.labels).float().mean() >= 0.95


def test_same_seed_same_numbers_other_seed_differs(fer, reference_run) -> None:
    _, reference, _ = reference_run
    again = fit(tiny_model(), fer["train"], fer["val"], fer["test"], quick_config())  # no run folder: checkpointing must not matter
    assert history_without_timing(again) == history_without_timing(reference)
    assert torch.equal(again.honest.predictions.logits, reference.honest.predictions.logits)
    other = fit(tiny_model(), fer["train"], fer["val"], fer["test"], quick_config(seed=1))
    assert other.history["train_loss"].tolist() != reference.history["train_loss"].tolist()


class Killed(Exception):
    """Stands in for the process being killed right after a checkpoint was written."""


def kill_after_first_epoch(fer, cfg: TrainConfig, run_dir) -> None:
    """Train with ``cfg`` into ``run_dir`` until the process 'dies' right after the first epoch's checkpoint."""
    real_save = fit_module.save_checkpoint

    def save_then_die(state, path):
        real_save(state, path)
        raise Killed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fit_module, "save_checkpoint", save_then_die)
        with pytest.raises(Killed):
            fit(tiny_model(), fer["train"], fer["val"], fer["test"], cfg, run_dir)
    assert load_checkpoint(run_dir / CHECKPOINT_NAME)["epoch"] == 1


def test_resume_after_kill_ends_with_the_same_numbers(fer, reference_run, tmp_path) -> None:
    reference_model, reference, _ = reference_run
    kill_after_first_epoch(fer, quick_config(), tmp_path)
    model = tiny_model(seed=123)  # a different init: everything must come from the checkpoint
    resumed = fit(model, fer["train"], fer["val"], fer["test"], quick_config(), tmp_path)
    assert history_without_timing(resumed) == history_without_timing(reference)
    for name in ("honest", "test_selected"):
        ours, theirs = getattr(resumed, name), getattr(reference, name)
        assert ours.epoch == theirs.epoch and torch.equal(ours.predictions.logits, theirs.predictions.logits)
    for (key, ours), theirs in zip(model.state_dict().items(), reference_model.state_dict().values()):
        assert torch.equal(ours, theirs), key


@pytest.mark.parametrize(("interval_s", "checkpointed_epochs"), [(0.0, [1, 2]), (3600.0, [2])])
def test_checkpoints_once_the_interval_has_passed_and_after_the_last_epoch(fer, tmp_path, monkeypatch, interval_s, checkpointed_epochs) -> None:
    checkpointed: list[int] = []
    real_save = fit_module.save_checkpoint

    def recording_save(state, path):
        checkpointed.append(state["epoch"])
        real_save(state, path)

    monkeypatch.setattr(fit_module, "save_checkpoint", recording_save)
    fit(tiny_model(), fer["train"], fer["val"], fer["test"], quick_config(epochs=2, checkpoint_interval_s=interval_s), tmp_path)
    assert checkpointed == checkpointed_epochs
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["epoch"] == 2  # a finished run is read back from its last epoch


# a value other than the default for every field added after runs were recorded
ADDED_FIELD_OTHER_VALUES = {"class_weights": "balanced", "mixup_alpha": 0.2, "ema_decay": 0.99}


@pytest.mark.parametrize("key", sorted(ADDED_FIELD_OTHER_VALUES))
def test_a_config_saved_before_a_field_existed_still_matches(key) -> None:
    assert set(ADDED_FIELD_OTHER_VALUES) == set(ADDED_FIELD_DEFAULTS)  # a new added field gets a case here
    saved = {k: v for k, v in TrainConfig().to_dict().items() if k != key}
    assert semantic_diff(saved, TrainConfig().to_dict()) == {}
    other = ADDED_FIELD_OTHER_VALUES[key]
    assert semantic_diff(saved, TrainConfig(**{key: other}).to_dict()) == {key: (ADDED_FIELD_DEFAULTS[key], other)}


def test_checkpoint_is_weights_only_and_complete(reference_run) -> None:
    _, _, run_dir = reference_run
    checkpoint = torch.load(run_dir / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    expected = {"model", "optimizer", "scheduler", "scaler", "epoch", "config", "rng", "history", "selection", "normalize"}
    assert expected <= set(checkpoint) and checkpoint["epoch"] == 3 and len(checkpoint["history"]) == 3
    assert {"torch", "augment"} <= set(checkpoint["rng"]) and all(s.dtype == torch.uint8 for s in checkpoint["rng"].values())
    assert checkpoint["selection"]["honest"]["logits"].shape == (128, 7)
    assert not list(run_dir.glob("*.tmp"))


def test_refuses_to_resume_another_runs_checkpoint(fer, reference_run) -> None:
    _, reference, run_dir = reference_run
    with pytest.raises(CheckpointMismatchError, match="config.lr"):
        fit(tiny_model(), fer["train"], fer["val"], fer["test"], quick_config(lr=0.01), run_dir)
    with pytest.raises(CheckpointMismatchError, match="data"):
        fit(tiny_model(), fer["val"], fer["val"], fer["test"], quick_config(), run_dir)
    # settings that change no number (threads, progress) may differ: the finished run is returned without training
    finished = fit(tiny_model(), fer["train"], fer["val"], fer["test"], quick_config(num_threads=2, progress=False), run_dir)
    assert history_without_timing(finished) == history_without_timing(reference)


def test_auto_precision_is_resolved_and_recorded(fer, tmp_path) -> None:
    """``amp="auto"`` trains with what resolve_amp measures (at fit's thread count) and records that, not "auto"."""
    result = fit(tiny_model(), fer["train"], None, fer["test"], quick_config(epochs=1, amp="auto"), tmp_path)
    assert result.config["amp"] == resolve_amp("auto", torch.device("cpu")) in ("bf16", "none")
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["config"]["amp"] == result.config["amp"]


def test_protocols_select_on_the_right_split(fer, reference_run) -> None:
    model, result, _ = reference_run
    history = result.history
    assert result.honest.epoch == int(history["val_acc"].to_numpy().argmax()) + 1  # argmax: first maximum = earliest tie
    assert result.test_selected.epoch == int(history["test_acc"].to_numpy().argmax()) + 1
    assert result.honest.metrics["accuracy"] == pytest.approx(history["test_acc"].iloc[result.honest.epoch - 1])
    assert result.test_selected.metrics["accuracy"] == pytest.approx(history["test_acc"].iloc[result.test_selected.epoch - 1])
    assert result.honest.selected_on == "val accuracy" and result.test_selected.selected_on == "test accuracy"
    # the model is left holding the honest epoch's weights
    again = evaluate(model, *fer["test"].tensors(), result.normalize(), quick_config())
    torch.testing.assert_close(again.logits, result.honest.predictions.logits)
    assert result.params == sum(p.numel() for p in model.parameters()) and result.device == "cpu"


def test_selection_ties_keep_the_earliest_epoch() -> None:
    selection = fit_module._Selection()
    dummy = EvalResult(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), 0.0)
    for epoch, score in enumerate([0.5, 0.7, 0.7, 0.6], start=1):
        selection.offer(epoch, score, dummy)
    assert (selection.epoch, selection.score) == (2, 0.7)


def test_auxiliary_loss_is_added_and_no_val_means_last_epoch(fer) -> None:
    class WithAuxiliary(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = tiny_model()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def auxiliary_loss(self) -> torch.Tensor:
            return torch.tensor(5.0)

    result = fit(WithAuxiliary(), fer["train"], None, fer["test"], quick_config(epochs=2, amp="none"))
    assert (result.history["train_loss"] > 5.0).all()
    assert result.honest.epoch == 2 and result.honest.selected_on.startswith("last epoch")
    assert result.history["val_acc"].isna().all()


def test_compiled_training_steps_match_eager_ones_with_the_auxiliary_loss(fer, monkeypatch) -> None:
    class WithPenalty(nn.Module):
        """A small net whose auxiliary loss is a tensor its forward leaves behind, as IRNet's partition loss is."""

        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn, self.head = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Linear(4, 7)
            self.last_penalty: torch.Tensor | None = None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            features = F.relu(self.bn(self.conv(x)))
            self.last_penalty = features.pow(2).mean()
            return self.head(features.mean((2, 3)))

        def auxiliary_loss(self) -> torch.Tensor:
            penalty, self.last_penalty = self.last_penalty, None
            return penalty

    compiled = []
    compile_module = torch.compile
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: compiled.append(module) or compile_module(module, **kwargs))
    runs = {}
    for use_compile in (False, True):
        seed_everything(0)
        runs[use_compile] = fit(WithPenalty(), fer["train"], fer["val"], fer["test"], quick_config(epochs=2, amp="none", deterministic=False, compile=use_compile))
    assert len(compiled) == 1  # the compiled run went through torch.compile, the eager one did not
    eager, compiled_run = runs[False], runs[True]
    assert np.allclose(compiled_run.history["train_loss"], eager.history["train_loss"], rtol=1e-4)
    assert torch.allclose(compiled_run.honest.predictions.logits, eager.honest.predictions.logits, atol=1e-4)
    assert compiled_run.config["compile"] is True


def test_compile_without_a_cpp_compiler_fails_before_training_naming_the_fix(fer, monkeypatch) -> None:
    from torch._inductor import config as inductor_config

    monkeypatch.setattr(inductor_config.cpp, "cxx", ("fer-study-no-such-compiler++",))
    model = create_model("resnet18_fer", 7, 1, 48, widths=(4, 8, 8, 8))
    with pytest.raises(ConfigError, match=r"compile=True: .*needs a working C\+\+ compiler.*compile=false"):
        fit(model, fer["train"], fer["val"], fer["test"], quick_config(epochs=1, amp="none", compile=True))


def test_bf16_reaches_fp32_accuracy_within_binomial_noise(fer_data) -> None:
    """bf16 autocast + channels_last vs fp32 on a real task the tiny model learns in seconds: CK+ 48×48, subject-independent.

    (FER2013 at 1–2k images barely rises above the majority class in a few epochs, so it cannot tell a broken bf16 path
    from a working one.) The rounding perturbs the whole trajectory, so the two runs differ like two independent
    trainings: each accuracy has binomial std σ = √(p(1-p)/n), their difference ≈ √2·σ, and the tolerance is 3√2·σ.
    """
    ckplus = create_dataset("ckplus", fer_data)
    fold = subject_kfold(ckplus, k=4, seed=0)[0]
    train, test = ckplus.subset(fold.train), ckplus.subset(fold.test)
    accuracy = {}
    for amp in ("none", "bf16"):
        cfg = quick_config(epochs=4, optimizer="adamw", lr=3e-3, augment=None, amp=amp, channels_last=amp == "bf16", deterministic=False)
        accuracy[amp] = fit(tiny_model(), train, None, test, cfg).honest.metrics["accuracy"]
    p, n = accuracy["none"], len(test)
    majority = np.bincount(test.labels).max() / n
    assert p > majority + 0.2, f"fp32 reached only {p:.3f} (majority class {majority:.3f}): the comparison would say nothing"
    assert abs(accuracy["bf16"] - p) < 3 * math.sqrt(2 * p * (1 - p) / n), accuracy


def test_lr_schedule_warmup_cosine_and_step() -> None:
    cfg = TrainConfig(epochs=10, warmup_epochs=1)
    assert lr_factor(0, cfg, 10) == pytest.approx(0.1) and lr_factor(9, cfg, 10) == pytest.approx(1.0)
    assert lr_factor(10 + 45, cfg, 10) == pytest.approx(0.5)  # halfway through the 90 cosine steps
    assert lr_factor(99, cfg, 10) < 0.001
    step = TrainConfig(epochs=10, warmup_epochs=0, schedule="step", step_size=3, gamma=0.1)
    assert [lr_factor(e * 10, step, 10) for e in (0, 2, 3, 6)] == pytest.approx([1.0, 1.0, 0.1, 0.01])


def test_epoch_permutation_shards_are_disjoint_and_reproducible() -> None:
    shards = [epoch_indices(101, 4, 0, DistContext(rank, 2)) for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) == 50 and not set(shards[0].tolist()) & set(shards[1].tolist())
    assert torch.equal(epoch_indices(101, 4, 0, DistContext()), epoch_indices(101, 4, 0, DistContext()))
    assert not torch.equal(epoch_indices(101, 4, 0, DistContext()), epoch_indices(101, 5, 0, DistContext()))
    assert [len(b) for b in batch_slices(torch.arange(10), 4, drop_last=True)] == [4, 4]
    assert [len(b) for b in batch_slices(torch.arange(10), 4, drop_last=False)] == [4, 4, 2]


def test_evaluate_pools_every_row_in_any_batch_size(fer) -> None:
    model = tiny_model().eval()
    images, labels = fer["test"].tensors()
    normalize = Normalize(0.5, 0.25)
    small = evaluate(model.train(), images, labels, normalize, quick_config(eval_batch_size=7, amp="none"))
    assert model.training  # mode restored
    large = evaluate(model, images, labels, normalize, quick_config(eval_batch_size=1000, amp="none"))
    assert small.logits.shape == (128, 7)
    torch.testing.assert_close(small.logits, large.logits, atol=1e-5, rtol=1e-5)
    assert small.loss == pytest.approx(F.cross_entropy(small.logits, labels).item())
    torch.testing.assert_close(small.probs.sum(1), torch.ones(128))


def test_clip_frames_share_one_augmentation() -> None:
    frame = torch.randint(0, 256, (4, 1, 1, 24, 24), dtype=torch.uint8)
    clips = frame.expand(4, 3, 1, 24, 24)  # (N, T, C, H, W) with identical frames
    augment = BatchAugment(generator=torch.Generator().manual_seed(0))
    x = model_input(clips, Normalize(0.5, 0.25), augment, channels_last=True)
    assert x.shape == clips.shape and torch.equal(x[:, 0], x[:, 2])
    assert not torch.equal(x[:, 0], Normalize(0.5, 0.25)(frame[:, 0]))


def test_config_round_trip_and_validation() -> None:
    cfg = TrainConfig(augment={"scale": (0.8, 1.2)}, grad_clip=1.0)
    assert TrainConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="fp8")
    with pytest.raises(ValueError, match="checkpoint_interval_s >= 0"):
        TrainConfig(checkpoint_interval_s=-1.0)


def test_rejects_fp16_on_cpu_and_too_few_images(fer) -> None:
    with pytest.raises(ValueError, match="fp16"):
        fit(tiny_model(), fer["train"], None, None, quick_config(amp="fp16"))
    with pytest.raises(ValueError, match="no full batch"):
        fit(tiny_model(), fer["train"].subset(np.arange(10)), None, None, quick_config())
