"""The comparison report: run states, seeds, ablations, determinism, and that every printed number traces to a file."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import statistics
from collections import Counter
from functools import reduce
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score

from fer_lib.claims import load_claims
from fer_lib.errors import ConfigError
from fer_lib.profiles import resolve_recipe
from fer_lib.report import build_report, convergence, printed_numbers, run_input_shape, train_flops_per_sample
from fer_lib.report.markdown import code
from fer_lib.report.provenance import format_number
from fer_lib.report.seeds import SeedGroup
from fer_lib.report.sections import ablations
from fer_lib.runs import FAILURE_FILE, run_name, scan_runs

REPO_RESULTS = Path(__file__).resolve().parents[1] / "results"
MEGC_CLASSES = ["negative", "positive", "surprise"]
CK_CLASSES = ["angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"]
FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
STALE_ACCURACY = 0.1234  # printed as 12.34 if the report wrongly showed the stale run


def _record(model: str, dataset: str, protocol: str, seed: int, accuracy: float, classes: list[str], **extra: Any) -> dict[str, Any]:
    k = len(classes)
    return {
        "model": model, "dataset": dataset, "protocol": protocol, "profile": "smoke", "seed": seed, "split": "LOSO, 3 subjects",
        "n": 30, "accuracy": accuracy, "macro_f1": accuracy - 0.05, "uar": accuracy - 0.03, "epochs": 4,
        "selected_epoch": [4, 4, 4] if protocol == "honest" else [2, 3, 1], "train_wall_s": 61.5, "train_images_per_s": 250.0,
        "params": 1683, "device": "cpu", "git_sha": "abc", "pretrained": False,
        "per_class": {c: {"f1": 0.5} for c in classes}, "confusion_matrix": np.eye(k, dtype=int).tolist(), **extra,
    }  # fmt: skip


def _loso_records(model: str, seed: int, accuracy: float) -> list[dict[str, Any]]:
    records = []
    for protocol, bonus in (("honest", 0.0), ("test_selected", 0.07)):
        acc = accuracy + bonus
        databases = enumerate(("casme2", "samm", "smic"))
        by_db = {db: {"n": 10, "uf1": acc - 0.1 + i / 50, "uar": acc - 0.08, "accuracy": acc + i / 100} for i, db in databases}
        records.append(_record(model, "megc2019", protocol, seed, acc, MEGC_CLASSES, uf1=acc - 0.05, n_folds=3, by_database=by_db))
    return records


def _kfold_records(model: str, seed: int, accuracy: float) -> list[dict[str, Any]]:
    records = []
    for protocol, bonus in (("honest", 0.0), ("test_selected", 0.04)):
        acc = accuracy + bonus
        stats = {f"{m}_{s}": v for m in ("accuracy", "macro_f1", "uar") for s, v in (("mean", acc), ("std", 0.05))}
        pooled = {"accuracy": acc + 0.001, "macro_f1": acc - 0.04, "uar": acc - 0.02}
        record = _record(model, "ckplus", protocol, seed, acc, CK_CLASSES, n_folds=2, pooled=pooled, **stats)
        records.append(record | {"split": "2 subject-independent folds", "selected_epoch": [3, 4]})
    return records


def _history(epochs: int, validation: bool, rising: bool) -> pd.DataFrame:
    rows = []
    for fold in ("a", "b"):
        for epoch in range(1, epochs + 1):
            val = 0.3 + (0.05 * epoch if rising else 0.3 * min(epoch, 2) / 2)
            rows.append({"epoch": epoch, "train_loss": 1.0 / epoch, "val_acc": val if validation else np.nan, "test_acc": 0.5, "fold": fold})
    return pd.DataFrame(rows)


def _write_run(
    results: Path,
    model: str,
    dataset: str,
    seed: int,
    records: list[dict] | None,
    history: pd.DataFrame | None = None,
    init_from: str | None = None,
    profile: str = "smoke",
    **recipe_changes: Any,
) -> Path:
    folder = results / "runs" / run_name(model, dataset, profile, seed, init_from)
    (folder / "figures").mkdir(parents=True)
    overrides = {"init_from": init_from} if init_from else {}
    recipe = resolve_recipe(profile, model, dataset, overrides) | recipe_changes
    config = {"model": model, "dataset": dataset, "profile": profile, "seed": seed, "overrides": overrides, "recipe": recipe, "pretrained": False}
    (folder / "config.json").write_text(json.dumps(config))
    if records is not None:
        (folder / "metrics.json").write_text(json.dumps(records))
    if history is not None:
        history.to_csv(folder / "history.csv", index=False)
    (folder / "figures" / "confusion_honest.png").write_bytes(b"\x89PNG fixture")
    (folder / "05_lkcnn.ipynb").write_text("{}")
    return folder


@pytest.fixture(scope="module")
def fixture_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder with every kind of run folder: two seeds of LKCNN and of its ablation, one STSTNet run with the
    published-weights check, a cross-dataset and a TTA file, a k-fold CK+ run, a failed, a stale and a half-written run."""
    results = tmp_path_factory.mktemp("results")
    loso_history = _history(4, validation=False, rising=False)
    for seed, (lk, base) in enumerate(((0.74, 0.72), (0.76, 0.71))):
        lkcnn = _write_run(results, "lkcnn", "megc2019", seed, _loso_records("lkcnn", seed, lk), loso_history)
        views = {"single_view": {"n": 442, "accuracy": lk, "macro_f1": lk - 0.04}, "tta": {"n": 442, "accuracy": lk + 0.02, "macro_f1": lk + 0.01 * seed}}
        (lkcnn / "tta.json").write_text(json.dumps([{"role": "test", "split": "LOSO, 68 subjects", "views": "ten_view", **views}]))
        _write_run(results, "lkcnn_no_attention", "megc2019", seed, _loso_records("lkcnn_no_attention", seed, base), loso_history)
    # The last LKCNN seed trained on a bf16 CPU: env.json names its instruction set, metrics.json what "auto" resolved to.
    (lkcnn / "env.json").write_text(json.dumps({"device": "cpu", "device_name": "AMD EPYC", "cpu_capability": "AVX512"}))
    records = json.loads((lkcnn / "metrics.json").read_text())
    (lkcnn / "metrics.json").write_text(json.dumps([record | {"precision": "bf16"} for record in records]))
    ststnet = _write_run(results, "ststnet", "megc2019", 0, _loso_records("ststnet", 0, 0.73), loso_history)
    check = {"published": {"uf1": 0.7209, "uar": 0.725}, "ours": {"n": 442, "accuracy": 0.7398, "macro_f1": 0.72094, "uar": 0.72497}}
    (ststnet / "published_ststnet_check.json").write_text(json.dumps(check))
    scores = {"n": 3, "accuracy": 0.6667, "macro_f1": 0.5, "uar": 0.5}
    cross = [{"train_dataset": "megc2019", "eval_dataset": "casme2", "classes": MEGC_CLASSES, **scores}]
    (ststnet / "cross_dataset.json").write_text(json.dumps(cross))
    tta = [{"role": "test", "split": "PrivateTest", "views": "ten_view", "single_view": {"n": 3, "accuracy": 0.6, "macro_f1": 0.5}, "tta": {"n": 3, "accuracy": 0.625, "macro_f1": 0.55}}]
    (ststnet / "tta.json").write_text(json.dumps(tta))
    # Trained under an earlier version of the convergence rule: its metrics.json keeps a verdict the current rule reverses
    ck_records = [r | {"convergence": {"basis": "validation", "converged": True}} if r["protocol"] == "honest" else r for r in _kfold_records("resnet18_fer", 0, 0.81)]
    _write_run(results, "resnet18_fer", "ckplus", 0, ck_records, _history(4, validation=True, rising=True))
    # DCN+CBAM on FER2013, two seeds: TTA wins on validation for seed 1 and loses for seed 2, whatever the test says
    for seed, val, test in ((1, (0.60, 0.62), (0.64, 0.67)), (2, (0.61, 0.60), (0.65, 0.69))):
        verdict = {"convergence": {"basis": "validation", "converged": True}}  # what the current rule says of the flat history
        records = [_record("dcn_cbam", "fer2013", p, seed, test[0], FER_CLASSES, split="PrivateTest", **verdict) for p in ("honest", "test_selected")]
        dcn = _write_run(results, "dcn_cbam", "fer2013", seed, records, _history(4, validation=True, rising=False))
        scored = (("val", "validation", val), ("test", "PrivateTest", test))
        views = [{"role": role, "split": split, "views": "ten_view", "single_view": {"n": 9, "accuracy": one}, "tta": {"n": 9, "accuracy": ten}} for role, split, (one, ten) in scored]
        (dcn / "tta.json").write_text(json.dumps(views))
    failed = _write_run(results, "irnet", "fer2013", 0, None)
    failure = {"error": "RuntimeError: CUDA out of memory at epoch 3", "notebook": "03_irnet.ipynb", "step": "03_irnet irnet fer2013"}
    (failed / FAILURE_FILE).write_text(json.dumps(failure))
    stale = _loso_records("ststnet", 1, STALE_ACCURACY)
    _write_run(results, "ststnet", "megc2019", 1, stale, loso_history, epochs=99)
    half = _write_run(results, "mfem_lstm", "megc2019", 0, None, loso_history)
    (half / "metrics.json").write_text(json.dumps(_loso_records("mfem_lstm", 0, 0.6))[:200])
    (results / "bench").mkdir()
    (results / "bench" / "latency.json").write_text(json.dumps({"model": "ststnet", "ms_per_face": 1.25, "rounds": [1.2, 1.3], "ok": True}))
    (results / "01_datasets").mkdir()
    inventory = [{"name": "rafdb", "title": "RAF-DB", "found": False}, {"name": "megc2019", "title": "MEGC2019 composite", "found": True}]
    (results / "01_datasets" / "datasets.json").write_text(json.dumps({"datasets": inventory}))
    return results


