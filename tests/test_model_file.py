"""A trained model is one self-describing file: it loads back to identical logits, refuses files that are not ours with
an error naming the file, normalises new faces as the engine did, and the committed runs hold one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lib.data.base import FaceDataset
from fer_lib.data.io import read_images
from fer_lib.engine.batches import model_input, normalization_stats
from fer_lib.engine.checkpoint import CHECKPOINT_NAME, save_checkpoint
from fer_lib.errors import ConfigError
from fer_lib.model_card import CARD_FILE
from fer_lib.model_file import (
    FORMAT,
    FORMAT_VERSION,
    LOCAL_MODEL_FILE,
    MODEL_FILE,
    ModelInfo,
    default_model_path,
    export_run,
    export_run_model,
    fp16_state,
    load_model,
    model_file_path,
    save_model,
    to_model_input,
)
from fer_lib.models import create_model
from fer_lib.profiles import resolve_recipe
from fer_lib.preprocess.face_crop import FaceCrop
from fer_lib.preprocess.normalize import Normalize

pytestmark = pytest.mark.usefixtures("one_thread")
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SMALL = {"widths": [8, 16, 32, 64]}  # a resnet18_fer of ~0.2 M parameters: the file format does not depend on the size


def small_info(**changes) -> ModelInfo:
    info = ModelInfo(
        model="resnet18_fer",
        model_kwargs=dict(SMALL),
        num_classes=7,
        in_chans=1,
        img_size=48,
        class_names=CLASSES,
        mean=(0.5077,),
        std=(0.2551,),
        crop=FaceCrop(size=48, grayscale=True, margin=0.01, align=False),
        run="resnet18_fer__fer2013__test__s0",
        dataset="fer2013",
        protocol="honest",
        epoch=3,
        metrics={"split": "PrivateTest", "n": 10, "accuracy": 0.5, "macro_f1": 0.4, "uar": 0.45, "selected_on": "val accuracy"},
        git_sha="0" * 40,
    )
    return dataclasses.replace(info, **changes)


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("resnet18_fer", 7, 1, 48, **SMALL).eval()


def fer2013_faces(fer_data: Path, n: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``n`` real FER2013 images of the Kaggle layout (a few per class, read directly: no full-dataset decode) and labels."""
    top = "train" if split == "train" else "test"
    paths, labels = [], []
    for label, name in enumerate(CLASSES):
        files = sorted((fer_data / "fer2013" / top / name).glob("*.jpg"))[: -(-n // len(CLASSES))]
        paths += files
        labels += [label] * len(files)
    return read_images(paths[:n], "gray"), np.array(labels[:n])


def test_round_trip_gives_identical_logits_and_info(tmp_path):
    model, info = small_model(), small_info()
    path = save_model(tmp_path / MODEL_FILE, model, info)
    loaded, loaded_info = load_model(tmp_path)  # a folder means its model.pt
    assert loaded_info == info and not loaded.training
    model.load_state_dict(fp16_state(model))  # the file holds fp16 weights: the same rounding, the same logits
    x = torch.randn(4, 1, 48, 48)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == FORMAT and payload["format_version"] == FORMAT_VERSION
    assert all(v.dtype in (torch.float16, torch.int64) for v in payload["state_dict"].values())


def test_save_is_atomic_and_refuses_metadata_that_does_not_fit(tmp_path):
    with pytest.raises(ConfigError, match="no_such_model"):
        save_model(tmp_path / MODEL_FILE, small_model(), small_info(model="no_such_model"))
    with pytest.raises(ConfigError, match="do not fit"):
        save_model(tmp_path / MODEL_FILE, small_model(), small_info(num_classes=3))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda: {k: v for k, v in small_model().state_dict().items()}, "state dict without metadata"),
        (lambda: torch.nn.Linear(2, 2), "weights_only=True refused"),
        (lambda: {"format": FORMAT, "format_version": 99, "info": {}, "state_dict": {}}, "format version 99"),
        (lambda: {"format": FORMAT, "format_version": FORMAT_VERSION, "info": {"model": "resnet18_fer"}, "state_dict": {}}, "lacks the metadata"),
    ],
    ids=["bare-state-dict", "pickled-module", "newer-format", "missing-metadata"],
)
def test_foreign_files_are_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "foreign.pt"
    torch.save(content(), path)
    with pytest.raises(ConfigError, match=message) as error:
        load_model(path)
    assert str(path) in str(error.value)


