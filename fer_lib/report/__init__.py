"""The comparison report: the paper's claims beside our runs, generated only from ``results/`` and ``claims.yaml``.

``build_report(results_dir)`` writes ``report.md`` (renders on a git host) and ``report.html`` (one self-contained
file); every number it prints is recorded with its source (:class:`~fer_lib.report.provenance.Provenance`).
"""

from .build import Report, build_report
from .collect import StudyResults, collect
from ..convergence import convergence
from .flops import run_input_shape, train_flops_per_sample
from .provenance import Provenance, printed_numbers

__all__ = [
    "Provenance",
    "Report",
    "StudyResults",
    "build_report",
    "collect",
    "convergence",
    "printed_numbers",
    "run_input_shape",
    "train_flops_per_sample",
]