@pytest.fixture(scope="module")
def fixture_report(fixture_results: Path, tmp_path_factory: pytest.TempPathFactory, fer_data: Path):
    out = tmp_path_factory.mktemp("report")
    return build_report(fixture_results, out / "report.md", out / "report.html", data_root=fer_data)


def _row(markdown: str, first_cell: str, section: str = "") -> str:
    """The first table row starting with ``first_cell``, after the heading ``section`` when given."""
    text = markdown[markdown.index(section) :] if section else markdown
    return next(line for line in text.splitlines() if line.startswith(f"| {first_cell} |"))


def test_every_run_state_is_shown_as_such(fixture_report):
    md = fixture_report.markdown
    status = "## Run status"
    assert "| complete |" in _row(md, code("lkcnn__megc2019__smoke__s0"), status)
    assert "| failed | `RuntimeError: CUDA out of memory at epoch 3` |" in _row(md, code("irnet__fer2013__smoke__s0"), status)
    assert "| stale | `recipe differs: epochs 99 -> 2" in _row(md, code("ststnet__megc2019__smoke__s1"), status)
    assert "| incomplete | `metrics.json does not parse" in _row(md, code("mfem_lstm__megc2019__smoke__s0"), status)
    assert format_number(STALE_ACCURACY, 100) not in md  # a stale run's numbers are never shown as current
    assert "Run folders: 8 complete, 1 stale, 1 failed, 1 incomplete." in md
    # the study's runs of the profile that have no folder yet are listed with the arguments that make them; a folder
    # of any state (the failed IRNet run, the complete LKCNN run) is not
    start = md.index("Study runs not made yet:")
    not_made = md[start : md.index("\n## ", start)]
    assert "| `dcn_cbam__fer2013__smoke__s0` | `04_dcn_cbam dcn_cbam fer2013` | `--profile smoke --step 3` |" in not_made
    assert code("irnet__fer2013__smoke__s0") not in not_made and code("lkcnn__megc2019__smoke__s0") not in not_made