def test_unknown_model_and_non_torch_and_missing_files_are_refused(tmp_path):
    path = save_model(tmp_path / MODEL_FILE, small_model(), small_info())
    payload = torch.load(path, weights_only=True)
    payload["info"]["model"] = "no_such_model"
    torch.save(payload, path)
    with pytest.raises(ConfigError, match=f"{path}.*'no_such_model'"):
        load_model(path)
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(ConfigError, match=f"{text} is not a fer_lib model file"):
        load_model(text)
    with pytest.raises(ConfigError, match="does not exist"):
        load_model(tmp_path / "missing" / MODEL_FILE)


def test_a_run_folder_names_its_committed_else_its_local_model_file(tmp_path):
    """A model too large to commit is written to checkpoints/model.pt: a run folder given as the model finds it."""
    run = tmp_path / "irnet__fer2013__cpu__s1"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps([_record("honest", 0.6)]))
    local = save_model(run / LOCAL_MODEL_FILE, small_model(), small_info())
    assert model_file_path(run) == local and load_model(run)[1] == small_info()
    committed = save_model(run / MODEL_FILE, small_model(), small_info())
    assert model_file_path(run) == committed
    assert model_file_path(tmp_path / "given.pt") == tmp_path / "given.pt"  # a file path is taken as it is


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"n_folds": 10, "dataset": "ckplus"}, "it is a 10-fold run on ckplus .*only single-split runs"),
        ({"params": 20_000_000}, "resnet18_fer.s fp16 weights .* too large to commit .*as checkpoints/model.pt .*re-run it there"),
        ({}, "export it with `python -m fer_lib export-model .*run`"),
    ],
    ids=["kfold", "too-large-trained-elsewhere", "not-exported"],
)
def test_a_run_folder_without_a_model_file_says_why(tmp_path, changes, message):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps([_record("honest", 0.6) | changes]))
    with pytest.raises(ConfigError, match=f"{run} has no model file \\(model.pt, nor checkpoints/model.pt\\): {message}"):
        load_model(run)


def test_to_model_input_matches_the_engine_normalisation(fer_data):
    images, labels = fer2013_faces(fer_data, 21)
    train = FaceDataset("fer2013", "train", images, labels, CLASSES, np.array([str(i) for i in range(len(labels))]))
    mean, std = normalization_stats(train)
    info = small_info(mean=tuple(float(v) for v in mean), std=tuple(float(v) for v in std))
    engine = model_input(train.tensors()[0], Normalize(mean, std), None, channels_last=False)
    ours = to_model_input(images, info)
    assert ours.shape == (21, 1, 48, 48) and ours.dtype == torch.float32
    assert torch.equal(ours, engine)
    with pytest.raises(ValueError, match=r"\(N, 48, 48, 1\)"):
        to_model_input(np.zeros((2, 48, 48, 3), np.uint8), info)


def test_export_writes_model_file_and_card_from_the_run(fer_data, tmp_path):
    images, labels = fer2013_faces(fer_data, 70)
    train = FaceDataset("fer2013", "train", images, labels, CLASSES, np.array([f"train/{i}" for i in range(70)]))
    test_images, test_labels = fer2013_faces(fer_data, 14, "test")
    test = FaceDataset("fer2013", "test", test_images, test_labels, CLASSES, np.array([f"test/{i}" for i in range(14)]))
    records = [_record(p, acc) for p, acc in (("honest", 0.25), ("test_selected", 0.3))]
    config = {"model": "resnet18_fer", "dataset": "fer2013", "profile": "smoke", "seed": 0, "recipe": {"model_kwargs": SMALL}}
    config["train_config"] = _train_config()
    mean, std = normalization_stats(train)
    path = export_run_model(tmp_path, small_model(), train, test, mean, std, records, config, max_bytes=10_000_000)
    model, info = load_model(path)
    assert info.mean == (float(mean[0]),) and info.std == (float(std[0]),) and info.epoch == 2 and info.metrics["accuracy"] == 0.25
    assert info.crop.size == 48 and info.crop.grayscale and not info.crop.align and -0.25 < info.crop.margin < 0.25
    card = (tmp_path / CARD_FILE).read_text()
    assert "| disgust | 10 | 14.3% |" in card and "| honest | 2 | 0.2500 |" in card and "| test_selected | 5 | 0.3000 |" in card
    assert "scores accuracy" in card and f"rounded to {info.crop.margin:g}" in card

    path = export_run_model(tmp_path, small_model(), train, test, mean, std, records, config, max_bytes=1000)
    assert path is None and not (tmp_path / MODEL_FILE).exists()
    assert "**Not exported**" in (tmp_path / CARD_FILE).read_text() and "`checkpoints/model.pt`" in (tmp_path / CARD_FILE).read_text()
    local, local_info = load_model(tmp_path / LOCAL_MODEL_FILE)  # too large to commit, still usable on this machine
    assert local_info == info and all(torch.equal(a, b) for a, b in zip(local.state_dict().values(), model.state_dict().values()))


