"""Video FER throughput end to end, in one run -> results/bench/video_fps.json:

(a) our pipeline scanning every frame for faces at every size, (b) our fast path (detection every N frames, scans
limited to the tracked faces' sizes between full scans once a second, tracking, batched classification), (b1) the
same detecting on every frame, (c) the ``fer`` package's own ``Video.analyze`` (Haar cascade + its Keras/TFLite
model) on the same clip. Each is timed without an output video (the headline) and again writing its annotated video, in ``--rounds``
interleaved rounds (the median round is reported). Also: seconds per
stage, frames with a face, (b)'s and (b1)'s per-frame labels against (a)'s, and the resident memory of (b) over a long stream
(the real clip looped, re-timed, for ``--stream-frames`` frames).

``fer`` needs TensorFlow, so it runs in its own virtual environment (never the project's), in a child process of
this script; ``--build-fer-venv`` creates it::

    FER_DATA=../shared/data python benchmarks/video_fps.py --build-fer-venv      # once: /work/fer-venv
    FER_DATA=../shared/data python benchmarks/video_fps.py

Run it on a quiet machine: the ratios are measured in one run, but other processes still skew stages differently.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

FER_PACKAGES = ["tensorflow-cpu", "setuptools<81", "opencv-contrib-python>=4.8,<5", "pandas", "requests", "pillow", "tqdm", "matplotlib"]
FER_VERSION = "25.10.3"
GOAL_SPEEDUP = 5.0
GOAL_AGREEMENT = 0.98


def build_fer_venv(venv: Path) -> None:
    """Create ``venv`` with ``fer`` (``--no-deps``: its facenet-pytorch/MTCNN and moviepy are not needed for the Haar
    path) and what it imports. fer calls ``cv2.waitKey`` on every frame, so it needs OpenCV with highgui (not headless)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", f"fer=={FER_VERSION}"], check=True)
    subprocess.run([*pip, *FER_PACKAGES], check=True)


def fer_worker(video: str, save_video: bool, out_dir: str, threads: int | None) -> dict[str, Any]:
    """Run inside the fer venv: ``fer.classes.Video.analyze`` on ``video``; decode, detect and classify timed by wrapping
    the capture's ``read``, ``FER.find_faces`` and ``FER._classify_emotions``."""
    import cv2
    from fer.classes import Video
    from fer.fer import FER

    if threads:
        import tensorflow as tf

        cv2.setNumThreads(threads)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)

    seconds = {"decode": 0.0, "detect": 0.0, "classify": 0.0}

    def timed(stage: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - start

        return wrapper

    class TimedCapture:
        def __init__(self, capture: cv2.VideoCapture) -> None:
            self._capture = capture
            self.read = timed("decode", capture.read)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._capture, name)

    analysed = []
    FER.find_faces = timed("detect", FER.find_faces)
    FER._classify_emotions = timed("classify", FER._classify_emotions)
    increment = Video._increment_frames
    Video._increment_frames = lambda self, frame, faces, *rest, **kw: (analysed.append(bool(faces)), increment(self, frame, faces, *rest, **kw))[1]
    detector = FER(mtcnn=False)
    clip = Video(video, outdir=out_dir)
    clip.cap = TimedCapture(clip.cap)
    start = time.perf_counter()
    clip.analyze(detector, display=False, save_frames=False, save_video=save_video, annotate_frames=save_video, zip_images=False)
    wall_s = time.perf_counter() - start
    seconds["other"] = wall_s - sum(seconds.values())
    return {"frames_analysed": len(analysed), "frames_with_face": sum(analysed), "wall_s": wall_s, "stage_seconds": seconds}