def test_seeds_show_mean_std_and_n(fixture_report):
    md = fixture_report.markdown
    assert "75.00 ± 1.41 (n=2)" in _row(md, f"{code('lkcnn')} | {code('megc2019')}", "## Seeds")  # honest accuracy 0.74, 0.76
    assert "73.00 (n=1)" in _row(md, f"{code('ststnet')} | {code('megc2019')}", "## Seeds")
    ablation = _row(md, "relative-position attention gate (§4.2.1)")
    assert "| +3.50 | +3.50 | 2.24 | yes |" in ablation  # Δ 75.0 − 71.5 against 2·sqrt(1.41²/2 + 0.71²/2)


def test_tta_shows_each_run_and_the_mean_over_seeds(fixture_report):
    md = fixture_report.markdown
    assert "| 74.00 / 76.00 | +2.00 | 70.00 / 74.00 |" in _row(md, code("lkcnn__megc2019__smoke__s0"), "## Test-time augmentation")
    # single view 0.74, 0.76 -> 75.00 ± 1.41; TTA 0.76, 0.78 -> 77.00 ± 1.41; macro-F1 0.70, 0.72 / 0.74, 0.77
    over_seeds = _row(md, f"{code('lkcnn')} | {code('megc2019')}", "Over seeds")
    assert over_seeds.endswith("| `LOSO, 68 subjects` | 75.00 ± 1.41 (n=2) / 77.00 ± 1.41 (n=2) | 71.00 ± 1.41 (n=2) / 75.50 ± 2.12 (n=2) |")
    assert "Over seeds" in md and code("ststnet") + " | " not in md[md.index("Over seeds") : md.index("\n## ", md.index("Over seeds"))]


def test_an_ablation_row_names_a_fine_tuned_pairs_start():
    """The same pair fine-tuned and from scratch are two rows of the Ablations table, told apart by their start."""
    fine_tuned, scratch = (SeedGroup("resnet18_dcn", "ckplus", "cpu", start, ()) for start in ("fer2013", ""))
    assert ablations._where(fine_tuned) == "`ckplus`, `cpu`, fine-tuned from `fer2013`" and ablations._where(scratch) == "`ckplus`, `cpu`"


def test_costs_name_the_instruction_set_and_precision_each_run_trained_in(fixture_report):
    md = fixture_report.markdown
    bf16_run = _row(md, code("lkcnn__megc2019__smoke__s1"), "## Costs")
    assert bf16_run.endswith(f"| {code('cpu: AMD EPYC')} ({code('AVX512')}) | bf16 autocast |")
    assert _row(md, code("lkcnn__megc2019__smoke__s0"), "## Costs").endswith("| not recorded |")


