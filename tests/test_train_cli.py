"""``python -m fer_lib train``: one run folder from the command line, on one process and under torchrun (2 CPU
processes, gloo) on real FER2013 rows, where rank 0 alone writes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from fer_lib.__main__ import main
from fer_lib.runs import REQUIRED_KEYS, RunFolder, inspect_run, run_name

REPO = Path(__file__).resolve().parent.parent
# A tiny ResNet, one epoch on 64 training and 32 validation / test images: seconds, the whole pipeline still runs.
TINY = ["--set", 'model_kwargs={"widths":[8,16,32,64]}', "--set", "train_limit=64", "--set", "eval_limit=32", "--set", "epochs=1"]
TINY += ["--set", "batch_size=16", "--set", "progress=false"]
ARGS = ["train", "--model", "resnet18_fer", "--dataset", "fer2013", "--profile", "smoke", "--seed", "1", "--device", "cpu", *TINY]


def test_train_writes_a_complete_run_where_the_study_would(fer_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(ARGS) == 0
    run = Path("results", "runs", run_name("resnet18_fer", "fer2013", "smoke", 1))
    state = inspect_run(run)
    assert state.status == "complete", state.detail
    for name in ("config.json", "env.json", "history.csv", "predictions.csv", "figures/history.png", "figures/confusion_honest.png", "model.pt"):
        assert (run / name).exists(), name
    assert state.config["overrides"]["model_kwargs"] == {"widths": [8, 16, 32, 64]} and state.config["recipe"]["train_limit"] == 64
    assert json.loads((run / "env.json").read_text())["world_size"] == 1

    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Wrote {run}"
    for line, record in zip(out[1:], state.records, strict=True):  # one line per protocol, with its own numbers
        assert line.startswith(f"{record['protocol']}: accuracy {record['accuracy']:.4f}, macro-F1 {record['macro_f1']:.4f}")
        assert f"(n={record['n']})" in line

    before = (run / "metrics.json").read_bytes()
    assert main(ARGS) == 2  # a complete run is kept unless --force
    assert "holds a finished run of this recipe" in capsys.readouterr().err and (run / "metrics.json").read_bytes() == before


@pytest.mark.parametrize(
    "setting, message",
    [
        ("epochz=3", "'epochz'"),
        ("seed=3", "--set seed: seed is not a recipe key"),
        ("epochs", "expected KEY=VALUE"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(tmp_path, capsys, setting, message):
    assert main([*ARGS, "--output", str(tmp_path / "run"), "--set", setting]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m fer_lib: error: ") and err.count("\n") == 1 and message in err, err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("rank, writes", [("0", True), ("1", False)])
def test_only_rank_0_writes_the_run_folder(tmp_path, monkeypatch, rank, writes):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", rank)
    folder = RunFolder(tmp_path / "run")
    figure = plt.figure()
    folder.write_json("config.json", {"model": "m"})
    folder.write_csv("history.csv", pd.DataFrame({"epoch": [1]}))
    folder.save_figure("history", figure)
    plt.close(figure)
    assert folder.finish([{key: 0 for key in REQUIRED_KEYS} | {"protocol": "honest"}]) == tmp_path / "run"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == (["run/config.json", "run/figures/history.png", "run/history.csv", "run/metrics.json"] if writes else [])


def test_torchrun_two_processes_write_one_run(fer_data, tmp_path):
    run = tmp_path / "runs" / "tiny"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "fer_lib"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    # each rank imports and loads FER2013 itself: about a minute on a busy 2-core machine, so more margin than test_ddp's
    done = subprocess.run([*launcher, *ARGS, "--output", str(run)], capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    assert [p.name for p in run.parent.iterdir()] == ["tiny"]  # no staging or replaced folder left beside it
    state = inspect_run(run)
    assert state.status == "complete", state.detail
    assert json.loads((run / "env.json").read_text())["world_size"] == 2
    assert done.stdout.count("Wrote ") == 1 and done.stdout.count("honest: accuracy") == 1  # rank 0 alone prints
