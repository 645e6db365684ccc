"""run_experiment writes a complete run folder on real data; a failed run leaves no metrics.json for the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fer_lib.claims import compare_to_claim, load_claims
from fer_lib.data import create_dataset
from fer_lib.experiment import run_experiment
from fer_lib.profiles import resolve_recipe
from fer_lib.runs import REQUIRED_KEYS, RunFolder, read_metrics

TINY = {"epochs": 1, "batch_size": 16, "train_limit": 64, "eval_limit": 32, "model_kwargs": {"widths": (8, 16, 32, 64)}, "progress": False}


def test_fer2013_run_folder_is_complete(fer_data, tmp_path):
    result = run_experiment("resnet18_fer", "fer2013", "smoke", seed=1, device="cpu", output_dir=tmp_path / "run", **TINY)
    run = tmp_path / "run"
    for name in ("config.json", "env.json", "history.csv", "predictions.csv", "metrics.json", "figures/history.png", "figures/confusion_honest.png"):
        assert (run / name).exists(), name
    records = json.loads((run / "metrics.json").read_text())
    assert [r["protocol"] for r in records] == ["honest", "test_selected"]
    assert all(set(REQUIRED_KEYS) <= set(r) for r in records)
    assert records[0]["n"] == 32 and records[0]["split"] == "PrivateTest" and records[0]["pretrained"] is False
    predictions = pd.read_csv(run / "predictions.csv")
    assert len(predictions) == 2 * 32 and predictions["sample_id"].str.startswith("test/").all()
    honest = predictions[predictions.protocol == "honest"]
    assert (honest["label"] == honest["pred"]).mean() == pytest.approx(records[0]["accuracy"])
    assert json.loads((run / "config.json").read_text())["recipe"]["train_limit"] == 64
    inputs, faces, labels = result.test_examples(n=4)
    assert inputs.shape == (4, 1, 48, 48) and faces.shape == (4, 48, 48, 1) and len(labels) == 4


def test_ckplus_kfold_reports_mean_std_and_pooled(fer_data, tmp_path):
    result = run_experiment("resnet18_fer", "ckplus", "smoke", device="cpu", output_dir=tmp_path / "ck", **TINY)
    record = result.records[0]
    assert record["n_folds"] == 2 and record["accuracy_std"] is not None
    assert record["accuracy"] == pytest.approx(record["accuracy_mean"])
    assert record["n"] == sum(len(f.test) for f in result.folds) and set(record["pooled"]) == {"accuracy", "macro_f1", "uar"}
    for fold in result.folds:  # subject-independent: validation and test subjects never trained on
        assert not set(fold.train.subjects) & (set(fold.test.subjects) | set(fold.val.subjects))


def test_failed_run_leaves_no_metrics(fer_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("[]")  # an older result of the same run
    monkeypatch.setattr("fer_lib.experiment.fit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError, match="killed"):
        run_experiment("resnet18_fer", "fer2013", "smoke", device="cpu", output_dir=run, **TINY)
    assert not (run / "metrics.json").exists()
    assert read_metrics(tmp_path).empty


def test_finish_refuses_incomplete_records(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        RunFolder(tmp_path, "r").start().finish([{"protocol": "honest", "accuracy": 0.5}])


def test_recipe_overrides_and_unknown_profile():
    recipe = resolve_recipe("cpu", "irnet", "ckplus", {"epochs": 3, "lr": None})
    assert recipe["epochs"] == 3 and recipe["lr"] == resolve_recipe("cpu", "irnet", "ckplus")["lr"]
    with pytest.raises(ValueError, match="unknown profile"):
        resolve_recipe("fast", "irnet", "fer2013")


def test_recipe_layers_apply_in_order():
    # profile < dataset < model < (model, dataset): IRNet's FER2013 cap leaves it CK+'s budget, shared with DCN+CBAM.
    assert resolve_recipe("cpu", "irnet", "fer2013")["epochs"] == 10
    assert resolve_recipe("cpu", "irnet", "ckplus")["epochs"] == resolve_recipe("cpu", "dcn_cbam", "ckplus")["epochs"] == 30
    assert resolve_recipe("cpu", "lkcnn", "megc2019")["epochs"] == 20  # the model layer wins over the dataset's 60


def test_claims_come_from_the_data_file():
    claims = load_claims()
    assert set(claims) == {"irnet", "dcn_cbam", "lkcnn", "mfem_lstm", "ststnet", "ststnet_weights"}
    assert {c.source for k, c in claims.items() if not k.startswith("ststnet")} == {"survey"}
    record = {"protocol": "honest", "dataset": "fer2013", "profile": "cpu", "device": "cpu", "accuracy": 0.6}
    table = compare_to_claim([record], claims["irnet"])
    assert "paper's number is on rafdb" in table.iloc[0]["differences"]
    assert table.iloc[0, 0] == claims["irnet"].metrics["accuracy"]


def test_megc2019_loso_pools_folds_and_breaks_down_by_database(fer_data, tmp_path):
    """LOSO: one fold per left-out subject, metrics on the pooled predictions (MEGC2019), per-database breakdown."""
    result = run_experiment("ststnet", "megc2019", "smoke", device="cpu", output_dir=tmp_path / "me", epochs=1, max_folds=4, progress=False)
    honest = result.records[0]
    assert honest["n_folds"] == 4 and honest["split"] == "LOSO, 4 subjects"
    for fold in result.folds:
        assert set(fold.test.subjects) == {fold.name} and fold.name not in set(fold.train.subjects) and fold.val is None
    predictions = pd.read_csv(tmp_path / "me" / "predictions.csv", dtype={"fold": str})
    rows = predictions[predictions.protocol == "honest"]
    assert len(rows) == honest["n"] == sum(len(f.test) for f in result.folds)
    assert (rows["label"] == rows["pred"]).mean() == pytest.approx(honest["accuracy"])  # pooled, not a mean of folds
    assert honest["uf1"] == honest["macro_f1"]
    assert sum(d["n"] for d in honest["by_database"].values()) == honest["n"] and set(rows["database"]) == set(honest["by_database"])
    assert honest["selected_on"] == "last epoch (no validation split)"


def test_megc2019_apex_flow_sequences_for_sequence_models(fer_data):
    flow = create_dataset("megc2019", fer_data, "all")
    sequences = create_dataset("megc2019", fer_data, "all", modality="apex_flow", image_size=28)
    assert sequences.images.shape == (442, 2, 28, 28, 3) and (sequences.labels == flow.labels).all()
    np.testing.assert_array_equal(sequences.images[:, 1], flow.images)  # frame 2 is the flow map itself at its native 28 px
    with pytest.raises(ValueError, match="modality"):
        create_dataset("megc2019", fer_data, "all", modality="onset")