def test_headline_lists_every_claim_with_pretraining_and_dataset(fixture_report):
    table = fixture_report.headline
    assert {code(c.key) for c in load_claims().values()} <= {m.split(" ")[0] for m in table["Method"]}
    lkcnn = table[table["Method"] == code("lkcnn")]
    assert set(lkcnn["Pretraining"]) == {"none: trained from scratch"}
    # smoke runs train and score on part of the data: no gap to a number measured on all of it
    assert lkcnn.iloc[0]["Gap honest / test-selected (pts)"] == "not comparable: part of the data (eval_limit 160, max_folds 3, train_limit 320)"
    irnet = table[table["Method"] == code("irnet")].iloc[0]
    assert irnet["Ours honest (%)"] == "no complete run"  # its only run failed
    assert lkcnn.iloc[0]["Ours honest, views chosen on validation (%)"] == "—"  # LOSO: no validation part to choose on


def test_the_gap_to_the_paper_is_given_for_runs_on_all_of_the_data(tmp_path, fer_data):
    for seed, accuracy in enumerate((0.74, 0.76)):
        _write_run(tmp_path, "lkcnn", "megc2019", seed, _loso_records("lkcnn", seed, accuracy), _history(4, validation=False, rising=False), profile="cpu")
    report = build_report(tmp_path, tmp_path / "report.md", tmp_path / "report.html", data_root=fer_data)
    lkcnn = report.headline[report.headline["Method"] == code("lkcnn")]
    assert lkcnn.iloc[0]["Gap honest / test-selected (pts)"] == "-11.01 / -4.01"  # 75.00 − 86.01, 82.00 − 86.01


def test_the_headline_takes_tta_only_where_validation_chose_it(fixture_report):
    dcn_cbam = fixture_report.headline.set_index("Method").loc[code("dcn_cbam")]
    assert dcn_cbam["Ours honest (%)"] == "64.50 ± 0.71 (n=2)"  # single view 0.64, 0.65
    # seed 1 chose TTA on validation (0.67 on test), seed 2 the single view (0.65), though TTA would have scored 0.69
    assert dcn_cbam["Ours honest, views chosen on validation (%)"] == "66.00 ± 1.41 (n=2); TTA chosen in 1"
    md = fixture_report.markdown
    assert _row(md, code("dcn_cbam__fer2013__smoke__s2"), "## Test-time augmentation").endswith("| single view |")
    assert "| 64.50 ± 0.71 (n=2) | 66.00 ± 1.41 (n=2); TTA chosen in 1 |" in _row(md, f"{code('dcn_cbam')} | {code('fer2013')}", "## Seeds")
    assert _row(md, code("lkcnn__megc2019__smoke__s0"), "## Test-time augmentation").endswith("| — (no validation part) |")


def test_loso_kfold_cross_dataset_and_checks_are_reported(fixture_report):
    md = fixture_report.markdown
    assert "| 81.00 ± 5.00 |" in _row(md, code("resnet18_fer__ckplus__smoke__s0"))
    assert "`casme2` UF1 / UAR / accuracy (%) (n)" in md
    assert "| 72.09 / 72.50 | 72.09 / 72.50 / 73.98 |" in md
    assert "| `ststnet__megc2019__smoke__s0` | `megc2019` | `casme2` | `negative, positive, surprise` | 3 | 66.67 | 50.00 | 50.00 |" in md
    assert "| `ststnet__megc2019__smoke__s0` | `PrivateTest` | 3 | `ten_view` | 60.00 / 62.50 | +2.50 | 50.00 / 55.00 |" in md
    assert "| `ms_per_face` | 1.25 |" in md and "| `rounds` | 1.2, 1.3 |" in md


def _single_split_records(model: str, seed: int, accuracy: float) -> list[dict[str, Any]]:
    classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    records = [_record(model, "fer2013", protocol, seed, accuracy + bonus, classes) for protocol, bonus in (("honest", 0.0), ("test_selected", 0.01))]
    return [record | {"split": "PrivateTest", "selected_epoch": 3} for record in records]


def _single_split_history(top: float) -> pd.DataFrame:
    """Validation accuracy peaking at ``top`` in epoch 3 of 4."""
    return pd.DataFrame({"epoch": [1, 2, 3, 4], "train_loss": [1.5, 1.2, 1.0, 0.9], "val_acc": [0.3, 0.5, top, top - 0.01], "fold": "official"})


def _write_probe(results: Path, name: str, model: str, dataset: str, seed: int, overrides: dict[str, Any], accuracy: float, top: float) -> Path:
    folder = results / "probes" / name
    folder.mkdir(parents=True)
    recipe = resolve_recipe("smoke", model, dataset, overrides)
    config = {"model": model, "dataset": dataset, "profile": "smoke", "seed": seed, "overrides": overrides, "recipe": recipe, "pretrained": False}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(_single_split_records(model, seed, accuracy)))
    _single_split_history(top).to_csv(folder / "history.csv", index=False)
    return folder


