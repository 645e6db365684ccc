"""Cross-dataset evaluation: a tiny FER2013-shaped model file scored on the real CK+48 (6 shared classes, contempt
dropped) and on a JAFFE-layout folder of real face photos plus one photo without a face; runs without a model file
are a one-line error naming why; the report's cross-dataset section reads the written file."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from torch import nn


from fer_lib.__main__ import main
from fer_lib.cross_dataset import (
    CROSS_DATASET_FILE,
    evaluate_cross_dataset,
    evaluate_model_cross_dataset,
    restricted_predictions,
)
from fer_lib.data.labels import FER2013_CLASSES, canonical_name
from fer_lib.errors import ConfigError
from fer_lib.model_file import ModelInfo, save_model
from fer_lib.models import create_model
from fer_lib.preprocess.face_crop import FaceCrop
from fer_lib.report.collect import CROSS_DATASET_FILE as REPORT_READS
from fer_lib.report.provenance import Provenance
from fer_lib.report.sections.cross_dataset import cross_dataset

from .fixtures_data import real_video_frame

pytestmark = pytest.mark.usefixtures("one_thread")

SHARED = ("angry", "disgust", "fear", "happy", "sad", "surprise")
CROP = FaceCrop(size=48, grayscale=True, margin=0.1, align=False)
MEAN, STD = (0.5,), (0.25,)
# Named as real JAFFE files are (the registry recognises the folder by them): two real face photos (a video frame, and
# it mirrored) and a flat grey photo without a face.
JAFFE_FACES = ("KA.AN1.39.tiff", "KL.HA1.158.tiff")
JAFFE_BLANK = "KA.NE1.26.tiff"


def _info(run: str) -> ModelInfo:
    return ModelInfo(
        model="resnet18_fer",
        model_kwargs={"widths": [8, 16, 32, 64]},
        num_classes=7,
        in_chans=1,
        img_size=48,
        class_names=FER2013_CLASSES,
        mean=MEAN,
        std=STD,
        crop=CROP,
        run=run,
        dataset="fer2013",
        protocol="honest",
        epoch=1,
        metrics={},
        git_sha="0" * 40,
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding only the model file of a tiny, untrained FER2013-shaped ResNet-18."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("runs") / "resnet18_fer__fer2013__smoke__s0"
    folder.mkdir()
    save_model(folder, create_model("resnet18_fer", 7, 1, 48, widths=(8, 16, 32, 64)), _info(folder.name))
    return folder


@pytest.fixture(scope="module")
def ckplus_counts(fer_data: Path) -> dict[str, int]:
    """Images per canonical class, counted from the CK+48 folders themselves (not through the loader)."""
    folders = [p for p in (fer_data / "ckplus" / "CK+48").iterdir() if p.is_dir()]
    return {canonical_name(p.name, str(p)): len(list(p.glob("*.png"))) for p in folders}


@pytest.fixture(scope="module")
def data_with_jaffe(fer_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root with the real CK+ (linked) and a jaffedbase/ folder of 256×256 grey TIFFs: two real faces, one blank."""
    root = tmp_path_factory.mktemp("data")
    (root / "ckplus").symlink_to(fer_data / "ckplus")
    frame = real_video_frame(fer_data)
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[:, 280:640]  # the 360×360 square around the face (x 322..583)
    photo = cv2.resize(grey, (256, 256), interpolation=cv2.INTER_AREA)
    jaffe = root / "jaffedbase"
    jaffe.mkdir()
    for name, image in zip(JAFFE_FACES, (photo, photo[:, ::-1])):
        assert cv2.imwrite(str(jaffe / name), np.ascontiguousarray(image))
    assert cv2.imwrite(str(jaffe / JAFFE_BLANK), np.full((256, 256), 128, np.uint8))
    return root


def _by_dataset(records: list[dict]) -> dict[str, dict]:
    return {r["eval_dataset"]: r for r in records}


def test_ckplus_is_scored_on_the_six_shared_classes(run_dir, fer_data, ckplus_counts, tmp_path, caplog):
    records = evaluate_cross_dataset(run_dir, fer_data, out_dir=tmp_path)
    assert "JAFFE is not under" in caplog.text  # the real data root has no JAFFE: skipped, not failed
    (ck,) = records
    assert ck["train_dataset"] == "fer2013" and ck["eval_dataset"] == "ckplus" and ck["source_model"] == run_dir.name
    assert tuple(ck["classes"]) == SHARED  # no contempt (FER2013 lacks it), no neutral (CK+ lacks it)
    assert ck["n"] == sum(n for c, n in ckplus_counts.items() if c != "contempt")
    assert ck["n_excluded"] == ckplus_counts["contempt"] and ck["excluded_classes"] == ["contempt"]
    assert ck["n_images"] == sum(ckplus_counts.values()) and ck["n_no_face"] == 0
    assert all(0 <= ck[k] <= 1 for k in ("accuracy", "macro_f1", "uar"))
    matrix = np.array(ck["confusion_matrix"])
    assert matrix.shape == (6, 6) and matrix.sum() == ck["n"]
    assert [ck["per_class"][c]["support"] for c in SHARED] == [ckplus_counts[c] for c in SHARED]
    assert json.loads((tmp_path / CROSS_DATASET_FILE).read_text()) == records
    assert not (run_dir / CROSS_DATASET_FILE).exists() and not list(tmp_path.glob(".*.tmp"))


