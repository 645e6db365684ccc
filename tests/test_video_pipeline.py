"""The video pipeline end to end: a synthetic video of real CK+ faces (moving, blank frames, two faces at once), every
bad input through the library and the command line, and the first 2 s of the real clip with the committed model."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import warnings
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from fer_lib.__main__ import main
from fer_lib.errors import ConfigError
from fer_lib.model_file import ModelInfo, default_model_path, save_model
from fer_lib.models import create_model
from fer_lib.preprocess.face_crop import FaceCrop
from fer_lib.video import (
    FaceClassifier,
    NoFaceFoundWarning,
    TimedFrame,
    VideoOptions,
    VideoWriteError,
    analyze_frames,
    analyze_video,
    iter_timed_frames,
)

pytestmark = pytest.mark.usefixtures("one_thread")

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SIZE = (320, 240)  # width, height
FACE = 96
MOVING = 12  # frames 0-11: face A moves right
BLANK = 3  # frames 12-14: no face
TOGETHER = 8  # frames 15-22: face A still, face B beside it
REPO_RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model file (an untrained FER2013-shaped ResNet18) written by save_model."""
    torch.manual_seed(0)
    model = create_model("resnet18_fer", num_classes=7, in_chans=1, img_size=48, stem_stride=4)
    info = ModelInfo(
        model="resnet18_fer", model_kwargs={"stem_stride": 4}, num_classes=7, in_chans=1, img_size=48, class_names=CLASSES,
        mean=(0.5,), std=(0.25,), crop=FaceCrop(size=48, grayscale=True, margin=0.1, align=False), run="untrained", dataset="fer2013",
        protocol="honest", epoch=0, metrics={}, git_sha="test",
    )  # fmt: skip
    return save_model(tmp_path_factory.mktemp("model") / "model.pt", model.eval(), info)


@pytest.fixture(scope="module")
def classifier(model_path: Path) -> FaceClassifier:
    """The model file loaded as the CLI would."""
    return FaceClassifier.from_file(model_path, precision="none")


