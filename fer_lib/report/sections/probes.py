"""Recipe probes: runs trained by hand with settings the study's recipe does not hold (``probes/``), each set beside the
study's run it would replace, so that a recipe change is decided on files and the decision can be read back."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from ...metrics import classification_metrics
from ...profiles import recipe_family
from ...runs import current_recipe, recipe_differences, recipe_hash, recorded_recipe
from ..collect import CROSS_DATASET_FILE, TTA_FILE, Run
from ..context import Context
from ..markdown import bullets, code, table
from ..provenance import Value, computed, constant, derive, from_file

HEADER = [
    "Probe", "Compared with", "Settings changed (study run -> probe)", "Val. accuracy at the honest epoch (%): study / probe",
    "Honest test accuracy (%): study / probe", "Δ test (points)", "Seed std of the study's honest test accuracy (points)",
    "Honest test macro-F1 (%): study / probe", "Δ macro-F1 (points)", "Seed std of the study's honest test macro-F1 (points)", "Ten-view TTA test accuracy (%): study / probe",
    "Cross-dataset accuracy (%): study / probe", "Training wall time (s): study / probe", "Training images/s: study / probe",
    "Probe's settings in the recipe now",
]  # fmt: skip
REPEATED_HEADER = [
    "Settings changed (study runs -> probes)", "Models and seeds", "Dataset", "Profile",
    "Honest test macro-F1 (%), mean ± std: study / probes", "Δ macro-F1 (points): mean ± standard error",
    "Honest test accuracy (%), mean ± std: study / probes", "Δ accuracy (points): mean ± standard error",
    "Effect beyond the standard-error threshold",
]  # fmt: skip
SE_MULTIPLE = 2  # a mean paired difference within two standard errors of 0 is read as no effect


def _fold_score(metric: str, labels: Any, preds: Any) -> float:
    """One fold's ``metric`` (``accuracy`` or ``macro_f1``) from its labels and predictions, as ``metrics.json`` records it."""
    classes = range(int(max(labels.max(), preds.max())) + 1)  # classes above both maxima have no support: left out anyway
    return float(classification_metrics(labels.to_numpy(), preds.to_numpy(), classes)[metric])


def probes(ctx: Context) -> str:
    text = "## Recipe probes\n\n"
    if not ctx.study.probe_states:
        return text + f"No recipe probe: {code('probes/')} holds no run folder.\n\n"
    text += (
        f"Runs trained by hand ({code('python -m fer_lib train --output results/probes/<name> --set key=value')}) with "
        "settings that the study's recipe does not hold, each beside the study's complete run of the same model, "
        "dataset, profile and seed. A probe is read on validation first (the split that selects epochs); the test, "
        "time and cross-dataset columns are read after, and a test difference within the seed spread of the study's "
        "runs (their standard deviation over seeds) says little. Macro-F1 is the figure to read where classes are "
        "imbalanced (on MEGC2019 it is UF1, on the pooled LOSO predictions). No other section takes a number from a probe. Wall times "
        "compare only on the same machine (each run's `env.json` names it). A k-fold probe that ran fewer folds "
        f"({code('max_folds')}) is compared with the study run's mean over the same folds, read from its "
        f"{code('predictions.csv')}.\n\n"
    )
    rows, unpaired, pairs = [], [], []
    for probe in ctx.study.probes:
        study_run = _study_run(ctx, probe)
        if study_run is None:
            unpaired.append(f"{code(probe.name)}: no complete study run of {code(probe.model)} on {code(probe.dataset)} "
                            f"(profile {code(probe.profile)}, seed {code(probe.seed)}) to compare it with")  # fmt: skip
            continue
        changed = recipe_differences(recorded_recipe(study_run.state.config or {}), recorded_recipe(probe.state.config or {})) or "none"
        rows.append(_row(ctx, probe, study_run, changed))
        pairs.append((probe, study_run, changed))
    if rows:
        text += table(HEADER, rows, right=(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)) + "\n"
    text += _repeated(ctx, pairs)
    not_complete = [f"{code(s.name)} ({s.status}): {code(s.detail)}" for s in ctx.study.probe_states if s.status != "complete"]
    if unpaired or not_complete:
        text += "Probe folders not compared:\n\n" + bullets(unpaired + not_complete) + "\n"
    return text


