"""The study: exact step selection, failures recorded and re-run, complete runs skipped, byte-identical data outputs,
notebooks that refuse unknown parameters. Fixture notebooks are written here; the real ones are checked by name."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

import fer_lib
from fer_lib import study
from fer_lib.__main__ import main
from fer_lib.errors import ConfigError
from fer_lib.runs import FAILURE_FILE, inspect_run
from fer_lib.profiles import resolve_recipe
from fer_lib.study import STEPS, Step, recipe_deviations, run_step, run_study, select_jobs, study_jobs

TINY = {"epochs": 1, "batch_size": 16, "train_limit": 64, "eval_limit": 32, "model_kwargs": {"widths": (8, 16, 32, 64)}, "progress": False}
CHECK = "from fer_lib.notebook_params import check_parameters\ncheck_parameters(In)"


def _notebook(path: Path, parameters: str, *cells: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}), *(nbformat.v4.new_code_cell(c) for c in cells)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    """A data notebook (a JSON file, a figure), a run notebook (fails while FX_FAIL is set) and a report notebook."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(
        folder / "fx_data.ipynb",
        'output_dir = ""',
        CHECK,
        "import matplotlib.pyplot as plt\nfrom pathlib import Path\nfrom fer_lib.runs import write_json\n"
        "plt.plot([0, 1, 2], [2, 0, 1])\nplt.show()\n"
        'Path(output_dir).mkdir(parents=True, exist_ok=True)\nwrite_json(Path(output_dir, "data.json"), {"b": 1, "a": [0.5]})\nprint("written")',
    )
    _notebook(
        folder / "fx_run.ipynb",
        'model = ""\ndataset = ""\nprofile = "smoke"\nseed = 0\noutput_dir = ""\nforce = False',
        CHECK,
        'import os\nif os.environ.get("FX_FAIL"):\n    raise RuntimeError("planned failure")',
        f"from fer_lib.experiment import run_experiment\nresult = run_experiment(model, dataset, profile, seed, 'cpu', None, output_dir, force=force, **{TINY!r})",
        "result.finish()",
    )
    _notebook(folder / "fx_report.ipynb", 'results_dir = ""\nout_dir = ""', CHECK, "import os\nassert os.path.isdir(results_dir) and out_dir")
    return folder


FIXTURE_STEPS = (run_step("fx_run", "resnet18_fer", "fer2013"), Step("fx_data"), Step("fx_report", kind="report"))


def test_only_matches_exactly_and_no_match_lists_the_labels():
    jobs = study_jobs("cpu")
    assert {job.step.parameters["model"] for job in select_jobs(jobs, "irnet")} == {"irnet"}  # not resnet50_fer of 03_irnet
    assert [job.label for job in select_jobs(jobs, "04_dcn_cbam dcn_cbam ckplus")] == ["04_dcn_cbam dcn_cbam ckplus"] * 2  # seeds 0 and 1
    assert len(select_jobs(jobs, "03_irnet")) == 12  # irnet and resnet50_fer: FER2013, CK+ from scratch and CK+ fine-tuned, two seeds each
    assert len(select_jobs(jobs, "ckplus")) == 24  # six image models, from scratch and fine-tuned, two seeds each
    assert [(job.label, job.seed) for job in select_jobs(jobs, "dcn_cbam ckplus")] == [
        ("04_dcn_cbam dcn_cbam ckplus", 0), ("04_dcn_cbam dcn_cbam ckplus", 1),
        ("04_dcn_cbam dcn_cbam ckplus from fer2013", 0), ("04_dcn_cbam dcn_cbam ckplus from fer2013", 1),
    ]  # fmt: skip
    assert [job.seed for job in select_jobs(jobs, "03_irnet irnet ckplus from fer2013")] == [0, 1]
    assert [job.seed for job in select_jobs(jobs, "03_irnet resnet50_fer ckplus from fer2013")] == [0, 1]
    assert [(job.label, job.seed) for job in select_jobs(jobs, "irnet fer2013")] == [("03_irnet irnet fer2013", 0), ("03_irnet irnet fer2013", 1)]
    with pytest.raises(ConfigError, match="matches no step.*03_irnet irnet fer2013"):
        select_jobs(jobs, "irnet fer")
    assert select_jobs(jobs, step=3)[0].index == 3
    with pytest.raises(ConfigError, match="out of range"):
        select_jobs(jobs, step=len(jobs) + 1)


