"""Every number the report prints, with where it comes from, so that it can be traced and recomputed.

A *source* is plain JSON-able data naming how a value is obtained:

* ``{"file": "runs/<run>/metrics.json", "keys": [0, "accuracy"]}`` — a value in a JSON file under the results folder;
* ``{"claims": ["irnet", "metrics", "accuracy"]}`` — a value in ``fer_lib/claims.yaml`` (by claim key, then fields);
  ``{"ablation": ["resnet18_dcn", "section"]}`` — a field of an ablation pair there (by its model);
* ``{"computed": "<what>", ...}`` — computed by this package from results files (convergence from ``history.csv``,
  training FLOPs of a run's model, a profile's recipe, run counts, a value of a run's ``history.csv`` at an epoch);
* ``{"constant": "fer_lib.report.convergence.MIN_RISE_POINTS"}`` — a named constant of the code (a rule's threshold);
* ``{"op": "mean" | "std" | "sub" | "mul" | "min" | "max" | "count" | "se_diff" | "se_mean", "args": [source, ...]}`` —
  derived from other sources (``std`` is the sample standard deviation; ``se_diff`` is ``sqrt(sa²/na + sb²/nb)`` of
  ``[std_a, count_a, std_b, count_b]``: the standard error of a difference of two means; ``se_mean`` is ``std / sqrt(n)``
  of its n arguments: the standard error of their mean).

:class:`Provenance` formats a value and records what it printed; :func:`printed_numbers` finds the numbers in
Markdown text the way a reader sees them (code spans and link targets are not prose numbers).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

Source = dict[str, Any]

# A number as a reader sees it: digits with optional sign and dots (section numbers such as 4.1.1 are one token),
# not part of a word (resnet18, fer2013, s0) and not continuing another number.
NUMBER = re.compile(r"(?<![\w.+\-])[+\-]?\d+(?:\.\d+)*(?!\w)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")


def from_file(path: str, *keys: str | int) -> Source:
    """A value in the JSON file ``path`` (relative to the results folder, ``/``-separated), at ``keys``."""
    return {"file": path, "keys": list(keys)}


def from_claims(key: str, *fields: str) -> Source:
    """A value of claim ``key`` in ``claims.yaml`` at ``fields`` (e.g. ``"metrics", "accuracy"``)."""
    return {"claims": [key, *fields]}


def from_ablation(model: str, field: str) -> Source:
    """A field of the ablation of ``model`` in ``claims.yaml`` (e.g. its ``section``)."""
    return {"ablation": [model, field]}


def computed(what: str, **arguments: Any) -> Source:
    """A value this package computes from results files (``what`` names the computation)."""
    return {"computed": what, **arguments}


def constant(qualified_name: str) -> Source:
    """A named constant of the code, e.g. a threshold of a rule the report states."""
    return {"constant": qualified_name}


@dataclass(frozen=True)
class Value:
    """A value with its source."""

    value: Any
    source: Source


def derive(op: str, *args: Value) -> Value:
    """The value derived from ``args`` by ``op`` (see the module docstring), with a source naming them."""
    return Value(apply_op(op, [a.value for a in args]), {"op": op, "args": [a.source for a in args]})


def apply_op(op: str, values: list[float]) -> float:
    """The result of ``op`` on ``values``."""
    if op == "count":
        return len(values)
    if op == "mean":
        return float(np.mean(values))
    if op == "std":
        return float(np.std(values, ddof=1))
    if op == "sub":
        return values[0] - values[1]
    if op == "min":
        return min(values)
    if op == "max":
        return max(values)
    if op == "mul":
        return values[0] * values[1]
    if op == "se_diff":
        std_a, n_a, std_b, n_b = values
        return math.sqrt(std_a**2 / n_a + std_b**2 / n_b)
    if op == "se_mean":
        return float(np.std(values, ddof=1) / math.sqrt(len(values)))
    raise ValueError(f"unknown operation {op!r}")


def format_number(value: float | int | str, scale: float = 1.0, decimals: int | None = 2, signed: bool = False) -> str:
    """``value × scale`` with ``decimals`` fixed decimals (``None``: the shortest exact positional form, as a file
    holds it), a leading ``+`` when ``signed``; strings are printed as they are."""
    if isinstance(value, str):
        return value
    if decimals is None:
        if isinstance(value, (int, np.integer)) and scale == 1:
            return f"{int(value):+d}" if signed else str(int(value))
        text = np.format_float_positional(float(value) * scale, trim="-")
        return f"+{text}" if signed and not text.startswith("-") else text
    text = f"{float(value) * scale:+.{decimals}f}" if signed else f"{float(value) * scale:.{decimals}f}"
    if float(text) == 0:  # no "-0.00"
        text = text.replace("-", "+" if signed else "")
    return text


@dataclass(frozen=True)
class PrintedNumber:
    """One printed value: the text as it appears in the report and how it was obtained."""

    text: str
    source: Source
    scale: float = 1.0
    decimals: int | None = 2
    signed: bool = False


class Provenance:
    """Formats the numbers the report prints and records each with its source, in printing order."""

    def __init__(self) -> None:
        self.entries: list[PrintedNumber] = []

    def number(self, value: Value, *, scale: float = 1.0, decimals: int | None = 2, signed: bool = False) -> str:
        """``value`` formatted (see :func:`format_number`) and recorded with its source."""
        if isinstance(value.value, float) and not math.isfinite(value.value):
            raise ValueError(f"cannot print the non-finite value {value.value} (source {value.source})")
        text = format_number(value.value, scale, decimals, signed)
        self.entries.append(PrintedNumber(text, value.source, scale, decimals, signed))
        return text

    def label(self, value: Value) -> str:
        """A string read from a source file that the report prints as prose (e.g. a section number ``4.1.1``)."""
        self.entries.append(PrintedNumber(str(value.value), value.source, decimals=None))
        return str(value.value)

    def printed_numbers(self) -> list[str]:
        """The number tokens of every recorded text, as :func:`printed_numbers` would find them."""
        return [token for entry in self.entries for token in NUMBER.findall(entry.text)]


def printed_numbers(markdown: str) -> list[str]:
    """Number tokens of Markdown prose: code spans (verbatim names, paths, error lines) and link targets are skipped."""
    prose = _LINK_TARGET.sub("]", _CODE_SPAN.sub(" ", markdown))
    return NUMBER.findall(prose)
