"""Video FER end to end: decode → detect → track → crop → classify → smooth → write, streamed with constant memory.

Frames are read one at a time and processed in batches of ``batch_frames``: faces are detected on a downscaled grey
copy every ``detect_every`` frames (the boxes of the last detection carry over in between, and the tracker keeps each
face's id) — the whole frame every ``rescan_s`` seconds, small windows around the tracked faces in between
(:mod:`fer_lib.video.detection`) — all faces of the batch are classified in one forward pass, and each face's probabilities are smoothed
over real time (:mod:`fer_lib.video.smoothing`). Only the current batch of frames is held, and the per-frame table is
streamed to disk, so a long video costs no more memory than a short one. Real-time, lightweight inference is where
the survey sees the field going (§6); ``benchmarks/video_fps.py`` measures each stage.

Outputs in ``out_dir`` (named after the input): ``<stem>_frames.csv`` (one row per face per frame; a frame without a
face is one row with empty face fields), ``<stem>_annotated.mp4`` (unless ``write_video=False``),
``<stem>_timeline.png`` and ``<stem>_summary.json`` (counts, options, stage times, ``duration_s`` — the time the frames
cover: the last frame's time plus 1/fps where the rate is known — and the model: its run name and its model file's
sha256); all appear together, only when the run succeeded. A run without the video removes the annotated mp4 an earlier run left
in ``out_dir``, so the folder describes one run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import ConfigError
from ..preprocess.detect import FaceDetector, HaarFaceDetector
from ..preprocess.face_crop import crop_faces
from ..viz.video import plot_timeline
from .annotate import FaceAnnotation, draw_faces
from .classify import FaceClassifier
from .detection import FaceFinder
from .outputs import FrameTableWriter, StagedFiles, VideoFileWriter, prepare_output_dir
from .reader import TimedFrame, iter_timed_frames, video_info
from .smoothing import ProbabilitySmoother
from .tracking import IouTracker

STAGES = ("decode", "detect", "track", "crop", "classify", "smooth", "encode", "write")
# The smallest face side the cascade looks for, in pixels of the detection copy (OpenCV's 24×24 model, less a little).
MIN_FACE_PX = 20
T = TypeVar("T")


class NoFaceFoundWarning(UserWarning):
    """The detector found no face in any frame: the outputs hold face-less rows only."""


@dataclass(frozen=True)
class VideoOptions:
    """How a video is analysed.

    Attributes:
        smooth_s: time constant of the per-face probability smoothing, in seconds (0: none).
        detect_every: run the face detector on every N-th frame; in between, each face keeps its last box.
        rescan_s: scan the whole frame for faces at least this often, in seconds; in between, only windows around the
            tracked faces are searched, so a face entering the picture is found up to this late (0: always the whole frame).
        detect_size: longer side, in pixels, of the grey copy the detector sees; the smallest face found is about
            ``20 × (frame's longer side) / detect_size`` pixels (50 px in a 640-px frame at 256), and never under 20 px:
            a frame smaller than ``detect_size`` is seen as it is, not enlarged.
        batch_frames: frames whose faces are classified in one forward pass.
        write_video: write the annotated mp4 (the CSV, timeline and summary are always written).
        max_seconds: stop before the first frame at or after this time (``None``: the whole video).
        max_gap_s: a face the detector loses for up to this long keeps its id when found again near its last box.
        min_iou: box overlap a detection needs with a face's last box to continue that face.

    Times must be finite (the summary records the options, and JSON has no infinity).
    """

    smooth_s: float = 0.5
    detect_every: int = 3
    rescan_s: float = 1.0
    detect_size: int = 256
    batch_frames: int = 16
    write_video: bool = True
    max_seconds: float | None = None
    max_gap_s: float = 1.0
    min_iou: float = 0.3

    def __post_init__(self) -> None:
        problems = []
        if not (math.isfinite(self.smooth_s) and self.smooth_s >= 0):
            problems.append(f"smooth_s (--smooth) must be a finite number of seconds >= 0, got {self.smooth_s}")
        for name, flag in (("detect_every", "--detect-every"), ("batch_frames", "--batch-frames")):
            if getattr(self, name) < 1:
                problems.append(f"{name} ({flag}) must be >= 1, got {getattr(self, name)}")
        if self.detect_size < 2 * MIN_FACE_PX:
            problems.append(f"detect_size (--detect-size) must be >= {2 * MIN_FACE_PX} pixels, got {self.detect_size}")
        if self.max_seconds is not None and not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            problems.append(
                f"max_seconds (--max-seconds) must be a finite number of seconds > 0 (leave it out for the whole video), got {self.max_seconds}"
            )
        if not (math.isfinite(self.rescan_s) and self.rescan_s >= 0):
            problems.append(f"rescan_s (--rescan) must be a finite number of seconds >= 0, got {self.rescan_s}")
        if not (0 < self.min_iou <= 1 and math.isfinite(self.max_gap_s) and self.max_gap_s >= 0):
            problems.append(f"min_iou must be in (0, 1] and max_gap_s finite and >= 0, got {self.min_iou} and {self.max_gap_s}")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class StageClock:
    """Wall-clock seconds spent in each pipeline stage (:data:`STAGES`)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start

    def timed(self, items: Iterable[T], stage: str) -> Iterator[T]:
        """Yield from ``items``, counting the time spent producing each item towards ``stage``."""
        iterator = iter(items)
        while True:
            with self(stage):
                item = next(iterator, None)
            if item is None:
                return
            yield item


@dataclass(frozen=True)
class VideoAnalysis:
    """What a run did: its output files, frame and face counts, and seconds per stage (``wall_s`` end to end)."""

    csv: Path
    video: Path | None
    timeline: Path
    summary: Path
    frames: int
    frames_with_face: int
    face_ids: int
    class_names: tuple[str, ...]
    stage_seconds: dict[str, float]
    wall_s: float

    @property
    def fps(self) -> float:
        """Frames per second end to end (decoding to the last file written)."""
        return self.frames / self.wall_s if self.wall_s > 0 else float("nan")


def video_detector(detect_size: int) -> HaarFaceDetector:
    """The pipeline's face detector: the Haar cascade on a ``detect_size`` copy, without histogram equalisation
    (the cascade normalises each window's contrast itself; see :class:`~fer_lib.preprocess.detect.HaarFaceDetector`)."""
    return HaarFaceDetector(working_size=detect_size, min_size=MIN_FACE_PX, equalize=False)


def analyze_video(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model: str | os.PathLike[str] | FaceClassifier | None = None,
    options: VideoOptions = VideoOptions(),
    detector: FaceDetector | None = None,
    progress: bool = True,
) -> VideoAnalysis:
    """Analyse the video file ``path`` into ``out_dir`` (see the module docstring for the files).

    ``model`` is a model file or run folder (``None``: the committed FER2013 model with the best honest accuracy) or
    a ready :class:`FaceClassifier`. Bad input (a missing, empty or undecodable file, an unwritable ``out_dir``, a bad
    option) raises :class:`~fer_lib.errors.ConfigError` before any work; a video in which no face is found still gets
    its outputs, with a :class:`NoFaceFoundWarning`; a file cut short warns
    (:class:`~fer_lib.video.reader.TruncatedVideoWarning`).
    """
    info = video_info(path)
    classifier = model if isinstance(model, FaceClassifier) else FaceClassifier.from_file(model)
    out = prepare_output_dir(out_dir)  # once the model loaded: a bad --model leaves no empty folder behind
    expected = info.frame_count
    if options.max_seconds is not None and info.fps > 0:
        expected = math.ceil(min(options.max_seconds * info.fps, info.frame_count))  # the product may overflow to inf
    frames = iter_timed_frames(info.path, options.max_seconds)
    return analyze_frames(frames, out, info.path.stem, classifier, options, detector, info.fps, expected, progress, source=str(info.path))


def analyze_frames(
    frames: Iterable[TimedFrame],
    out_dir: Path,
    name: str,
    classifier: FaceClassifier,
    options: VideoOptions = VideoOptions(),
    detector: FaceDetector | None = None,
    fps: float = 0.0,
    expected_frames: int | None = None,
    progress: bool = True,
    source: str | None = None,
) -> VideoAnalysis:
    """Analyse a stream of BGR :class:`TimedFrame` s (a decoded file, a camera, a generator) into ``out_dir/<name>_*``.

    ``fps`` is the stream's nominal frame rate (0: unknown; the annotated video then plays at 25), ``expected_frames``
    the progress bar's total, ``source`` what the summary and messages call the stream. The annotated video has the
    first frame's size: a later frame of another size is resized to it.
    """
    start = time.perf_counter()
    finder = FaceFinder(detector or video_detector(options.detect_size), options.rescan_s)
    clock = StageClock()
    source = source or name
    decoded = clock.timed(frames, "decode")
    video_name = f"{name}_annotated.mp4"
    with StagedFiles(out_dir) as staged:
        first = next(decoded, None)
        if first is None:
            raise ConfigError(
                f"{source} yielded no frame (before --max-seconds {options.max_seconds}); pass a longer video or a larger --max-seconds"
            )
        writer = None
        if options.write_video:
            # Opened before any frame is analysed: a rate or size the encoder refuses fails at once.
            size = (first.image.shape[1], first.image.shape[0])
            writer = VideoFileWriter(staged.temporary(video_name), fps if fps > 0 else 25.0, size, out_dir / video_name)
        else:
            staged.remove_stale(video_name)
        csv_path = staged.temporary(f"{name}_frames.csv")
        table = FrameTableWriter(csv_path, classifier.class_names)
        counts = {"frames": 0, "frames_with_face": 0}
        frame_side = 0
        tracker = IouTracker(options.min_iou, options.max_gap_s)
        smoother = ProbabilitySmoother(options.smooth_s)
        carried: list[tuple[int, np.ndarray]] = []
        bar = tqdm(total=expected_frames, unit="frame", desc=name, disable=not progress, leave=False)
        try:
            for batch in _batches(itertools.chain([first], decoded), options.batch_frames):
                faces_per_frame = []
                for frame in batch:
                    if counts["frames"] % options.detect_every == 0:
                        carried = _detect_and_track(frame, finder, [box for _, box in carried], tracker, smoother, clock)
                    faces_per_frame.append(carried)
                    counts["frames"] += 1
                probabilities = _classify(batch, faces_per_frame, classifier, clock)
                frame_side = max(frame_side, *batch[0].image.shape[:2])
                offsets = np.cumsum([0, *(len(faces) for faces in faces_per_frame)])
                for k, (frame, faces) in enumerate(zip(batch, faces_per_frame)):
                    annotations = _smooth_and_record(frame, faces, probabilities[offsets[k] : offsets[k + 1]], smoother, table, clock)
                    counts["frames_with_face"] += bool(faces)
                    if writer is not None:
                        with clock("encode"):
                            writer.write(draw_faces(frame.image, annotations, classifier.class_names))
                bar.update(len(batch))
        finally:
            bar.close()
            table.close()
            if writer is not None:
                writer.release()
        if writer is not None:
            with clock("encode"):
                writer.check()
        with clock("write"):
            frame_table = pd.read_csv(csv_path)
            figure = plot_timeline(frame_table, classifier.class_names, title=f"{name}: class probabilities (smoothed over {options.smooth_s:g} s)")
            figure.savefig(staged.temporary(f"{name}_timeline.png"), dpi=100, metadata={"Software": None})
            plt.close(figure)
        face_ids = int(frame_table["face_id"].nunique())
        summary_path = staged.temporary(f"{name}_summary.json")
        wall_s = time.perf_counter() - start
        summary = {
            "source": source,
            "model": classifier.info.run,
            "model_sha256": classifier.file_sha256,
            "class_names": list(classifier.class_names),
            "options": asdict(options),
            "frames": counts["frames"],
            "frames_with_face": counts["frames_with_face"],
            "face_ids": face_ids,
            "duration_s": round(float(frame_table["time_s"].max()) + (1 / fps if fps > 0 else 0.0), 4),
            "labels_per_face": _label_counts(frame_table),
            "stage_seconds": {k: round(v, 4) for k, v in clock.seconds.items()},
            "wall_s": round(wall_s, 4),
        }
        summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n")
        staged.commit()
    if counts["frames_with_face"] == 0:
        warnings.warn(
            f"No face found in any of the {counts['frames']} frames of {source}: {out_dir / (name + '_frames.csv')} holds one face-less "
            f"row per frame. {_smallest_face_advice(frame_side, options.detect_size)}",
            NoFaceFoundWarning,
            stacklevel=2,
        )
    final = {suffix: out_dir / f"{name}_{suffix}" for suffix in ("frames.csv", "annotated.mp4", "timeline.png", "summary.json")}
    return VideoAnalysis(
        csv=final["frames.csv"],
        video=final["annotated.mp4"] if options.write_video else None,
        timeline=final["timeline.png"],
        summary=final["summary.json"],
        frames=counts["frames"],
        frames_with_face=counts["frames_with_face"],
        face_ids=face_ids,
        class_names=tuple(classifier.class_names),
        stage_seconds=dict(clock.seconds),
        wall_s=time.perf_counter() - start,
    )


def _smallest_face_advice(frame_side: int, detect_size: int) -> str:
    """The smallest face the detector finds in frames whose longer side is ``frame_side``, and how to find smaller ones."""
    if frame_side > detect_size:
        smallest = round(MIN_FACE_PX * frame_side / detect_size)
        return (
            f"The detector finds frontal faces of at least about {smallest} px here; for smaller faces raise detect_size "
            f"(--detect-size {min(2 * detect_size, frame_side)}; at {frame_side}, the frames' longer side, it finds faces of about {MIN_FACE_PX} px)"
        )
    return (
        f"The detector finds frontal faces of at least about {MIN_FACE_PX} px; it already sees these {frame_side}-px frames at full size "
        "and never enlarges them, so a larger --detect-size finds no smaller face: smaller faces need a video of higher resolution"
    )


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _detect_and_track(
    frame: TimedFrame, finder: FaceFinder, visible: list[np.ndarray], tracker: IouTracker, smoother: ProbabilitySmoother, clock: StageClock
) -> list[tuple[int, np.ndarray]]:
    """Find the faces of ``frame`` (``visible``: the boxes of the faces seen last) and match them to the tracks:
    ``(face_id, box)`` per face."""
    with clock("detect"):
        boxes = finder.find(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY), frame.time_s, visible)
    with clock("track"):
        tracks = tracker.update(boxes, frame.time_s)
        smoother.keep_only(tracker.ids)
    return [(t.id, t.box.copy()) for t in tracks]


