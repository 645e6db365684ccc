"""``build_report``: the comparison report, generated only from ``results/`` and ``fer_lib/claims.yaml``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..runs import PROBES_DIR, RUNS_DIR, save_figure, write_atomic
from .collect import BENCH_DIR, collect
from .context import Context
from .markdown import code, image
from .provenance import Provenance, Value, computed
from .render_html import markdown_to_html
from .sections.ablations import ablations
from .sections.convergence import convergence_section
from .sections.costs import costs
from .sections.cross_dataset import cross_dataset
from .sections.tta import tta
from .sections.headline import headline
from .sections.per_dataset import per_dataset
from .sections.probes import probes
from .sections.protocols import protocol_gaps
from .sections.reproduction import reproduction
from .sections.seeds import seeds
from .sections.status import run_links, run_status

TITLE = "Deep facial expression recognition, from images to videos: the paper's claims and our runs"
FIGURE_DIR = "report_figures"  # beside report.md: the report's own figures
GAP_FIGURE = "protocol_gap.png"


@dataclass(frozen=True)
class Report:
    """A built report: the files written, the Markdown (whole and by section), the headline table, and every printed
    number's source."""

    markdown_path: Path
    html_path: Path
    figures: dict[str, Path]
    markdown: str
    sections: dict[str, str]
    headline: pd.DataFrame
    provenance: Provenance


def build_report(
    results_dir: str | os.PathLike[str],
    out_md: str | os.PathLike[str] | None = None,
    out_html: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
) -> Report:
    """Write the comparison report of ``results_dir`` to ``out_md`` and ``out_html`` (default: ``report.md`` and
    ``report.html`` in ``results_dir``), and its figure to ``report_figures/`` beside the Markdown.

    Reads ``runs/*/`` (only complete runs feed numbers; stale, failed and half-written ones are listed with why),
    ``probes/*/`` (recipe probes, shown only beside the study run each would replace),
    ``bench/*.json``, ``01_datasets/datasets.json`` and ``claims.yaml``. ``data_root`` (default ``$FER_DATA``) is read
    only for each run's input shape, to count training FLOPs; without it the FLOPs are marked as not counted.
    The same inputs give the same bytes. Raises ``ConfigError`` when ``results_dir`` is not a folder.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ConfigError(f"results folder {results_dir} does not exist: pass the folder that holds runs/ (e.g. results_dir='results')")
    md_path = Path(out_md) if out_md else results_dir / "report.md"
    html_path = Path(out_html) if out_html else results_dir / "report.html"
    md_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    ctx = Context(collect(results_dir), md_path.parent.resolve(), data_root)
    headline_text, headline_table = headline(ctx)
    gaps_text, gaps_figure = protocol_gaps(ctx)
    sections = {
        "introduction": _introduction(ctx),
        "headline": headline_text,
        "per_dataset": per_dataset(ctx),
        "seeds": seeds(ctx),
        "ablations": ablations(ctx),
        "protocol_gaps": gaps_text,
        "tta": tta(ctx),
        "cross_dataset": cross_dataset(ctx),
        "costs": costs(ctx),
        "convergence": convergence_section(ctx),
        "probes": probes(ctx),
        "reproduction": reproduction(ctx),
        "run_status": run_status(ctx),
        "run_links": run_links(ctx),
    }
    figures, shown = {}, {}
    if gaps_figure is not None:
        figures["protocol_gap"] = ctx.out_dir / FIGURE_DIR / GAP_FIGURE
        figures["protocol_gap"].parent.mkdir(parents=True, exist_ok=True)
        save_figure(figures["protocol_gap"], gaps_figure)
        shown["protocol_gaps"] = image("Test-selected minus honest, per run", ctx.relative(figures["protocol_gap"]))
    parts = []
    for name, text in sections.items():
        parts += [text.rstrip("\n") + "\n", *([shown[name] + "\n"] if name in shown else [])]
    markdown = "\n".join(parts)
    page = markdown_to_html(markdown, md_path.parent, html_path.parent, TITLE)
    write_atomic(md_path, lambda p: p.write_text(markdown, encoding="utf-8"))
    write_atomic(html_path, lambda p: p.write_text(page, encoding="utf-8"))
    return Report(md_path, html_path, figures, markdown, sections, headline_table, ctx.prov)


def _introduction(ctx: Context) -> str:
    counts = {status: sum(s.status == status for s in ctx.study.states) for status in ("complete", "stale", "failed", "incomplete")}
    listed = ", ".join(
        f"{ctx.prov.number(Value(n, computed('run_count', status=status)), decimals=None)} {status}" for status, n in counts.items()
    )
    pretrained = any(record.get("pretrained") for run in ctx.study.runs for record in run.state.records)
    ours = "Some runs start from pretrained weights (see the Pretraining column)." if pretrained else "Every model here is trained from scratch."
    unstated = [code(c.key) for c in ctx.study.claims.values() if c.pretrained == "unstated"]
    theirs = f" The paper does not say whether its models were pretrained ({', '.join(unstated)})." if unstated else ""
    return (
        f"# {TITLE}\n\n"
        f"Generated by {code('fer_lib.report.build_report')} from "
        + ", ".join(code(ctx.relative(ctx.study.results_dir / folder) + "/") for folder in (RUNS_DIR, PROBES_DIR, BENCH_DIR))
        + " (relative to this report) and "
        f"{code('fer_lib/claims.yaml')}; no number in it is typed by hand. Run folders: {listed}. {ours}{theirs}\n"
    )
