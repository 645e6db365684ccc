"""run_experiment on real data: a run folder is complete only at finish(), and nothing a re-run does before then, or a
failed re-run, touches a finished run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from fer_lib import profiles
from fer_lib.claims import compare_to_claim, load_ablations, load_claims
from fer_lib.data import create_dataset, list_datasets
from fer_lib.engine import resolve_amp
from fer_lib.errors import ConfigError
from fer_lib.experiment import run_experiment
from fer_lib.models import list_models
from fer_lib.profiles import explain_recipe, resolve_recipe
from fer_lib.runs import REQUIRED_KEYS, RunFolder, inspect_run, staging_path
from fer_lib.tta import TTA_FILE

TINY = {"epochs": 1, "batch_size": 16, "train_limit": 64, "eval_limit": 32, "model_kwargs": {"widths": (8, 16, 32, 64)}, "progress": False}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(fer_data, tmp_path_factory) -> Path:
    """A finished one-epoch FER2013 run (tests that change it work on a copy)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    run_experiment("resnet18_fer", "fer2013", "smoke", seed=1, device="cpu", output_dir=run, **TINY).finish()
    return run


@pytest.fixture
def finished_copy(finished_run, tmp_path) -> Path:
    shutil.copytree(finished_run, tmp_path / "run")
    return tmp_path / "run"


def test_fer2013_run_folder_is_complete(fer_data, tmp_path):
    run = tmp_path / "run"
    result = run_experiment("resnet18_fer", "fer2013", "smoke", seed=1, device="cpu", output_dir=run, **TINY)
    assert not run.exists()  # staged until finish
    figure = plt.figure()
    result.save_figure("extra", figure)
    plt.close(figure)
    assert result.finish() == run and not staging_path(run).parent.exists()
    for name in ("config.json", "env.json", "history.csv", "predictions.csv", "metrics.json", "figures/history.png", "figures/confusion_honest.png", "figures/extra.png"):
        assert (run / name).exists(), name
    records = json.loads((run / "metrics.json").read_text())
    assert [r["protocol"] for r in records] == ["honest", "test_selected"]
    assert all(set(REQUIRED_KEYS) <= set(r) for r in records)
    assert records[0]["n"] == 32 and records[0]["split"] == "PrivateTest" and records[0]["pretrained"] is False
    predictions = pd.read_csv(run / "predictions.csv")
    assert len(predictions) == 2 * 32 and predictions["sample_id"].str.startswith("test/").all()
    honest = predictions[predictions.protocol == "honest"]
    assert (honest["label"] == honest["pred"]).mean() == pytest.approx(records[0]["accuracy"])
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["train_limit"] == 64 and config["overrides"]["epochs"] == 1 and config["code_version"] == records[0]["git_sha"]
    # the config keeps the precision as asked; the metrics say what fit resolved it to (smoke: torch's own thread count)
    assert config["train_config"]["amp"] == "auto"
    assert records[0]["precision"] == resolve_amp("auto", torch.device("cpu"))
    assert set(records[0]["convergence"]) >= {"basis", "best_epoch", "converged"}
    assert inspect_run(run).status == "complete"
    tta = {r["role"]: r for r in json.loads((run / "tta.json").read_text())}
    assert tta["test"]["single_view"]["accuracy"] == pytest.approx(records[0]["accuracy"])  # the honest weights, single view
    assert tta["val"]["single_view"]["n"] == 32 and tta["test"]["n_views"] == 10
    inputs, faces, labels = result.test_examples(n=4)
    assert inputs.shape == (4, 1, 48, 48) and faces.shape == (4, 48, 48, 1) and len(labels) == 4


@pytest.mark.parametrize(
    "model, overrides, message",
    [("resnet18_fer_typo", {}, "Unknown model 'resnet18_fer_typo'"), ("resnet18_fer", {"epochs": 2}, r"another recipe \(epochs 1 -> 2\)"), ("resnet18_fer", {}, "force=True")],
)
def test_finished_run_survives_a_refused_rerun_byte_for_byte(finished_copy, model, overrides, message):
    before = _snapshot(finished_copy)
    with pytest.raises(ConfigError, match=message):
        run_experiment(model, "fer2013", "smoke", seed=1, device="cpu", output_dir=finished_copy, **(TINY | overrides))
    assert _snapshot(finished_copy) == before and not staging_path(finished_copy).exists()


