"""A trained model as one self-describing file: fp16 weights plus everything needed to use them on a new face.

``model.pt`` (:data:`MODEL_FILE`, in a run folder next to ``metrics.json``) is a ``torch.save`` of plain types only,
so it loads with ``torch.load(..., weights_only=True)`` (no code from the file runs):

* ``format`` / ``format_version`` — marks the file as ours;
* ``info`` — :class:`ModelInfo` as a dict: the registered model name and constructor arguments, input size and
  channels, the training split's normalisation mean/std, class names, the face-crop recipe for new images
  (:class:`~fer_lib.preprocess.face_crop.FaceCrop`), run, protocol and epoch of the weights, their test metrics,
  and the git commit that trained them;
* ``state_dict`` — the weights, floating-point tensors in fp16 (half the bytes of float32; the model card reports
  what the file itself scores on the run's test split).

:func:`export_run_model` writes the file (and the run's ``MODEL_CARD.md``) when a run finishes; :func:`export_run`
re-exports a finished run folder from its committed weights (``python -m fer_lib export-model <run>``).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .atomic_write import write_atomic
from .data.base import FaceDataset
from .engine.batches import normalization_stats
from .engine.checkpoint import CHECKPOINT_NAME, load_checkpoint
from .errors import ConfigError
from .metrics import classification_metrics
from .model_card import write_model_card
from .models import create_model
from .preprocess.face_crop import FaceCrop, Framing, measure_framing
from .preprocess.normalize import Normalize
from .runs import CONFIG_FILE, LOCAL_MODEL_FILE, METRICS_FILE, MODEL_FILE, run_model_file

log = logging.getLogger(__name__)
FORMAT = "fer_lib.model"
FORMAT_VERSION = 1
LEGACY_WEIGHTS = "model_fp16.pt"  # a bare fp16 state dict without metadata (older run folders); export_run converts it
RUNS_DIR = Path(__file__).resolve().parent.parent / "results" / "runs"
EXPORT_FIX = "export a run's model with `python -m fer_lib export-model results/runs/<run>` and pass its model.pt"


@dataclass(frozen=True)
class ModelInfo:
    """Everything a model file says about its weights besides the weights.

    ``mean``/``std`` are the training split's per-channel statistics in [0, 1] units (what the engine normalised
    with); ``crop`` makes new faces look like the training faces; ``protocol``/``epoch`` say which epoch's weights
    these are and ``metrics`` their test metrics (``split``, ``n``, ``accuracy``, ``macro_f1``, ``uar``, ...).
    """

    model: str
    model_kwargs: dict
    num_classes: int
    in_chans: int
    img_size: int
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop: FaceCrop
    run: str
    dataset: str
    protocol: str
    epoch: int
    metrics: dict
    git_sha: str

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (str/int/float/bool/list/dict), as ``torch.load(weights_only=True)`` reads them."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data |= {"class_names": list(self.class_names), "mean": list(self.mean), "std": list(self.std), "crop": self.crop.to_dict()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> "ModelInfo":
        """Inverse of :meth:`to_dict`; a missing field is a :class:`ConfigError` naming ``where``."""
        missing = [f.name for f in fields(cls) if f.name not in data]
        if missing:
            raise ConfigError(f"Model file {where} lacks the metadata fields {missing}: it was not written by fer_lib's save_model; {EXPORT_FIX}")
        values = {f.name: data[f.name] for f in fields(cls)}
        values |= {key: tuple(values[key]) for key in ("class_names", "mean", "std")}
        values["crop"] = FaceCrop(**data["crop"])
        return cls(**values)


def fp16_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict on the CPU with floating-point tensors in fp16 (integer buffers, e.g. BatchNorm counts, kept)."""
    return {k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous() for k, v in model.state_dict().items()}


def state_bytes(state: dict[str, torch.Tensor]) -> int:
    """Bytes of the tensors of a state dict (a model file is this plus a few kB of metadata)."""
    return sum(v.numel() * v.element_size() for v in state.values())


def build_model(info: ModelInfo, where: str = "model file") -> nn.Module:
    """A freshly initialised model of ``info``'s architecture; an unregistered name is a :class:`ConfigError`."""
    try:
        return create_model(info.model, info.num_classes, info.in_chans, info.img_size, **info.model_kwargs)
    except KeyError as error:
        raise ConfigError(
            f"{where} names model {info.model!r}, which this fer_lib does not register ({error.args[0]}); use the fer_lib version that wrote it"
        ) from None


