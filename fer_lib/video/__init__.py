"""Video: reading frames with clear errors, and the video FER pipeline (detect, track, classify, smooth, annotate).

``from fer_lib.video import read_video`` reads frames into an array; :func:`analyze_video` runs the whole pipeline on a
file with constant memory (``python -m fer_lib video INPUT``).
"""

from .annotate import FaceAnnotation, draw_faces
from .classify import FaceClassifier
from .outputs import VideoWriteError
from .pipeline import NoFaceFoundWarning, VideoAnalysis, VideoOptions, analyze_frames, analyze_video, video_detector
from .reader import (
    TimedFrame,
    TruncatedVideoWarning,
    VideoInfo,
    VideoNotFoundError,
    VideoReadError,
    iter_timed_frames,
    iter_video_frames,
    read_video,
    video_info,
)
from .smoothing import ProbabilitySmoother
from .tracking import IouTracker, Track, box_iou

__all__ = [
    "FaceAnnotation",
    "FaceClassifier",
    "IouTracker",
    "NoFaceFoundWarning",
    "ProbabilitySmoother",
    "TimedFrame",
    "Track",
    "TruncatedVideoWarning",
    "VideoAnalysis",
    "VideoInfo",
    "VideoNotFoundError",
    "VideoOptions",
    "VideoReadError",
    "VideoWriteError",
    "analyze_frames",
    "analyze_video",
    "box_iou",
    "draw_faces",
    "iter_timed_frames",
    "iter_video_frames",
    "read_video",
    "video_detector",
    "video_info",
]