def _repeated(ctx: Context, pairs: list[tuple[Run, Run, str]]) -> str:
    """One row per settings change probed on two or more (model, seed) pairs of one recipe family
    (:func:`~fer_lib.profiles.recipe_family`: the models that share a recipe), dataset and profile: the differences
    (probe − study run of the same model and seed) as mean ± standard error, so one lucky seed or model decides nothing.
    ``pairs``: ``(probe, study run, settings changed)``."""
    groups: dict[tuple[Any, ...], list[tuple[Run, Run]]] = defaultdict(list)
    for probe, study_run, changed in pairs:
        groups[(changed, recipe_family(probe.model), probe.dataset, probe.profile, str(probe.init_from))].append((probe, study_run))
    rows = []
    for (changed, _, dataset, profile, _), members in sorted(groups.items()):
        if len({(probe.model, probe.seed) for probe, _ in members}) < 2:
            continue
        members.sort(key=lambda pair: (pair[0].model, pair[0].seed))
        summaries = [_paired_summary(ctx, members, metric) for metric in ("macro_f1", "accuracy")]
        verdicts = [verdict for _, _, verdict in summaries if verdict]
        cells = [cell for means, delta, _ in summaries for cell in (means, delta)]
        effect = "; ".join(v for v in verdicts if v != "none") or ("none shown" if verdicts else "—")
        rows.append([code(changed), _models_and_seeds(ctx, members), code(dataset), code(profile), *cells, effect])
    if not rows:
        return ""
    multiple = ctx.prov.number(Value(SE_MULTIPLE, constant(f"{__name__}.SE_MULTIPLE")), decimals=None)
    return (
        "A setting probed on more than one seed, or on more than one model of a family that shares its recipes "
        f"({code('fer_lib.profiles.recipe_family')}), paired run by run with the study run of the same model and seed "
        "(Δ = probe − study run); the standard error is the standard deviation of the differences over the square root "
        f"of their count. A mean Δ within {multiple} standard errors of zero is no evidence of an effect.\n\n"
        + table(REPEATED_HEADER, rows, right=(4, 5, 6, 7)) + "\n"
    )  # fmt: skip


def _models_and_seeds(ctx: Context, members: list[tuple[Run, Run]]) -> str:
    """``members``' probes as ``model`` seeds, e.g. "`dcn_cbam` 1; `resnet18_cbam` 0, 1" (sorted by model, then seed)."""
    seeds: dict[str, list[str]] = defaultdict(list)
    for probe, _ in members:
        seeds[probe.model].append(ctx.prov.number(Value(probe.seed, from_file(probe.metrics_file, 0, "seed")), decimals=None))
    return "; ".join(f"{code(model)} {', '.join(values)}" for model, values in seeds.items())


def _paired_summary(ctx: Context, members: list[tuple[Run, Run]], metric: str) -> tuple[str, str, str]:
    """``(study / probes means ± std, mean Δ ± standard error, verdict)`` of the honest test ``metric`` over the pairs; the
    verdict is ``"none"`` when the mean Δ is within the threshold, ``""`` when a figure is missing."""
    study = [_study_test_on_probe_folds(ctx, study_run, probe, metric) for probe, study_run in members]
    probed = [probe.value("honest", metric) for probe, _ in members]
    if any(value is None for value in study + probed):
        return "—", "—", ""
    deltas = [derive("sub", p, q) for p, q in zip(probed, study)]
    mean, error = derive("mean", *deltas), derive("se_mean", *deltas)

    def spread(values: list[Value]) -> str:
        return f"{ctx.prov.number(derive('mean', *values), scale=100)} ± {ctx.prov.number(derive('std', *values), scale=100)}"

    label = {"macro_f1": "macro-F1", "accuracy": "accuracy"}[metric]
    verdict = "none"
    if abs(mean.value) > SE_MULTIPLE * error.value:
        verdict = f"{label}: probes {'better' if mean.value > 0 else 'worse'}"
    count = ctx.prov.number(derive("count", *deltas), decimals=None)
    delta = f"{ctx.prov.number(mean, scale=100, signed=True)} ± {ctx.prov.number(error, scale=100)} (n={count})"
    return f"{spread(study)} / {spread(probed)}", delta, verdict


