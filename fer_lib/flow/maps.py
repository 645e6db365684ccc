"""STSTNet / LKCNN input maps: onset → apex optical flow u, v and optical strain of the face, ``(28, 28, 3)`` uint8.

Paper §4.2.1 (LKCNN) and STSTNet (Liong et al., FG 2019) take three maps computed between the onset and apex frames
of a micro-expression: horizontal flow u, vertical flow v and the optical strain magnitude. The MEGC2019
composite ships them as ``STSNet_whole_norm_u_v_os``; STSTNet's code that made them is not public (its README points
to the IPOL TV-L1 code). We follow what the shipped maps themselves show (see :mod:`fer_lib.flow.compare`):

* **Same crop on both frames.** The face is detected once, on the onset frame, and the same square is cut from the
  apex frame (as :mod:`fer_lib.preprocess.align` advises for clips): head position must not become flow.
* **The composite's crop geometry.** The composite uses each database's cropped faces, which run from the brows to
  the chin. Template-matching the composite's own 224×224 apex faces of CASME II sub01 (EP02_01f, EP19_05f,
  EP19_06f) against the raw apex frames puts that square at 0.76–0.78 of the Haar box's side, its centre
  0.09–0.11 of the side below the box centre: ``CROP_SCALE`` and ``CROP_SHIFT``. The crop matters most: with it
  our TV-L1 u maps correlate with the shipped ones at r = 0.81–0.95, with the plain Haar crop (margin 0.25) at
  0.15–0.40. Fitted on those three clips only, the geometry may be off for other subjects and detectors; pass
  ``crop_scale=1 + 2 * margin, crop_shift=0`` for the plain Haar crop of :func:`fer_lib.preprocess.align_face`.
* **Strain at flow resolution, then resize, then per-map min-max.** Strain is taken from the full-resolution flow;
  u, v and strain are each area-resized to 28×28 and then scaled on their own to 0–255. Every channel of all 442
  shipped maps spans exactly 0..255, which normalising before the resize would not leave. Reconstructions posted
  to STSTNet's issue tracker (christy1206/STSTNet #5, #8) also min-max each map on its own.
* **Channels (u, v, strain)**, u positive to the right, v positive downwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from tqdm.auto import tqdm

from ..data.base import FaceDataset
from ..data.cache import cached_dataset
from ..preprocess import FaceBox, FaceDetector, NoFaceError, align_face, crop_face_box
from .optical_flow import FLOW_METHODS, FlowMethod, compute_flow
from .strain import optical_strain

log = logging.getLogger(__name__)

STSTNET_SIZE = 28  # STSTNet's input side (Liong et al. 2019)
FLOW_SIZE = 112  # side of the face crop the flow is computed on
CROP_SCALE = 0.77  # composite crop side / Haar box side (see the module docstring)
CROP_SHIFT = 0.10  # composite crop centre below the Haar box centre, in Haar box sides
MAP_CHANNELS = ("u", "v", "strain")
FLOAT32_NOISE = 16 * float(np.finfo(np.float32).eps)  # relative spread of a map that is constant up to rounding


@dataclass(frozen=True)
class FacePair:
    """Onset and apex face crops cut with one box.

    Attributes:
        onset, apex: uint8 ``(size, size)`` grey crops.
        box: the square cut from both frames, in frame pixels.
        angle_deg: rotation applied to both (0 unless eyes were levelled).
    """

    onset: np.ndarray
    apex: np.ndarray
    box: FaceBox
    angle_deg: float


def normalize_map(values: np.ndarray) -> np.ndarray:
    """Min-max scale one map to uint8 0–255 (a constant map, up to float32 rounding, gives zeros: it carries no motion)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = values.min(), values.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("map holds NaN or infinite values; the flow of a degenerate crop? check the face box")
    # A spread within float32 rounding of the values is no signal: stretching it to 0-255 would show noise.
    if high - low <= FLOAT32_NOISE * max(abs(high), abs(low)):
        return np.zeros(values.shape, np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def stack_flow_maps(flow: np.ndarray, size: int = STSTNET_SIZE) -> np.ndarray:
    """The (u, v, strain) maps of a flow ``(H, W, 2)``: uint8 ``(size, size, 3)``, each channel min-max scaled on its own."""
    strain = optical_strain(flow)
    planes = (flow[..., 0], flow[..., 1], strain)
    # Area interpolation averages the flow over each output cell instead of picking noisy single pixels.
    return np.stack([normalize_map(cv2.resize(np.ascontiguousarray(p, np.float32), (size, size), interpolation=cv2.INTER_AREA)) for p in planes], -1)


def composite_face_box(box: FaceBox, scale: float = CROP_SCALE, shift: float = CROP_SHIFT) -> FaceBox:
    """The square the composite crops, from a detector's face box: side ``scale`` × the longer box side, centre ``shift`` sides lower."""
    if scale <= 0:
        raise ValueError(f"crop scale must be positive, got {scale}")
    side = max(box.w, box.h)
    cx, cy = box.center
    cy += shift * side
    return FaceBox(cx - scale * side / 2, cy - scale * side / 2, scale * side, scale * side, box.score, box.eyes)


def crop_face_pair(
    onset: np.ndarray,
    apex: np.ndarray,
    size: int = FLOW_SIZE,
    detector: FaceDetector | None = None,
    crop_scale: float = CROP_SCALE,
    crop_shift: float = CROP_SHIFT,
    align_eyes: bool = False,
    where: str = "clip",
) -> FacePair:
    """Detect the face on ``onset`` (uint8 ``(H, W[, C])`` RGB) and cut the same square from both frames, grey, ``size``×``size``.

    Raises :class:`fer_lib.preprocess.NoFaceError` naming ``where`` when the onset frame shows no face.
    """
    if onset.shape != apex.shape:
        raise ValueError(f"{where}: onset and apex frames differ in shape ({onset.shape} vs {apex.shape}); they must come from one clip")
    face = align_face(onset, detector, size, 0.0, "gray", align_eyes, where=f"the onset frame of {where}")
    box = composite_face_box(face.box, crop_scale, crop_shift)
    first, second = (crop_face_box(frame, box, size, 0.0, "gray", face.angle_deg)[..., 0] for frame in (onset, apex))
    return FacePair(first, second, box, face.angle_deg)


def flow_maps(
    onset: np.ndarray,
    apex: np.ndarray,
    method: FlowMethod = "tvl1",
    size: int = STSTNET_SIZE,
    flow_size: int = FLOW_SIZE,
    detector: FaceDetector | None = None,
    crop_scale: float = CROP_SCALE,
    crop_shift: float = CROP_SHIFT,
    align_eyes: bool = False,
    where: str = "clip",
) -> np.ndarray:
    """STSTNet maps of one clip: uint8 ``(size, size, 3)`` = (u, v, strain) of the onset → apex flow of the cropped face.

    ``onset``, ``apex``: full frames, uint8 ``(H, W[, C])`` RGB. The flow is computed on ``flow_size``×``flow_size`` crops.
    """
    pair = crop_face_pair(onset, apex, flow_size, detector, crop_scale, crop_shift, align_eyes, where)
    return stack_flow_maps(compute_flow(pair.onset, pair.apex, method), size)


def flow_map_dataset(
    clips: FaceDataset,
    method: FlowMethod = "tvl1",
    size: int = STSTNET_SIZE,
    flow_size: int = FLOW_SIZE,
    detector: FaceDetector | None = None,
    crop_scale: float = CROP_SCALE,
    crop_shift: float = CROP_SHIFT,
    align_eyes: bool = False,
    on_missing: Literal["raise", "skip"] = "raise",
    use_cache: bool = True,
) -> FaceDataset:
    """Flow maps of every clip of a clip dataset (``frames="onset_apex"``): images uint8 ``(N, size, size, 3)``.

    Labels, subjects and meta follow the clips; meta gains ``face_box`` ``(N, 4)`` (x, y, w, h of the square cut,
    in frame pixels) and ``crop_angle``. Cached (decode-once cache) under a key of the clips' content and every
    parameter. ``on_missing="skip"`` drops clips whose onset shows no face, with a warning; ``"raise"`` raises.
    """
    _check_clips(clips)
    if method not in FLOW_METHODS:
        raise ValueError(f"method must be one of {FLOW_METHODS}, not {method!r}")
    if on_missing not in ("raise", "skip"):
        raise ValueError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}")
    params = {
        "method": method,
        "size": size,
        "flow_size": flow_size,
        "detector": _detector_key(detector),
        "crop_scale": crop_scale,
        "crop_shift": crop_shift,
        "align_eyes": align_eyes,
        "on_missing": on_missing,
        "opencv": cv2.__version__,  # flow results change with the OpenCV release
        "clips": clips.content_digest(),
    }

    def build() -> FaceDataset:
        maps, boxes, angles, kept, missed = [], [], [], [], []
        for i in tqdm(range(len(clips)), desc=f"{method} flow maps", leave=False):
            where = f"{clips.name} clip {clips.sample_ids[i]}"
            try:
                pair = crop_face_pair(clips.images[i, 0], clips.images[i, 1], flow_size, detector, crop_scale, crop_shift, align_eyes, where)
            except NoFaceError:
                if on_missing == "raise":
                    raise
                missed.append(str(clips.sample_ids[i]))
                continue
            maps.append(stack_flow_maps(compute_flow(pair.onset, pair.apex, method), size))
            boxes.append((pair.box.x, pair.box.y, pair.box.w, pair.box.h))
            angles.append(pair.angle_deg)
            kept.append(i)
        if missed:
            log.warning(
                "flow maps: no face on the onset frame of %d of %d clips, skipped them (first: %s)", len(missed), len(clips), ", ".join(missed[:5])
            )
        subset = clips.subset(kept)
        return FaceDataset(
            name=clips.name,
            split=clips.split,
            images=np.stack(maps) if maps else np.zeros((0, size, size, 3), np.uint8),
            labels=subset.labels,
            class_names=clips.class_names,
            sample_ids=subset.sample_ids,
            subjects=subset.subjects,
            meta={**subset.meta, "face_box": np.asarray(boxes, np.float64).reshape(-1, 4), "crop_angle": np.asarray(angles, np.float64)},
        )

    # No source files: the clips' content digest in ``params`` stands for them, so the root is never read.
    return cached_dataset(f"{clips.name}_flow_maps", params, Path("."), [], build, use_cache)