def test_jobs_expand_each_steps_seeds_per_profile_and_the_report_comes_last():
    steps = (run_step("nb", "m", "d", {"cpu": (0, 3)}), run_step("nb", "n", "d"), Step("rep", kind="report"))
    jobs = study_jobs("cpu", steps)
    assert [(j.step.parameters.get("model"), j.seed, j.index) for j in jobs] == [("m", 0, 1), ("m", 3, 2), ("n", 0, 3), (None, 0, 4)]
    assert jobs[1].output_dir(Path("results")) == Path("results/runs/m__d__cpu__s3")
    assert [j.seed for j in study_jobs("paper", steps)] == [0, 0, 0]  # a profile the step does not list trains seed 0
    last = study_jobs("cpu")[-1]
    assert last.step.kind == "report" and last.output_dir(Path("results")) == Path("results")


def test_only_overrides_that_change_the_studys_recipe_are_deviations():
    fine_tuning = resolve_recipe("cpu", "dcn_cbam", "ckplus", {"init_from": "fer2013"})
    from_scratch = resolve_recipe("cpu", "dcn_cbam", "ckplus")
    assert fine_tuning["epochs"] != from_scratch["epochs"]  # what the second case below relies on
    config = {"profile": "cpu", "model": "dcn_cbam", "dataset": "ckplus"}
    other_lr = fine_tuning["lr"] + from_scratch["lr"]  # neither recipe's
    # the step's own parameter and a value the recipe already holds are the study's; another value is not
    recorded = {"init_from": "fer2013", "epochs": fine_tuning["epochs"], "lr": other_lr}
    assert recipe_deviations(config | {"overrides": recorded}, {"init_from": "fer2013"}) == {"lr": other_lr}
    # a step without init_from resolves no fine-tuning layer: its epochs are then another recipe's too
    assert recipe_deviations(config | {"overrides": recorded}, {}) == recorded
    assert recipe_deviations(config, {}) == {}