def _study_run(ctx: Context, probe: Run) -> Run | None:
    key = (probe.model, probe.dataset, probe.profile, probe.seed, probe.init_from)
    return next((run for run in ctx.study.runs if (run.model, run.dataset, run.profile, run.seed, run.init_from) == key), None)


def _row(ctx: Context, probe: Run, study_run: Run, changed: str) -> list[str]:
    compared = {metric: _compare(ctx, study_run, probe, metric) for metric in ("accuracy", "macro_f1")}
    cross = [
        f"{code(dataset)} {_number(ctx, study_value)} / {_number(ctx, probe_value)}"
        for dataset, study_value, probe_value in _paired_cross_dataset(study_run, probe)
    ]  # fmt: skip
    return [
        code(probe.name), code(study_run.name), code(changed),
        _pair(ctx, _selected_validation(study_run), _selected_validation(probe)),
        *compared["accuracy"], *compared["macro_f1"],
        _pair(ctx, _test_tta(study_run), _test_tta(probe)),
        "; ".join(cross) or "—",
        _pair(ctx, study_run.value("honest", "train_wall_s"), probe.value("honest", "train_wall_s"), scale=1, decimals=0),
        _pair(ctx, study_run.value("honest", "train_images_per_s"), probe.value("honest", "train_images_per_s"), scale=1, decimals=1),
        "yes" if _in_recipe(probe) else "no",
    ]  # fmt: skip


def _compare(ctx: Context, study_run: Run, probe: Run, metric: str) -> list[str]:
    """``[study / probe, Δ, seed std]`` cells of the honest test ``metric``."""
    study_test, probe_test = _study_test_on_probe_folds(ctx, study_run, probe, metric), probe.value("honest", metric)
    delta = "—" if study_test is None or probe_test is None else ctx.prov.number(derive("sub", probe_test, study_test), scale=100, signed=True)
    return [_pair(ctx, study_test, probe_test), delta, _seed_spread(ctx, study_run, metric)]


def _study_test_on_probe_folds(ctx: Context, study_run: Run, probe: Run, metric: str) -> Value | None:
    """The study run's honest test ``metric`` on the probe's test folds: its own figure when both ran the same folds, else
    the mean per-fold figure over the probe's folds (k-fold runs report the mean over folds). ``None`` when a fold's
    test samples differ between the two, since the figures would then describe different subjects."""
    if study_run.first.get("n_folds") == probe.first.get("n_folds"):
        return study_run.value("honest", metric)
    study, probed = (_honest_predictions(ctx, run) for run in (study_run, probe))
    per_fold = []
    for fold, rows in probed.groupby("fold"):
        same_fold = study[study["fold"] == fold]
        if set(same_fold["sample_id"]) != set(rows["sample_id"]):
            return None
        per_fold.append(_fold_score(metric, same_fold["label"], same_fold["pred"]))
    folds = sorted(int(fold) for fold in probed["fold"].unique())
    return Value(sum(per_fold) / len(per_fold), computed(f"fold_mean_{metric}", predictions=f"{study_run.folder}/predictions.csv", folds=folds))