def _face(fer_data: Path, name: str) -> np.ndarray:
    gray = cv2.imread(str(fer_data / "ckplus" / "CK+48" / name), cv2.IMREAD_GRAYSCALE)
    assert gray is not None, f"cannot read CK+ image {name}"
    return cv2.cvtColor(cv2.resize(gray, (FACE, FACE), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)


def _canvas() -> np.ndarray:
    return np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """Write BGR frames as MJPG/.avi (every OpenCV build with FFmpeg writes it); returns the file."""
    path = path.with_suffix(".avi")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened(), "this OpenCV build cannot write MJPG/.avi; install the pinned opencv-contrib-python-headless"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def synthetic_video(fer_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    a, b = _face(fer_data, "happy/S010_006_00000013.png"), _face(fer_data, "surprise/S011_001_00000014.png")
    frames = []
    for k in range(MOVING):
        frame = _canvas()
        x = 10 + 15 * k
        frame[60 : 60 + FACE, x : x + FACE] = a
        frames.append(frame)
    frames += [_canvas() for _ in range(BLANK)]
    for _ in range(TOGETHER):
        frame = _canvas()
        frame[60 : 60 + FACE, 20 : 20 + FACE] = a
        frame[80 : 80 + FACE, 190 : 190 + FACE] = b
        frames.append(frame)
    return write_video(tmp_path_factory.mktemp("video") / "faces", frames, fps=10.0)


@pytest.mark.parametrize("detect_every", [1, 3])
def test_rows_faces_and_ids(synthetic_video: Path, classifier: FaceClassifier, tmp_path: Path, detect_every: int) -> None:
    result = analyze_video(synthetic_video, tmp_path, classifier, VideoOptions(detect_every=detect_every, batch_frames=5), progress=False)
    table = pd.read_csv(result.csv)
    frames = MOVING + BLANK + TOGETHER
    assert sorted(table["frame"].unique()) == list(range(frames))  # every decoded frame has a row
    np.testing.assert_allclose(table.drop_duplicates("frame")["time_s"], np.arange(frames) / 10.0, atol=1e-3)
    per_frame = table.groupby("frame")["face_id"].apply(lambda ids: sorted(int(i) for i in ids.dropna()))
    blank = range(MOVING, MOVING + BLANK)
    # Every 3rd frame is detected, and boxes carry over in between: frames 12 and 15 are detection frames, so the
    # blank frames 12-14 get no carried-over face and the two faces are found from frame 15 on.
    assert all(per_frame[f] == [] for f in blank)
    assert all(per_frame[f] == [1] for f in range(MOVING)), "the moving face must keep id 1"
    together = [per_frame[f] for f in range(MOVING + BLANK, frames)]
    assert all(len(ids) == 2 and len(set(ids)) == 2 for ids in together)
    assert together[0] == together[-1]  # both faces keep their ids while together
    assert result.frames == frames and result.frames_with_face == MOVING + TOGETHER
    probabilities = table.filter(regex="^p_(?!smoothed)").dropna()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=2e-3)
    moving = table[table["frame"] < MOVING]
    assert (moving["x"].diff().dropna() >= 0).all() and moving["x"].iloc[-1] - moving["x"].iloc[0] > 100  # the box follows the face
    assert result.video is not None and result.video.stat().st_size > 0 and result.timeline.stat().st_size > 0
    assert not list(tmp_path.glob(".*partial*")), "no temporary file may remain"


def test_decoded_frames_match_annotated_video(synthetic_video: Path, classifier: FaceClassifier, tmp_path: Path) -> None:
    result = analyze_video(synthetic_video, tmp_path, classifier, VideoOptions(smooth_s=0.0), progress=False)
    capture = cv2.VideoCapture(str(result.video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == result.frames
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == SIZE
    capture.release()
    table = pd.read_csv(result.csv).dropna(subset=["face_id"])
    assert (table["label"] == table["label_smoothed"]).all()  # smooth_s=0: smoothing is off


def test_no_video_and_max_seconds(synthetic_video: Path, classifier: FaceClassifier, tmp_path: Path) -> None:
    result = analyze_video(synthetic_video, tmp_path, classifier, VideoOptions(write_video=False, max_seconds=0.55), progress=False)
    assert result.video is None and not list(tmp_path.glob("*.mp4"))
    assert pd.read_csv(result.csv)["frame"].max() == 5  # frames at 0.0 ... 0.5 s
    summary = json.loads(result.summary.read_text())
    assert summary["frames"] == 6 and summary["frames_with_face"] == 6 and summary["face_ids"] == 1
    assert summary["duration_s"] == pytest.approx(0.6)  # six frames of 0.1 s each, the last shown from 0.5 to 0.6 s


def test_max_seconds_beyond_any_frame_count(synthetic_video: Path, classifier: FaceClassifier, tmp_path: Path) -> None:
    """--max-seconds 1e308 is finite, but times the frame rate it is not an integer: the whole video is analysed."""
    result = analyze_video(synthetic_video, tmp_path, classifier, VideoOptions(write_video=False, max_seconds=1e308), progress=False)
    assert result.frames == MOVING + BLANK + TOGETHER


def test_no_video_rerun_removes_the_earlier_video(synthetic_video: Path, classifier: FaceClassifier, tmp_path: Path) -> None:
    """The folder describes one run: an annotated mp4 of an earlier run would not match the new CSV."""
    analyze_video(synthetic_video, tmp_path, classifier, VideoOptions(max_seconds=0.3), progress=False)
    assert (tmp_path / "faces_annotated.mp4").is_file()
    analyze_video(synthetic_video, tmp_path, classifier, VideoOptions(write_video=False), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces_frames.csv", "faces_summary.json", "faces_timeline.png"]


def test_summary_names_the_model_file(synthetic_video: Path, model_path: Path, tmp_path: Path) -> None:
    """The summary names the run and the exact weights (the model file's sha256), loaded from the file or its folder."""
    for given in (model_path, model_path.parent):
        result = analyze_video(synthetic_video, tmp_path / given.name, FaceClassifier.from_file(given, precision="none"), VideoOptions(write_video=False, max_seconds=0.2), progress=False)
        summary = json.loads(result.summary.read_text())
        assert (summary["model"], summary["model_sha256"]) == ("untrained", hashlib.sha256(model_path.read_bytes()).hexdigest())


def test_committed_video_outputs_come_from_the_committed_default_model() -> None:
    """results/07_video was made by the model the study's video step uses now (the committed FER2013 model with the
    best honest accuracy), with these very weights: a run re-made since then (same name, new weights) makes it stale."""
    summaries = sorted((REPO_RESULTS / "07_video").glob("*_summary.json"))
    assert summaries, f"no *_summary.json under {REPO_RESULTS / '07_video'}: run python -m fer_lib study --only 07_video"
    default = default_model_path(REPO_RESULTS / "runs")
    digest = hashlib.sha256(default.read_bytes()).hexdigest()
    for path in summaries:
        summary = json.loads(path.read_text())
        made_by = (summary["model"], summary.get("model_sha256"))
        assert made_by == (default.parent.name, digest), (
            f"{path} was made by {made_by}, the study's video step now uses {default} (sha256 {digest}): "
            "re-make it with python -m fer_lib study --profile cpu --results results --only 07_video"
        )


def _stream(sizes: list[tuple[int, int]], seed: int = 0) -> Iterator[TimedFrame]:
    """Noise frames of the given (width, height) at 10 frames/s: no face, and nothing an encoder can compress."""
    rng = np.random.default_rng(seed)
    for k, (width, height) in enumerate(sizes):
        yield TimedFrame(k, k / 10, rng.integers(0, 256, (height, width, 3), np.uint8))


def test_frame_size_change_keeps_every_frame_in_the_video(synthetic_video: Path, classifier: FaceClassifier, tmp_path: Path) -> None:
    """A stream that changes size midway (a camera switching resolution): the video holds every frame the CSV lists,
    at the first frame's size (OpenCV's writer would drop the others without a word)."""
    frames = list(iter_timed_frames(synthetic_video))
    changed = [f if f.index < 12 else TimedFrame(f.index, f.time_s, cv2.resize(f.image, (160, 120))) for f in frames]
    result = analyze_frames(iter(changed), tmp_path, "cam", classifier, fps=10.0, progress=False)
    capture = cv2.VideoCapture(str(result.video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == result.frames == len(frames)
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == SIZE
    capture.release()


def test_failed_video_write_leaves_no_output(classifier: FaceClassifier, tmp_path: Path) -> None:
    """A video write that fails half-way (here a file-size limit, as a full disk would) is an error naming the file and
    the cause, and nothing appears under a final name: OpenCV only logs it and leaves an mp4 no player opens."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, hard))
    try:
        message = r"annotated video .*/noise_annotated\.mp4 was not written completely .*file-size limit of 64000 bytes"
        with pytest.raises(VideoWriteError, match=message):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoFaceFoundWarning)
                analyze_frames(_stream([SIZE] * 8), tmp_path, "noise", classifier, fps=10.0, progress=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fps", [66.001, 100.123, 119.9127])
def test_annotated_video_takes_real_frame_rates(classifier: FaceClassifier, tmp_path: Path, fps: float) -> None:
    """mp4v stores a frame rate whose fraction has a numerator up to 65535: 100.123 (100123/1000) is written at 100.12."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFaceFoundWarning)
        result = analyze_frames(_stream([(64, 48)] * 3), tmp_path, "fast", classifier, fps=fps, progress=False)
    capture = cv2.VideoCapture(str(result.video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3 and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(fps, rel=1e-4)
    capture.release()


def test_unwritable_frame_rate_fails_before_any_frame_is_analysed(classifier: FaceClassifier, tmp_path: Path) -> None:
    """The message names the final file (not the hidden temporary one) and the real cause (not the OpenCV install)."""
    counting = FailingClassifier(classifier)
    message = r"the annotated video .*/cam_annotated\.mp4 \(mp4v, 320x240 at 8e\+06 frames/s\): the encoder refuses"
    with pytest.raises(VideoWriteError, match=message) as error:
        analyze_frames(_stream([SIZE] * 20), tmp_path, "cam", counting, VideoOptions(batch_frames=4), fps=8e6, progress=False)
    assert "partial" not in str(error.value) and "--no-video" in str(error.value) and "install" not in str(error.value)
    assert counting.calls == 0 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "side, detect_size, advice",
    [(160, 256, r"at least about 20 px; .* never enlarges them"), (320, 256, r"at least about 25 px here; .*--detect-size 320;")],
)
def test_no_face_warning_gives_the_real_minimum_face(classifier: FaceClassifier, tmp_path: Path, side: int, detect_size: int, advice: str) -> None:
    """The detector shrinks frames to detect_size but never enlarges them: the smallest face is 20 px of the frame
    itself at best, and a detect_size above the frame's side gains nothing."""
    with pytest.warns(NoFaceFoundWarning, match=advice):
        analyze_frames(_stream([(side, side * 3 // 4)] * 3), tmp_path, "small", classifier, VideoOptions(detect_size=detect_size), progress=False)


def test_video_without_faces(classifier: FaceClassifier, tmp_path: Path) -> None:
    video = write_video(tmp_path / "empty_room", [_canvas() for _ in range(5)], fps=5.0)
    with pytest.warns(NoFaceFoundWarning, match=r"No face found in any of the 5 frames of .*empty_room\.avi.*--detect-size"):
        result = analyze_video(video, tmp_path / "out", classifier, progress=False)
    table = pd.read_csv(result.csv)
    assert len(table) == 5 and table["face_id"].isna().all() and table["label"].isna().all()
    assert result.timeline.is_file() and result.video is not None and result.video.is_file()


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    return {
        "missing": (tmp_path / "nope.mp4", r"Video file .*nope\.mp4 does not exist"),
        "text renamed .mp4": (text, r"unreadable video: .*notes\.mp4 .*OpenCV cannot open it.*re-encode it"),
        "zero bytes": (empty, r"empty or unreadable video: .*empty\.mp4 is 0 bytes"),
    }


@pytest.mark.parametrize("case", ["missing", "text renamed .mp4", "zero bytes"])
def test_bad_input_files(case: str, classifier: FaceClassifier, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, message = _bad_inputs(tmp_path)[case]
    with pytest.raises(ConfigError, match=message):
        analyze_video(path, tmp_path / "out", classifier, progress=False)
    assert main(["video", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unwritable_output_folder(synthetic_video: Path, classifier: FaceClassifier, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"Cannot write to the output folder .*a_file/out .*pass --out"):
        analyze_video(synthetic_video, blocker / "out", classifier, progress=False)
    assert main(["video", str(synthetic_video), "--out", str(blocker / "out")]) == 2
    assert "Cannot write to the output folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--smooth", "-1"), ("--detect-every", "0"), ("--max-seconds", "0"),
        ("--max-seconds", "inf"), ("--smooth", "inf"), ("--rescan", "inf"), ("--rescan", "nan"),
    ],  # fmt: skip
)
def test_bad_options(synthetic_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str) -> None:
    """Infinite times included: the summary records the options, and JSON has no infinity."""
    assert main(["video", str(synthetic_video), "--out", str(tmp_path / "out"), flag, value]) == 2
    assert flag in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_bad_model_leaves_no_output_folder(synthetic_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The model loads before the output folder is made; a k-fold run folder says it has no single model."""
    kfold = tmp_path / "dcn_cbam__ckplus__cpu__s0"
    kfold.mkdir()
    (kfold / "metrics.json").write_text(json.dumps([{"model": "dcn_cbam", "dataset": "ckplus", "n_folds": 10, "params": 1000}]))
    for model, message in ((tmp_path / "nope.pt", "nope.pt does not exist"), (kfold, "10-fold run on ckplus")):
        assert main(["video", str(synthetic_video), "--out", str(tmp_path / "out"), "--model", str(model)]) == 2
        assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_cli_no_face_warns_and_writes(
    classifier: FaceClassifier, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    video = write_video(tmp_path / "wall", [_canvas() for _ in range(4)], fps=4.0)
    monkeypatch.setattr(FaceClassifier, "from_file", classmethod(lambda cls, path=None, precision="auto": classifier))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the command prints its warnings itself instead of letting them escape
        assert main(["video", str(video), "--out", str(tmp_path / "out"), "--no-video"]) == 0
    captured = capsys.readouterr()
    assert "warning: No face found in any of the 4 frames" in captured.err
    assert "4 frames, a face in 0" in captured.out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["wall_frames.csv", "wall_summary.json", "wall_timeline.png"]


def test_real_clip_first_two_seconds(fer_data: Path, tmp_path: Path) -> None:
    """The committed default model on the first 2 s of the real clip: every output written, the woman's face found throughout."""
    result = analyze_video(fer_data / "videos" / "WolfgangLanger_Pexels.mp4", tmp_path, None, VideoOptions(max_seconds=2.0), progress=False)
    table = pd.read_csv(result.csv)
    assert result.frames == 48 and table["frame"].nunique() == 48  # 23.976 fps: frames at 0 ... 1.96 s
    assert result.frames_with_face >= 46 and result.face_ids == 1
    assert set(table["label"].dropna()) <= set(result.class_names)
    capture = cv2.VideoCapture(str(result.video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 48
    capture.release()
    assert result.timeline.stat().st_size > 10_000


class FailingClassifier(FaceClassifier):
    """Classifies the first batch, then fails: a run that breaks half-way."""

    def __init__(self, inner: FaceClassifier) -> None:
        super().__init__(inner.model, inner.info, precision="none")
        self.calls = 0

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("classifier failed on the second batch")
        return super().__call__(faces)


class TerminatedClassifier(FailingClassifier):
    """Classifies the first batch, then the process gets SIGTERM (a ``kill``, a job scheduler's time limit)."""

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        if self.calls == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        self.calls += 1
        return FaceClassifier.__call__(self, faces)


def test_sigterm_removes_the_temporary_files(
    synthetic_video: Path, classifier: FaceClassifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command turns SIGTERM into exit code 143 and removes its .partial files; its own handler is restored after."""
    received: list[int] = []

    def record(signum: int, frame: object) -> None:  # stands in for the default action, which would end pytest
        received.append(signum)

    monkeypatch.setattr(FaceClassifier, "from_file", classmethod(lambda cls, path=None, precision="auto": TerminatedClassifier(classifier)))
    previous = signal.signal(signal.SIGTERM, record)
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["video", str(synthetic_video), "--out", str(tmp_path / "out"), "--batch-frames", "4"])
        assert signal.getsignal(signal.SIGTERM) is record
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert exit_.value.code == 143 and received == [] and list((tmp_path / "out").iterdir()) == []


def test_failed_run_leaves_no_output(synthetic_video: Path, classifier: FaceClassifier, tmp_path: Path) -> None:
    """A run that fails half-way writes nothing under a final name and removes its temporary files."""
    failing = FailingClassifier(classifier)
    with pytest.raises(RuntimeError, match="second batch"):
        analyze_video(synthetic_video, tmp_path, failing, VideoOptions(batch_frames=4), progress=False)
    assert failing.calls == 2 and list(tmp_path.iterdir()) == []
