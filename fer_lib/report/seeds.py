"""Runs that differ only in their seed (``…__s0``, ``…__s1``, …), summarised as mean ± standard deviation and n.

A run fine-tuned from our weights on another dataset is another configuration than the same model trained from
scratch: its group carries ``init_from``."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from .collect import Run
from .provenance import Provenance, Value, derive


@dataclass(frozen=True)
class SeedGroup:
    """The complete runs of one (model, dataset, profile, start), sorted by seed; ``init_from`` is ``""`` for runs from scratch."""

    model: str
    dataset: str
    profile: str
    init_from: str
    runs: tuple[Run, ...]

    @property
    def label(self) -> str:
        """The model's name, with the dataset it was fine-tuned from (``dcn_cbam ← fer2013``)."""
        return f"{self.model} ← {self.init_from}" if self.init_from else self.model

    def values(self, protocol: str, *keys: str) -> list[Value]:
        """The value at ``keys`` of each seed's ``protocol`` record, for the seeds that have it."""
        return [value for run in self.runs if (value := run.value(protocol, *keys)) is not None]


def group_by_seed(runs: list[Run]) -> list[SeedGroup]:
    """One group per (model, dataset, profile, start), sorted by that key."""
    key = lambda run: (run.model, run.dataset, run.profile, run.init_from)  # noqa: E731
    ordered = sorted(runs, key=lambda run: (*key(run), run.seed))
    return [SeedGroup(*k, tuple(group)) for k, group in groupby(ordered, key=key)]


def seed_mean(values: list[Value]) -> Value:
    """The mean over seeds (a single seed's value as it is)."""
    return values[0] if len(values) == 1 else derive("mean", *values)


def format_over_seeds(prov: Provenance, values: list[Value], scale: float = 100, decimals: int = 2) -> str:
    """``"56.76 ± 1.23 (n=3)"`` over seeds (sample standard deviation), ``"56.76 (n=1)"`` for one, ``"—"`` for none."""
    if not values:
        return "—"
    mean = prov.number(seed_mean(values), scale=scale, decimals=decimals)
    spread = "" if len(values) == 1 else f" ± {prov.number(derive('std', *values), scale=scale, decimals=decimals)}"
    return f"{mean}{spread} (n={prov.number(derive('count', *values), decimals=None)})"
