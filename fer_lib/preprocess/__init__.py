"""Preprocessing: face detection and alignment, face sequences of clips, intensity normalisation, and batch augmentation on the device."""

from .align import AlignedFace, align_face, align_faces, crop_face_box, eye_angle
from .augment import BatchAugment, affine_theta, warp_affine
from .detect import FaceBox, FaceDetector, HaarFaceDetector, NoFaceError, YuNetFaceDetector, detect_eyes
from .normalize import Normalize, channel_stats, standardize_per_image
from .sequences import face_sequences

__all__ = [
    "AlignedFace",
    "BatchAugment",
    "FaceBox",
    "FaceDetector",
    "HaarFaceDetector",
    "NoFaceError",
    "Normalize",
    "YuNetFaceDetector",
    "affine_theta",
    "align_face",
    "align_faces",
    "channel_stats",
    "crop_face_box",
    "detect_eyes",
    "eye_angle",
    "face_sequences",
    "standardize_per_image",
    "warp_affine",
]
