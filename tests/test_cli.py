"""The command line: a configuration error is one line on stderr and exit code 2; anything else keeps its traceback."""

from __future__ import annotations

import json
import re

import pytest

import fer_lib.__main__ as cli
import fer_lib.dry_run
from fer_lib.__main__ import main
from fer_lib.profiles import PROFILES

from .test_data_errors import fer2013_folders


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """stderr of the command that just ran, asserted to be a single ``python -m fer_lib: error: ...`` line."""
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("python -m fer_lib: error: ")
    return err


def test_missing_data_root(capsys):
    assert main(["datasets", "--root", "/nonexistent/fer-data"]) == 2
    assert "/nonexistent/fer-data does not exist" in one_line_error(capsys)


def test_no_fer_data(capsys, monkeypatch):
    monkeypatch.delenv("FER_DATA", raising=False)
    assert main(["datasets"]) == 2
    assert "set the FER_DATA environment variable" in one_line_error(capsys)


def test_a_root_without_any_dataset(tmp_path, capsys):
    assert main(["datasets", "--root", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "fer2013    not found" in out and "kaggle" in out  # the table says what each dataset needs and where to get it
    assert main(["datasets", "--root", str(tmp_path), "--json"]) == 2
    assert f"No dataset found under {tmp_path}" in one_line_error(capsys)


def test_a_root_with_some_datasets_is_fine(tmp_path, capsys):
    fer2013_folders(tmp_path)
    assert main(["datasets", "--root", str(tmp_path)]) == 0
    assert "fer2013    train  n=14" in capsys.readouterr().out


def test_a_found_dataset_that_fails_to_load(tmp_path, capsys):
    folder = fer2013_folders(tmp_path)
    (folder / "test" / "sad" / "PublicTest_77.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    assert main(["datasets", "--root", str(tmp_path)]) == 1
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("fer2013")]
    assert line.startswith(f"fer2013    found at {folder} but failed to load: Cannot decode image {folder}/test/sad/PublicTest_77.jpg")


def test_fer_cache_that_is_a_file(tmp_path, capsys, monkeypatch):
    fer2013_folders(tmp_path)
    (tmp_path / "cache_file").write_text("")
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache_file"))
    assert main(["datasets", "--root", str(tmp_path)]) == 2
    assert "set FER_CACHE to a writable folder" in one_line_error(capsys)


def test_a_damaged_cache_entry_does_not_stop_the_command(tmp_path, capsys, caplog):
    fer2013_folders(tmp_path)
    assert main(["datasets", "--root", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    (entry,) = (tmp_path / "cache").glob("fer2013-*.npz")
    entry.write_bytes(entry.read_bytes()[:1000])
    assert main(["datasets", "--root", str(tmp_path)]) == 0
    assert capsys.readouterr().out == table
    assert any(str(entry) in r.getMessage() for r in caplog.records)


def test_missing_dataset_of_a_command(tmp_path, capsys):
    assert main(["dry-run", "--only", "ststnet", "--root", str(tmp_path)]) == 2
    assert "not found under" in one_line_error(capsys)


def test_a_damaged_dataset_file_stops_a_command(tmp_path, capsys):
    folder = fer2013_folders(tmp_path)
    (folder / "train" / "sad" / "Training_40.jpg").write_bytes(b"")
    assert main(["dry-run", "--only", "resnet18_fer", "--root", str(tmp_path)]) == 2
    assert f"Cannot decode image {folder}/train/sad/Training_40.jpg" in one_line_error(capsys)


@pytest.mark.parametrize("only, message", [("no such step", "matches no step"), ("01_datasets", "selects no step that trains a model")])
def test_bad_option_value(capsys, only, message):
    assert main(["dry-run", "--only", only]) == 2
    assert message in one_line_error(capsys)


def test_an_unknown_choice_is_argparse_usage_and_exit_2(capsys):
    with pytest.raises(SystemExit, match="2"):
        main(["dry-run", "--profile", "fast"])
    assert "argument --profile: invalid choice: 'fast'" in capsys.readouterr().err


def test_unexpected_errors_keep_their_traceback(monkeypatch):
    def broken(root, options):
        raise RuntimeError("a bug, not a configuration error")

    monkeypatch.setattr(cli, "summarize_all", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["datasets"])


def test_dry_run_command(fer_data, capsys, one_thread):
    assert main(["dry-run", "--only", "05_lkcnn lkcnn megc2019", "--n-images", "4", "--root", str(fer_data)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok     lkcnn on megc2019 (paper): input (3, 28, 28)") and "2 steps of 2" in out[0]
    assert out[-1] == "Dry run of the paper profile on the CPU: 1 of 1 steps trained"


def test_a_failing_dry_run_step_is_reported_and_the_others_run(fer_data, monkeypatch, capsys, caplog, one_thread):
    def fails_on_lkcnn(model, *args, **kwargs):
        if model == "lkcnn":
            raise RuntimeError("shape mismatch")
        return real(model, *args, **kwargs)

    real = fer_lib.dry_run.dry_run_step
    monkeypatch.setattr(fer_lib.dry_run, "dry_run_step", fails_on_lkcnn)
    assert main(["dry-run", "--only", "05_lkcnn", "--n-images", "4", "--profile", "smoke", "--root", str(fer_data)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "FAILED 05_lkcnn lkcnn megc2019: RuntimeError: shape mismatch" and out[2].startswith("ok     lkcnn_no_attention on megc2019 (smoke)")
    assert out[-1].endswith("2 of 3 steps trained; failed: 05_lkcnn lkcnn megc2019")
    assert "shape mismatch" in caplog.text  # the traceback is logged


def test_help_names_the_environment(capsys):
    with pytest.raises(SystemExit, match="0"):
        main(["--help"])
    top = capsys.readouterr().out
    commands = re.search(r"\{([\w,-]+)\}", top).group(1).split(",")
    assert {"datasets", "dry-run"} <= set(commands)
    for command in [None, *commands]:
        with pytest.raises(SystemExit, match="0"):
            main([command, "--help"] if command else ["--help"])
        text = capsys.readouterr().out
        assert "FER_DATA" in text and "FER_CACHE" in text, command


def test_recipe_prints_each_setting_with_its_source(capsys):
    assert main(["recipe", "--model", "mfem_lstm", "--dataset", "megc2019", "--profile", "cpu", "--set", "epochs=3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "LeaveOneSubjectOut" in lines[0]
    rows = {line.split()[0]: line.split(maxsplit=2)[1:] for line in lines[1:]}
    assert rows["modality"] == ['"apex_flow"', "model mfem_lstm input"]
    assert rows["epochs"] == ["3", "overrides"] and rows["nesterov"] == ["true", "TrainConfig default"]
    # RAF-DB: no dataset or (model, dataset) layer of the cpu profile sets these, so the model and the profile do.
    assert main(["recipe", "--model", "dcn_cbam", "--dataset", "rafdb", "--json"]) == 0
    recipe = {row["key"]: row for row in json.loads(capsys.readouterr().out)["recipe"]}
    assert recipe["img_size"] == {"key": "img_size", "value": 48, "source": "model dcn_cbam input"}  # its builder's default size
    assert recipe["batch_size"] == {"key": "batch_size", "value": PROFILES["cpu"]["batch_size"], "source": "profile cpu"}


def test_recipe_refuses_a_key_the_run_would_refuse(capsys):
    assert main(["recipe", "--model", "dcn_cbam", "--dataset", "fer2013", "--set", "epoch=3"]) == 2
    assert "epoch" in capsys.readouterr().err
    assert main(["recipe", "--model", "lkcnn", "--dataset", "ckplus"]) == 2  # a dataset that does not serve the model's input
    assert "lkcnn reads flow inputs, but ckplus has no modality 'flow'" in capsys.readouterr().err
    assert main(["recipe", "--model", "dcn_cbam", "--dataset", "fer2013", "--set", "epochs=2.5"]) == 2
    assert "epochs must be an integer, got 2.5" in capsys.readouterr().err