def test_cli_only_nosuch_and_missing_data_root_exit_2(capsys, monkeypatch):
    assert main(["study", "--list", "--only", "nosuch"]) == 2
    assert "matches no step" in capsys.readouterr().err
    monkeypatch.delenv("FER_DATA", raising=False)
    assert main(["study", "--only", "01_datasets"]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line


def test_study_finds_the_repository_notebooks_from_another_cwd(fer_data, tmp_path, monkeypatch):
    """From any folder: the repository's notebooks, every parameter the study passes declared by the notebook."""
    executed = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(study, "execute_job", lambda job, results, force, notebooks, env: executed.append((job, notebooks)) or "")
    assert all((study.NOTEBOOKS / f"{s.notebook}.ipynb").exists() for s in STEPS)
    outcome = run_study("elsewhere", "smoke", steps=STEPS)
    assert study.NOTEBOOKS == Path(fer_lib.__file__).resolve().parents[1] / "notebooks"
    assert len(executed) == len(outcome.ran) == len(study_jobs("smoke", STEPS)) and {n for _, n in executed} == {study.NOTEBOOKS}
    assert outcome.ran[0] == tmp_path / "elsewhere" / "01_datasets"


def test_failed_step_is_recorded_the_study_goes_on_and_reruns_it(fer_data, notebooks, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(study, "STEPS", FIXTURE_STEPS)
    monkeypatch.setattr(study, "NOTEBOOKS", notebooks)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FX_FAIL", "1")
    assert main(["study", "--profile", "smoke", "--results", "res"]) == 1
    out = tmp_path / "res" / "runs" / "resnet18_fer__fer2013__smoke__s0"
    assert "FAILED fx_run resnet18_fer fer2013: RuntimeError: planned failure" in capsys.readouterr().out
    failure = json.loads((out / FAILURE_FILE).read_text())
    assert failure == {"error": "RuntimeError: planned failure", "notebook": "fx_run.failed.ipynb", "step": "fx_run resnet18_fer fer2013"}
    assert "planned failure" in (out / "fx_run.failed.ipynb").read_text() and inspect_run(out).status == "failed"
    assert (tmp_path / "res" / "fx_data" / "data.json").exists() and (tmp_path / "res" / "fx_report.ipynb").exists()  # went on

    monkeypatch.delenv("FX_FAIL")
    outcome = run_study("res", "smoke", only="fx_run")
    assert outcome.ran == [out] and not outcome.failed
    assert inspect_run(out).status == "complete" and sorted(p.name for p in out.glob("*.ipynb")) == ["fx_run.ipynb"]
    assert not (out / FAILURE_FILE).exists() and not any(p.name.startswith(".") for p in out.parent.iterdir())
    assert run_study("res", "smoke", only="fx_run").skipped == [out]
    assert os.environ["FER_DATA"] == str(fer_data)  # kernels got it relative to their folder; this process keeps its own


def test_data_notebook_reruns_are_byte_identical(fer_data, notebooks, tmp_path):
    first, second = ({} for _ in range(2))
    for snapshot in (first, second):
        assert not run_study(tmp_path / "res", "smoke", only="fx_data", steps=FIXTURE_STEPS, notebooks=notebooks).failed
        snapshot |= {p.name: p.read_bytes() for p in (tmp_path / "res" / "fx_data").iterdir()}
    assert sorted(first) == ["data.json", "fx_data.ipynb"] and first == second
    executed = json.loads(first["fx_data.ipynb"])
    recorded = executed["metadata"]["papermill"]
    assert not recorded["input_path"].startswith("/") and recorded["input_path"].endswith("notebooks/fx_data.ipynb") and "start_time" not in recorded
    assert executed["cells"][1]["source"] == ["# Parameters\n", 'output_dir = "../res/fx_data"\n']
    assert any("image/png" in o.get("data", {}) for cell in executed["cells"] for o in cell.get("outputs", []))


def test_unknown_notebook_parameter_is_refused(fer_data, tmp_path):
    with pytest.raises(PapermillExecutionError) as error:
        papermill.execute_notebook(
            study.NOTEBOOKS / "04_dcn_cbam.ipynb", tmp_path / "out.ipynb", parameters={"epoch": 4}, cwd=study.NOTEBOOKS, progress_bar=False
        )
    assert error.value.ename == "ConfigError" and "['epoch']" in error.value.evalue and "'epochs'" in error.value.evalue


def test_progress_bars_render_as_widgets_in_notebooks(tmp_path):
    _notebook(tmp_path / "bar.ipynb", "n = 3", "from tqdm.auto import tqdm\nfor _ in tqdm(range(n), desc='steps'):\n    pass")
    papermill.execute_notebook(tmp_path / "bar.ipynb", tmp_path / "out.ipynb", progress_bar=False)
    outputs = [o for cell in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells for o in cell.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert not any("TqdmWarning" in o.get("text", "") for o in outputs)


def test_saved_executed_notebook_drops_progress_widgets(tmp_path):
    """The bars render live (above), but the copy the study keeps holds no widget state: a 68-fold run would carry
    megabytes of it, and its random model ids would make every re-run differ."""
    _notebook(tmp_path / "bar.ipynb", "n = 3", "from tqdm.auto import tqdm\nfor _ in tqdm(range(n), desc='steps'):\n    pass\nprint('done')")
    papermill.execute_notebook(tmp_path / "bar.ipynb", tmp_path / "out.ipynb", progress_bar=False)
    study.save_executed_notebook(tmp_path / "out.ipynb", tmp_path / "saved.ipynb", tmp_path / "bar.ipynb")
    saved = nbformat.read(tmp_path / "saved.ipynb", as_version=4)
    outputs = [o for cell in saved.cells for o in cell.get("outputs", [])]
    assert "widgets" not in saved.metadata and not any(study.WIDGET_VIEW in o.get("data", {}) for o in outputs)
    assert any("done" in o.get("text", "") for o in outputs)
