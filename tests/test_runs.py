"""Run folders: the status the report trusts (complete / stale / failed / incomplete), staging and notebook parameters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from fer_lib.errors import ConfigError  # noqa: E402
from fer_lib.notebook_params import check_parameters  # noqa: E402
from fer_lib.runs import (  # noqa: E402
    FAILURE_FILE,
    METRICS_FILE,
    PROBES_DIR,
    RunFolder,
    current_recipe,
    git_sha,
    inspect_run,
    recipe_differences,
    recipe_hash,
    recorded_recipe,
    save_figure,
    scan_runs,
    write_failure,
)

RESULTS = Path(__file__).resolve().parents[1] / "results"
COMMITTED = RESULTS / "runs" / "resnet18_dcn__fer2013__cpu__s0"


@pytest.fixture
def legacy_run(tmp_path: Path) -> Path:
    """A copy of a committed run's config and metrics (the files the status reads), as written before config.json
    recorded ``recipe_hash``: the status then compares the recorded recipe with the current one setting by setting."""
    run = tmp_path / "runs" / COMMITTED.name
    run.mkdir(parents=True)
    shutil.copy(COMMITTED / METRICS_FILE, run / METRICS_FILE)
    config = json.loads((COMMITTED / "config.json").read_text())
    config.pop("recipe_hash", None)
    (run / "config.json").write_text(json.dumps(config))
    return run


def _edit_config(run: Path, change) -> None:
    config = json.loads((run / "config.json").read_text())
    change(config)
    (run / "config.json").write_text(json.dumps(config))


def test_committed_runs_and_probes_are_complete():
    states = scan_runs(RESULTS) + scan_runs(RESULTS, PROBES_DIR)
    assert any(s.path.parent.name == PROBES_DIR for s in states)
    assert states and all(s.status == "complete" for s in states), [(s.name, s.status, s.detail) for s in states if s.status != "complete"]
    assert all(s.records and s.config and s.detail == "" for s in states)


def test_changed_recipe_is_stale_and_names_the_setting(legacy_run):
    current_epochs = current_recipe("cpu", "resnet18_dcn", "fer2013")["epochs"]
    _edit_config(legacy_run, lambda c: c["recipe"].update(epochs=current_epochs + 10))
    state = inspect_run(legacy_run)
    assert state.status == "stale" and state.detail == f"recipe differs: epochs {current_epochs + 10} -> {current_epochs}"
    assert state.records is not None and state.records[0]["model"] == "resnet18_dcn"


def test_changed_train_default_is_stale_but_resolved_precision_is_not(legacy_run):
    _edit_config(legacy_run, lambda c: c["train_config"].update(amp="none"))  # this machine resolved "auto" to fp32
    assert inspect_run(legacy_run).status == "complete"
    _edit_config(legacy_run, lambda c: c["train_config"].update(label_smoothing=0.2))
    state = inspect_run(legacy_run)
    assert state.status == "stale" and "label_smoothing 0.2 -> 0.1" in state.detail


def test_a_setting_added_later_counts_only_away_from_its_earlier_behaviour(legacy_run):
    def as_new_run(config, class_weights):
        config["train_config"]["class_weights"] = class_weights
        config["recipe_hash"] = recipe_hash(recorded_recipe(config))

    # recorded before class_weights existed (its recipe hashed without the key), or after with the value that does what
    # the code did before: both still complete
    def before_class_weights(config):
        config["recipe_hash"] = recipe_hash({k: v for k, v in recorded_recipe(config).items() if k != "class_weights"})

    _edit_config(legacy_run, before_class_weights)
    assert inspect_run(legacy_run).status == "complete"
    _edit_config(legacy_run, lambda c: as_new_run(c, None))
    assert inspect_run(legacy_run).status == "complete"
    _edit_config(legacy_run, lambda c: as_new_run(c, "balanced"))
    state = inspect_run(legacy_run)
    assert state.status == "stale" and state.detail == 'recipe differs: class_weights "balanced" -> null'


def test_recipe_hash_decides_for_new_runs_with_their_overrides(legacy_run):
    def as_new_run(config):
        config["overrides"] = {"epochs": 4}
        config["recipe"]["epochs"] = config["train_config"]["epochs"] = 4
        config["recipe_hash"] = recipe_hash(current_recipe("cpu", "resnet18_dcn", "fer2013", {"epochs": 4}))

    _edit_config(legacy_run, as_new_run)
    assert inspect_run(legacy_run).status == "complete"  # the override is part of what the run asked for
    _edit_config(legacy_run, lambda c: c.update(recipe_hash="0" * 16))
    assert inspect_run(legacy_run).status == "stale"


def test_failure_wins_until_a_newer_metrics_file(legacy_run):
    write_failure(legacy_run, "ValueError: boom", "04_dcn_cbam.failed.ipynb", "04_dcn_cbam resnet18_dcn fer2013")
    state = inspect_run(legacy_run)
    assert state.status == "failed" and state.detail == "ValueError: boom" and state.records is None
    later = (legacy_run / FAILURE_FILE).stat().st_mtime_ns + 10**9
    os.utime(legacy_run / METRICS_FILE, ns=(later, later))
    assert inspect_run(legacy_run).status == "complete"


@pytest.mark.parametrize(
    "metrics, detail",
    [(None, "no metrics.json"), ('[{"model": "dcn', "does not parse"), ('[{"model": "dcn_cbam"}]', "lacks"), ("[]", "non-empty list")],
)
def test_unfinished_or_half_written_metrics_are_incomplete(legacy_run, metrics, detail):
    (legacy_run / METRICS_FILE).unlink()
    if metrics is not None:
        (legacy_run / METRICS_FILE).write_text(metrics)
    state = inspect_run(legacy_run)
    assert state.status == "incomplete" and detail in state.detail and state.records is None


def test_scan_runs_sorts_and_ignores_staging(tmp_path, legacy_run):
    (tmp_path / "runs" / "a_run").mkdir()
    (tmp_path / "runs" / ".partial" / "b_run").mkdir(parents=True)
    assert [s.name for s in scan_runs(tmp_path)] == ["a_run", COMMITTED.name]
    assert inspect_run(tmp_path / "runs" / "a_run").status == "incomplete"
    assert scan_runs(tmp_path / "nothing") == []


def test_recipe_hash_is_canonical():
    assert recipe_hash({"a": 1, "b": (1, 2)}) == recipe_hash({"b": [1, 2], "a": 1}) != recipe_hash({"a": 2, "b": [1, 2]})
    assert len(recipe_hash({})) == 16


def test_run_folder_replaces_the_final_folder_only_at_finish(tmp_path, legacy_run):
    before = {p.name: p.read_bytes() for p in legacy_run.iterdir()}
    folder = RunFolder(legacy_run)
    folder.write_json("config.json", {"new": True})
    assert {p.name: p.read_bytes() for p in legacy_run.iterdir()} == before  # staged beside it, not in it
    with pytest.raises(ValueError, match="lacks"):
        folder.finish([{"protocol": "honest", "accuracy": 0.5}])
    assert {p.name: p.read_bytes() for p in legacy_run.iterdir()} == before
    records = json.loads((COMMITTED / METRICS_FILE).read_text())
    assert folder.finish(records) == legacy_run
    assert sorted(p.name for p in legacy_run.iterdir()) == ["config.json", METRICS_FILE]
    assert json.loads((legacy_run / "config.json").read_text()) == {"new": True}
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [COMMITTED.name]  # no staging or replaced folder left
    with pytest.raises(RuntimeError, match="before finish"):
        folder.write_json("late.json", {})


def test_figures_are_byte_identical(tmp_path):
    figure, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(tmp_path / "a.png", figure)
    save_figure(tmp_path / "b.png", figure)
    plt.close(figure)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert b"Software" not in (tmp_path / "a.png").read_bytes()


def test_notebook_parameters_are_checked_against_the_parameters_cell():
    declared = 'model = "irnet"\nepochs: int | None = None  # the profile\'s\n'
    check_parameters(["", declared, "check_parameters(In)"])  # no papermill: nothing injected
    check_parameters(["", declared, '# Parameters\nepochs = 4\n', "check_parameters(In)"])
    with pytest.raises(ConfigError, match=r"\['epoch'\].*\['model', 'epochs'\]"):
        check_parameters(["", declared, '# Parameters\nepoch = 4\nmodel = "irnet"\n', "check_parameters(In)"])


def test_git_sha_marks_changed_code_but_not_rewritten_results(tmp_path):
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "lib").mkdir()
    (tmp_path / "results" / "runs").mkdir(parents=True)
    (tmp_path / "lib" / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "runs" / "metrics.json").write_text("[]\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()

    (tmp_path / "results" / "runs" / "metrics.json").write_text("[{}]\n")  # a re-made run, as the study writes it
    assert git_sha(tmp_path / "lib") == sha
    (tmp_path / "lib" / "code.py").write_text("x = 2\n")
    assert git_sha(tmp_path / "lib") == sha + "-dirty"


def test_recipe_differences_show_an_added_setting_a_recipe_leaves_out_at_its_default() -> None:
    before = {"epochs": 20, "lr": 0.001}  # recorded before mixup_alpha and class_weights existed
    assert recipe_differences(before, before | {"mixup_alpha": 0.0, "class_weights": None}) == ""
    assert recipe_differences(before, before | {"mixup_alpha": 0.2, "epochs": 40}) == "epochs 20 -> 40, mixup_alpha 0.0 -> 0.2"
    assert recipe_differences(before | {"class_weights": "balanced"}, before) == 'class_weights "balanced" -> null'