def test_a_recipe_probe_is_shown_only_beside_the_study_run_it_would_replace(tmp_path, fer_data):
    results = tmp_path / "results"
    _write_run(results, "resnet18_fer", "fer2013", 0, _single_split_records("resnet18_fer", 0, 0.60), _single_split_history(0.58))
    _write_run(results, "resnet18_fer", "fer2013", 1, _single_split_records("resnet18_fer", 1, 0.64), _single_split_history(0.6))
    lr = resolve_recipe("smoke", "resnet18_fer", "fer2013")["lr"] * 2
    probe = _write_probe(results, "resnet18_fer__fer2013__smoke__s0__lr", "resnet18_fer", "fer2013", 0, {"lr": lr}, 0.625, 0.61)
    (probe / "tta.json").write_text(json.dumps([{"role": "test", "split": "PrivateTest", "tta": {"n": 7, "accuracy": 0.64}}]))
    _write_probe(results, "resnet18_fer__fer2013__smoke__s3__lr", "resnet18_fer", "fer2013", 3, {"lr": lr}, 0.7, 0.7)
    stale = _write_probe(results, "resnet18_fer__fer2013__smoke__s0__epochs", "resnet18_fer", "fer2013", 0, {}, 0.9, 0.9)
    config = json.loads((stale / "config.json").read_text())
    (stale / "config.json").write_text(json.dumps(config | {"recipe": config["recipe"] | {"epochs": 99}}))
    report = build_report(results, tmp_path / "report.md", tmp_path / "report.html", data_root=tmp_path / "no_data")
    md, section = report.markdown, "## Recipe probes"
    row = _row(md, code(probe.name), section)
    assert code("resnet18_fer__fer2013__smoke__s0") in row and f"lr {format_number(lr / 2, decimals=None)} -> {format_number(lr, decimals=None)}" in row
    # validation at the honest epoch 3, then test accuracy and macro-F1, each with the study's seed spread (the std of
    # 60.00 and 64.00, of 55.00 and 59.00)
    assert "| 58.00 / 61.00 | 60.00 / 62.50 | +2.50 | 2.83 (n=2) | 55.00 / 57.50 | +2.50 | 2.83 (n=2) | — / 64.00 |" in row
    assert row.endswith("| no |")  # the recipe does not hold the probe's lr
    listed = md[md.index(section) :]
    assert "`resnet18_fer__fer2013__smoke__s3__lr`: no complete study run" in listed
    assert "`resnet18_fer__fer2013__smoke__s0__epochs` (stale): `recipe differs: epochs 99 ->" in listed
    assert md.count(code(probe.name)) == 1 and format_number(0.7, 100) not in md  # probes feed no other section
    assert "Run folders: 2 complete," in md
    _check_provenance(report, results, tmp_path / "no_data")


def test_a_setting_probed_on_several_seeds_is_summarised_seed_by_seed(tmp_path, fer_data):
    results = tmp_path / "results"
    for seed, accuracy in ((0, 0.60), (1, 0.64), (2, 0.70)):
        _write_run(results, "resnet18_fer", "fer2013", seed, _single_split_records("resnet18_fer", seed, accuracy), _single_split_history(0.6))
    lr = resolve_recipe("smoke", "resnet18_fer", "fer2013")["lr"] * 2
    for seed, accuracy in ((0, 0.625), (1, 0.70)):  # Δ +2.50 and +6.00: mean +4.25, standard error 3.5 / 2 = 1.75
        _write_probe(results, f"resnet18_fer__fer2013__smoke__s{seed}__lr", "resnet18_fer", "fer2013", seed, {"lr": lr}, accuracy, 0.6)
    _write_probe(results, "resnet18_fer__fer2013__smoke__s0__wd", "resnet18_fer", "fer2013", 0, {"weight_decay": 0.1}, 0.9, 0.6)
    report = build_report(results, tmp_path / "report.md", tmp_path / "report.html", data_root=tmp_path / "no_data")
    md = report.markdown
    changed = f"lr {format_number(lr / 2, decimals=None)} -> {format_number(lr, decimals=None)}"
    row = _row(md, code(changed), "## Recipe probes")
    # macro-F1 is accuracy − 5 points in these records; the study's mean is over the probed seeds 0 and 1 only
    assert "| `resnet18_fer` 0, 1 | `fer2013` | `smoke` | 57.00 ± 2.83 / 61.25 ± 5.30 | +4.25 ± 1.75 (n=2) | 62.00 ± 2.83 / 66.25 ± 5.30 | +4.25 ± 1.75 (n=2) |" in row
    assert row.endswith("| macro-F1: probes better; accuracy: probes better |")  # 4.25 > 2 × 1.75
    assert "weight_decay" not in md[md.index("A setting probed on more than one seed") :]  # one seed: no summary row
    _check_provenance(report, results, tmp_path / "no_data")
    # within two standard errors: Δ +2.50 and +12.00 (mean +7.25, standard error 4.75)
    _write_probe(results, "resnet18_fer__fer2013__smoke__s2__lr", "resnet18_fer", "fer2013", 2, {"lr": lr}, 0.82, 0.6)
    shutil.rmtree(results / "probes" / "resnet18_fer__fer2013__smoke__s1__lr")
    report = build_report(results, tmp_path / "report.md", tmp_path / "report.html", data_root=tmp_path / "no_data")
    row = _row(report.markdown, code(changed), "## Recipe probes")
    assert "| `resnet18_fer` 0, 2 |" in row and "| +7.25 ± 4.75 (n=2) |" in row and row.endswith("| none shown |")


