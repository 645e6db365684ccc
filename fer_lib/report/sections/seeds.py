"""Seeds: each (model, dataset, profile) over the seeds that ran, mean ± standard deviation and n per protocol."""

from __future__ import annotations

from ..context import PROTOCOL_TITLES, PROTOCOLS, Context
from ..markdown import code, table
from ..seeds import format_over_seeds


def seeds(ctx: Context) -> str:
    header = ["Model", "Dataset", "Profile"] + [f"{PROTOCOL_TITLES[p]} {m} (%)" for m in ("accuracy", "macro-F1") for p in PROTOCOLS]
    rows = []
    for g in ctx.groups:
        values = [format_over_seeds(ctx.prov, g.values(p, m)) for m in ("accuracy", "macro_f1") for p in PROTOCOLS]
        rows.append([code(g.label), code(g.dataset), code(g.profile), *values])
    single = all(len(g.runs) == 1 for g in ctx.groups)
    remark = (
        "Every configuration ran with one seed, so its seed-to-seed noise is unknown: differences below should be "
        "read with that in mind."
        if single
        else "Standard deviations are over seeds (sample standard deviation); where a single seed ran, the noise of that configuration is unknown."
    )
    return "## Seeds\n\n" + remark + "\n\n" + table(header, rows, right=(3, 4, 5, 6)) + "\n"
