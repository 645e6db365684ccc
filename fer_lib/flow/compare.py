"""Our flow maps against the MEGC2019 composite's shipped ones (``STSNet_whole_norm_u_v_os``), clip by clip.

The composite ships maps for the 145 CASME II clips of its 3-class task; the raw frames of three of them are here
(sub01 EP02_01f, EP19_05f, EP19_06f). For each clip both datasets hold, the Pearson correlation of our 28×28 map
with the shipped one, per channel, says how closely :func:`fer_lib.flow.flow_maps` reproduces STSTNet's inputs.
Min-max normalisation makes the maps' scale irrelevant, but not their sign, crop or channel order.

The shipped maps are loaded as (u, v, strain) (:mod:`fer_lib.data.megc2019` gives the evidence); ``planes`` lets a
test show that another reading of them fits worse.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data import create_dataset
from ..data.base import FaceDataset
from .maps import MAP_CHANNELS, flow_map_dataset
from .optical_flow import FlowMethod

COMPOSITE_PLANES = (0, 1, 2)  # index in create_dataset("megc2019") images of u, v, strain


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two maps of one shape (NaN when either is constant: it has no correlation)."""
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"maps to correlate must have one shape, got {np.shape(a)} and {np.shape(b)}")
    x, y = x - x.mean(), y - y.mean()
    scale = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / scale) if scale > 0 else float("nan")


def map_correlations(ours: FaceDataset, shipped: FaceDataset, planes: Sequence[int] = COMPOSITE_PLANES) -> pd.DataFrame:
    """One row per sample id in both datasets: ``sample_id`` and the Pearson r of each channel (``u``, ``v``, ``strain``).

    ``ours`` holds (u, v, strain) maps; ``planes[k]`` is the plane of ``shipped`` compared with our channel k.
    """
    if len(planes) != len(MAP_CHANNELS) or sorted(planes) != list(range(len(MAP_CHANNELS))):
        raise ValueError(f"planes must be a permutation of (0, 1, 2) giving the shipped plane of each of {MAP_CHANNELS}, got {tuple(planes)}")
    if ours.images.shape[1:] != shipped.images.shape[1:]:
        raise ValueError(
            f"maps differ in shape: ours {ours.images.shape[1:]}, shipped {shipped.images.shape[1:]}; "
            "compute ours at the shipped size (flow_maps(..., size=28))"
        )
    index = {sample: i for i, sample in enumerate(shipped.sample_ids.tolist())}
    common = [(i, index[s]) for i, s in enumerate(ours.sample_ids.tolist()) if s in index]
    if not common:
        raise ValueError(
            f"no sample id is in both {ours.name} ({ours.sample_ids[:3].tolist()}, ...) and {shipped.name} "
            f"({shipped.sample_ids[:3].tolist()}, ...): they must name clips alike, e.g. sub01/EP02_01f"
        )
    rows = []
    for i, j in common:
        rows.append({"sample_id": str(ours.sample_ids[i])})
        rows[-1].update({c: pearson(ours.images[i, ..., k], shipped.images[j, ..., planes[k]]) for k, c in enumerate(MAP_CHANNELS)})
    return pd.DataFrame(rows, columns=["sample_id", *MAP_CHANNELS])


def compare_with_composite(
    root: str | os.PathLike[str] | None = None,
    method: FlowMethod = "tvl1",
    planes: Sequence[int] = COMPOSITE_PLANES,
    **map_options: Any,
) -> pd.DataFrame:
    """Correlations (:func:`map_correlations`) of our maps of the CASME II clips present under ``root`` with the composite's.

    ``root`` is the data root (default ``$FER_DATA``), holding ``casme2`` frames and ``megc2019``. ``map_options``
    go to :func:`fer_lib.flow.flow_map_dataset` (``flow_size``, ``crop_scale``, ``detector``, ...). Adds a
    ``method`` column.
    """
    clips = create_dataset("casme2", root, "all", frames="onset_apex", classes="megc3")
    shipped = create_dataset("megc2019", root, "all", modality="flow")
    ours = flow_map_dataset(clips, method, size=shipped.images.shape[1], **map_options)
    return map_correlations(ours, shipped, planes).assign(method=method)
