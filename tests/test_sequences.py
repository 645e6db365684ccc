"""Face sequences of real CASME II clips: one box per clip, the same square cut from every frame; clear errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fer_lib.data import create_dataset
from fer_lib.preprocess import NoFaceError, face_sequences


@pytest.fixture(scope="module")
def clips(fer_data):
    return create_dataset("casme2", fer_data, "all", frames=4, classes="emotion")


def test_one_box_per_clip_cut_from_every_frame(clips):
    sequences = face_sequences(clips, size=32)
    assert sequences.images.shape == (len(clips), 4, 32, 32, 3) and sequences.images.dtype == np.uint8
    assert (sequences.labels == clips.labels).all() and (sequences.sample_ids == clips.sample_ids).all()
    boxes = sequences.meta["face_box"]
    assert boxes.shape == (len(clips), 4) and (boxes[:, 2] > 100).all()  # a 640×480 CASME II face is > 100 px wide
    # the head hardly moves within a micro-expression clip: consecutive crops of one box are near-identical
    frames = sequences.images.astype(np.float32)
    assert np.abs(frames[:, 1:] - frames[:, :-1]).mean() < 10


def test_blank_first_frame_names_the_clip(clips):
    blank = dataclasses.replace(clips.subset([0]), images=np.zeros_like(clips.images[:1]))
    with pytest.raises(NoFaceError, match=str(clips.sample_ids[0])):
        face_sequences(blank)


def test_still_images_are_refused(fer_data):
    flow = create_dataset("megc2019", fer_data, "all")
    with pytest.raises(ValueError, match="needs clips"):
        face_sequences(flow)
