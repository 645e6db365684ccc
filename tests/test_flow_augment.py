"""Flow-map augmentation: a flipped or rotated map must be the map of the flipped or rotated frames (real CASME II
frames, the project's own flow), vector signs on known fields, normalisation round trip, reproducibility, and a
training run that selects it through ``TrainConfig.augment``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fer_lib.data import create_dataset
from fer_lib.data.base import FaceDataset
from fer_lib.engine import TrainConfig, fit
from fer_lib.flow import CROP_SCALE, FLOW_SIZE, compute_flow, crop_face_pair, pearson, stack_flow_maps
from fer_lib.models import create_model
from fer_lib.preprocess import BatchAugment, FlowAugment, Normalize, affine_theta, build_augment, warp_affine

NO_GEOMETRY = {"shift": 0.0, "scale": (1.0, 1.0), "rotation_deg": 0.0}
# DIS: OpenCV's TV-L1 is not mirror-symmetric on near-still clips (on one sub01 clip its u of the mirrored frames,
# mirrored back, correlates with the original u at r = 0.38), which would test the flow method, not the augmenter.
METHOD = "dis"
ROTATION_DEG = 30.0


@pytest.fixture(scope="module", autouse=True)
def single_threaded() -> Iterator[None]:
    """A training job may share the 2 CPU cores: one OpenCV and one torch thread, restored afterwards."""
    threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    yield
    cv2.setNumThreads(threads[0])
    torch.set_num_threads(threads[1])


def _tensor(maps: np.ndarray) -> torch.Tensor:
    """uint8 maps ``(H, W, 3)`` -> float ``(1, 3, H, W)`` in [0, 1] map units."""
    return torch.from_numpy(maps).permute(2, 0, 1)[None].float() / 255


def _params(n: int, flip: bool = False, angle: float = 0.0) -> tuple[torch.Tensor, ...]:
    return torch.full((n,), flip), torch.full((n,), angle), torch.ones(n), torch.zeros(n, 2)


def _min_max_maps(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Random smooth maps ``(n, 3, size, size)``, each spanning [0, 1] as the flow pipeline encodes them."""
    x = torch.nn.functional.avg_pool2d(torch.rand(n, 3, size + 4, size + 4, generator=torch.Generator().manual_seed(seed)), 5, 1)
    low, high = x.amin((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
    return (x - low) / (high - low)


# --- against the flow of transformed real frames ---------------------------------------------------------------


@pytest.fixture(scope="module")
def face_pairs(fer_data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Onset and apex face crops, 1.5× the flow crop, of the CASME II clips present (sub01): room to rotate without corners."""
    clips = create_dataset("casme2", fer_data, "all", frames="onset_apex", classes="emotion")
    pairs = [crop_face_pair(clips.images[i, 0], clips.images[i, 1], FLOW_SIZE * 3 // 2, crop_scale=1.5 * CROP_SCALE) for i in range(len(clips))]
    return [(p.onset, p.apex) for p in pairs]


def _centre(frame: np.ndarray) -> np.ndarray:
    margin = (frame.shape[0] - FLOW_SIZE) // 2
    return np.ascontiguousarray(frame[margin : margin + FLOW_SIZE, margin : margin + FLOW_SIZE])


def _maps(onset: np.ndarray, apex: np.ndarray) -> torch.Tensor:
    return _tensor(stack_flow_maps(compute_flow(_centre(onset), _centre(apex), METHOD)))


def flip_agreement(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per clip: correlation and mean absolute error (map units) of u, and correlation of v and strain, between the maps of
    the mirrored frames and (a) FlowAugment's flip of the original maps, (b) the naive flip (mirror only, u kept)."""
    rows = []
    for onset, apex in pairs:
        maps = _maps(onset, apex)
        truth = _maps(onset[:, ::-1], apex[:, ::-1])[0].numpy()
        ours = FlowAugment(padding_mode="border").apply(maps, *_params(1, flip=True))[0].numpy()
        naive = maps.flip(-1)[0].numpy()
        rows.append(
            [pearson(ours[0], truth[0]), pearson(naive[0], truth[0]), np.abs(ours[0] - truth[0]).mean(), np.abs(naive[0] - truth[0]).mean()]
            + [pearson(ours[c], truth[c]) for c in (1, 2)]
        )
    table = np.array(rows)
    return dict(zip(("u_r", "naive_u_r", "u_mae", "naive_u_mae", "v_r", "strain_r"), table.T))


def rotation_agreement(pairs: list[tuple[np.ndarray, np.ndarray]], angle: float = ROTATION_DEG) -> dict[str, np.ndarray]:
    """Per clip: correlation of u and v inside the inscribed disc between the maps of frames rotated by ``angle``
    (clockwise on screen) and (a) FlowAugment's rotation, (b) resampling alone (vectors not rotated)."""
    rows = []
    for onset, apex in pairs:
        side = onset.shape[0]
        # OpenCV's positive angle is counter-clockwise on screen, affine_theta's clockwise
        matrix = cv2.getRotationMatrix2D(((side - 1) / 2, (side - 1) / 2), -angle, 1.0)
        turned = [cv2.warpAffine(f, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) for f in (onset, apex)]
        maps = _maps(onset, apex)
        truth = _maps(*turned)[0].numpy()
        ours = FlowAugment().apply(maps, *_params(1, angle=angle))[0].numpy()
        h, w = maps.shape[-2:]
        naive = warp_affine(maps, affine_theta(*_params(1, angle=angle), h, w), "border")[0].numpy()
        rows_, cols = np.mgrid[:h, :w]
        disc = (rows_ - (h - 1) / 2) ** 2 + (cols - (w - 1) / 2) ** 2 < (0.45 * h) ** 2
        rows.append([pearson(a[c][disc], truth[c][disc]) for a in (ours, naive) for c in (0, 1)])
    table = np.array(rows)
    return dict(zip(("u_r", "v_r", "naive_u_r", "naive_v_r"), table.T))


def test_flip_matches_the_flow_of_mirrored_frames(face_pairs) -> None:
    stats = {k: v.mean() for k, v in flip_agreement(face_pairs).items()}
    assert stats["u_r"] > 0.95 and stats["naive_u_r"] < -0.9, stats  # the naive flip gets u's sign wrong
    assert stats["u_mae"] < 0.03 and stats["naive_u_mae"] > 5 * stats["u_mae"], stats
    assert stats["v_r"] > 0.95 and stats["strain_r"] > 0.95, stats


def test_rotation_matches_the_flow_of_rotated_frames(face_pairs) -> None:
    stats = {k: v.mean() for k, v in rotation_agreement(face_pairs).items()}
    assert stats["u_r"] > 0.85 and stats["v_r"] > 0.85, stats
    assert stats["u_r"] + stats["v_r"] > stats["naive_u_r"] + stats["naive_v_r"] + 0.2, stats


# --- known fields ---------------------------------------------------------------------------------------------


def test_rotating_a_rightward_field_by_90_degrees_points_it_down() -> None:
    # A field pointing right, (u, v) = (a, 0) with a bump a > 0 off-centre: min-max keeps the shape of u (a constant
    # field would encode as zeros). Turned 90° clockwise on screen with y down, it points down: (0, a) at the rotated
    # places. v then holds the bump itself; the wrong sign would give 1 - bump.
    rows, cols = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    bump = torch.exp(-((rows - 4) ** 2 + (cols - 11) ** 2) / 8)
    u = (bump - bump.min()) / (bump.max() - bump.min())
    maps = torch.stack([u, torch.zeros_like(u), u])[None]
    out = FlowAugment().apply(maps, *_params(1, angle=90.0))
    turned = torch.rot90(u, -1, (0, 1))  # clockwise on screen
    torch.testing.assert_close(out[0, 0], torch.zeros_like(u), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[0, 1], turned, atol=1e-4, rtol=0)
    torch.testing.assert_close(out[0, 2], turned, atol=1e-4, rtol=0)  # strain: resampled only
    # Turned back (−90°): the field points right again
    torch.testing.assert_close(FlowAugment().apply(out, *_params(1, angle=-90.0)), maps, atol=1e-4, rtol=0)


def test_flip_negates_u_and_mirrors_strain_through_normalize() -> None:
    maps = _min_max_maps(4)
    normalize = Normalize((0.3, 0.6, 0.2), (0.2, 0.1, 0.25))
    out = FlowAugment(flip_p=1.0, normalize=normalize, **NO_GEOMETRY)(normalize(maps))
    expected = torch.stack([1 - maps[:, 0], maps[:, 1], maps[:, 2]], 1).flip(-1)  # min-max(−u) = 1 − u
    torch.testing.assert_close(out, normalize(expected), atol=1e-4, rtol=0)
    same = FlowAugment(flip_p=0.0, normalize=normalize, **NO_GEOMETRY)(normalize(maps))
    torch.testing.assert_close(same, normalize(maps), atol=1e-4, rtol=0)


def test_zoom_keeps_every_map_spanning_the_full_range() -> None:
    maps = _min_max_maps(3, size=28)
    angles, zooms = torch.tensor([0.0, 10.0, -10.0]), torch.tensor([1.3, 0.9, 1.1])
    out = FlowAugment().apply(maps, torch.zeros(3, dtype=torch.bool), angles, zooms, torch.zeros(3, 2))
    torch.testing.assert_close(out.amin((2, 3)), torch.zeros(3, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(out.amax((2, 3)), torch.ones(3, 3), atol=1e-6, rtol=0)


# --- randomness, modes, errors --------------------------------------------------------------------------------


def test_same_seed_same_batch_and_eval_is_identity() -> None:
    maps = _min_max_maps(8)

    def run(seed: int) -> torch.Tensor:
        return FlowAugment(generator=torch.Generator().manual_seed(seed))(maps)

    torch.testing.assert_close(run(1), run(1), atol=0, rtol=0)
    assert not torch.allclose(run(1), run(2))
    augment = FlowAugment(generator=torch.Generator().manual_seed(1)).eval()
    assert augment(maps) is maps


def test_bf16_keeps_dtype() -> None:
    out = FlowAugment(generator=torch.Generator().manual_seed(0))(_min_max_maps(2).bfloat16())
    assert out.dtype == torch.bfloat16 and out.shape == (2, 3, 16, 16)


def test_build_augment_kinds_and_errors() -> None:
    normalize = Normalize((0.5,) * 3, (0.25,) * 3)
    assert build_augment(None, None) is None
    assert isinstance(build_augment({}, None), BatchAugment)
    assert isinstance(build_augment({"kind": "image", "erase_p": 0.0}, None), BatchAugment)
    flow = build_augment({"kind": "flow", "rotation_deg": 5.0}, None, normalize)
    assert isinstance(flow, FlowAugment) and flow.rotation_deg == 5.0 and flow.normalize is normalize
    with pytest.raises(ValueError, match="kind"):
        build_augment({"kind": "optical"}, None)
    with pytest.raises(ValueError, match="erase_p"):
        build_augment({"kind": "flow", "erase_p": 0.5}, None, normalize)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        FlowAugment()(torch.rand(2, 6, 8, 8))
    with pytest.raises(ValueError, match="3 flow channels"):
        FlowAugment(normalize=Normalize(0.5, 0.25))


# --- through fit ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def megc_maps(fer_data: Path) -> FaceDataset:
    return create_dataset("megc2019", fer_data, "all")


def test_fit_trains_ststnet_with_flow_augment(megc_maps: FaceDataset) -> None:
    train, test = megc_maps.subset(np.arange(0, 400, 6)), megc_maps.subset(np.arange(1, 400, 12))
    base = dict(epochs=1, batch_size=16, eval_batch_size=64, optimizer="adamw", lr=1e-3, amp="none", channels_last=False)
    base |= dict(num_threads=1, progress=False, deterministic=True, device="cpu", seed=0)
    losses = {}
    for name, augment in (("flow", {"kind": "flow"}), ("off", None)):
        torch.manual_seed(0)
        model = create_model("ststnet", num_classes=len(megc_maps.class_names))
        result = fit(model, train, None, test, TrainConfig(**base, augment=augment), run_dir=None)
        losses[name] = result.history["train_loss"].iloc[0]
        assert result.config["augment"] == augment and result.honest is not None
    assert np.isfinite(losses["flow"]) and losses["flow"] != losses["off"]  # the augmenter changed the training batches
