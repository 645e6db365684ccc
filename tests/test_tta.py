"""Test-time augmentation: the views are the training augmentation's flips and shifts, view 0 is the image itself,
the record keeps single-view and averaged metrics apart, and the ``tta`` command scores a real run's model file on
the split it was selected and scored on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fer_lib.__main__ import main
from fer_lib.experiment import build_folds, run_experiment
from fer_lib.model_file import evaluate_model_file
from fer_lib.preprocess.normalize import Normalize
from fer_lib.tta import TTA_FILE, tta_record, view_params, view_probabilities, view_warper, views_chosen_on_validation

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"epochs": 1, "batch_size": 16, "train_limit": 64, "eval_limit": 32, "model_kwargs": {"widths": (8, 16, 32, 64)}, "progress": False}


def test_ten_views_are_the_image_four_diagonal_shifts_and_their_mirrors():
    x = torch.arange(48 * 48, dtype=torch.float32).view(1, 1, 48, 48)
    flips, shifts = view_params("ten_view")
    assert flips.tolist() == [False] * 5 + [True] * 5 and shifts[0].tolist() == [0.0, 0.0]
    warp = view_warper("image", Normalize(0.0, 1.0))
    views = [warp(x, flip, shift) for flip, shift in zip(flips, shifts)]
    assert torch.allclose(views[0], x, atol=1e-3)
    assert torch.allclose(views[5], x.flip(-1), atol=1e-3)  # the mirror of the unshifted image
    # (-shift, -shift): content moves 4 px left and up, so output pixel (r, c) shows input pixel (r + 4, c + 4)
    assert torch.allclose(views[1][..., 10:30, 10:30], x[..., 14:34, 14:34], atol=1e-2)
    assert len({tuple(v.flatten().tolist()[:200]) for v in views}) == 10
    assert len(view_params("flip")[0]) == 2
    with pytest.raises(ValueError, match="unknown TTA views 'five_crop'"):
        view_params("five_crop")


def test_view_zero_is_the_unwarped_single_view_prediction():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48 * 48, 3)).eval()
    images = torch.randint(0, 256, (5, 1, 48, 48), dtype=torch.uint8)
    normalize = Normalize(0.5, 0.25)
    probs = view_probabilities(model, images, normalize, "ten_view", batch_size=2)
    assert probs.shape == (10, 5, 3)
    assert torch.allclose(probs[0], model(normalize(images)).softmax(-1), atol=1e-6)
    assert torch.allclose(probs.sum(-1), torch.ones(10, 5), atol=1e-5)


def test_flow_views_mirror_the_field_and_negate_u():
    """A flow map's mirror view is the flow of the mirrored face: u negated (min-max encoded: 1 - u), v and strain mirrored."""
    maps = torch.rand(2, 3, 28, 28)
    normalize = Normalize(np.array([0.5, 0.4, 0.3]), np.array([0.2, 0.25, 0.3]))
    mirror = (view_warper("flow", normalize)(normalize(maps), torch.tensor(True), torch.zeros(2)) - normalize.shift) / normalize.scale
    expected = torch.stack([1 - maps[:, 0], maps[:, 1], maps[:, 2]], 1).flip(-1)
    expected = (expected - expected.amin((2, 3), keepdim=True)) / (expected.amax((2, 3), keepdim=True) - expected.amin((2, 3), keepdim=True))
    assert torch.allclose(mirror, expected, atol=1e-4)
    with pytest.raises(ValueError, match="not 'clip'"):
        view_warper("clip", normalize)


def test_record_keeps_the_single_view_and_the_averaged_metrics_apart():
    # view 0 says class 1 for every sample, the other two views say the true class 0 more strongly
    probs = torch.tensor([[[0.4, 0.6]] * 4, [[0.9, 0.1]] * 4, [[0.9, 0.1]] * 4])
    record = tta_record(probs, np.zeros(4, np.int64), ("a", "b"))
    assert record["single_view"] == {"n": 4, "accuracy": 0.0, "macro_f1": 0.0, "uar": 0.0}
    assert record["tta"]["accuracy"] == 1.0 and record["tta"]["confusion_matrix"] == [[4, 0], [0, 0]]


def test_the_honest_evaluation_is_chosen_on_validation_never_on_test():
    def record(role: str, single: float, averaged: float) -> dict:
        return {"role": role, "single_view": {"accuracy": single, "macro_f1": averaged}, "tta": {"accuracy": averaged, "macro_f1": single}}

    # the test record favours the other evaluation each time: only the validation record decides
    assert views_chosen_on_validation([record("val", 0.60, 0.62), record("test", 0.70, 0.50)]) == "tta"
    assert views_chosen_on_validation([record("val", 0.62, 0.60), record("test", 0.50, 0.70)]) == "single_view"
    assert views_chosen_on_validation([record("val", 0.60, 0.62)], metric="macro_f1") == "single_view"  # the run's selection metric
    assert views_chosen_on_validation([record("val", 0.61, 0.61)]) == "single_view"  # a tie keeps the cheaper single view
    assert views_chosen_on_validation([record("test", 0.50, 0.70)]) is None  # LOSO: no validation part to choose on
    assert views_chosen_on_validation([{"role": "val", "single_view": {}, "tta": {"accuracy": 0.7}}]) is None


@pytest.fixture(scope="module")
def run_dir(fer_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "resnet18_fer__fer2013__smoke__s0"
    run_experiment("resnet18_fer", "fer2013", "smoke", seed=0, device="cpu", output_dir=run, **TINY).finish()
    return run


def test_cli_scores_the_model_file_on_its_validation_and_test_split(run_dir, fer_data, tmp_path, capsys):
    assert main(["tta", str(run_dir), "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{run_dir.name}: PrivateTest (n=32)" in out and "with 10 views" in out
    records = {r["role"]: r for r in json.loads((tmp_path / run_dir.name / TTA_FILE).read_text())}
    assert set(records) == {"val", "test"} and records["test"]["split"] == "PrivateTest"
    assert records["test"]["tta"]["n"] == 32 and "fp16" in records["test"]["weights"]
    # the single view is the model file's own prediction on the run's test subset (same seed, same eval_limit)
    config = json.loads((run_dir / "config.json").read_text())
    fold = build_folds("fer2013", config["recipe"], config["seed"], str(fer_data))[0]
    expected = evaluate_model_file(run_dir / "model.pt", fold.test)
    assert len(fold.test) == 32 and records["test"]["single_view"]["accuracy"] == pytest.approx(expected["accuracy"])


def test_a_run_without_a_model_file_is_one_line_naming_why(tmp_path, capsys):
    folder = tmp_path / "irnet__fer2013__cpu__s0"
    folder.mkdir()
    assert main(["tta", str(folder)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "has no model.pt" in captured.err