def save_model(path: str | os.PathLike[str], model: nn.Module, info: ModelInfo) -> Path:
    """Write ``model``'s weights (fp16) and ``info`` to ``path`` (a folder gets :data:`MODEL_FILE`) atomically; return the file.

    The weights are first loaded into a model built from ``info``, so a file is only written if it loads back.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    state = fp16_state(model)
    _load_weights(build_model(info, f"ModelInfo for {path}"), state, str(path))
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "info": info.to_dict(), "state_dict": state}
    write_atomic(path, lambda tmp: torch.save(payload, tmp))
    return path


def model_file_path(path_or_run_dir: str | os.PathLike[str]) -> Path:
    """The model file ``path_or_run_dir`` names: itself, or a run folder's committed :data:`MODEL_FILE`, else its
    :data:`LOCAL_MODEL_FILE` (a model too large to commit, on the machine that trained it). A folder with neither is a
    :class:`ConfigError` saying why (a k-fold run, a model trained elsewhere, a run not exported, not a finished run)."""
    path = Path(path_or_run_dir)
    if not path.is_dir():
        return path
    if (file := run_model_file(path)) is not None:
        return file
    raise ConfigError(f"{path} has no model file ({MODEL_FILE}, nor {LOCAL_MODEL_FILE}): {why_no_model_file(path)}")


def why_no_model_file(run_dir: Path) -> str:
    """Why the run folder ``run_dir`` holds no model file, and what to do: not a finished run, a k-fold run (one model
    per fold), weights over the commit limit kept only where they were trained, or a run never exported."""
    from .experiment import FP16_EXPORT_LIMIT  # experiment.py imports the training stack; needed only for this message

    try:
        records = json.loads((run_dir / METRICS_FILE).read_text())
        first = records[0]
    except (OSError, ValueError, IndexError, KeyError, TypeError):
        return f"it is not a finished run (no readable {METRICS_FILE}); run it to completion first"
    if "n_folds" in first:
        folds, dataset = first["n_folds"], first.get("dataset")
        return f"it is a {folds}-fold run on {dataset} (one model per fold); only single-split runs, e.g. on FER2013, have a model file"
    fp16_bytes = 2 * int(first.get("params", 0))
    if fp16_bytes > FP16_EXPORT_LIMIT:
        return (
            f"{first.get('model')}'s fp16 weights (about {fp16_bytes / 1e6:.1f} MB) are too large to commit "
            f"(limit {FP16_EXPORT_LIMIT / 1e6:.0f} MB): only the machine that trained it keeps it, as {LOCAL_MODEL_FILE} "
            "(its MODEL_CARD.md says so); re-run it there"
        )
    return f"export it with `python -m fer_lib export-model {run_dir}`"


def load_model(path_or_run_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[nn.Module, ModelInfo]:
    """Load a model file (or a run folder's, :func:`model_file_path`): the model in eval mode on ``device``, and its info.

    Loads with ``weights_only=True``. A missing file, a file that is not ours (another pickle, a bare state dict),
    one of a newer format, or one naming an unknown model raises :class:`ConfigError` naming the file.
    """
    path = model_file_path(path_or_run_dir)
    if not path.is_file():
        raise ConfigError(f"Model file {path} does not exist: pass the model.pt of an exported run, or {EXPORT_FIX}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"{path} is not a fer_lib model file (torch.load with weights_only=True refused it: {first_line}); {EXPORT_FIX}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        bare = isinstance(payload, dict) and all(isinstance(v, torch.Tensor) for v in payload.values())
        what = "a state dict without metadata" if bare else f"a {type(payload).__name__}"
        raise ConfigError(f"{path} is not a fer_lib model file: it holds {what}, not the format {FORMAT!r}; {EXPORT_FIX}")
    if payload.get("format_version") != FORMAT_VERSION:
        version = payload.get("format_version")
        raise ConfigError(f"{path} has model-file format version {version!r}; this fer_lib reads {FORMAT_VERSION}: use the fer_lib that wrote it")
    info = ModelInfo.from_dict(payload.get("info", {}), str(path))
    model = build_model(info, f"Model file {path}")
    _load_weights(model, payload.get("state_dict", {}), str(path))
    return model.to(device).eval(), info


def _load_weights(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    try:
        model.load_state_dict(state)  # copies the fp16 tensors into the model's float32 parameters
    except RuntimeError as error:
        detail = str(error).splitlines()[0] if str(error) else "state dict mismatch"
        raise ConfigError(f"The weights in {where} do not fit the model its metadata names ({detail}); {EXPORT_FIX}") from None


def to_model_input(faces_uint8: np.ndarray | torch.Tensor, info: ModelInfo) -> torch.Tensor:
    """uint8 faces ``(N, H, W, C)`` (as :func:`~fer_lib.preprocess.face_crop.crop_faces` returns) -> float32 ``(N, C, H, W)``
    normalised with the training split's statistics, exactly as the engine fed the model in training."""
    faces = torch.from_numpy(np.ascontiguousarray(faces_uint8)) if isinstance(faces_uint8, np.ndarray) else faces_uint8
    expected = (info.img_size, info.img_size, info.in_chans)
    if faces.dtype != torch.uint8 or faces.ndim != 4 or tuple(faces.shape[1:]) != expected:
        raise ValueError(f"expected uint8 faces (N, {', '.join(map(str, expected))}) for {info.model}, got {faces.dtype} {tuple(faces.shape)}")
    return Normalize(np.array(info.mean), np.array(info.std))(faces.movedim(-1, -3))


def default_model_path(runs_root: str | os.PathLike[str] = RUNS_DIR) -> Path:
    """The model file of the finished FER2013 run with the best honest PrivateTest accuracy under ``runs_root``
    (ties: the first run name in sorted order). :class:`ConfigError` when no such run has a model file."""
    best: tuple[float, Path] | None = None
    for metrics_path in sorted(Path(runs_root).glob(f"*/{METRICS_FILE}")):
        model_path = metrics_path.parent / MODEL_FILE
        if not model_path.is_file():
            continue
        for record in json.loads(metrics_path.read_text()):
            if record.get("dataset") == "fer2013" and record.get("protocol") == "honest" and record.get("split") == "PrivateTest":
                if best is None or record["accuracy"] > best[0]:
                    best = (record["accuracy"], model_path)
    if best is None:
        raise ConfigError(f"No exported FER2013 model under {runs_root}: pass --model PATH, or {EXPORT_FIX}")
    return best[1]


def training_face_crop(train: FaceDataset, run: str = "") -> tuple[FaceCrop, Framing]:
    """How to crop new faces so they look like the training split's faces (their framing, measured by the detector
    that will crop them), and that measurement."""
    framing = measure_framing(train.images)
    if framing.detected == 0:
        log.warning("%s: the face detector finds no face in the training crops; new faces are cropped at the box (margin 0)", run)
    size, channels = int(train.images.shape[-2]), int(train.images.shape[-1])
    # Training crops were not eye-aligned by any loader, so new faces are cropped upright too.
    crop = FaceCrop(size=size, grayscale=channels == 1, margin=round(framing.margin, 2) if framing.detected else 0.0, align=False)
    return crop, framing


def export_run_model(
    run_dir: str | os.PathLike[str],
    model: nn.Module,
    train: FaceDataset,
    test: FaceDataset,
    mean: np.ndarray | tuple[float, ...],
    std: np.ndarray | tuple[float, ...],
    records: list[dict[str, Any]],
    config: dict[str, Any],
    max_bytes: int,
    face_crop: tuple[FaceCrop, Framing] | None = None,
) -> Path | None:
    """Write a finished single-split run's model file and ``MODEL_CARD.md``; return the model file, or ``None`` when its
    fp16 weights exceed ``max_bytes``: the file then goes to :data:`LOCAL_MODEL_FILE`, which is not committed, and the
    card says so.

    ``model`` holds the honest epoch's weights, ``train`` is the training split it learned from (its statistics are
    ``mean``/``std``, its framing is measured for the crop recipe), ``test`` the test split (the card reports what the
    written file itself scores on it), ``records`` the run's ``metrics.json`` records, ``face_crop`` the
    :func:`training_face_crop` of ``train`` when the caller has it.
    """
    run_dir = Path(run_dir)
    counts = train.class_counts()
    crop, framing = face_crop or training_face_crop(train, run_dir.name)
    honest = next(r for r in records if r["protocol"] == "honest")
    size, channels = int(train.images.shape[-2]), int(train.images.shape[-1])
    info = ModelInfo(
        model=config["model"],
        model_kwargs=dict(config["recipe"]["model_kwargs"]),
        num_classes=len(train.class_names),
        in_chans=channels,
        img_size=size,
        class_names=tuple(train.class_names),
        mean=tuple(float(v) for v in np.atleast_1d(mean)),
        std=tuple(float(v) for v in np.atleast_1d(std)),
        crop=crop,
        run=run_dir.name,
        dataset=config["dataset"],
        protocol="honest",
        epoch=int(honest["selected_epoch"]),
        metrics={k: honest[k] for k in ("split", "n", "accuracy", "macro_f1", "uar", "selected_on")},
        git_sha=str(honest["git_sha"]),
    )
    file_bytes = state_bytes(fp16_state(model))
    if file_bytes > max_bytes:
        (run_dir / MODEL_FILE).unlink(missing_ok=True)
        save_model(run_dir / LOCAL_MODEL_FILE, model, info)
        write_model_card(run_dir, records, config, counts, None, None, None, file_bytes, max_bytes)
        return None
    path = save_model(run_dir / MODEL_FILE, model, info)
    file_metrics = evaluate_model_file(path, test)
    write_model_card(run_dir, records, config, counts, info, framing, file_metrics, path.stat().st_size, max_bytes)
    return path


@torch.no_grad()
def evaluate_model_file(path: str | os.PathLike[str], test: FaceDataset, batch_size: int = 256) -> dict[str, Any]:
    """Metrics (:func:`~fer_lib.metrics.classification_metrics`) of the model file ``path`` on ``test``, through the
    inference path: :func:`load_model` (fp16 weights, float32 compute) and :func:`to_model_input`."""
    model, info = load_model(path)
    if tuple(test.class_names) != info.class_names:
        raise ValueError(f"{path} predicts {info.class_names}, but the test split has classes {test.class_names}")
    preds = [model(to_model_input(test.images[i : i + batch_size], info)).argmax(1) for i in range(0, len(test), batch_size)]
    return classification_metrics(test.labels, torch.cat(preds).numpy(), info.class_names)


def export_run(run_dir: str | os.PathLike[str], data_root: str | os.PathLike[str] | None = None) -> Path | None:
    """Re-export a finished single-split run folder: its committed weights (``model.pt`` or a bare ``model_fp16.pt``,
    which is then replaced), ``config.json`` and ``metrics.json``, with the normalisation statistics and framing
    recomputed from the training split exactly as the run built it (data under ``data_root`` / ``FER_DATA``).

    Returns the model file, or ``None`` for a run whose weights are too large to commit (its card says so). Such a run
    is exported to :data:`LOCAL_MODEL_FILE` from the honest weights its last checkpoint holds, where that checkpoint is
    still on this machine.
    """
    from .experiment import FP16_EXPORT_LIMIT, build_folds  # experiment.py imports this module for new runs

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"Run folder {run_dir} does not exist: pass a folder of results/runs/ (e.g. results/runs/resnet18_fer__fer2013__cpu__s0)")
    config, records = _read_json(run_dir / CONFIG_FILE), _read_json(run_dir / METRICS_FILE)
    if any("n_folds" in record for record in records):
        folds = records[0]["n_folds"]
        raise ConfigError(f"{run_dir} is a {folds}-fold run (one model per fold); only single-split runs, e.g. on FER2013, export a model file")
    fold = build_folds(config["dataset"], config["recipe"], config["seed"], None if data_root is None else str(data_root))[0]
    recipe = config["recipe"]
    model = create_model(config["model"], len(fold.train.class_names), int(fold.train.images.shape[-1]), recipe["img_size"], **recipe["model_kwargs"])
    legacy, current = run_dir / LEGACY_WEIGHTS, run_dir / MODEL_FILE
    if legacy.is_file():
        _load_weights(model, torch.load(legacy, map_location="cpu", weights_only=True), str(legacy))
    elif current.is_file():
        model = load_model(current)[0]
    elif (checkpoint := run_dir / "checkpoints" / fold.name / CHECKPOINT_NAME).is_file():
        saved = load_checkpoint(checkpoint)  # the honest epoch's weights; without a validation split, the last epoch's
        _load_weights(model, saved["selection"]["honest"]["model"] or saved["model"], f"{checkpoint} (honest epoch)")
    elif state_bytes(fp16_state(model)) <= FP16_EXPORT_LIMIT:
        rerun = f"python -m fer_lib study --only \"{config['model']} {config['dataset']}\" --force"
        raise ConfigError(f"{run_dir} holds no weights ({MODEL_FILE} or {LEGACY_WEIGHTS}): re-run it (`{rerun}`)")
    # A model too large to commit, trained on another machine, has no weights here; export_run_model then writes its card.
    path = export_run_model(run_dir, model, fold.train, fold.test, *normalization_stats(fold.train), records, config, FP16_EXPORT_LIMIT)
    legacy.unlink(missing_ok=True)
    return path


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: {path.parent} is not a finished run (a run writes {path.name}); run it to completion first")
    return json.loads(path.read_text())