def test_bad_settings_are_refused_before_the_folder_is_touched(finished_copy, tmp_path):
    before = _snapshot(finished_copy)
    refused = (
        ({"epochz": 3}, "epochz"),
        ({"lr": -1.0}, "lr > 0"),
        ({"model_kwargs": {"widthz": 3}}, "widthz"),
        ({"epochs": 2.5}, "epochs must be an integer, got 2.5"),
        ({"epochs": "four"}, "epochs must be an integer, got 'four'"),
        ({"img_size": 0}, "img_size must be an integer >= 1, got 0"),
        ({"val_fraction": 1.5}, r"val_fraction must be null or a number in \(0, 1\), got 1.5"),
        ({"loader_options": "skip"}, "loader_options must be an object of the dataset loader's keyword arguments, got 'skip'"),
        ({"loader_options": {"on_no_face": "skip"}}, r"loader_options \['on_no_face'\] are not options of the fer2013 loader; it takes \['color', 'use_cache'\]"),
        ({"loader_options": {"image_size": 8}}, r"loader_options \['image_size'\] are not options .*img_size and modality are recipe keys"),
    )
    for overrides, message in refused:
        with pytest.raises(ConfigError, match=message):
            run_experiment("resnet18_fer", "fer2013", "smoke", seed=1, device="cpu", output_dir=finished_copy, force=True, **(TINY | overrides))
    assert _snapshot(finished_copy) == before and not staging_path(finished_copy).exists()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a run folder"):
        run_experiment("resnet18_fer", "fer2013", "smoke", device="cpu", output_dir=tmp_path / "notes", **TINY)


