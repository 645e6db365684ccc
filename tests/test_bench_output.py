"""The CPU kind a benchmark file is named after: AMX and plain AVX-512 CPUs must not overwrite each other's figures."""

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("bench_output", Path(__file__).resolve().parents[1] / "benchmarks" / "bench_output.py")
bench_output = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench_output)

FLAGS = "fpu vme avx2 avx512f avx512_bf16"


@pytest.mark.parametrize(("flags", "expected"), [(FLAGS + " amx_bf16 amx_tile", True), (FLAGS, False), (FLAGS + " amx_tile", False)])
def test_amx_is_read_from_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert bench_output.has_amx(cpuinfo) is expected


def test_no_cpuinfo_means_no_amx(tmp_path):
    assert bench_output.has_amx(tmp_path / "absent") is False


def test_an_amx_cpu_writes_its_own_file(monkeypatch):
    monkeypatch.setattr(bench_output.torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(bench_output, "has_amx", lambda: True)
    assert bench_output.per_machine_path("train_throughput") == "results/bench/train_throughput_avx512_amx.json"
    monkeypatch.setattr(bench_output, "has_amx", lambda: False)
    assert bench_output.per_machine_path("train_throughput") == "results/bench/train_throughput_avx512.json"
