"""The paper's claims and its modules' ablation pairs, read from ``claims.yaml`` (the one file where they are written)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd
import yaml


@dataclass(frozen=True)
class Claim:
    """One number the paper claims: model, dataset, metrics (fractions in [0, 1]), section and the quoted sentence."""

    key: str
    model: str
    section: str
    dataset: str
    split: str
    metrics: dict[str, float]
    protocol: str
    pretrained: str
    quote: str
    source: str = "survey"  # where the number is published: the surveyed paper, or a baseline's own paper
    unstated: tuple[str, ...] = ()  # what else the text leaves open (resolution, schedule, split, ...)
    note: str = ""  # how we read the claim where its wording is ambiguous
    check_file: str | None = None  # published weights: the run-folder file that evaluates them (no training)


@dataclass(frozen=True)
class Ablation:
    """What one module adds: ``model`` (with the module) against ``baseline`` (the same network without it)."""

    module: str
    section: str
    model: str
    baseline: str


def _claims_file() -> dict[str, Any]:
    return yaml.safe_load(resources.files("fer_lib").joinpath("claims.yaml").read_text())


def load_claims() -> dict[str, Claim]:
    """All claims by key: the survey's (``irnet``, ``dcn_cbam``, ``lkcnn``, ``mfem_lstm``) and the STSTNet baseline's
    (``ststnet``: its paper's figure; ``ststnet_weights``: what its published weights give)."""
    return {c["key"]: Claim(**{**c, "unstated": tuple(c.get("unstated", ()))}) for c in _claims_file()["claims"]}


def load_ablations() -> list[Ablation]:
    """The module ablations of the surveyed methods, in the file's order."""
    return [Ablation(**a) for a in _claims_file()["ablations"]]


def compare_to_claim(records: list[dict[str, Any]], claim: Claim) -> pd.DataFrame:
    """Paper's number beside ours, one row per (protocol, metric the paper reports), with what differs stated."""
    rows = []
    for record in records:
        for metric, paper in claim.metrics.items():
            differences = ["trained from scratch (no pretrained weights reachable here)"]
            if record["dataset"] != claim.dataset:
                differences.insert(0, f"paper's number is on {claim.dataset}, ours on {record['dataset']}")
            rows.append(
                {
                    "protocol": record["protocol"],
                    "metric": metric,
                    f"{'paper' if claim.source == 'survey' else 'published'} (§{claim.section}, {claim.dataset})": paper,
                    f"ours ({record['dataset']}, {record['profile']} profile, {record['device']})": record[metric],
                    "differences": "; ".join(differences),
                }
            )
    return pd.DataFrame(rows).set_index(["protocol", "metric"])