def _check_clips(clips: FaceDataset) -> None:
    """Frames 0 and 1 of each clip must be its onset and apex (``frames="onset_apex"`` or ``"onset_apex_offset"``)."""
    if clips.images.ndim != 5 or clips.images.shape[1] < 2:
        raise ValueError(
            f"{clips.name}: flow maps need clips (N, T>=2, H, W, C) whose frames 0 and 1 are onset and apex, got images "
            f"{clips.images.shape}; load with create_dataset(..., frames='onset_apex')"
        )
    if {"frame_indices", "onset", "apex"} <= clips.meta.keys():
        chosen = np.array([[int(n) for n in s.split(",")[:2]] for s in clips.meta["frame_indices"]]).reshape(-1, 2)
        wrong = np.flatnonzero((chosen[:, 0] != clips.meta["onset"]) | (chosen[:, 1] != clips.meta["apex"]))
        if len(wrong):
            i = wrong[0]
            raise ValueError(
                f"{clips.name} clip {clips.sample_ids[i]}: frames 0 and 1 are frames {chosen[i].tolist()}, not onset {clips.meta['onset'][i]} "
                f"and apex {clips.meta['apex'][i]}; load with create_dataset(..., frames='onset_apex')"
            )


def _detector_key(detector: FaceDetector | None) -> str:
    """The detector's class and simple settings, for the cache key (``None`` is the default Haar cascade)."""
    if detector is None:
        return "HaarFaceDetector(default)"
    settings = {k: v for k, v in sorted(vars(detector).items()) if isinstance(v, (int, float, str, bool))}
    return f"{type(detector).__name__}{settings}"
