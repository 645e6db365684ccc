"""Preprocessing: face detection and alignment, the face-crop recipe of a trained model, face sequences of clips,
intensity normalisation, and batch augmentation on the device (images, and flow maps as vector fields)."""

from .align import AlignedFace, align_face, align_faces, crop_face_box, eye_angle
from .augment import BatchAugment, affine_theta, warp_affine
from .detect import FaceBox, FaceDetector, HaarFaceDetector, NoFaceError, YuNetFaceDetector, detect_eyes
from .face_crop import FaceCrop, Framing, crop_faces, measure_framing
from .flow_augment import FlowAugment, build_augment
from .normalize import Normalize, channel_stats, standardize_per_image
from .sequences import face_sequences

__all__ = [
    "AlignedFace",
    "BatchAugment",
    "FaceBox",
    "FaceCrop",
    "FaceDetector",
    "FlowAugment",
    "Framing",
    "HaarFaceDetector",
    "NoFaceError",
    "Normalize",
    "YuNetFaceDetector",
    "affine_theta",
    "align_face",
    "align_faces",
    "build_augment",
    "channel_stats",
    "crop_face_box",
    "crop_faces",
    "detect_eyes",
    "eye_angle",
    "face_sequences",
    "measure_framing",
    "standardize_per_image",
    "warp_affine",
]