def test_a_setting_probed_on_models_that_share_a_recipe_is_summarised_over_the_family(tmp_path, fer_data):
    results = tmp_path / "results"
    for model in ("resnet18_fer", "dcn_cbam", "irnet"):
        _write_run(results, model, "fer2013", 0, _single_split_records(model, 0, 0.60), _single_split_history(0.6))
    lr = resolve_recipe("smoke", "resnet18_fer", "fer2013")["lr"] * 2
    # Δ +2.50 and +6.00 in the ResNet18 family: mean +4.25, standard error 1.75; IRNet (the ResNet50 family) apart
    for model, accuracy in (("resnet18_fer", 0.625), ("dcn_cbam", 0.66), ("irnet", 0.9)):
        _write_probe(results, f"{model}__fer2013__smoke__s0__lr", model, "fer2013", 0, {"lr": lr}, accuracy, 0.6)
    report = build_report(results, tmp_path / "report.md", tmp_path / "report.html", data_root=tmp_path / "no_data")
    summary = report.markdown[report.markdown.index("A setting probed on more than one seed") :]
    changed = f"lr {format_number(lr / 2, decimals=None)} -> {format_number(lr, decimals=None)}"
    row = _row(summary, code(changed), "")
    assert "| `dcn_cbam` 0; `resnet18_fer` 0 | `fer2013` | `smoke` |" in row and "| +4.25 ± 1.75 (n=2) |" in row
    rows = [line for line in summary.splitlines() if line.startswith(f"| {code(changed)} |")]
    assert rows == [row] and "irnet" not in row  # one IRNet probe: no row of its own, and not in the family's
    _check_provenance(report, results, tmp_path / "no_data")


def _write_kfold_predictions(folder: Path, correct_by_fold: dict[int, list[bool]]) -> None:
    rows = [
        {"sample_id": f"s{fold}_{i}.png", "fold": fold, "protocol": protocol, "label": 0, "pred": 0 if correct else 1}
        for fold, outcomes in correct_by_fold.items() for i, correct in enumerate(outcomes) for protocol in ("honest", "test_selected")
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "predictions.csv", index=False)


