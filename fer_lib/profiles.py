"""Training recipes by profile (docs/architecture.md §2): ``smoke`` (CI, minutes), ``cpu`` (≈ 1 h per model on 2 cores), ``paper`` (GPU).

A recipe is plain data: :class:`~fer_lib.engine.TrainConfig` fields plus the data settings below. It is merged from
layers, each later one winning (:func:`recipe_layers`): the profile; the profile's settings for the dataset; what the
model reads (its builder's input size and its registered modality, :func:`fer_lib.models.model_input`); the profile's
budget for the model; for the
(model, dataset) pair; and the run's overrides (notebook parameters that are not ``None``). The resolved recipe is
saved in the run's ``config.json``; ``python -m fer_lib recipe --profile P --model M --dataset D`` prints it with the
layer each value came from. How a dataset is split is not a recipe setting: the dataset declares its protocol
(:mod:`fer_lib.data.protocols`).

Data settings: ``img_size`` (input side), ``train_limit`` / ``eval_limit`` (a stratified sample of that many images;
``None`` = all), ``k_folds`` and ``max_folds`` (subject-independent k-fold for datasets without an official split),
``val_fraction`` (share of the training subjects held out for honest selection in k-fold), ``model_kwargs``,
``modality`` (which data a micro-expression dataset serves, as the model declares it), ``init_from`` (fine-tune from our
own run of the model on that dataset, :mod:`fer_lib.fine_tune`; then the profile's :data:`FINE_TUNING` layer applies, with
:data:`FINE_TUNING_BY_MODEL` over it), ``loader_options`` (keyword arguments of the dataset's loader, e.g.
``{"on_no_face": "skip"}`` for CK+'s full release; no profile sets it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .engine import TrainConfig
from .data import get_dataset_spec, list_datasets
from .models import model_input

PROFILES: dict[str, dict[str, Any]] = {
    # Real images, a few hundred of them, two epochs: proves the whole pipeline runs, not that it learns.
    "smoke": {
        "epochs": 2, "batch_size": 32, "lr": 0.02, "warmup_epochs": 0.0, "img_size": 48,
        "train_limit": 320, "eval_limit": 160, "k_folds": 10, "max_folds": 2, "val_fraction": 0.1,
    },
    # Fits about an hour per model here (2 cores, channels_last, bf16 where faster); FER2013 in full, cosine schedule. The stem
    # reduces 48 px by 4 (stage 1 at 12×12, as torchvision's ResNet at 48 px): about 4× fewer FLOPs than the paper profile.
    "cpu": {
        "epochs": 12, "batch_size": 64, "lr": 0.05, "warmup_epochs": 1.0, "img_size": 48,
        "train_limit": None, "eval_limit": None, "k_folds": 10, "max_folds": None, "val_fraction": 0.1,
        "model_kwargs": {"stem_stride": 4},
    },
    # The paper-scale recipe for one GPU: long cosine schedule, full data.
    "paper": {
        "epochs": 120, "batch_size": 128, "lr": 0.1, "warmup_epochs": 2.0, "img_size": 48,
        "train_limit": None, "eval_limit": None, "k_folds": 10, "max_folds": None, "val_fraction": 0.1,
    },
}  # fmt: skip

# Families of models that share their recipes per dataset, so that the report's ablations (claims.yaml) compare modules
# at one budget, never a module with a longer schedule: a model and its ablations.
RESNET18_FAMILY = ("resnet18_fer", "resnet18_dcn", "dcn_cbam", "resnet18_cbam")  # §4.1.2 and its ablations
RESNET50_FAMILY = ("irnet", "resnet50_fer")  # §4.1.1 and its cross-attention ablation
LKCNN_FAMILY = ("lkcnn", "lkcnn_no_attention")  # §4.2.1 and its attention ablation
SEQUENCE_FAMILY = ("mfem_lstm", "resnet34_lstm")  # §4.2.2 and its MFEM ablation
RECIPE_FAMILIES = (RESNET18_FAMILY, RESNET50_FAMILY, LKCNN_FAMILY, SEQUENCE_FAMILY)


def recipe_family(model: str) -> tuple[str, ...]:
    """The models that share ``model``'s recipes (:data:`RECIPE_FAMILIES`), ``(model,)`` for a model of no family: a
    recipe change for one of them is decided on probes of all of them."""
    return next((family for family in RECIPE_FAMILIES if model in family), (model,))


# Per-(profile, model) budgets, e.g. to keep a heavier model inside the cpu profile's hour.
# LKCNN costs ≈ 6× STSTNet per step and the sequence models ≈ 15× (one thread, 28 px): fewer epochs keep the 68 folds
# inside the cpu profile. The sequence models (two-frame apex face + flow sequences, as they declare): on the CPU a
# quarter-width ResNet34 (width 16) at 28 px, on a GPU the full width at 56 px. 10 epochs left their training loss still
# falling (not converged by fer_lib.convergence's rule); at 20 it settles near 0.03 (MFEM) and 0.006 (ResNet34), with
# 1.1 % and 0.1 % of its fall in the last quarter (seed 0; the report's Convergence).
# torch.compile (non-semantic: speed only) trains LKCNN 1.5×, MFEM-BiLSTM 1.2× and ResNet34-BiLSTM 1.1× faster on one
# thread after 40–60 s of compiling, each later fold's new model reusing the compiled kernels; STSTNet, a few small
# convs, runs slower compiled (results/bench/compile_throughput_megc2019_avx512.json).
SEQUENCE_CPU = {"img_size": 28, "epochs": 20, "model_kwargs": {"width": 16}, "compile": True}
SEQUENCE_PAPER = {"img_size": 56, "epochs": 60, "model_kwargs": {"width": 64}}
SEQUENCE_SMOKE = {"img_size": 28, "model_kwargs": {"width": 8}}
MODEL_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    **{("cpu", name): {"epochs": 20, "compile": True} for name in LKCNN_FAMILY},
    **{(profile, name): recipe for name in SEQUENCE_FAMILY for profile, recipe in (("smoke", SEQUENCE_SMOKE), ("cpu", SEQUENCE_CPU), ("paper", SEQUENCE_PAPER))},
}

# Micro-expressions (paper §4.2), MEGC2019 composite, leave-one-subject-out over 68 subjects, ≈ 435 training maps of
# 28×28 per fold. Honest = a fixed epoch budget (no validation part: the published honest STSTNet protocol; selecting on
# a few held-out subjects is noisier than a fixed budget). No augmentation: a flipped flow map needs its u negated and a
# rotated one its (u, v) rotated, which image augmentation does not do. AdamW: the published STSTNet trains with Adam.
# One thread: these models are tiny, and on a busy 2-core machine a second thread mostly waits at OpenMP barriers.
MICRO_EXPRESSION: dict[str, Any] = {
    "batch_size": 32, "lr": 1e-3, "optimizer": "adamw", "weight_decay": 1e-2, "warmup_epochs": 0.0, "label_smoothing": 0.0,
    "augment": None, "amp": "none", "channels_last": False, "num_threads": 1, "img_size": 28, "val_fraction": None,
    "max_folds": None, "model_kwargs": {},
}  # fmt: skip

# Per-(profile, dataset) adjustments: CK+ folds are small (≈ 800 training faces), so more epochs cost little. The
# paper profile takes the 80 epochs the cpu profile's CK+ runs needed to converge (RUN_OVERRIDES below): at 60 the
# cpu IRNet run was still rising (the report's Convergence), and a GPU pays a few minutes for the rest.
DATASET_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("cpu", "ckplus"): {"epochs": 30, "batch_size": 32, "lr": 0.02},
    ("paper", "ckplus"): {"epochs": 80, "batch_size": 32, "lr": 0.02},
    ("smoke", "megc2019"): MICRO_EXPRESSION | {"epochs": 2, "max_folds": 3},
    ("cpu", "megc2019"): MICRO_EXPRESSION | {"epochs": 60},
    ("paper", "megc2019"): MICRO_EXPRESSION | {"epochs": 200, "num_threads": None},
}


# FER2013 on the cpu profile at 40 px (the 48 px faces resized: 0.69x the FLOPs), batch 128 at lr 0.1 (linear scaling
# from 64 at 0.05; 1.7x the images/s of batch 64 at 48 px on an AVX2 CPU, results/bench/recipe_throughput_avx2.json), no
# random erasing, 50 epochs: about 63 minutes for ResNet18 where bf16 is native. Against 48 px for 20 epochs, the same
# seed gained 2.2 points of honest test accuracy and 6.9 of macro-F1 (the report's Recipe probes), seven times the seed
# standard deviation of that recipe; at 30 epochs it gained none, so the gain is the longer schedule the cheaper input pays for.
FER2013_CPU_40PX: dict[str, Any] = {"img_size": 40, "batch_size": 128, "lr": 0.1, "epochs": 50, "augment": {"erase_p": 0.0}}


# Per-(profile, model, dataset) adjustments, applied after the dataset and model layers.
RUN_OVERRIDES: dict[tuple[str, str, str], dict[str, Any]] = {
    # 12 epochs stopped while validation accuracy still rose. IRNet's ResNet50 trunk with 16 attention modules trains at
    # ≈ 120 img/s with bf16, so 20 epochs at 48 px take ≈ 85 minutes there. 40 px does not buy IRNet epochs: at batch
    # 128 it trains no faster than 48 px on an AVX-512-BF16 CPU (results/bench/recipe_throughput_avx512.json).
    # The image models train eager: compile buys too little. Timed in alternating fresh processes on an Intel AMX CPU,
    # the CK+ recipe trained IRNet 1.10x (1.08-1.10 by round) and ResNet50 1.04x (0.95-1.07) as fast compiled, after 128
    # and 37 s of compiling (results/bench/compile_throughput_ckplus_avx512_amx.json): minutes of a run, not the epochs
    # its convergence lacks. An earlier comparison of a compiled IRNet probe (77 images/s) with an eager run of another
    # day (87) showed compile slower, but the median epochs of that one eager run's folds ranged over 84-94
    # (history.csv): runs made at different times measure the machine's drift as much as compile.
    **{("cpu", name, "fer2013"): {"epochs": 20} for name in RESNET50_FAMILY},
    **{("cpu", name, "fer2013"): FER2013_CPU_40PX for name in RESNET18_FAMILY},
    # CK+ from scratch: 30 epochs (≈ 400 optimizer steps per fold) stopped while learning. At 80 the probe of DCN+CBAM
    # on two folds gained 18 points of honest accuracy over the 30-epoch run on the same folds and converged (the
    # report's Recipe probes); its 10-fold run converged too (best epoch 65 of 80) in about 47 minutes with bf16. The
    # ResNet50 trunk costs over twice that per epoch even at 40 px (the two-fold probes: IRNet 961 s for 60 epochs at 40
    # px, DCN+CBAM 576 s for 80 at 48 px), so it trains at 40 px for 60 epochs: on two folds IRNet gained 6.6 points of
    # honest accuracy over its 30 epochs at 48 px (best epoch 54 of 60; Recipe probes). That probe and the ten-fold runs
    # (81 and 92 minutes with bf16 for seeds 0 and 1, on an AMD and an Intel AMX CPU: at the session budget's edge) all
    # end short of the convergence rule (fitted rises of 0.63, 0.55 and 1.07 points over the last quarter): more epochs
    # do not fit one session on these CPUs. A fine-tuned run takes FINE_TUNING's schedule (the next layer) and, in the
    # ResNet50 family, the input size set here. Four of the ResNet18 family's eight ten-fold runs at 48 px for 80 epochs
    # also end short of the rule; 40 px for 120 epochs (about the same FLOPs) converged in two-fold probes of
    # ResNet18+CBAM (seeds 0, 1), DCN+CBAM and ResNet18 (seed 1), but changed honest test accuracy by −0.06 ± 1.52
    # points and macro-F1 by −1.65 ± 3.00 over those four (the report's Recipe probes, paired over the family): no gain
    # in accuracy. 40 px for 100 epochs (3.1 s per fold-epoch on an Intel AMX CPU) converged too in a two-fold probe of
    # ResNet18 (seed 1: best epoch 29 of 100), so DCN+CBAM was re-made at it over ten folds (66 and 67 minutes on an AMD
    # EPYC with bf16, where 40 px trains no faster per image than 48 px): seed 1 converged (best epoch 70 of 100) and seed
    # 0 did not (best epoch 100, +1.84 points over the last quarter), the reverse of its 48 px runs, at 84.29 and 85.12
    # honest accuracy against 84.65 and 86.23 (the runs of commits 36beaed and a0a4bf5). One seed of two converged under
    # either schedule, at lower accuracy and 1.4x the time, so the family stays at 48 px for 80 epochs, one recipe for
    # the ablations to compare.
    **{("cpu", name, "ckplus"): {"epochs": 80} for name in RESNET18_FAMILY},
    **{("cpu", name, "ckplus"): {"img_size": 40, "epochs": 60} for name in RESNET50_FAMILY},
    # Flow-map augmentation (flip negates u, rotation turns (u, v); fer_lib.preprocess.flow_augment) for LKCNN and its
    # ablation, so that the pair still compares one module: against the unaugmented runs of the same three seeds it
    # raised LKCNN's mean honest UF1 (two seeds up, one level; the report's Seeds section). The other micro-expression
    # models keep the MICRO_EXPRESSION recipe.
    **{("cpu", name, "megc2019"): {"augment": {"kind": "flow"}} for name in LKCNN_FAMILY},
}


# A fine-tuned run (recipe key ``init_from``) starts from trained features: a short schedule at a lower rate with
# no warm-up, applied after the (model, dataset) layer and before the run's own overrides. 15 cpu epochs (9–23 minutes
# of training per run; 10 stopped ResNet18+CBAM while it still rose).
FINE_TUNING: dict[str, dict[str, Any]] = {
    "smoke": {"warmup_epochs": 0.0},
    "cpu": {"epochs": 15, "lr": 0.01, "warmup_epochs": 0.0},
    "paper": {"epochs": 30, "lr": 0.01, "warmup_epochs": 0.0},
}
# Per family, over FINE_TUNING. At 15 epochs ResNet18+CBAM's curve still edged up (94.5–95.4 at epochs 8–11, 95.6–95.9
# at 13–15: a fitted rise of 0.90 points over the last quarter; the report's Convergence), so the ResNet18 family
# fine-tunes for 25 (≈ 15–19 minutes per run here). The ResNet50 family keeps 15: ResNet50's curve rose too (+1.29 and
# +1.05 for seeds 0 and 1), and at 25 epochs seed 1 converged (best epoch 16, −0.30 points over the last quarter; honest
# accuracy 90.63 against 90.52, macro-F1 86.16 against 84.84; the report's Recipe probes), but its FER2013 source models
# (≈ 48 MB) are too large to commit, so re-making the family's four fine-tuned runs first re-trains the sources this
# machine lacks (≈ 85 minutes each): a change for sessions that keep the machine.
FINE_TUNING_BY_MODEL: dict[tuple[str, str], dict[str, Any]] = {("cpu", name): {"epochs": 25} for name in RESNET18_FAMILY}


def recipe_layers(profile: str, model: str, dataset: str, overrides: dict[str, Any] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The named layers the recipe of ``profile`` for ``model`` on ``dataset`` is merged from, first to last."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {sorted(PROFILES)}")
    declared = model_input(model)
    reads = {"img_size": declared.img_size, "modality": declared.modality}
    return [
        (f"profile {profile}", {"model_kwargs": {}, **PROFILES[profile]}),
        (f"dataset {dataset} ({profile})", DATASET_OVERRIDES.get((profile, dataset), {})),
        (f"model {model} input", {k: v for k, v in reads.items() if v is not None}),
        (f"model {model} budget ({profile})", MODEL_OVERRIDES.get((profile, model), {})),
        (f"{model} on {dataset} ({profile})", RUN_OVERRIDES.get((profile, model, dataset), {})),
        (f"fine-tuning ({profile})", FINE_TUNING[profile] | FINE_TUNING_BY_MODEL.get((profile, model), {}) if (overrides or {}).get("init_from") else {}),
        ("overrides", {k: v for k, v in (overrides or {}).items() if v is not None}),
    ]


def resolve_recipe(profile: str, model: str, dataset: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The recipe of ``profile`` for ``model`` on ``dataset``, with the non-``None`` ``overrides`` applied last; a
    ``ValueError`` when the dataset does not serve what the model reads (:func:`check_model_reads`)."""
    recipe: dict[str, Any] = {}
    for _, layer in recipe_layers(profile, model, dataset, overrides):
        recipe |= layer
    check_model_reads(model, dataset, recipe.get("modality"))
    return recipe