def _classify(
    batch: list[TimedFrame], faces_per_frame: list[list[tuple[int, np.ndarray]]], classifier: FaceClassifier, clock: StageClock
) -> np.ndarray:
    """Crop every face of the batch and classify them all in one forward pass: probabilities in face order."""
    with clock("crop"):
        crops = [
            crop_faces(frame.image, np.stack([box for _, box in faces]), classifier.crop) for frame, faces in zip(batch, faces_per_frame) if faces
        ]
    if not crops:
        return np.zeros((0, len(classifier.class_names)), np.float32)
    with clock("classify"):
        return classifier(np.concatenate(crops))


def _smooth_and_record(
    frame: TimedFrame,
    faces: list[tuple[int, np.ndarray]],
    probabilities: np.ndarray,
    smoother: ProbabilitySmoother,
    table: FrameTableWriter,
    clock: StageClock,
) -> list[FaceAnnotation]:
    """Smooth each face's probabilities and write the frame's rows (one face-less row if it has no face)."""
    if not faces:
        with clock("write"):
            table.write_faceless(frame.index, frame.time_s)
    annotations = []
    for (face_id, box), p in zip(faces, probabilities):
        with clock("smooth"):
            smoothed = smoother.update(face_id, p, frame.time_s)
        with clock("write"):
            table.write_face(frame.index, frame.time_s, face_id, box, p, smoothed)
        annotations.append(FaceAnnotation(face_id, box, smoothed))
    return annotations


def _label_counts(table: pd.DataFrame) -> dict[str, dict[str, dict[str, int]]]:
    """Per face id: how many frames carry each raw and each smoothed label."""
    faces = table.dropna(subset=["face_id"])
    return {
        str(int(face_id)): {column: {k: int(v) for k, v in sorted(rows[column].value_counts().items())} for column in ("label", "label_smoothed")}
        for face_id, rows in faces.groupby("face_id")
    }
