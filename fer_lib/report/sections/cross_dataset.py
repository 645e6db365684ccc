"""Cross-dataset: models trained on one dataset and evaluated on another, from the runs' ``cross_dataset.json``."""

from __future__ import annotations

from ..collect import CROSS_DATASET_FILE
from ..context import Context
from ..markdown import code, table
from ..provenance import Value, from_file

HEADER = ["Run", "Trained on", "Evaluated on", "Classes", "n", "accuracy (%)", "macro-F1 (%)", "UAR (%)"]


def cross_dataset(ctx: Context) -> str:
    text = "## Cross-dataset\n\n"
    rows = []
    for run in ctx.study.runs:
        records = run.extras.get(CROSS_DATASET_FILE)
        if records is None:
            continue
        path = f"runs/{run.name}/{CROSS_DATASET_FILE}"
        for index, record in enumerate(records if isinstance(records, list) else []):
            classes = record.get("classes", "")
            classes = ", ".join(classes) if isinstance(classes, list) else classes
            cells = [code(run.name), code(record.get("train_dataset", "?")), code(record.get("eval_dataset", "?")), code(classes)]
            for key, scale, decimals in (("n", 1, None), ("accuracy", 100, 2), ("macro_f1", 100, 2), ("uar", 100, 2)):
                value = record.get(key)
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                cells.append(ctx.prov.number(Value(value, from_file(path, index, key)), scale=scale, decimals=decimals) if ok else "—")
            rows.append(cells)
    if not rows:
        return text + f"No cross-dataset evaluation was run: no complete run folder holds {code(CROSS_DATASET_FILE)}.\n\n"
    intro = "The honest model of a run, evaluated on another dataset's faces (on the classes both share).\n\n"
    return text + intro + table(HEADER, rows, right=(4, 5, 6, 7)) + "\n"
