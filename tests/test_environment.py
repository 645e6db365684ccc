"""The installed stack is the one the study needs, and the conda file pins what the lock file pins."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import cv2

from fer_lib.runs import cpu_name, environment_info

ROOT = Path(__file__).resolve().parents[1]


def test_opencv_is_the_4x_contrib_build_with_cascades():
    assert cv2.__version__.startswith("4."), "OpenCV 5 wheels ship no Haar cascades and no cv2.optflow"
    assert hasattr(cv2, "optflow") and hasattr(cv2, "CascadeClassifier")
    assert Path(cv2.data.haarcascades, "haarcascade_frontalface_default.xml").exists()


def test_environment_yml_matches_the_lock_file():
    lock = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            lock[name.lower().replace("_", "-")] = version.strip()
    pins = re.findall(r"^\s+- ([\w.-]+)==(\S+)", (ROOT / "environment.yml").read_text(), re.M)
    assert len(pins) > 10
    assert {name.lower(): version for name, version in pins} == {name.lower(): lock.get(name.lower()) for name, _ in pins}


def test_environment_info_names_the_cpu():
    # throughput figures in metrics.json depend on the CPU model
    info = environment_info("cpu")
    assert info["device_name"] == info["cpu"] == cpu_name() != ""


def test_cpu_name_reads_the_model_name_line_else_falls_back(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654 96-Core Processor\nflags\t: avx512f\n")
    assert cpu_name(cpuinfo) == "AMD EPYC 9654 96-Core Processor"
    assert cpu_name(tmp_path / "absent") == (platform.processor() or platform.machine())
