"""Fine-tuning from our own run: the trunk is copied, the classifier row by row for the classes both datasets name,
a source that does not fit is refused before a run starts, the run records its source, goes stale when the source
changes, and the report keeps it apart from the same model trained from scratch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from fer_lib.data.labels import CKPLUS_CLASSES, FER2013_CLASSES
from fer_lib.errors import ConfigError
from fer_lib.experiment import run_experiment
from fer_lib.fine_tune import classifier_name, initialise_from, load_source, source_path
from fer_lib.model_file import LOCAL_MODEL_FILE, MODEL_FILE, save_model
from fer_lib.models import create_model
from fer_lib.profiles import explain_recipe
from fer_lib.report import build_report
from fer_lib.runs import inspect_run, run_name
from fer_lib.study import study_jobs

from .test_model_file import SMALL, small_info, small_model
from .test_report import _kfold_records, _write_run

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def source_file(tmp_path: Path) -> Path:
    """A FER2013 model file of a small resnet18_fer, in a run folder named as its metadata says."""
    info = small_info()
    folder = tmp_path / "runs" / info.run
    folder.mkdir(parents=True)
    return save_model(folder / MODEL_FILE, small_model(), info)


def test_trunk_is_copied_and_classifier_rows_follow_the_class_names(source_file):
    source = load_source(str(source_file), "resnet18_fer", "smoke", 0)
    torch.manual_seed(1)
    target = create_model("resnet18_fer", len(CKPLUS_CLASSES), 1, 48, **SMALL)
    head = classifier_name(target, len(CKPLUS_CLASSES))
    fresh = target.state_dict()[f"{head}.weight"].clone()

    carried = initialise_from(target, source, CKPLUS_CLASSES)

    state = target.state_dict()
    assert carried["classes_new"] == ["contempt"] and set(carried["classes_copied"]) == set(CKPLUS_CLASSES) - {"contempt"}
    assert carried["tensors"] == len(state) - 2
    for key, value in state.items():
        if not key.startswith(f"{head}."):
            assert torch.equal(value, source.state[key]), key
    for row, name in enumerate(CKPLUS_CLASSES):  # CK+ orders its classes differently from FER2013
        expected = fresh[row] if name == "contempt" else source.state[f"{head}.weight"][FER2013_CLASSES.index(name)]
        assert torch.equal(state[f"{head}.weight"][row], expected), name


def test_a_source_of_another_shape_or_model_is_refused_naming_the_file(source_file):
    source = load_source(str(source_file), "resnet18_fer", "smoke", 0)
    wider = create_model("resnet18_fer", 7, 1, 48, widths=[16, 32, 64, 128])
    with pytest.raises(ConfigError, match=r"does not fit this resnet18_fer .*model_kwargs"):
        initialise_from(wider, source, CKPLUS_CLASSES)
    with pytest.raises(ConfigError, match=r"holds a resnet18_fer model, not dcn_cbam"):
        load_source(str(source_file), "dcn_cbam", "smoke", 0)


def test_a_missing_source_says_which_run_to_train(tmp_path):
    assert source_path("fer2013", "dcn_cbam", "cpu", 1, tmp_path) == tmp_path / "dcn_cbam__fer2013__cpu__s1" / MODEL_FILE
    (tmp_path / "run").mkdir()
    assert source_path(str(tmp_path / "run"), "dcn_cbam", "cpu", 1) == tmp_path / "run" / MODEL_FILE
    with pytest.raises(ConfigError, match=r'no model file .*dcn_cbam__fer2013__cpu__s1/model.pt.*study --profile cpu --only "dcn_cbam fer2013";'):
        load_source("fer2013", "dcn_cbam", "cpu", 1, tmp_path)
    (tmp_path / "dcn_cbam__fer2013__cpu__s1").mkdir()  # its results, without the model file: the study must retrain it
    with pytest.raises(ConfigError, match=r'study --profile cpu --only "dcn_cbam fer2013" --force'):
        load_source("fer2013", "dcn_cbam", "cpu", 1, tmp_path)
    with pytest.raises(ConfigError, match=r"no model file .*run/model.pt; pass the path of an existing model.pt"):
        load_source(str(tmp_path / "run"), "dcn_cbam", "cpu", 1)


def test_a_source_too_large_to_commit_is_found_where_its_run_left_it(tmp_path):
    run = tmp_path / "irnet__fer2013__cpu__s0"
    (run / "checkpoints").mkdir(parents=True)
    (run / LOCAL_MODEL_FILE).write_bytes(b"")
    assert source_path("fer2013", "irnet", "cpu", 0, tmp_path) == run / LOCAL_MODEL_FILE
    assert source_path(str(run), "irnet", "cpu", 0) == run / LOCAL_MODEL_FILE
    (run / MODEL_FILE).write_bytes(b"")  # a committed model file comes first
    assert source_path("fer2013", "irnet", "cpu", 0, tmp_path) == run / MODEL_FILE


def test_a_fine_tuned_run_has_its_own_name_recipe_layer_and_study_step():
    assert run_name("dcn_cbam", "ckplus", "cpu", 0, "fer2013") == "dcn_cbam__ckplus__cpu__s0__from-fer2013"
    assert run_name("dcn_cbam", "ckplus", "cpu", 0, "/tmp/x/model.pt").endswith("__s0__from-file")
    sources = {key: source for key, _, source in explain_recipe("cpu", "dcn_cbam", "ckplus", {"init_from": "fer2013"})}
    assert sources["lr"] == sources["epochs"] == "fine-tuning (cpu)" and sources["init_from"] == "overrides"
    scratch = {key: source for key, _, source in explain_recipe("cpu", "dcn_cbam", "ckplus")}
    assert scratch["lr"] != "fine-tuning (cpu)"
    jobs = study_jobs("cpu")
    fine_tuned = [job for job in jobs if job.label == "04_dcn_cbam dcn_cbam ckplus from fer2013"]
    sources = [job for job in jobs if job.label == "04_dcn_cbam dcn_cbam fer2013"]
    assert min(job.index for job in fine_tuned) > max(job.index for job in sources)  # after its source runs
    # each seed starts from the FER2013 run of its own seed
    assert [job.output_dir(Path("results")).name for job in fine_tuned] == ["dcn_cbam__ckplus__cpu__s0__from-fer2013", "dcn_cbam__ckplus__cpu__s1__from-fer2013"]
    assert [source_path("fer2013", "dcn_cbam", "cpu", job.seed).parent.name for job in fine_tuned] == ["dcn_cbam__fer2013__cpu__s0", "dcn_cbam__fer2013__cpu__s1"]


def test_a_fine_tuned_ckplus_run_records_its_source_and_goes_stale_when_it_changes(fer_data, tmp_path):
    tiny = {"epochs": 1, "batch_size": 16, "train_limit": 64, "eval_limit": 32, "model_kwargs": SMALL, "progress": False}
    runs = tmp_path / "runs"
    source_run = run_experiment("resnet18_fer", "fer2013", "smoke", seed=0, device="cpu", output_dir=runs / run_name("resnet18_fer", "fer2013", "smoke", 0), **tiny).finish()
    target = runs / run_name("resnet18_fer", "ckplus", "smoke", 0, "file")
    run_experiment("resnet18_fer", "ckplus", "smoke", seed=0, device="cpu", output_dir=target, init_from=str(source_run / MODEL_FILE), **tiny).finish()

    config = json.loads((target / "config.json").read_text())
    records = json.loads((target / "metrics.json").read_text())
    start = config["init_from"]
    assert start["run"] == source_run.name and start["dataset"] == "fer2013" and len(start["sha256"]) == 64
    assert config["pretrained"] is False and config["recipe"]["init_from"] == str(source_run / MODEL_FILE)
    assert all(r["init_from"] == start for r in records)
    assert inspect_run(target).status == "complete"

    shutil.copy(source_run / MODEL_FILE, tmp_path / "kept.pt")
    state = torch.load(source_run / MODEL_FILE, weights_only=True)
    state["state_dict"]["fc.bias"] += 1
    torch.save(state, source_run / MODEL_FILE)
    stale = inspect_run(target)
    assert stale.status == "stale" and f"{source_run.name}/{MODEL_FILE} changed" in stale.detail

    # a source too large to commit: its local model file is checked where this machine has it, else its honest record
    (source_run / MODEL_FILE).unlink()
    (source_run / "checkpoints").mkdir(exist_ok=True)
    shutil.copy(tmp_path / "kept.pt", source_run / LOCAL_MODEL_FILE)
    assert inspect_run(target).status == "complete"
    (source_run / LOCAL_MODEL_FILE).unlink()
    assert inspect_run(target).status == "complete"
    source_records = json.loads((source_run / "metrics.json").read_text())
    (source_run / "metrics.json").write_text(json.dumps([r | {"accuracy": r["accuracy"] + 0.01} for r in source_records]))
    stale = inspect_run(target)
    assert stale.status == "stale" and f"its source run {source_run.name} was re-made" in stale.detail


def test_a_source_that_does_not_fit_stops_the_run_before_it_writes(fer_data, source_file, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="does not fit"):
        run_experiment("resnet18_fer", "ckplus", "smoke", device="cpu", output_dir=out, init_from=str(source_file), model_kwargs={"widths": [16, 32, 64, 128]})
    assert not out.exists() and not (tmp_path / ".partial").exists()


def test_the_report_keeps_fine_tuned_runs_apart_and_names_their_source(tmp_path, fer_data):
    results = tmp_path / "results"
    _write_run(results, "dcn_cbam", "ckplus", 0, _kfold_records("dcn_cbam", 0, 0.71))
    start = {"run": "dcn_cbam__fer2013__smoke__s0", "dataset": "fer2013", "epoch": 3, "sha256": "0" * 64}
    tuned = _write_run(results, "dcn_cbam", "ckplus", 1, [r | {"init_from": start} for r in _kfold_records("dcn_cbam", 1, 0.93)])
    tuned.rename(tuned.with_name(run_name("dcn_cbam", "ckplus", "smoke", 1, "fer2013")))

    report = build_report(results, tmp_path / "report.md", tmp_path / "report.html", data_root=fer_data)

    markdown = (tmp_path / "report.md").read_text()
    seeds = markdown.split("## Seeds")[1].split("\n## ")[0]
    assert "`dcn_cbam ← fer2013`" in seeds and "93.00 (n=1)" in seeds
    assert "| `dcn_cbam` | `ckplus`" in seeds and "71.00 (n=1)" in seeds  # the from-scratch seed is its own row
    assert "fine-tuned from our `dcn_cbam__fer2013__smoke__s0`" in markdown
    assert report is not None
