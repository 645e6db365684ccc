"""Dense optical flow between two grey frames (onset → apex of a micro-expression), by one of three OpenCV methods.

* ``"tvl1"`` — TV-L1 (Zach et al. 2007; the dual formulation of Wedel et al. / Sánchez et al., IPOL 2013), via
  ``cv2.optflow.DualTVL1OpticalFlow`` with OpenCV's defaults. The MEGC2019 composite's maps, the input of STSTNet
  (Liong et al., FG 2019) and of the study's LKCNN (paper §4.2.1), are TV-L1 flow made with the IPOL code (STSTNet's
  README); OpenCV's adds a median filter per warp and shrinks its pyramid by 0.8, not 0.5. Setting IPOL's 0.5 and
  no median filter moved the mean correlation with the composite's maps (:mod:`fer_lib.flow.compare`) by at most
  0.015 (one clip's strain by up to 0.12, u and v by at most 0.02), so we keep OpenCV's defaults.
* ``"dis"`` — Dense Inverse Search (Kroeger et al., ECCV 2016), ``cv2.DISOpticalFlow`` preset MEDIUM: about a
  millisecond per 112-px pair, two orders of magnitude faster than TV-L1 (``benchmarks/optical_flow.py``). The
  FAST preset tracked the composite's strain maps far worse (r ≈ 0.16 against 0.34–0.63 for MEDIUM).
* ``"farneback"`` — polynomial expansion (Farnebäck, SCIA 2003), ``cv2.calcOpticalFlowFarneback`` with the
  parameters of OpenCV's own sample (pyramid 0.5 × 3 levels, window 15, 3 iterations, poly_n 5, sigma 1.2).

The flow ``(H, W, 2)`` float32 holds, per pixel of the first frame, the displacement (u, v) in pixels to the
second frame: u positive to the right, v positive downwards (image coordinates).

Each thread keeps one flow object per method and reuses it (OpenCV's flow objects must not be shared between
threads calling ``calc`` at once). Reuse saves little: creating a TV-L1 object takes under 0.1 ms, and a new object
per pair (re-allocating its buffers) measured 0.5–4 % slower than a reused one (``benchmarks/optical_flow.py``).
"""

from __future__ import annotations

import threading
from typing import Literal, get_args

import cv2
import numpy as np

FlowMethod = Literal["tvl1", "dis", "farneback"]
FLOW_METHODS: tuple[str, ...] = get_args(FlowMethod)
FARNEBACK_PARAMS = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2, "flags": 0}
FLOAT_TOLERANCE = 1e-3  # float frames may overshoot [0, 1] by rounding (e.g. after a resize)

_local = threading.local()


def compute_flow(onset: np.ndarray, apex: np.ndarray, method: FlowMethod = "tvl1") -> np.ndarray:
    """Dense flow from ``onset`` to ``apex``: float32 ``(H, W, 2)`` holding (u, v) in pixels.

    Frames are grey, ``(H, W)`` or ``(H, W, 1)``, of one shape: uint8 (0–255) or float in [0, 1].
    """
    if method not in FLOW_METHODS:
        raise ValueError(f"method must be one of {FLOW_METHODS}, not {method!r}")
    first, second = _as_gray(onset, "onset"), _as_gray(apex, "apex")
    if first.shape != second.shape:
        raise ValueError(f"onset and apex frames must have one shape, got {first.shape} and {second.shape}; crop both with the same face box")
    # Each method wants its own intensity scale: DIS takes 8-bit frames only; OpenCV's TV-L1 multiplies float
    # frames by 255 (it expects [0, 1]); Farneback's thresholds assume 0-255 (on [0, 1] floats it returns ~0 flow).
    if method == "dis":
        flow = _flow_object("dis").calc(_to_uint8(first), _to_uint8(second), None)
    elif method == "tvl1":
        flow = _flow_object("tvl1").calc(_to_unit_float(first), _to_unit_float(second), None)
    else:
        flow = cv2.calcOpticalFlowFarneback(_to_255_float(first), _to_255_float(second), None, **FARNEBACK_PARAMS)
    return np.ascontiguousarray(flow, dtype=np.float32)


def _as_gray(frame: np.ndarray, name: str) -> np.ndarray:
    """``(H, W)`` / ``(H, W, 1)`` uint8 or float frame -> ``(H, W)``, checked."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name} frame must be a numpy array, got {type(frame).__name__}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim != 2:
        raise ValueError(
            f"{name} frame must be grey (H, W) or (H, W, 1), got shape {frame.shape}; convert colour frames first "
            "(fer_lib.preprocess.crop_face_box(..., color='gray') or cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))"
        )
    if frame.size == 0 or min(frame.shape) < 2:
        raise ValueError(f"{name} frame is empty or degenerate ({frame.shape}); the face crop probably missed the image")
    if frame.dtype == np.uint8:
        return np.ascontiguousarray(frame)  # DIS asserts a continuous buffer; views (crops, channel slices) are not
    if not np.issubdtype(frame.dtype, np.floating):
        raise ValueError(f"{name} frame must be uint8 (0-255) or float in [0, 1], got {frame.dtype}")
    low, high = float(np.min(frame)), float(np.max(frame))
    if not (np.isfinite(low) and np.isfinite(high)) or low < -FLOAT_TOLERANCE or high > 1 + FLOAT_TOLERANCE:
        raise ValueError(f"float {name} frame must lie in [0, 1] (uint8 / 255), got values in [{low:g}, {high:g}]; pass uint8 for 0-255 frames")
    return np.ascontiguousarray(frame)


def _to_unit_float(frame: np.ndarray) -> np.ndarray:
    """uint8 as is; float -> float32 in [0, 1]."""
    return frame if frame.dtype == np.uint8 else np.clip(frame, 0, 1).astype(np.float32)


def _to_255_float(frame: np.ndarray) -> np.ndarray:
    """uint8 as is; float [0, 1] -> float32 on the 0–255 scale."""
    return frame if frame.dtype == np.uint8 else (np.clip(frame, 0, 1) * 255).astype(np.float32)


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    return frame if frame.dtype == np.uint8 else np.round(np.clip(frame, 0, 1) * 255).astype(np.uint8)


def _flow_object(method: Literal["tvl1", "dis"]) -> cv2.DenseOpticalFlow:
    """This thread's reusable flow object for ``method``."""
    objects = getattr(_local, "objects", None)
    if objects is None:
        objects = _local.objects = {}
    if method not in objects:
        if method == "tvl1":
            objects[method] = _create_tvl1()
        else:
            objects[method] = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return objects[method]


def _create_tvl1() -> cv2.DenseOpticalFlow:
    if not hasattr(cv2, "optflow"):
        raise ImportError(
            "TV-L1 needs OpenCV's contrib modules (cv2.optflow), which this cv2 lacks: "
            "pip install --force-reinstall --no-deps opencv-contrib-python-headless==4.14.0.94 (or `make setup`)"
        )
    return cv2.optflow.DualTVL1OpticalFlow_create()