@pytest.mark.parametrize(
    ("model", "dataset", "message"),
    [
        ("lkcnn", "fer2013", "lkcnn reads flow inputs, but fer2013 has no modality 'flow' (it serves image inputs): choose a dataset that serves flow inputs: megc2019"),
        ("dcn_cbam", "megc2019", "dcn_cbam reads image inputs, but megc2019 serves flow inputs by default: set modality='apex' (--set modality=apex)"),
        ("mfem_lstm", "casme2", "mfem_lstm reads clip inputs, but casme2 serves no model inputs: choose a dataset that serves clip inputs: megc2019"),
    ],
)
def test_a_dataset_that_does_not_serve_the_models_input_is_refused_before_anything_is_read(tmp_path, model, dataset, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        run_experiment(model, dataset, "smoke", device="cpu", output_dir=tmp_path / "run", data_root=str(tmp_path / "no data here"))
    assert list(tmp_path.iterdir()) == []


def test_an_input_size_the_model_cannot_read_is_refused_before_the_folder_is_touched(fer_data, tmp_path):
    with pytest.raises(ConfigError, match=r"ststnet cannot read 3×1×1 inputs \(img_size=1, model_kwargs=\{\}\): .*Output size is too small"):
        run_experiment("ststnet", "megc2019", "smoke", device="cpu", output_dir=tmp_path / "run", img_size=1, max_folds=1)
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_a_finished_run_only_when_the_new_one_finishes(finished_copy):
    before = _snapshot(finished_copy)
    result = run_experiment("resnet18_fer", "fer2013", "smoke", seed=1, device="cpu", output_dir=finished_copy, force=True, **(TINY | {"epochs": 2}))
    assert _snapshot(finished_copy) == before  # trained beside it
    result.finish()
    assert json.loads((finished_copy / "config.json").read_text())["recipe"]["epochs"] == 2
    assert inspect_run(finished_copy).status == "complete" and sorted(p.name for p in finished_copy.parent.iterdir()) == ["run"]


def test_unfinished_run_of_another_recipe_and_unresumable_checkpoints_advice_works_as_written(fer_data, tmp_path):
    run, other = tmp_path / "run", TINY | {"lr": 0.01}
    run_experiment("resnet18_fer", "fer2013", "smoke", device="cpu", output_dir=run, **TINY)  # never finished
    with pytest.raises(ConfigError, match=r"unfinished run of another recipe \(lr 0.02 -> 0.01\).*pass force=True"):
        run_experiment("resnet18_fer", "fer2013", "smoke", device="cpu", output_dir=run, **other)
    run_experiment("resnet18_fer", "fer2013", "smoke", device="cpu", output_dir=run, force=True, **other)  # the advice
    assert json.loads((staging_path(run) / "config.json").read_text())["recipe"]["lr"] == 0.01 and not run.exists()
    # a checkpoint this code cannot resume (here: of other data): the advice names the command that starts over
    checkpoint = staging_path(run) / "checkpoints" / "official" / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    state["data"]["train"] = "64:other"
    torch.save(state, checkpoint)
    with pytest.raises(ConfigError, match=r"rm -r '(.+)'") as error:
        run_experiment("resnet18_fer", "fer2013", "smoke", device="cpu", output_dir=run, **other)
    assert "resume=False" not in str(error.value)
    shutil.rmtree(str(error.value).split("rm -r '")[1].split("'")[0])  # the advice, as written
    run_experiment("resnet18_fer", "fer2013", "smoke", device="cpu", output_dir=run, **other).finish()
    assert inspect_run(run).status == "complete"


def test_temporary_run_folder_is_removed_at_exit(fer_data, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    killed = tmp_path / f"fer_run_pid{dead}_x1y2" / "run"  # left by a killed interpreter (nbval kills its kernels)
    killed.mkdir(parents=True)
    script = f"""
        from fer_lib.experiment import run_experiment
        result = run_experiment("resnet18_fer", "fer2013", "smoke", device="cpu", **{TINY!r})
        run_dir = result.finish()
        assert not (run_dir / "checkpoints").exists() and (run_dir / "metrics.json").exists()
        print(run_dir)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert run_dir.is_relative_to(tmp_path) and run_dir.name.startswith("resnet18_fer__fer2013") and not run_dir.parent.exists()
    assert not killed.parent.exists()


def test_ckplus_kfold_reports_mean_std_and_pooled(fer_data, tmp_path):
    result = run_experiment("resnet18_fer", "ckplus", "smoke", device="cpu", output_dir=tmp_path / "ck", **TINY)
    record = result.records[0]
    assert record["n_folds"] == 2 and record["accuracy_std"] is not None
    assert record["accuracy"] == pytest.approx(record["accuracy_mean"])
    assert record["n"] == sum(len(f.test) for f in result.folds) and set(record["pooled"]) == {"accuracy", "macro_f1", "uar"}
    for fold in result.folds:  # subject-independent: validation and test subjects never trained on
        assert not set(fold.train.subjects) & (set(fold.test.subjects) | set(fold.val.subjects))


def test_failed_run_leaves_the_older_folder_as_it_was(fer_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("[]")  # an older, unusable result of the same run
    monkeypatch.setattr("fer_lib.experiment.fit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError, match="killed"):
        run_experiment("resnet18_fer", "fer2013", "smoke", device="cpu", output_dir=run, **TINY)
    assert (run / "metrics.json").read_text() == "[]" and inspect_run(run).status == "incomplete"


def test_finish_refuses_incomplete_records(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        RunFolder(tmp_path / "r").finish([{"protocol": "honest", "accuracy": 0.5}])
    assert not (tmp_path / "r").exists()


def test_recipe_overrides_and_unknown_profile():
    recipe = resolve_recipe("cpu", "irnet", "ckplus", {"epochs": 3, "lr": None})
    assert recipe["epochs"] == 3 and recipe["lr"] == resolve_recipe("cpu", "irnet", "ckplus")["lr"]
    with pytest.raises(ValueError, match="unknown profile"):
        resolve_recipe("fast", "irnet", "fer2013")
    with pytest.raises(ConfigError, match="unknown profile"):
        run_experiment("irnet", "fer2013", "fast")


def test_recipe_layers_apply_in_order_and_name_their_source(monkeypatch):
    """profile < dataset < model input < model budget < (model, dataset) < overrides, on fixture layers."""
    monkeypatch.setattr(profiles, "PROFILES", {"p": {"epochs": 1, "lr": 0.1, "img_size": 48, "batch_size": 8}})
    monkeypatch.setattr(profiles, "DATASET_OVERRIDES", {("p", "d"): {"epochs": 2, "lr": 0.2, "img_size": 28}})
    monkeypatch.setattr(profiles, "MODEL_OVERRIDES", {("p", "lkcnn"): {"epochs": 3, "modality": "apex_flow"}})
    monkeypatch.setattr(profiles, "RUN_OVERRIDES", {("p", "lkcnn", "d"): {"epochs": 4}})
    monkeypatch.setattr(profiles, "check_model_reads", lambda *args: None)  # "d" is no dataset: only the layering is under test
    assert resolve_recipe("p", "lkcnn", "d", {"epochs": 5, "lr": None})["epochs"] == 5
    sources = {key: (value, source) for key, value, source in explain_recipe("p", "lkcnn", "d")}
    assert sources["epochs"] == (4, "lkcnn on d (p)") and sources["lr"] == (0.2, "dataset d (p)")
    assert sources["batch_size"] == (8, "profile p") and sources["momentum"][1] == "TrainConfig default"
    assert sources["modality"] == ("apex_flow", "model lkcnn budget (p)")  # a budget layer may override the declared input
    assert resolve_recipe("p", "ststnet", "d")["modality"] == "flow"  # as ststnet declares it
    assert "modality" not in resolve_recipe("p", "resnet18_fer", "d")  # an image model declares none


def _reads(model: str, dataset: str) -> bool:
    """Whether ``dataset`` serves what ``model`` reads, with the modality the model declares (profiles.check_model_reads)."""
    try:
        profiles.check_model_reads(model, dataset, profiles.model_input(model).modality)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("dataset, init_from", [("fer2013", None), ("ckplus", None), ("ckplus", "fer2013"), ("megc2019", None)])
def test_each_ablation_pair_trains_one_recipe_in_every_profile(dataset, init_from):
    """The report compares a module only between runs of one recipe: the study's own recipes must make that true."""
    for profile in profiles.PROFILES:
        for ablation in load_ablations():
            if not _reads(ablation.model, dataset):
                assert not _reads(ablation.baseline, dataset), ablation  # a pair reads one kind of input
                continue  # no run of this pair can exist: the experiment refuses it
            model, baseline = (resolve_recipe(profile, name, dataset, {"init_from": init_from}) for name in (ablation.model, ablation.baseline))
            differing = {key: (model.get(key), baseline.get(key)) for key in model.keys() | baseline.keys() if model.get(key) != baseline.get(key)}
            assert not differing, f"{ablation.model} / {ablation.baseline} on {dataset} ({profile}): {differing}"


def test_each_ablation_pair_is_one_recipe_family():
    """The report pairs a probe over a model's recipe family (profiles.recipe_family): a model and its ablations."""
    for ablation in load_ablations():
        assert profiles.recipe_family(ablation.model) == profiles.recipe_family(ablation.baseline), ablation
        assert ablation.model in profiles.recipe_family(ablation.model)
    assert profiles.recipe_family("ststnet") == ("ststnet",)  # a model of no family is its own


def test_claims_name_registered_models_and_datasets():
    claims = load_claims()
    assert {c.model for c in claims.values()} <= set(list_models()) and {c.dataset for c in claims.values()} <= set(list_datasets())
    assert all(0 < value <= 1 for c in claims.values() for value in c.metrics.values())
    record = {"protocol": "honest", "dataset": "fer2013", "profile": "cpu", "device": "cpu", "accuracy": 0.6}
    table = compare_to_claim([record], claims["irnet"])
    assert "paper's number is on rafdb" in table.iloc[0]["differences"]
    assert table.iloc[0, 0] == claims["irnet"].metrics["accuracy"]


def test_megc2019_loso_pools_folds_and_breaks_down_by_database(fer_data, tmp_path):
    """LOSO: one fold per left-out subject, metrics on the pooled predictions (MEGC2019), per-database breakdown."""
    result = run_experiment("ststnet", "megc2019", "smoke", device="cpu", output_dir=tmp_path / "me", epochs=1, max_folds=4, progress=False)
    result.finish()
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
    # test-time augmentation: each fold's honest model on its own subject, the flow views pooled like the predictions
    (tta,) = json.loads((tmp_path / "me" / TTA_FILE).read_text())
    assert tta["role"] == "test" and tta["split"] == honest["split"] and tta["n_folds"] == 4 and tta["n_views"] == 10
    assert tta["single_view"] == {key: honest[key] for key in ("n", "accuracy", "macro_f1", "uar")}
    assert tta["tta"]["n"] == honest["n"]


def test_megc2019_apex_flow_sequences_for_sequence_models(fer_data):
    flow = create_dataset("megc2019", fer_data, "all")
    sequences = create_dataset("megc2019", fer_data, "all", modality="apex_flow", image_size=28)
    assert sequences.images.shape == (442, 2, 28, 28, 3) and (sequences.labels == flow.labels).all()
    np.testing.assert_array_equal(sequences.images[:, 1], flow.images)  # frame 2 is the flow map itself at its native 28 px
    with pytest.raises(ValueError, match="modality"):
        create_dataset("megc2019", fer_data, "all", modality="onset")
