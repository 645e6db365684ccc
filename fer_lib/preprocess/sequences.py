"""Face sequences from micro-expression clips: one face box per clip, the same square cut from every frame.

Sequence models (paper §4.2.2: ResNet34 + MFEM + BiLSTM) read a clip as T face frames. The face is detected on the
clip's first frame (the onset) and that one square is cut from all T frames: a micro-expression lasts a fraction of a
second with the head nearly still, and a box re-detected per frame would jitter by more than the facial motion itself.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from ..data.base import FaceDataset
from .align import align_face, crop_face_box
from .detect import FaceBox, FaceDetector


def face_sequences(clips: FaceDataset, size: int = 64, detector: FaceDetector | None = None, margin: float = 0.1) -> FaceDataset:
    """Cut every clip ``(T, H, W, C)`` of ``clips`` to faces: images uint8 ``(N, T, size, size, C)``, same labels and
    subjects; ``meta["face_box"]`` ``(N, 4)`` holds each clip's box (x, y, w, h in frame pixels).

    Raises :class:`~fer_lib.preprocess.NoFaceError` naming the clip whose first frame shows no face.
    """
    if clips.images.ndim != 5:
        raise ValueError(f"{clips.name}: face_sequences needs clips (N, T, H, W, C), got images of shape {clips.images.shape}")
    color = "gray" if clips.images.shape[-1] == 1 else "rgb"
    faces, boxes = [], []
    for frames, sample_id in tqdm(zip(clips.images, clips.sample_ids), total=len(clips), desc="face sequences", leave=False):
        box: FaceBox = align_face(frames[0], detector, size, margin, color, align_eyes=False, where=f"the first frame of {sample_id}").box
        faces.append(np.stack([crop_face_box(frame, box, size, margin, color) for frame in frames]))
        boxes.append((box.x, box.y, box.w, box.h))
    return FaceDataset(
        name=clips.name,
        split=clips.split,
        images=np.stack(faces),
        labels=clips.labels,
        class_names=clips.class_names,
        sample_ids=clips.sample_ids,
        subjects=clips.subjects,
        meta={**clips.meta, "face_box": np.asarray(boxes, np.float32)},
    )
