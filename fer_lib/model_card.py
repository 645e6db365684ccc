"""``MODEL_CARD.md``: what a run's model file is, how it was trained and tested, what it is for and where it fails.

Every fact in the card is read from the run folder (``config.json``, ``metrics.json``), the model file's metadata
or the training split (class counts): nothing is typed by hand, so re-exporting a run regenerates the same card.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic_write import write_atomic
from .data.registry import get_dataset_spec
from .preprocess.face_crop import Framing

if TYPE_CHECKING:  # model_file imports this module to write the card
    from .model_file import ModelInfo

CARD_FILE = "MODEL_CARD.md"
PRECISION_NAMES = {"none": "float32", "bf16": "bf16 autocast", "fp16": "fp16 autocast"}
PROTOCOL_MEANING = {
    "honest": "epoch selected on the validation split, test split read once for it",
    "test_selected": "best epoch on the test split itself, as much published code reports (optimistic)",
}


def write_model_card(
    run_dir: str | os.PathLike[str],
    records: list[dict[str, Any]],
    config: dict[str, Any],
    class_counts: dict[str, int],
    info: "ModelInfo | None",
    framing: Framing | None,
    file_metrics: dict[str, Any] | None,
    file_bytes: int,
    max_bytes: int,
) -> Path:
    """Write ``run_dir/MODEL_CARD.md`` atomically and return it.

    ``info``/``framing`` describe the exported model file of ``file_bytes`` bytes, ``file_metrics`` what that file
    scores on the run's test split; ``info=None`` writes the card of a run whose fp16 weights (``file_bytes``) exceed
    ``max_bytes`` and so were not exported.
    """
    path = Path(run_dir) / CARD_FILE
    text = model_card(Path(run_dir).name, records, config, class_counts, info, framing, file_metrics, file_bytes, max_bytes)
    write_atomic(path, lambda tmp: tmp.write_text(text))
    return path


def model_card(
    run: str,
    records: list[dict[str, Any]],
    config: dict[str, Any],
    class_counts: dict[str, int],
    info: "ModelInfo | None",
    framing: Framing | None,
    file_metrics: dict[str, Any] | None,
    file_bytes: int,
    max_bytes: int,
) -> str:
    """The card's Markdown text (see :func:`write_model_card`)."""
    by_protocol = {r["protocol"]: r for r in records}
    honest = by_protocol["honest"]
    title = get_dataset_spec(config["dataset"]).title
    lines = [
        f"# Model card: `{config['model']}` trained on {title}",
        "",
        f"Run `{run}`. Generated when the run finished (or by `python -m fer_lib export-model results/runs/{run}`) from this "
        "folder's `config.json`, `metrics.json`, the model file's metadata and the training split; regenerate it rather than edit it.",
        "",
        "## Model",
        "",
        *_model_section(run, config, honest, info, file_bytes, max_bytes),
    ]
    if info is not None and framing is not None:
        lines += ["", "## Face crop for new images", "", *_crop_section(info, framing, title)]
    lines += ["", "## Data", "", *_data_section(title, honest, class_counts)]
    lines += ["", "## Training recipe", "", *_recipe_section(config, honest)]
    lines += ["", f"## Test metrics ({honest['split']}, n = {honest['n']})", "", *_metrics_section(records, file_metrics, config)]
    lines += ["", "## Intended use", "", *_intended_use()]
    lines += ["", "## Known failure modes", "", *_failure_modes(title, honest, class_counts, info)]
    return "\n".join(lines) + "\n"


