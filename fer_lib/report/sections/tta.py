"""Test-time augmentation: each run's single-view figures beside its TTA ones, from the runs' ``tta.json``."""

from __future__ import annotations

from typing import Any

from ..collect import TTA_FILE
from ..context import Context
from ..markdown import code, table
from ..provenance import Value, derive, from_file

HEADER = ["Run", "Split", "n", "Views", "accuracy (%): single view / TTA", "gain (points)", "macro-F1 (%): single view / TTA"]


def tta(ctx: Context) -> str:
    text = "## Test-time augmentation\n\n"
    rows = []
    for run in ctx.study.runs:
        records = run.extras.get(TTA_FILE)
        path = f"runs/{run.name}/{TTA_FILE}"
        for index, record in enumerate(records if isinstance(records, list) else []):
            cell = _Cells(ctx, record, path, index)
            rows.append([
                code(run.name), code(record.get("split", "?")), cell("tta", "n", scale=1, decimals=None), code(record.get("views", "?")),
                f"{cell('single_view', 'accuracy')} / {cell('tta', 'accuracy')}",
                cell.gain("accuracy"),
                f"{cell('single_view', 'macro_f1')} / {cell('tta', 'macro_f1')}",
            ])  # fmt: skip
    if not rows:
        return text + f"No run was scored with test-time augmentation: no complete run folder holds {code(TTA_FILE)}.\n\n"
    intro = (
        "The honest model of each single-split run (its epoch still selected on the single view), scored once as it is "
        "and once with its class probabilities averaged over fixed views: `ten_view` is the image and its four diagonal "
        "shifts by a twelfth of the side, each also mirrored (the ten-crop of the FER2013 literature, done as shifts; "
        f"{code('fer_lib.tta')}). The validation rows say whether TTA helps before the test rows are read.\n\n"
    )
    return text + intro + table(HEADER, rows, right=(2, 4, 5, 6)) + "\n"


class _Cells:
    """Table cells of one TTA record: the number at a key path, with its source, or "—" where there is none."""

    def __init__(self, ctx: Context, record: dict[str, Any], path: str, index: int) -> None:
        self.ctx, self.record, self.path, self.index = ctx, record, path, index

    def __call__(self, *keys: str, scale: float = 100, decimals: int | None = 2) -> str:
        value = self._value(*keys)
        return "—" if value is None else self.ctx.prov.number(value, scale=scale, decimals=decimals)

    def gain(self, metric: str) -> str:
        """TTA minus single view, in points."""
        single, averaged = self._value("single_view", metric), self._value("tta", metric)
        return "—" if single is None or averaged is None else self.ctx.prov.number(derive("sub", averaged, single), scale=100, signed=True)

    def _value(self, *keys: str) -> Value | None:
        value: Any = self.record
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        return Value(value, from_file(self.path, self.index, *keys))