def run_fer(fer_python: Path, video: Path, save_video: bool, threads: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        cmd = [str(fer_python), str(Path(__file__).resolve()), "--fer-worker", str(video.resolve()), "--fer-out", out] + (
            ["--fer-save-video"] if save_video else []
        )
        cmd += ["--threads", str(threads)] if threads else []
        # cwd: fer's analyze() also writes its results to ./data.csv.
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=out, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise RuntimeError(f"fer worker failed ({' '.join(cmd)}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def looped_stream(video: Path, frames: int, samples: dict[int, float], every: int = 1000) -> Iterator[Any]:
    """``frames`` frames of ``video`` played in a loop (re-timed at its nominal rate), recording RSS every ``every`` frames."""
    from fer_lib.video import TimedFrame, iter_timed_frames, video_info

    fps = video_info(video).fps
    count = 0
    while count < frames:
        for frame in iter_timed_frames(video):
            if count % every == 0:
                samples[count] = round(rss_mb(), 1)
            yield TimedFrame(count, count / fps, frame.image)
            count += 1
            if count == frames:
                break
    samples[count] = round(rss_mb(), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", help="default: $FER_DATA/videos/WolfgangLanger_Pexels.mp4")
    parser.add_argument("--detect-every", type=int, default=3, help="detection interval of the fast path (b)")
    parser.add_argument("--fer-venv", default="/work/fer-venv", help="virtual environment with the fer package (not the project's)")
    parser.add_argument("--build-fer-venv", action="store_true", help="create --fer-venv first (downloads TensorFlow from PyPI)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every pipeline; the median is reported")
    parser.add_argument("--stream-frames", type=int, default=20_000, help="frames of the long stream for the memory check (0: skip)")
    parser.add_argument(
        "--threads", type=int, help="OpenCV and torch threads of ours, OpenCV and TensorFlow threads of fer (default: each library's own)"
    )
    parser.add_argument("--out", default="results/bench/video_fps.json")
    parser.add_argument("--fer-worker", help=argparse.SUPPRESS)
    parser.add_argument("--fer-out", help=argparse.SUPPRESS)
    parser.add_argument("--fer-save-video", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fer_worker:
        print(json.dumps(fer_worker(args.fer_worker, args.fer_save_video, args.fer_out, args.threads)))
        return

    import pandas as pd
    import torch

    from fer_lib.paths import data_root
    from fer_lib.runs import cpu_name, git_sha
    from fer_lib.video import FaceClassifier, VideoOptions, analyze_frames, analyze_video

    video = Path(args.video) if args.video else data_root() / "videos" / "WolfgangLanger_Pexels.mp4"
    fer_python = Path(args.fer_venv) / "bin" / "python"
    if args.build_fer_venv:
        build_fer_venv(Path(args.fer_venv))
    if not fer_python.is_file():
        sys.exit(f"{fer_python} does not exist: pass --build-fer-venv once (or --fer-venv DIR with the fer package installed)")

    if args.threads:
        import cv2

        cv2.setNumThreads(args.threads)
        torch.set_num_threads(args.threads)
    classifier = FaceClassifier.from_file(None)
    load_before = os.getloadavg()[0]
    pipelines = {
        "a_every_frame": VideoOptions(detect_every=1, rescan_s=0.0),
        "b_fast_path": VideoOptions(detect_every=args.detect_every),
        "b1_sized_scans_every_frame": VideoOptions(detect_every=1),
    }
    result: dict[str, Any] = {
        "rounds": args.rounds,
        "video": video.name,
        "model": classifier.info.run,
        "precision": classifier.precision,
        "pipelines": {},
    }
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        classifier(torch.zeros(1, classifier.crop.size, classifier.crop.size, classifier.crop.channels, dtype=torch.uint8).numpy())  # warm-up
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _ in range(args.rounds):  # interleaved, so a change in machine load hits every pipeline alike
            for write_video in (False, True):
                key = "with_video" if write_video else "headline"
                for name, options in pipelines.items():
                    out = Path(tmp) / f"{name}_{write_video}"
                    run = analyze_video(video, out, classifier, replace(options, write_video=write_video), progress=False)
                    runs.setdefault((name, key), []).append(
                        timing(run.frames, run.frames_with_face, run.wall_s, {k: v for k, v in run.stage_seconds.items()})
                    )
                    if not write_video:
                        tables[name] = pd.read_csv(run.csv)
                fer = run_fer(fer_python, video, write_video, args.threads)
                runs.setdefault(("c_fer_package", key), []).append(
                    timing(fer["frames_analysed"], fer["frames_with_face"], fer["wall_s"], fer["stage_seconds"])
                )
        for name, options in pipelines.items():
            result["pipelines"][name] = {"detect_every": options.detect_every, "rescan_s": options.rescan_s}
        result["pipelines"]["c_fer_package"] = {"version": FER_VERSION}
        for (name, key), measured in runs.items():
            result["pipelines"][name][key] = median_run(measured)
        result["agreement_with_a"] = {name: label_agreement(tables["a_every_frame"], tables[name]) for name in pipelines if name != "a_every_frame"}
        if args.stream_frames:
            samples: dict[int, float] = {}
            stream = looped_stream(video, args.stream_frames, samples)
            run = analyze_frames(
                stream, Path(tmp), "stream", classifier, VideoOptions(detect_every=args.detect_every, write_video=False), progress=False
            )
            rss = [samples[k] for k in sorted(samples)]
            result["long_stream"] = {
                "frames": run.frames,
                "fps": round(run.fps, 1),
                "rss_mb_every_1000_frames": rss,
                "rss_growth_mb_after_first_1000": round(max(rss[1:]) - rss[1], 1) if len(rss) > 1 else None,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
    result["verdict"] = verdict(result)
    result["machine"] = {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads_requested": args.threads,
        "torch_threads": torch.get_num_threads(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
    }
    result["git_sha"] = git_sha(Path(__file__).parent)
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(f".{out_path.name}.tmp")
    tmp_path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_path, out_path)
    print(json.dumps(result, indent=2, sort_keys=True))


def timing(frames: int, with_face: int, wall_s: float, stage_seconds: dict[str, float]) -> dict[str, Any]:
    """One run's record: frames/s end to end and milliseconds per frame in each stage."""
    return {
        "fps": round(frames / wall_s, 1),
        "wall_s": round(wall_s, 3),
        "frames": frames,
        "frames_with_face": with_face,
        "stage_ms_per_frame": {k: round(1000 * v / frames, 3) for k, v in stage_seconds.items()},
    }


def median_run(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median frames/s (its own stage split kept), plus every round's frames/s."""
    ranked = sorted(measured, key=lambda run: run["fps"])
    return {**ranked[(len(ranked) - 1) // 2], "fps_rounds": [run["fps"] for run in measured]}


def label_agreement(every_frame: Any, fast: Any) -> dict[str, Any]:
    """On the frames where (a) found a face: how often (b) gives its largest face the same label (raw and smoothed)."""

    def largest(table: Any) -> Any:
        faces = table.dropna(subset=["face_id"]).assign(area=lambda t: t["w"] * t["h"])
        return faces.sort_values(["frame", "area"], ascending=[True, False]).drop_duplicates("frame").set_index("frame")

    a, b = largest(every_frame), largest(fast).reindex(largest(every_frame).index)
    return {
        "frames_with_face_in_a": len(a),
        "label": round(float((a["label"] == b["label"]).mean()), 4),
        "label_smoothed": round(float((a["label_smoothed"] == b["label_smoothed"]).mean()), 4),
    }


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """Whether (b) reached the goals; if not 5× fer's fps, the stage that takes most of (b)'s time."""
    fast, fer = result["pipelines"]["b_fast_path"]["headline"], result["pipelines"]["c_fer_package"]["headline"]
    speedup = fast["fps"] / fer["fps"]
    stages = fast["stage_ms_per_frame"]
    slowest = max(stages, key=stages.get)
    return {
        "speedup_b_over_fer": round(speedup, 2),
        "speedup_a_over_fer": round(result["pipelines"]["a_every_frame"]["headline"]["fps"] / fer["fps"], 2),
        "speedup_b1_over_fer": round(result["pipelines"]["b1_sized_scans_every_frame"]["headline"]["fps"] / fer["fps"], 2),
        "speedup_goal": GOAL_SPEEDUP,
        "speedup_goal_met": speedup >= GOAL_SPEEDUP,
        "agreement_goal": GOAL_AGREEMENT,
        "agreement_goal_met_smoothed_label": result["agreement_with_a"]["b_fast_path"]["label_smoothed"] >= GOAL_AGREEMENT,
        "agreement_goal_met_raw_label": result["agreement_with_a"]["b_fast_path"]["label"] >= GOAL_AGREEMENT,
        "fewer_faces_missed_than_fer": fast["frames_with_face"] >= fer["frames_with_face"],
        "slowest_stage_of_b": {"stage": slowest, "share": round(stages[slowest] / sum(stages.values()), 3)},
    }


if __name__ == "__main__":
    main()