def _model_section(run: str, config: dict[str, Any], honest: dict[str, Any], info: "ModelInfo | None", file_bytes: int, max_bytes: int) -> list[str]:
    kwargs = json.dumps(config["recipe"]["model_kwargs"], sort_keys=True)
    lines = [
        f"- Architecture: `{config['model']}` (registered in `fer_lib.models`), constructor arguments `{kwargs}`, "
        f"{honest['params']:,} parameters, trained from scratch (no pretrained weights).",
    ]
    if info is None:
        lines.append(
            f"- **Not exported**: its fp16 weights take {file_bytes / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit for "
            "files committed with the results. The run that trained it wrote the model file to `checkpoints/model.pt`, which "
            "is not committed: it stays on that machine (e.g. as the source of a fine-tuning run). Elsewhere, re-run it "
            f"(`python -m fer_lib study --only \"{config['model']} {config['dataset']}\" --force`)."
        )
        return lines
    channels = "grey" if info.in_chans == 1 else "RGB"
    return lines + [
        f"- Weights: the honest protocol's epoch {info.epoch} of {honest['epochs']} (selected on {honest['selected_on']}).",
        f"- File: `model.pt`, {file_bytes / 1e6:.1f} MB: fp16 weights and their metadata. "
        f"`fer_lib.model_file.load_model(\"results/runs/{run}\")` returns the model in eval mode and its metadata; "
        f"`python -m fer_lib predict IMAGE --model results/runs/{run}/model.pt` labels every face in an image.",
        f"- Input: {info.in_chans} × {info.img_size} × {info.img_size} ({channels}), normalised per channel with the training "
        f"split's mean {_floats(info.mean)} and std {_floats(info.std)} (pixel values scaled to [0, 1]).",
        f"- Output: {info.num_classes} logits in the order {', '.join(info.class_names)}; their softmax is the class probabilities.",
    ]


def _crop_section(info: "ModelInfo", framing: Framing, title: str) -> list[str]:
    crop = info.crop
    if framing.detected == 0:
        measured = f"Run on {framing.images} training crops, the detector finds no face, so the margin could not be measured: the box itself is used."
    else:
        measured = (
            f"Why this margin: run on {framing.images} training crops (upscaled and padded with black by `measure_framing`), "
            f"the same detector finds a face in {framing.detected}; the crop's side over the box's side gives a median margin of "
            f"{framing.margin:+.3f} (quartiles {framing.margin_q25:+.3f} to {framing.margin_q75:+.3f}), rounded to {crop.margin:g}."
        )
    return [
        f"{title}'s images are already face crops; a new image needs a face detector and a crop that frames faces the "
        f"same way. Recipe: the OpenCV Haar frontal-face box (`fer_lib.preprocess.HaarFaceDetector`), squared on its longer "
        f"side, enlarged by {crop.margin:g} of that side on each side, {'grey' if crop.grayscale else 'RGB'}, "
        f"{'eye-aligned' if crop.align else 'upright (the training crops are not eye-aligned)'}, resized to {crop.size} px; "
        "parts outside the image are black.",
        "",
        measured,
    ]


def _data_section(title: str, honest: dict[str, Any], class_counts: dict[str, int]) -> list[str]:
    total = sum(class_counts.values())
    lines = [
        f"{title}, training split: {total:,} images; epoch selected on {honest['selected_on']}; tested on {honest['split']} "
        f"({honest['n']:,} images).",
        "",
        "| class | training images | share | honest test recall | honest test F1 |",
        "|---|---:|---:|---:|---:|",
    ]
    per_class = honest.get("per_class", {})
    for name, count in class_counts.items():
        stats = per_class.get(name, {})
        recall, f1 = (f"{stats[k]:.3f}" if k in stats else "–" for k in ("recall", "f1"))
        lines.append(f"| {name} | {count:,} | {count / total:.1%} | {recall} | {f1} |")
    return lines


def _trained_precision(config: dict[str, Any], record: dict[str, Any]) -> str:
    """The precision a run trained with: its metrics records say it; a run folder without that field has it in its config."""
    return record.get("precision", config["train_config"]["amp"])


def _recipe_section(config: dict[str, Any], honest: dict[str, Any]) -> list[str]:
    cfg = config["train_config"]
    spec = cfg.get("augment")
    flow = spec is not None and spec.get("kind") == "flow"
    name, what = ("FlowAugment", "flip, affine, (u, v) transformed as vectors") if flow else ("BatchAugment", "flip, affine, erasing")
    augment = "off" if spec is None else f"`{name}({_kwargs({k: v for k, v in spec.items() if k != 'kind'})})` ({what})"
    return [
        f"- Profile `{config['profile']}`, seed {config['seed']}: {cfg['epochs']} epochs, batch {cfg['batch_size']}, {cfg['optimizer'].upper()} "
        f"lr {cfg['lr']:g} ({cfg['schedule']} schedule after a {cfg['warmup_epochs']:g}-epoch warm-up), weight decay {cfg['weight_decay']:g}, "
        f"label smoothing {cfg['label_smoothing']:g}, augmentation {augment}, precision {_trained_precision(config, honest)}.",
        f"- Trained in {honest['train_wall_s'] / 3600:.2f} h on {honest['device']} ({honest['train_images_per_s']:.0f} training images/s), "
        f"commit `{honest['git_sha']}`.",
    ]