def check_model_reads(model: str, dataset: str, modality: str | None) -> None:
    """A ``ValueError`` unless ``dataset`` serves, as ``modality`` (the recipe's; ``None``: the loader's default), the
    kind of input ``model`` reads: an image model handed flow maps would learn from the wrong data without a word, and
    a flow model handed face images would fail deep inside training."""
    kind = model_input(model).kind
    serves = get_dataset_spec(dataset).modalities
    if serves.get(modality) == kind:
        return
    if modality in serves:
        problem = f"{dataset} serves {serves[modality]} inputs " + ("by default" if modality is None else f"as modality {modality!r}")
    elif serves:
        served = ", ".join(f"{k} inputs" if m is None else f"{k} inputs as {m!r}" for m, k in serves.items())
        problem = f"{dataset} has no modality {modality!r} (it serves {served})"
    else:
        problem = f"{dataset} serves no model inputs"
    fits = [m for m, k in serves.items() if k == kind]
    if fits:
        fix = "leave modality unset" if fits[0] is None else f"set modality={fits[0]!r} (--set modality={fits[0]}) for its {kind} inputs"
    else:
        others = [name for name in list_datasets() if kind in get_dataset_spec(name).modalities.values()]
        fix = f"choose a dataset that serves {kind} inputs: {', '.join(others)}"
    raise ValueError(f"{model} reads {kind} inputs, but {problem}: {fix}")


def explain_recipe(profile: str, model: str, dataset: str, overrides: dict[str, Any] | None = None) -> list[tuple[str, Any, str]]:
    """``(key, value, source)`` for every setting of the run: the recipe's, each with the last layer that set it, then
    the :class:`~fer_lib.engine.TrainConfig` fields no layer sets, with their defaults."""
    sources: dict[str, tuple[Any, str]] = {}
    for name, layer in recipe_layers(profile, model, dataset, overrides):
        sources |= {key: (value, name) for key, value in layer.items()}
    defaults = {f.name: f for f in dataclasses.fields(TrainConfig) if f.name not in sources and f.name not in ("seed", "device")}
    for key, spec in defaults.items():
        default = spec.default_factory() if spec.default is dataclasses.MISSING else spec.default  # type: ignore[misc]
        sources[key] = (default, "TrainConfig default")
    return [(key, value, source) for key, (value, source) in sources.items()]
