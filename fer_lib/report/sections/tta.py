"""Test-time augmentation: each run's single-view figures beside its TTA ones, from the runs' ``tta.json``, and the
mean ± standard deviation over seeds of each configuration that ran with several."""

from __future__ import annotations

from typing import Any

from ...tta import views_chosen_on_validation
from ..collect import TTA_FILE, Run
from ..context import Context
from ..markdown import code, table
from ..provenance import Value, computed, derive, from_file
from ..seeds import SeedGroup, format_over_seeds

HEADER = [
    "Run", "Split", "n", "Views", "accuracy (%): single view / TTA", "gain (points)", "macro-F1 (%): single view / TTA",
    "Honest evaluation (chosen on validation)",
]  # fmt: skip
CHOICE_NAMES = {"tta": "TTA", "single_view": "single view", None: "— (no validation part)"}
SEEDS_HEADER = ["Model", "Dataset", "Profile", "Split", "accuracy (%): single view / TTA", "macro-F1 (%): single view / TTA"]


def tta(ctx: Context) -> str:
    text = "## Test-time augmentation\n\n"
    rows = []
    for run in ctx.study.runs:
        records, path = _tta_records(run), f"{run.folder}/{TTA_FILE}"
        choice = CHOICE_NAMES[views_chosen_on_validation(records, run.select_metric)]
        for index, record in enumerate(records):
            cell = _Cells(ctx, record, path, index)
            rows.append([
                code(run.name), code(record.get("split", "?")), cell("tta", "n", scale=1, decimals=None), code(record.get("views", "?")),
                f"{cell('single_view', 'accuracy')} / {cell('tta', 'accuracy')}",
                cell.gain("accuracy"),
                f"{cell('single_view', 'macro_f1')} / {cell('tta', 'macro_f1')}",
                choice,
            ])  # fmt: skip
    if not rows:
        return text + f"No run was scored with test-time augmentation: no complete run folder holds {code(TTA_FILE)}.\n\n"
    intro = (
        "The honest model of each run (its epoch still selected on the single view), scored once as it is and once with "
        "its class probabilities averaged over fixed views: `ten_view` is the image and its four diagonal shifts by a "
        "twelfth of the side, each also mirrored (the ten-crop of the FER2013 literature, done as shifts; "
        f"{code('fer_lib.tta')}); optical-flow maps take the flow of those views (a mirror negates u). A run of several "
        "folds scores each fold's model on its own splits and pools the folds, as its pooled metrics do (a k-fold run's "
        "headline figure is the fold mean, so its single-view row here can differ from it). The validation rows say "
        "whether TTA helps before the test rows are read, and they choose each run's honest evaluation as they choose "
        "its epoch: TTA where it scored higher on validation (on the metric the run selects epochs on), the single view "
        f"where not ({code('fer_lib.tta.views_chosen_on_validation')}); the headline shows that figure beside the "
        "single view. Leave-one-subject-out has no validation part, so its view set "
        "is the fixed default, chosen before any of its test splits was scored, and its honest figure stays the single view.\n\n"
    )
    text += intro + table(HEADER, rows, right=(2, 4, 5, 6)) + "\n"
    seed_rows = [row for group in ctx.groups for row in _over_seeds(ctx, group)]
    if seed_rows:
        text += "\nOver seeds (mean ± sample standard deviation, n seeds), per configuration with more than one:\n\n"
        text += table(SEEDS_HEADER, seed_rows, right=(4, 5)) + "\n"
    return text


def _tta_records(run: Run) -> list[Any]:
    """The records of the run's ``tta.json``; none where it has no such file or the file is not a list."""
    records = run.extras.get(TTA_FILE)
    return records if isinstance(records, list) else []


def _honest_test_value(run: Run, metric: str) -> tuple[Value, str] | None:
    """The test ``metric`` of ``run``'s honest model under the evaluation chosen on validation
    (:func:`~fer_lib.tta.views_chosen_on_validation`: ``"tta"`` or ``"single_view"``), from its TTA records, with that
    choice; ``None`` where the run has no TTA records, no validation record or no test record."""
    records = _tta_records(run)
    choice = views_chosen_on_validation(records, run.select_metric)
    test = next((index for index, record in enumerate(records) if isinstance(record, dict) and record.get("role") == "test"), None)
    if choice is None or test is None:
        return None
    value = _record_value(records[test], f"{run.folder}/{TTA_FILE}", test, choice, metric)
    return None if value is None else (value, choice)


def views_chosen_cell(ctx: Context, group: SeedGroup, metric: str) -> str:
    """The seeds' honest test ``metric`` under the evaluation each chose on validation, and how many chose TTA; "—"
    unless every seed could choose."""
    chosen = [pair for run in group.runs if (pair := _honest_test_value(run, metric)) is not None]
    if not chosen or len(chosen) < len(group.runs):
        return "—"
    with_tta = Value(sum(choice == "tta" for _, choice in chosen), computed("seeds_choosing_tta", runs=[run.folder for run in group.runs]))
    shown = format_over_seeds(ctx.prov, [value for value, _ in chosen])
    return f"{shown}; TTA chosen in {ctx.prov.number(with_tta, decimals=None)}"


def _over_seeds(ctx: Context, group: SeedGroup) -> list[list[str]]:
    """One row per split role that two or more of the group's seeds scored with TTA."""
    by_role: dict[str, list[_Cells]] = {}
    for run in group.runs:
        for index, record in enumerate(_tta_records(run)):
            by_role.setdefault(record.get("role", "?"), []).append(_Cells(ctx, record, f"{run.folder}/{TTA_FILE}", index))
    rows = []
    for cells in by_role.values():
        if len(cells) < 2:
            continue

        def over_seeds(*keys: str) -> str:
            return format_over_seeds(ctx.prov, [value for cell in cells if (value := cell.value(*keys)) is not None])

        split = code(cells[0].record.get("split", "?"))
        pairs = [f"{over_seeds('single_view', metric)} / {over_seeds('tta', metric)}" for metric in ("accuracy", "macro_f1")]
        rows.append([code(group.label), code(group.dataset), code(group.profile), split, *pairs])
    return rows


class _Cells:
    """Table cells of one TTA record: the number at a key path, with its source, or "—" where there is none."""

    def __init__(self, ctx: Context, record: dict[str, Any], path: str, index: int) -> None:
        self.ctx, self.record, self.path, self.index = ctx, record, path, index

    def __call__(self, *keys: str, scale: float = 100, decimals: int | None = 2) -> str:
        value = self.value(*keys)
        return "—" if value is None else self.ctx.prov.number(value, scale=scale, decimals=decimals)

    def gain(self, metric: str) -> str:
        """TTA minus single view, in points."""
        single, averaged = self.value("single_view", metric), self.value("tta", metric)
        return "—" if single is None or averaged is None else self.ctx.prov.number(derive("sub", averaged, single), scale=100, signed=True)

    def value(self, *keys: str) -> Value | None:
        """The number at the key path ``keys`` of the record, with its source; ``None`` where there is none."""
        return _record_value(self.record, self.path, self.index, *keys)


def _record_value(record: dict[str, Any], path: str, index: int, *keys: str) -> Value | None:
    """The number at the key path ``keys`` of the ``index``-th record of the file ``path``, with its source; ``None``
    where there is none."""
    value: Any = record
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return Value(value, from_file(path, index, *keys))