def test_jaffe_photos_are_detected_cropped_and_faceless_ones_counted(run_dir, data_with_jaffe):
    records = _by_dataset(evaluate_cross_dataset(run_dir, data_with_jaffe))
    jaffe = records["jaffe"]
    assert tuple(jaffe["classes"]) == FER2013_CLASSES  # JAFFE has all seven FER2013 classes, neutral included
    assert jaffe["n_images"] == 3 and jaffe["n"] == 2 and jaffe["n_no_face"] == 1
    assert jaffe["no_face_ids"] == [Path(JAFFE_BLANK).stem]
    assert np.array(jaffe["confusion_matrix"]).sum() == 2
    assert jaffe["per_class"]["neutral"]["support"] == 0  # the blank neutral photo was not scored
    assert "ckplus" in records
    assert json.loads((run_dir / CROSS_DATASET_FILE).read_text()) == list(records.values())


def test_restricted_predictions_never_name_a_class_outside_the_shared_ones():
    logits = torch.randn(500, 7)
    logits[:, FER2013_CLASSES.index("neutral")] += 100  # the unrestricted argmax would be neutral everywhere
    predicted = restricted_predictions(logits, FER2013_CLASSES, SHARED)
    assert set(predicted.tolist()) <= set(range(len(SHARED))) and len(set(predicted.tolist())) > 1
    expected = logits[:, [FER2013_CLASSES.index(c) for c in SHARED]].argmax(1).numpy()
    np.testing.assert_array_equal(predicted, expected)


class _Constant(nn.Module):
    """Logits that always rank neutral first and happy second (whatever the face)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(x), len(FER2013_CLASSES))
        logits[:, FER2013_CLASSES.index("neutral")], logits[:, FER2013_CLASSES.index("happy")] = 10.0, 5.0
        return logits * self.scale


def test_in_memory_model_on_ckplus_predicts_the_best_shared_class(fer_data, ckplus_counts):
    model = _Constant().train()
    records = evaluate_model_cross_dataset(model, MEAN, STD, FER2013_CLASSES, 48, CROP, "fer2013", fer_data)
    assert model.training  # left in the mode it had
    (ck,) = records
    n = sum(n for c, n in ckplus_counts.items() if c != "contempt")
    predicted_per_class = np.array(ck["confusion_matrix"]).sum(axis=0)
    assert predicted_per_class[SHARED.index("happy")] == n  # neutral is not a CK+ class: happy is the answer
    assert ck["accuracy"] == pytest.approx(ckplus_counts["happy"] / n)


def test_the_report_section_shows_the_written_records(run_dir, fer_data, tmp_path):
    assert REPORT_READS == CROSS_DATASET_FILE
    records = evaluate_cross_dataset(run_dir, fer_data, out_dir=tmp_path)
    run = SimpleNamespace(name=run_dir.name, extras={CROSS_DATASET_FILE: json.loads((tmp_path / CROSS_DATASET_FILE).read_text())})
    markdown = cross_dataset(SimpleNamespace(study=SimpleNamespace(runs=[run]), prov=Provenance()))
    ck = records[0]
    row = f"| `{run_dir.name}` | `fer2013` | `ckplus` | `{', '.join(SHARED)}` | {ck['n']} | {100 * ck['accuracy']:.2f} |"
    assert row in markdown


def _write_metrics(folder: Path, **record: object) -> Path:
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps([{"protocol": "honest", **record}]))
    return folder


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("too-large", "irnet's fp16 weights (about 49.6 MB) are too large to commit"),
        ("k-fold", "10-fold run on ckplus (one model per fold)"),
        ("not-exported", "export it with `python -m fer_lib export-model"),
        ("unfinished", "not a finished run"),
        ("missing", "does not exist"),
    ],
)
def test_a_run_without_a_model_file_is_a_config_error_naming_why(case, message, tmp_path, fer_data, capsys):
    folder = tmp_path / "runs" / f"{case}__fer2013__cpu__s0"
    folder.parent.mkdir()
    if case == "too-large":
        _write_metrics(folder, model="irnet", dataset="fer2013", params=24_791_415)
    elif case == "k-fold":
        _write_metrics(folder, model="resnet18_fer", dataset="ckplus", params=11_189_479, n_folds=10)
    elif case == "not-exported":
        _write_metrics(folder, model="resnet18_fer", dataset="fer2013", params=11_189_479)
    elif case == "unfinished":
        folder.mkdir()
    with pytest.raises(ConfigError) as error:
        evaluate_cross_dataset(folder, fer_data)
    assert message in str(error.value) and str(folder) in str(error.value)
    assert main(["cross-dataset", str(folder), "--root", str(fer_data)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and message in captured.err


def test_cli_writes_each_run_under_out_dir(run_dir, fer_data, tmp_path, capsys):
    assert main(["cross-dataset", str(run_dir), "--root", str(fer_data), "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    written = tmp_path / run_dir.name / CROSS_DATASET_FILE
    (record,) = json.loads(written.read_text())
    assert f"{run_dir.name}: ckplus (6 classes, n={record['n']}, 0 without a face): accuracy {record['accuracy']:.4f}" in out
    assert f"Wrote {written}" in out


def test_a_root_without_ckplus_or_jaffe_is_one_line_naming_it(run_dir, tmp_path, capsys):
    empty = tmp_path / "data"
    empty.mkdir()
    assert main(["cross-dataset", str(run_dir), "--root", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"Neither CK+ nor JAFFE is under {empty}" in err