def _metrics_section(records: list[dict[str, Any]], file_metrics: dict[str, Any] | None, config: dict[str, Any]) -> list[str]:
    lines = ["| protocol | epoch | accuracy | macro-F1 | UAR | meaning |", "|---|---:|---:|---:|---:|---|"]
    for record in records:
        meaning = PROTOCOL_MEANING.get(record["protocol"], "")
        scores = " | ".join(f"{record[key]:.4f}" for key in ("accuracy", "macro_f1", "uar"))
        lines.append(f"| {record['protocol']} | {record['selected_epoch']} | {scores} | {meaning} |")
    if file_metrics is None:
        return lines
    trained = _trained_precision(config, records[0])
    precision = PRECISION_NAMES.get(trained, trained)
    return lines + [
        "",
        f"The model file holds the honest protocol's weights. Loaded with `load_model` (fp16 weights, float32 compute) it "
        f"scores accuracy {file_metrics['accuracy']:.4f}, macro-F1 {file_metrics['macro_f1']:.4f}, UAR {file_metrics['uar']:.4f} "
        f"on the same {file_metrics['n']:,} test images (the run evaluated its float32 weights in {precision}).",
    ]


def _intended_use() -> list[str]:
    return [
        "- Research and teaching: reproducing this study, a from-scratch baseline to compare against, demonstrating a "
        "facial-expression pipeline on images and video (`python -m fer_lib predict`).",
        "- Not for decisions about people (hiring, security, health, education, policing) and not for inferring what "
        "someone feels: the labels are the expression categories annotators saw in a face, not emotional states.",
    ]


def _failure_modes(title: str, honest: dict[str, Any], class_counts: dict[str, int], info: "ModelInfo | None") -> list[str]:
    total = sum(class_counts.values())
    rarest = min(class_counts, key=class_counts.get)
    commonest = max(class_counts, key=class_counts.get)
    per_class = honest.get("per_class", {})
    lines = []
    if info is not None:
        look = f"{'grey' if info.in_chans == 1 else 'colour'} {info.img_size}×{info.img_size} faces"
        lines.append(
            f"- Domain: it has seen only {title}'s {look}. Other faces — posed laboratory recordings (e.g. CK+), video "
            "frames, other framing, lighting, head poses or ages than the training set's — give different accuracy, not "
            f"measured by this run; its {honest['split']} numbers above hold for {title}-like faces only."
        )
    else:
        lines.append(f"- Domain: trained and tested on {title} only; faces unlike its training faces give other accuracy, not measured by this run.")
    imbalance = (
        f"- Class imbalance: `{rarest}` has {class_counts[rarest]:,} training images ({class_counts[rarest] / total:.1%}), "
        f"`{commonest}` {class_counts[commonest]:,} ({class_counts[commonest] / total:.1%})"
    )
    if rarest in per_class and commonest in per_class:
        imbalance += f"; honest test recall {per_class[rarest]['recall']:.3f} vs {per_class[commonest]['recall']:.3f}"
    lines.append(imbalance + ": a face showing a rare class is often given another label.")
    if per_class:
        weakest = sorted(per_class, key=lambda name: per_class[name]["recall"])[:3]
        lines.append("- Weakest classes by honest test recall: " + ", ".join(f"`{n}` {per_class[n]['recall']:.3f}" for n in weakest) + ".")
    if info is not None:
        lines += [
            "- Detection: the Haar cascade finds frontal faces only; turned, tilted or partly hidden faces are often missed "
            "(`predict` then writes a row without a face), and face-like texture can give false faces.",
            "- One image at a time: no temporal context, so labels of consecutive video frames can flicker.",
        ]
    return lines


def _floats(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:.4f}" for v in values)


def _kwargs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(values.items()))