def test_a_probe_on_fewer_folds_is_compared_with_the_study_run_on_the_same_folds(tmp_path, fer_data):
    results = tmp_path / "results"
    records = [r | {"n_folds": 3} for r in _kfold_records("resnet18_fer", 0, 0.81)]
    study = _write_run(results, "resnet18_fer", "ckplus", 0, records, _history(4, validation=True, rising=True))
    # folds 0 and 1: 3/4 and 1/4 correct (mean 50 %); fold 2, which the probe did not run, all correct
    _write_kfold_predictions(study, {0: [True, True, True, False], 1: [True, False, False, False], 2: [True] * 4})
    probe = _write_probe(results, "resnet18_fer__ckplus__smoke__s0__2folds", "resnet18_fer", "ckplus", 0, {"max_folds": 2}, 0.9, 0.6)
    (probe / "metrics.json").write_text(json.dumps([r | {"accuracy": 0.9, "n_folds": 2} for r in _kfold_records("resnet18_fer", 0, 0.9)]))
    _write_kfold_predictions(probe, {0: [True] * 4, 1: [True, True, True, False]})
    report = build_report(results, tmp_path / "report.md", tmp_path / "report.html", data_root=tmp_path / "no_data")
    row = _row(report.markdown, code(probe.name), "## Recipe probes")
    assert "| 50.00 / 90.00 | +40.00 |" in row  # not the study run's 81.00 over its three folds
    # macro-F1 per fold over the classes it holds (class 0 only): 2·(3/4)/(1 + 3/4) and 2·(1/4)/(1 + 1/4), mean 62.86
    assert "| 62.86 / 85.00 | +22.14 |" in row
    _check_provenance(report, results, tmp_path / "no_data")
    # a fold with other test samples than the study run's has no counterpart: no figure rather than a wrong one
    _write_kfold_predictions(probe, {0: [True] * 5, 1: [True, True, True, False]})
    report = build_report(results, tmp_path / "report.md", tmp_path / "report.html", data_root=tmp_path / "no_data")
    assert "| — / 90.00 | — |" in _row(report.markdown, code(probe.name), "## Recipe probes")
    # a damaged predictions file stops the report and names the file, instead of printing "—" for it
    (probe / "predictions.csv").write_text("not,a,predictions,table\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"predictions\.csv cannot be read .*re-make the run resnet18_fer__ckplus__smoke__s0__2folds"):
        build_report(results, tmp_path / "report.md", tmp_path / "report.html", data_root=tmp_path / "no_data")


def test_same_inputs_give_identical_bytes(fixture_report, fixture_results, fer_data):
    first = fixture_report
    files = [first.markdown_path, first.html_path, *first.figures.values()]
    before = [p.read_bytes() for p in files]
    again = build_report(fixture_results, first.markdown_path, first.html_path, data_root=fer_data)
    assert again.figures == first.figures and [p.read_bytes() for p in files] == before


def test_html_is_one_self_contained_file(fixture_report):
    page = fixture_report.html_path.read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<table>" in page and '<meta charset="utf-8">' in page


def test_every_printed_number_comes_from_a_results_file(fixture_report, fixture_results, fer_data):
    _check_provenance(fixture_report, fixture_results, fer_data)


def test_committed_results_build_without_the_data(tmp_path):
    """The committed runs report without a data root too (the FLOPs, which need each run's input shape, say why not)."""
    empty = tmp_path / "no_data"
    empty.mkdir()
    report = build_report(REPO_RESULTS, tmp_path / "report.md", tmp_path / "report.html", data_root=empty)
    complete = [s for s in scan_runs(REPO_RESULTS) if s.status == "complete"]
    assert complete and all(code(s.name) in report.markdown for s in complete)
    assert report.markdown.count("not counted: `input shape unknown:") == len(complete)
    _check_provenance(report, REPO_RESULTS, empty)


def test_a_fine_tuned_run_is_set_against_the_paper_profiles_fine_tuning_schedule(tmp_path):
    """Could not reproduce names each run's start and cites the paper profile's recipe for that start."""
    scratch, tuned = (resolve_recipe("paper", "dcn_cbam", "ckplus", overrides)["epochs"] for overrides in (None, {"init_from": "fer2013"}))
    assert scratch != tuned  # else this test could not tell the two schedules apart
    results = tmp_path / "results"
    _write_run(results, "dcn_cbam", "ckplus", 0, _kfold_records("dcn_cbam", 0, 0.81))
    start = {"run": run_name("dcn_cbam", "fer2013", "smoke", 0), "dataset": "fer2013"}
    tuned_records = [record | {"init_from": start} for record in _kfold_records("dcn_cbam", 0, 0.9)]
    _write_run(results, "dcn_cbam", "ckplus", 0, tuned_records, init_from="fer2013")
    empty = tmp_path / "no_data"
    empty.mkdir()
    report = build_report(results, tmp_path / "report.md", tmp_path / "report.html", data_root=empty)
    reasons = report.markdown[report.markdown.index("## Could not reproduce") :]
    assert f"- on {code('ckplus')}, from scratch: the {code('smoke')} profile, 4 epochs at 48 px" in reasons
    assert f"the {code('paper')} profile's recipe ({scratch} epochs at 48 px, meant for a GPU)" in reasons
    assert f"- on {code('ckplus')}, fine-tuned from our {code('fer2013')} run: the {code('smoke')} profile" in reasons
    assert f"the {code('paper')} profile's recipe ({tuned} epochs at 48 px, meant for a GPU)" in reasons
    _check_provenance(report, results, empty)  # the paper profile's epochs recompute with the run's start


def test_a_missing_results_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_report(tmp_path / "nowhere")


def test_convergence_names_the_runs_whose_recorded_verdict_the_current_rule_reverses(fixture_report):
    section = fixture_report.markdown[fixture_report.markdown.index("## Convergence") :].split("\n## ")[0]
    assert _row(section, "`resnet18_fer__ckplus__smoke__s0`").endswith("| no |")
    note = next(line for line in section.splitlines() if line.startswith("Each run's `metrics.json`"))
    assert "`resnet18_fer__ckplus__smoke__s0` (recorded: converged)" in note
    assert "dcn_cbam" not in note  # recorded and current verdicts agree


def test_convergence_rule():
    rising = convergence(_history(12, validation=True, rising=True))
    assert rising["basis"] == "validation" and rising["best_epoch"] == 12 and not rising["converged"]
    assert rising["change"] == pytest.approx(15.0)  # 0.05 per epoch over epochs 9 -> 12
    flat = convergence(_history(12, validation=True, rising=False))
    assert flat["best_epoch"] == 2 and flat["converged"]
    loss = convergence(_history(20, validation=False, rising=False))  # 1/epoch: the last quarter removes 1.3 % of the fall
    assert loss["basis"] == "training loss" and loss["converged"] and loss["change"] == pytest.approx((1 / 15 - 1 / 20) / (1 - 1 / 20))
    with pytest.raises(ValueError, match="val_macro_f1"):
        convergence(_history(4, validation=True, rising=True), metric="val_macro_f1")


def test_convergence_reads_the_last_quarter_off_a_fitted_line_not_its_two_end_epochs():
    def verdict(last_window: list[float]) -> dict:
        curve = [0.3 + 0.03 * epoch for epoch in range(1, 15)] + last_window  # epochs 15-20: the window of 20 epochs
        return convergence(pd.DataFrame({"epoch": range(1, 21), "train_loss": 1.0, "val_acc": curve}))

    # a noisy plateau whose last epoch is its best: +1.2 points between the end epochs, a level fitted line
    plateau = verdict([0.90, 0.911, 0.905, 0.895, 0.89, 0.912])
    assert plateau["best_epoch"] == 20 and plateau["best_late"] and plateau["converged"]
    assert plateau["change"] == pytest.approx(-0.1857, abs=1e-3)
    # a steady rise whose last epoch dips back to the first one's level: still rising
    rising = verdict([0.80, 0.81, 0.82, 0.83, 0.84, 0.80])
    assert rising["best_epoch"] == 19 and rising["best_late"] and not rising["converged"]
    assert rising["change"] == pytest.approx(1.4286, abs=1e-3)


def _check_provenance(report, results: Path, data_root: Path) -> None:
    """The numbers of report.md are exactly those the builder recorded, and each recomputes from its source."""
    printed = printed_numbers(report.markdown)
    assert printed and Counter(printed) == Counter(report.provenance.printed_numbers())
    resolver = _Resolver(results, data_root)
    for entry in report.provenance.entries:
        value = resolver.resolve(entry.source)
        assert format_number(value, entry.scale, entry.decimals, entry.signed) == entry.text, entry.source


class _Resolver:
    """Recomputes a provenance source from the files, independently of the report's own code paths."""

    def __init__(self, results: Path, data_root: Path) -> None:
        self.results, self.data_root = results, data_root
        self.claims_file = yaml.safe_load(resources.files("fer_lib").joinpath("claims.yaml").read_text())
        self.shapes: dict[str, tuple[int, ...]] = {}

    def resolve(self, source: dict[str, Any]) -> Any:
        if "file" in source:
            return reduce(lambda data, key: data[key], source["keys"], json.loads((self.results / source["file"]).read_text()))
        if "claims" in source:
            key, *fields = source["claims"]
            claim = next(c for c in self.claims_file["claims"] if c["key"] == key)
            return reduce(lambda data, field: data[field], fields, claim)
        if "ablation" in source:
            model, field = source["ablation"]
            return next(a for a in self.claims_file["ablations"] if a["model"] == model)[field]
        if "constant" in source:
            module, name = source["constant"].rsplit(".", 1)
            return getattr(importlib.import_module(module), name)
        if "op" in source:
            return self._apply(source["op"], [self.resolve(a) for a in source["args"]])
        return self._computed(source)

    @staticmethod
    def _apply(op: str, values: list[float]) -> float:
        if op == "se_diff":
            return (values[0] ** 2 / values[1] + values[2] ** 2 / values[3]) ** 0.5
        if op == "se_mean":
            return statistics.stdev(values) / len(values) ** 0.5
        functions = {"count": len, "mean": statistics.fmean, "std": statistics.stdev, "min": min, "max": max}
        if op in functions:
            return functions[op](values)
        return {"sub": lambda a, b: a - b, "mul": lambda a, b: a * b}[op](*values)

    def _computed(self, source: dict[str, Any]) -> Any:
        what = source["computed"]
        if what == "run_count":
            return sum(s.status == source["status"] for s in scan_runs(self.results))
        if what == "recipe":
            return resolve_recipe(source["profile"], source["model"], source["dataset"], source.get("overrides"))[source["key"]]
        if what == "history_value":
            history = pd.read_csv(self.results / source["history"])
            return float(history.loc[history["epoch"] == source["epoch"], source["column"]].iloc[0])
        if what in ("fold_mean_accuracy", "fold_mean_macro_f1"):
            predictions = pd.read_csv(self.results / source["predictions"])
            honest = predictions[(predictions["protocol"] == "honest") & predictions["fold"].isin(source["folds"])]
            if what == "fold_mean_accuracy":
                return statistics.fmean(float((rows["label"] == rows["pred"]).mean()) for _, rows in honest.groupby("fold"))
            # macro-F1 over the classes the fold holds, as metrics.json records it
            return statistics.fmean(
                f1_score(rows["label"], rows["pred"], labels=sorted(rows["label"].unique()), average="macro") for _, rows in honest.groupby("fold")
            )
        if what == "seeds_choosing_tta":  # the runs whose validation record scored higher with TTA (all select on accuracy)
            validation = [next(r for r in json.loads((self.results / run / "tta.json").read_text()) if r["role"] == "val") for run in source["runs"]]
            return sum(v["tta"]["accuracy"] > v["single_view"]["accuracy"] for v in validation)
        run = self.results / "runs" / source["run"]
        config = json.loads((run / "config.json").read_text())
        if what == "convergence":
            return convergence(pd.read_csv(run / "history.csv"))[source["field"]]
        if source["run"] not in self.shapes:
            self.shapes[source["run"]] = run_input_shape(config["dataset"], config["recipe"], self.data_root)
        shape = self.shapes[source["run"]]
        if what == "input_shape":
            return shape[source["axis"]]
        classes = len(json.loads((run / "metrics.json").read_text())[0]["confusion_matrix"])
        assert what == "train_flops", source
        return train_flops_per_sample(config["model"], classes, shape, config["recipe"].get("model_kwargs"))