def test_export_run_takes_the_honest_weights_of_a_checkpoint_left_on_this_machine(fer_data, tmp_path):
    recipe = resolve_recipe("smoke", "resnet18_fer", "fer2013", {"model_kwargs": SMALL})
    config = {"model": "resnet18_fer", "dataset": "fer2013", "profile": "smoke", "seed": 0, "recipe": recipe, "train_config": _train_config()}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "metrics.json").write_text(json.dumps([_record(p, 0.3) for p in ("honest", "test_selected")]))
    torch.manual_seed(3)
    honest, last = small_model(), small_model()
    checkpoint = {"model": last.state_dict(), "selection": {"honest": {"model": honest.state_dict()}}}
    save_checkpoint(checkpoint, tmp_path / "checkpoints" / "official" / CHECKPOINT_NAME)

    exported, _ = load_model(export_run(tmp_path, fer_data))

    expected = fp16_state(honest)  # the file holds fp16 weights of the honest epoch, not of the last one
    assert all(torch.equal(v, expected[k].float()) for k, v in exported.state_dict().items() if v.is_floating_point())


def test_export_run_refuses_unfinished_and_kfold_runs(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model": "resnet18_fer", "dataset": "ckplus"}))
    with pytest.raises(ConfigError, match="metrics.json does not exist"):
        export_run(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps([dict(_record("honest", 0.5), n_folds=10)]))
    with pytest.raises(ConfigError, match="10-fold run"):
        export_run(tmp_path)


def test_default_model_is_the_best_honest_fer2013_run_with_a_model_file(tmp_path):
    runs = [("a", "fer2013", 0.55, True), ("b", "fer2013", 0.61, True), ("c", "fer2013", 0.7, False), ("d", "ckplus", 0.9, True)]
    for name, dataset, accuracy, has_file in runs:
        run = tmp_path / name
        run.mkdir()
        records = [dict(_record("honest", accuracy), dataset=dataset), dict(_record("test_selected", 0.99), dataset=dataset)]
        (run / "metrics.json").write_text(json.dumps(records))
        if has_file:
            (run / MODEL_FILE).write_bytes(b"")
    assert default_model_path(tmp_path) == tmp_path / "b" / MODEL_FILE
    with pytest.raises(ConfigError, match="--model"):
        default_model_path(tmp_path / "empty")


def test_the_committed_default_model_loads():
    path = default_model_path()
    model, info = load_model(path)
    assert info.dataset == "fer2013" and info.protocol == "honest" and info.run == path.parent.name
    honest = next(r for r in json.loads((path.parent / "metrics.json").read_text()) if r["protocol"] == "honest")
    assert info.metrics["accuracy"] == honest["accuracy"] and info.epoch == honest["selected_epoch"]
    assert path.stat().st_size <= 25_000_000 and (path.parent / CARD_FILE).exists()


def _record(protocol: str, accuracy: float) -> dict:
    return {
        "model": "resnet18_fer", "dataset": "fer2013", "protocol": protocol, "split": "PrivateTest", "n": 14, "accuracy": accuracy,
        "macro_f1": accuracy, "uar": accuracy, "epochs": 5, "selected_epoch": 2 if protocol == "honest" else 5,
        "selected_on": "val accuracy" if protocol == "honest" else "test accuracy", "train_wall_s": 12.0, "train_images_per_s": 100.0,
        "params": 1000, "device": "cpu", "git_sha": "0" * 40, "per_class": {},
    }  # fmt: skip


def _train_config() -> dict:
    return {
        "epochs": 5, "batch_size": 16, "optimizer": "sgd", "lr": 0.05, "schedule": "cosine", "warmup_epochs": 1.0,
        "weight_decay": 5e-4, "label_smoothing": 0.1, "augment": {}, "amp": "none",
    }  # fmt: skip
