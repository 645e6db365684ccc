"""``python -m fer_lib video INPUT``: the video pipeline from the command line.

Warnings (a file cut short, no face found) are printed as one ``warning:`` line each after the run; configuration
errors are :class:`~fer_lib.errors.ConfigError`, which the command line prints as one line (exit code 2). SIGTERM (a
``kill``, a job scheduler's time limit) ends the run as Ctrl-C does: its temporary files are removed (exit code 143).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import warnings
from pathlib import Path
from types import FrameType
from typing import Iterator

# Option name on the command line -> VideoOptions field; an option not given keeps VideoOptions' default.
OPTION_FIELDS = {
    "smooth": "smooth_s",
    "detect_every": "detect_every",
    "rescan": "rescan_s",
    "detect_size": "detect_size",
    "batch_frames": "batch_frames",
    "max_seconds": "max_seconds",
}


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``video`` subcommand's arguments."""
    parser.add_argument("input", help="a video file OpenCV can read (.mp4, .avi, .mov, ...)")
    parser.add_argument("--model", help="a model file or run folder (default: the committed FER2013 model with the best honest accuracy)")
    parser.add_argument("--out", help="output folder (default: ./video_out/<input name>)")
    parser.add_argument(
        "--smooth",
        type=float,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="time constant of the per-face probability smoothing (0: none; default 0.5)",
    )
    parser.add_argument(
        "--detect-every", type=int, default=argparse.SUPPRESS, metavar="N", help="detect faces every N-th frame, tracking them in between (default 3)"
    )
    parser.add_argument(
        "--rescan",
        type=float,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="scan the whole frame at least this often; in between only around tracked faces (0: always; default 1)",
    )
    parser.add_argument(
        "--detect-size",
        type=int,
        default=argparse.SUPPRESS,
        metavar="PX",
        help="longer side of the frame copy the detector sees; raise it for small faces (default 256)",
    )
    parser.add_argument(
        "--batch-frames", type=int, default=argparse.SUPPRESS, metavar="N", help="frames whose faces are classified in one forward pass (default 16)"
    )
    parser.add_argument("--no-video", action="store_true", help="write the CSV, timeline and summary only, not the annotated mp4")
    parser.add_argument("--max-seconds", type=float, default=argparse.SUPPRESS, metavar="S", help="analyse only the first S seconds")


def run_video(args: argparse.Namespace) -> int:
    """Run the pipeline for parsed ``args``; print where the outputs are. Returns the exit code (0)."""
    from .pipeline import VideoOptions, analyze_video

    given = {field: getattr(args, option) for option, field in OPTION_FIELDS.items() if hasattr(args, option)}
    options = VideoOptions(write_video=not args.no_video, **given)
    out = Path(args.out) if args.out else Path("video_out") / Path(args.input).stem
    with warnings.catch_warnings(record=True) as caught, _exit_on_sigterm():
        warnings.simplefilter("always")
        result = analyze_video(args.input, out, args.model, options)
    for warning in caught:
        print(f"warning: {' '.join(str(warning.message).splitlines())}", file=sys.stderr)
    written = [p for p in (result.csv, result.video, result.timeline, result.summary) if p is not None]
    print(
        f"{result.frames} frames, a face in {result.frames_with_face}, {result.face_ids} face ids, "
        f"{result.fps:.1f} frames/s; wrote {', '.join(str(p) for p in written)}"
    )
    return 0


@contextlib.contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit`` (128 + 15, as the shell reports a killed process) while the run lasts: the
    pipeline's ``finally`` blocks then remove its temporary files, which a bare SIGTERM would leave."""

    def exit_(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
