"""Flow-map augmentation: flip, rotation, zoom and shift of the (u, v, strain) maps as the flow of transformed frames.

A flow field is not an image: mirroring the face mirrors the field and negates u; rotating the face by θ rotates
every (u, v) vector by θ; zooming by s scales every displacement by s. Optical strain, a norm of the flow's spatial
derivatives, is unchanged by all three and is only resampled. :class:`FlowAugment` resamples the maps with
:func:`~fer_lib.preprocess.augment.affine_theta` (same convention as :class:`BatchAugment`: flip first, positive
angle = clockwise on screen), transforms the vectors, and then re-encodes every map as the flow pipeline
(:func:`fer_lib.flow.stack_flow_maps`) and the MEGC2019 composite do: each map of each sample min-max scaled to
[0, 1]. That encoding keeps no zero and no pixel scale, which decides what can be done exactly:

* **Flip**: exact. min-max(−u) = 1 − u.
* **Zoom and shift**: exact up to resampling and the padded border; scaling displacements by s changes nothing after min-max.
* **Rotation**: u' = cos θ·u − sin θ·v, v' = sin θ·u + cos θ·v (image axes, y down). The offsets of u and v drop out
  of the min-max, but their ratio of pixel scales is lost; the maps are rotated as if u and v spanned equal ranges
  in pixels. Against DIS flow recomputed on rotated frames (the nine CASME II sub01 clips, ``tests/test_flow_augment.py``)
  the rotated u and v correlate at r ≈ 0.92 for 30° (resampling alone: 0.76 and 0.83) and 0.998 for 90°.

Border padding replicates the edge flow; reflection would mirror the field without negating its normal component.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from .augment import PADDING_MODES, BatchAugment, affine_theta, warp_affine
from .normalize import Normalize

FLOW_CHANNELS = 3  # (u, v, strain), fer_lib.flow.MAP_CHANNELS
AUGMENT_KINDS = ("image", "flow")
RANGE_EPS = 1e-6  # a map whose spread is below this (in [0, 1] units) is constant: encoded as zeros, as normalize_map does


class FlowAugment(nn.Module):
    """Random flip, rotation, zoom and shift of normalised flow maps ``(N, 3, H, W)`` = (u, v, strain); identity in ``eval()``.

    The engine normalises before augmenting, so the module takes the run's :class:`Normalize`: it maps the batch back
    to [0, 1] map units, transforms, re-encodes and normalises again (no engine change; ``normalize=None`` takes
    maps already in [0, 1]). No erasing: a blanked patch of a flow field is no motion any face makes.
    """

    def __init__(
        self,
        flip_p: float = 0.5,
        shift: float = 0.1,
        scale: tuple[float, float] = (0.9, 1.1),
        rotation_deg: float = 10.0,
        padding_mode: str = "border",
        normalize: Normalize | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be a range 0 < low <= high, got {scale}")
        if normalize is not None and normalize.scale.numel() != FLOW_CHANNELS:
            channels = normalize.scale.numel()
            raise ValueError(f"FlowAugment needs the Normalize of the {FLOW_CHANNELS} flow channels (u, v, strain), got {channels} channels")
        self.flip_p, self.shift, self.scale, self.rotation_deg = flip_p, shift, scale, rotation_deg
        self.padding_mode = padding_mode
        self.normalize = normalize
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` normalised float -> augmented batch of the same shape, dtype and device."""
        if not self.training:
            return x
        n = len(x)
        flip = self._rand(n) < self.flip_p
        angle = (2 * self._rand(n) - 1) * self.rotation_deg
        zoom = self.scale[0] + self._rand(n) * (self.scale[1] - self.scale[0])
        shift = (2 * self._rand(n, 2) - 1) * self.shift
        return self.apply(x, flip, angle, zoom, shift)

    def apply(self, x: torch.Tensor, flip: torch.Tensor, angle_deg: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """Transform normalised maps ``(N, 3, H, W)`` with given per-sample parameters, as :func:`affine_theta` takes them
        (flip bool ``(N,)``, angle ``(N,)`` clockwise on screen, scale ``(N,)``, shift ``(N, 2)``); same shape and dtype."""
        if not x.is_floating_point() or x.ndim != 4 or x.shape[1] != FLOW_CHANNELS:
            raise ValueError(
                f"FlowAugment expects normalised flow maps (N, 3, H, W) = (u, v, strain), got {x.dtype} {tuple(x.shape)}; "
                "image or clip inputs take augment kind 'image' (BatchAugment)"
            )
        h, w = x.shape[-2:]
        maps = warp_affine(self._to_unit(x.float()), affine_theta(flip, angle_deg, scale, shift, h, w), self.padding_mode)
        u, v, strain = maps.unbind(1)
        sign = (1 - 2 * flip.float()).to(x.device)[:, None, None]
        rad = torch.deg2rad(angle_deg.float()).to(x.device)
        cos, sin = torch.cos(rad)[:, None, None], torch.sin(rad)[:, None, None]
        u = sign * u  # the flip acts first (affine_theta's order), then the rotation; zoom and shift leave vectors to the min-max
        maps = torch.stack([cos * u - sin * v, sin * u + cos * v, strain], 1)
        return self._from_unit(_min_max(maps)).to(x.dtype)

    def _to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised batch -> [0, 1] map units (Normalize computes x · scale + shift)."""
        if self.normalize is None:
            return x
        return (x - self.normalize.shift.to(x.device)) / self.normalize.scale.to(x.device)

    def _from_unit(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize is None:
            return x
        return x * self.normalize.scale.to(x.device) + self.normalize.shift.to(x.device)

    def _rand(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) from the generator, on the generator's device."""
        device = self.generator.device if self.generator is not None else "cpu"
        return torch.rand(shape, generator=self.generator, device=device)

    def extra_repr(self) -> str:
        return f"flip_p={self.flip_p}, shift={self.shift}, scale={self.scale}, rotation_deg={self.rotation_deg}, padding_mode={self.padding_mode!r}"


def _min_max(maps: torch.Tensor) -> torch.Tensor:
    """Each map of each sample scaled to span [0, 1] (a constant map becomes 0), as :func:`fer_lib.flow.normalize_map` encodes."""
    low = maps.amin(dim=(2, 3), keepdim=True)
    spread = maps.amax(dim=(2, 3), keepdim=True) - low
    return torch.where(spread > RANGE_EPS, (maps - low) / spread.clamp_min(RANGE_EPS), torch.zeros_like(maps))


def build_augment(spec: dict[str, Any] | None, generator: torch.Generator | None, normalize: Normalize | None = None) -> nn.Module | None:
    """The augmenter of ``TrainConfig.augment``: ``None`` = off; otherwise the keyword arguments of the augmenter its
    ``"kind"`` names: ``"image"`` (default) :class:`BatchAugment`, ``"flow"`` :class:`FlowAugment` (given ``normalize``)."""
    if spec is None:
        return None
    kwargs = dict(spec)
    kind = kwargs.pop("kind", "image")
    if kind not in AUGMENT_KINDS:
        raise ValueError(f"TrainConfig.augment['kind'] must be one of {AUGMENT_KINDS}, got {kind!r}")
    cls: type[nn.Module] = BatchAugment if kind == "image" else FlowAugment
    accepted = set(inspect.signature(cls).parameters) - {"generator", "normalize"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ValueError(f"TrainConfig.augment of kind {kind!r}: unknown keys {unknown}; {cls.__name__} takes {sorted(accepted)}")
    if kind == "flow":
        return FlowAugment(**kwargs, normalize=normalize, generator=generator)
    return BatchAugment(**kwargs, generator=generator)
