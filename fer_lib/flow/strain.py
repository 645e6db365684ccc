"""Optical strain: how much the face deforms, from the spatial derivatives of the optical flow.

For a flow field (u, v) the infinitesimal strain tensor is ε = ½(∇w + ∇wᵀ) with w = (u, v), i.e.
εxx = ∂u/∂x, εyy = ∂v/∂y, εxy = εyx = ½(∂u/∂y + ∂v/∂x). Its magnitude (Shreve et al., "Macro- and micro-expression
spotting in long videos using spatio-temporal strain", FG 2011; Liong et al., "Shallow triple stream
three-dimensional CNN (STSTNet)", FG 2019, and their earlier "Less is more", SPIC 2018) is

    |ε| = sqrt(εxx² + εyy² + εxy² + εyx²) = sqrt(u_x² + v_y² + ½ (u_y + v_x)²).

It is zero for a rigid translation or rotation of the head and large where skin stretches or compresses, which is
why STSTNet and LKCNN (paper §4.2.1) feed it beside u and v. Derivatives are central differences (``np.gradient``;
one-sided at the border), in flow pixels per pixel.
"""

from __future__ import annotations

import numpy as np


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Strain magnitude ``(H, W)`` float32 of a flow ``(H, W, 2)`` holding (u, v) in pixels (u right, v down)."""
    if not isinstance(flow, np.ndarray) or flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be an array (H, W, 2) of (u, v), got {getattr(flow, 'shape', type(flow).__name__)}")
    if min(flow.shape[:2]) < 2:
        raise ValueError(f"flow must be at least 2x2 pixels to take derivatives, got {flow.shape[:2]}")
    u, v = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
    # np.gradient returns the derivative along rows (y) first, then along columns (x).
    u_y, u_x = np.gradient(u)
    v_y, v_x = np.gradient(v)
    return np.sqrt(u_x**2 + v_y**2 + 0.5 * (u_y + v_x) ** 2).astype(np.float32)
