"""Optical flow, optical strain and STSTNet maps: known answers on synthetic fields, and agreement with the MEGC2019
composite's shipped maps on the three real CASME II sub01 clips it contains."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest

from fer_lib.data import create_dataset
from fer_lib.data.base import FaceDataset
from fer_lib.flow import (
    COMPOSITE_PLANES,
    FLOW_METHODS,
    compare_with_composite,
    composite_face_box,
    compute_flow,
    flow_map_dataset,
    flow_maps,
    map_correlations,
    normalize_map,
    optical_strain,
    pearson,
    stack_flow_maps,
)
from fer_lib.flow import maps as maps_module
from fer_lib.preprocess import FaceBox
from fer_lib.viz import plot_flow_maps

matplotlib.use("Agg")
SHIFT = (2.0, -1.0)  # (dx, dy): the texture moves 2 px right and 1 px up between the two frames


@pytest.fixture(scope="module", autouse=True)
def single_threaded_opencv() -> Iterator[None]:
    """A training job may share the 2 CPU cores: keep OpenCV's flow on one thread, then restore the setting."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


def shifted_texture(shape: tuple[int, int] = (96, 96), shift: tuple[float, float] = SHIFT) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture (blurred noise, contrast stretched) and the same texture moved by ``shift`` pixels."""
    rng = np.random.default_rng(0)
    pad = 8
    noise = cv2.GaussianBlur(rng.random((shape[0] + 2 * pad, shape[1] + 2 * pad)).astype(np.float32), (0, 0), 2.0)
    big = cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    dx, dy = int(shift[0]), int(shift[1])
    first = big[pad : pad + shape[0], pad : pad + shape[1]]
    # Content moving by (dx, dy) means second(x, y) = first(x - dx, y - dy).
    second = big[pad - dy : pad - dy + shape[0], pad - dx : pad - dx + shape[1]]
    return first, second


# --- optical flow: known answers and errors ------------------------------------------------------------------


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_translation_gives_its_flow(method: str) -> None:
    first, second = shifted_texture()
    flow = compute_flow(first, second, method)
    assert flow.shape == (*first.shape, 2) and flow.dtype == np.float32
    interior = flow[16:-16, 16:-16].reshape(-1, 2)
    np.testing.assert_allclose(np.median(interior, axis=0), SHIFT, atol=0.15)


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_float_frames_in_unit_range_match_uint8(method: str) -> None:
    first, second = shifted_texture()
    flow = compute_flow(first.astype(np.float32) / 255, second.astype(np.float64)[..., None] / 255, method)
    np.testing.assert_allclose(flow, compute_flow(first, second, method), atol=0.05)


def test_flow_input_errors_name_the_fix() -> None:
    first, second = shifted_texture()
    with pytest.raises(ValueError, match="one shape"):
        compute_flow(first, second[:-1])
    with pytest.raises(ValueError, match="empty"):
        compute_flow(first[:0], second[:0])
    with pytest.raises(ValueError, match="grey"):
        compute_flow(np.dstack([first] * 3), np.dstack([second] * 3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        compute_flow(first.astype(np.float32), second.astype(np.float32))
    with pytest.raises(ValueError, match="method must be one of"):
        compute_flow(first, second, "lucas-kanade")  # type: ignore[arg-type]


# --- optical strain: analytic fields -------------------------------------------------------------------------


def linear_flow(u_of, v_of, shape: tuple[int, int] = (40, 50)) -> np.ndarray:
    y, x = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    return np.stack([u_of(x, y), v_of(x, y)], -1).astype(np.float32)


@pytest.mark.parametrize(
    ("u_of", "v_of", "expected"),
    [
        (lambda x, y: 0 * x + 2.0, lambda x, y: 0 * x - 1.0, 0.0),  # translation: no deformation
        (lambda x, y: -0.05 * y, lambda x, y: 0.05 * x, 0.0),  # small rigid rotation: no deformation
        (lambda x, y: 0.03 * x, lambda x, y: 0 * x, 0.03),  # stretch along x: |ε| = a
        (lambda x, y: 0.03 * x, lambda x, y: 0.03 * y, 0.03 * np.sqrt(2)),  # uniform dilation: sqrt(2) a
        (lambda x, y: 0.04 * y, lambda x, y: 0 * x, 0.04 / np.sqrt(2)),  # simple shear: εxy = b/2, |ε| = b / sqrt(2)
    ],
    ids=["translation", "rotation", "stretch", "dilation", "shear"],
)
def test_strain_of_linear_fields(u_of, v_of, expected: float) -> None:
    strain = optical_strain(linear_flow(u_of, v_of))
    assert strain.shape == (40, 50) and strain.dtype == np.float32
    np.testing.assert_allclose(strain, expected, atol=1e-6)


def test_strain_of_measured_translation_is_small() -> None:
    flow = compute_flow(*shifted_texture(), "tvl1")
    assert np.median(optical_strain(flow)[16:-16, 16:-16]) < 0.05


def test_strain_rejects_non_flow() -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        optical_strain(np.zeros((8, 8, 3), np.float32))


# --- maps -----------------------------------------------------------------------------------------------------


def test_normalize_map_spans_0_255_and_constant_is_zero() -> None:
    out = normalize_map(np.array([[-2.0, 0.0], [1.0, 6.0]]))
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255 and out[0, 1] == round(2 / 8 * 255)
    assert not normalize_map(np.full((3, 3), 4.2)).any()


def test_stack_flow_maps_shape_range_and_channel_order() -> None:
    y, x = np.mgrid[:112, :112].astype(np.float32)
    flow = np.stack([x / 112, -y / 112], -1)  # u grows to the right, v shrinks downwards
    maps = stack_flow_maps(flow, 28)
    assert maps.shape == (28, 28, 3) and maps.dtype == np.uint8
    assert maps[0, 0, 0] < maps[0, -1, 0] and maps[0, 0, 1] > maps[-1, 0, 1]
    assert (maps[..., :2].reshape(-1, 2).min(0) == 0).all() and (maps[..., :2].reshape(-1, 2).max(0) == 255).all()
    assert not maps[..., 2].any()  # a linear field has uniform strain: a constant map normalises to zeros


def test_composite_face_box_geometry() -> None:
    box = composite_face_box(FaceBox(100, 50, 200, 180, 1.0), scale=0.5, shift=0.1)
    assert (box.w, box.h) == (100, 100) and box.center == (200, 140 + 20)


@pytest.fixture(scope="module")
def sub01_clips(fer_data: Path) -> FaceDataset:
    """The three CASME II sub01 clips of the MEGC2019 task (onset and apex frames, RGB)."""
    return create_dataset("casme2", fer_data, "all", frames="onset_apex", classes="megc3")


def test_flow_maps_on_real_frames(sub01_clips: FaceDataset) -> None:
    maps = flow_maps(sub01_clips.images[0, 0], sub01_clips.images[0, 1], "dis")
    assert maps.shape == (28, 28, 3) and maps.dtype == np.uint8
    assert (maps.reshape(-1, 3).min(0) == 0).all() and (maps.reshape(-1, 3).max(0) == 255).all()


def test_flow_map_dataset_is_cached(sub01_clips: FaceDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    first = flow_map_dataset(sub01_clips, "dis", size=14)
    assert first.images.shape == (3, 14, 14, 3) and first.meta["face_box"].shape == (3, 4)
    assert first.sample_ids.tolist() == sub01_clips.sample_ids.tolist() and (first.labels == sub01_clips.labels).all()

    def no_flow(*args: object) -> np.ndarray:
        raise AssertionError("a cached call must not compute flow")

    monkeypatch.setattr(maps_module, "compute_flow", no_flow)
    again = flow_map_dataset(sub01_clips, "dis", size=14)
    np.testing.assert_array_equal(again.images, first.images)


def test_flow_map_dataset_needs_onset_and_apex(sub01_clips: FaceDataset) -> None:
    wrong = dataclasses.replace(sub01_clips, meta={**sub01_clips.meta, "frame_indices": np.array(["1,2"] * 3)})
    with pytest.raises(ValueError, match="frames='onset_apex'"):
        flow_map_dataset(wrong, "dis", use_cache=False)
    stills = dataclasses.replace(sub01_clips, images=sub01_clips.images[:, 0])
    with pytest.raises(ValueError, match="frames='onset_apex'"):
        flow_map_dataset(stills, "dis", use_cache=False)


# --- agreement with the composite's shipped maps -------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped(fer_data: Path) -> FaceDataset:
    return create_dataset("megc2019", fer_data, "all")


@pytest.fixture(scope="module")
def tvl1_table(fer_data: Path):
    return compare_with_composite(fer_data, "tvl1")


def test_tvl1_maps_match_the_composite(tvl1_table) -> None:
    # Measured (OpenCV 4.14): u 0.81/0.90/0.95, v 0.77/0.84/0.90, strain 0.43/0.68/0.73.
    assert tvl1_table["sample_id"].tolist() == ["sub01/EP02_01f", "sub01/EP19_05f", "sub01/EP19_06f"]
    assert np.isfinite(tvl1_table[["u", "v", "strain"]].to_numpy()).all()
    assert (tvl1_table["u"] > 0.7).all() and (tvl1_table["v"] > 0.7).all() and (tvl1_table["strain"] > 0.3).all()


def test_same_clip_beats_other_subjects(fer_data: Path, sub01_clips: FaceDataset, shipped: FaceDataset) -> None:
    """Our map of a clip is closer to the composite's map of that clip than to 99 % of the other subjects' maps."""
    ours = flow_map_dataset(sub01_clips, "tvl1")
    table = map_correlations(ours, shipped)
    others = shipped.images[shipped.subjects != "sub01"]
    for i, same in enumerate(table[["u", "v", "strain"]].mean(axis=1)):
        baseline = [np.mean([pearson(ours.images[i, ..., k], o[..., COMPOSITE_PLANES[k]]) for k in range(3)]) for o in others[::4]]
        assert np.mean(baseline) < 0.2 and same > np.percentile(baseline, 99)


def test_opencv_plane_order_fits_worse(fer_data: Path, sub01_clips: FaceDataset, shipped: FaceDataset, tvl1_table) -> None:
    """Reading the shipped planes in cv2.imread's order (strain, v, u) instead of (u, v, strain) loses the u and strain agreement."""
    opencv_order = map_correlations(flow_map_dataset(sub01_clips, "tvl1"), shipped, planes=(2, 1, 0))
    measured = tvl1_table[["u", "v", "strain"]].to_numpy().mean()
    assert opencv_order[["u", "v", "strain"]].to_numpy().mean() < 0.3 < measured - 0.4


def test_dis_maps_match_the_composite(fer_data: Path) -> None:
    # Measured: u 0.77/0.91/0.90, v 0.72/0.80/0.83, strain 0.34/0.58/0.63.
    table = compare_with_composite(fer_data, "dis")
    assert len(table) == 3 and (table["method"] == "dis").all()
    assert (table["u"] > 0.6).all() and (table["v"] > 0.6).all() and table[["u", "v", "strain"]].to_numpy().mean() > 0.6


def test_map_correlations_errors(shipped: FaceDataset) -> None:
    with pytest.raises(ValueError, match="permutation"):
        map_correlations(shipped, shipped, planes=(0, 0, 1))
    renamed = dataclasses.replace(shipped.subset([0]), sample_ids=np.array(["nobody/none"]))
    with pytest.raises(ValueError, match="no sample id"):
        map_correlations(renamed, shipped)


def test_plot_flow_maps(shipped: FaceDataset) -> None:
    fig = plot_flow_maps(shipped.images[:2], ["a", "b"], reference=shipped.images[:2])
    assert len(fig.axes) == 2 * 6
    with pytest.raises(ValueError, match="one title"):
        plot_flow_maps(shipped.images[:2], ["a"])
