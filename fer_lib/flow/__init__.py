"""Optical flow for micro-expressions (paper §4.2.1): onset → apex flow, optical strain, and STSTNet's (u, v, strain) maps."""

from .compare import COMPOSITE_PLANES, compare_with_composite, map_correlations, pearson
from .maps import (
    CROP_SCALE,
    CROP_SHIFT,
    FLOW_SIZE,
    MAP_CHANNELS,
    STSTNET_SIZE,
    FacePair,
    composite_face_box,
    crop_face_pair,
    flow_map_dataset,
    flow_maps,
    normalize_map,
    stack_flow_maps,
)
from .optical_flow import FLOW_METHODS, FlowMethod, compute_flow
from .strain import optical_strain

__all__ = [
    "COMPOSITE_PLANES",
    "CROP_SCALE",
    "CROP_SHIFT",
    "FLOW_METHODS",
    "FLOW_SIZE",
    "MAP_CHANNELS",
    "STSTNET_SIZE",
    "FacePair",
    "FlowMethod",
    "compare_with_composite",
    "composite_face_box",
    "compute_flow",
    "crop_face_pair",
    "flow_map_dataset",
    "flow_maps",
    "map_correlations",
    "normalize_map",
    "optical_strain",
    "pearson",
    "stack_flow_maps",
]