def _honest_predictions(ctx: Context, run: Run) -> pd.DataFrame:
    """The honest rows of a complete run's ``predictions.csv``; a damaged file stops the report, naming it."""
    path = ctx.study.results_dir / run.folder / "predictions.csv"
    try:
        predictions = pd.read_csv(path, usecols=["sample_id", "fold", "protocol", "label", "pred"])
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read ({type(error).__name__}: {error}); re-make the run {run.name}") from error
    return predictions[predictions["protocol"] == "honest"]


def _number(ctx: Context, value: Value | None, scale: float = 100, decimals: int = 2) -> str:
    return "—" if value is None else ctx.prov.number(value, scale=scale, decimals=decimals)


def _pair(ctx: Context, study_value: Value | None, probe_value: Value | None, scale: float = 100, decimals: int = 2) -> str:
    return f"{_number(ctx, study_value, scale, decimals)} / {_number(ctx, probe_value, scale, decimals)}"


def _seed_spread(ctx: Context, study_run: Run, metric: str) -> str:
    """The sample standard deviation of the honest ``metric`` over the seeds of the study run's configuration, with their count."""
    group = next(g for g in ctx.group(study_run.model, study_run.dataset) if any(run is study_run for run in g.runs))
    values = group.values("honest", metric)
    if len(values) < 2:
        return f"one seed ({code(study_run.name)})"
    std, count = derive("std", *values), derive("count", *values)
    return f"{ctx.prov.number(std, scale=100)} (n={ctx.prov.number(count, decimals=None)})"


def _selected_validation(run: Run) -> Value | None:
    """The validation accuracy of a single-split run at its honest (validation-selected) epoch, from ``history.csv``."""
    found = run.record("honest")
    epoch = found[1].get("selected_epoch") if found else None
    if run.history is None or not isinstance(epoch, int) or "val_acc" not in run.history:
        return None
    rows = run.history[run.history["epoch"] == epoch]
    if len(rows) != 1:  # k-fold and LOSO runs select one epoch per fold
        return None
    return Value(float(rows["val_acc"].iloc[0]), computed("history_value", history=f"{run.folder}/history.csv", column="val_acc", epoch=epoch))


def _test_tta(run: Run) -> Value | None:
    """The ten-view TTA accuracy of the run's honest model on its test split (``tta.json``, role ``test``)."""
    records = run.extras.get(TTA_FILE)
    for index, record in enumerate(records if isinstance(records, list) else []):
        accuracy = (record.get("tta") or {}).get("accuracy")
        if record.get("role") == "test" and isinstance(accuracy, (int, float)):
            return Value(accuracy, from_file(f"{run.folder}/{TTA_FILE}", index, "tta", "accuracy"))
    return None


def _paired_cross_dataset(study_run: Run, probe: Run) -> list[tuple[str, Value | None, Value | None]]:
    """``(evaluation dataset, study run's accuracy, probe's accuracy)`` for every dataset either was evaluated on."""
    found = [_cross_dataset(study_run), _cross_dataset(probe)]
    datasets = sorted(set(found[0]) | set(found[1]))
    return [(dataset, found[0].get(dataset), found[1].get(dataset)) for dataset in datasets]


def _cross_dataset(run: Run) -> dict[str, Value]:
    records: Any = run.extras.get(CROSS_DATASET_FILE)
    values = {}
    for index, record in enumerate(records if isinstance(records, list) else []):
        if isinstance(record.get("accuracy"), (int, float)):
            values[str(record.get("eval_dataset"))] = Value(record["accuracy"], from_file(f"{run.folder}/{CROSS_DATASET_FILE}", index, "accuracy"))
    return values


def _in_recipe(probe: Run) -> bool:
    """Whether the current code's recipe for the probe's model and dataset, without overrides, is the probe's recipe."""
    config = probe.state.config or {}
    return recipe_hash(recorded_recipe(config)) == recipe_hash(current_recipe(probe.profile, probe.model, probe.dataset))
