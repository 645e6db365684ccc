"""amp="auto" (fer_lib.engine.precision): bf16 only where this machine runs it faster, recorded as a concrete value."""

from __future__ import annotations

import math
from contextlib import nullcontext

import pytest
import torch

from fer_lib.engine import cpu_bf16_speedup, precision, resolve_amp
from fer_lib.engine.loop import autocast


@pytest.mark.parametrize("amp", ["bf16", "none"])
def test_explicit_precision_is_kept(amp: str) -> None:
    assert resolve_amp(amp, torch.device("cpu")) == amp


@pytest.mark.parametrize("speedup,expected", [(2.0, "bf16"), (precision.MIN_BF16_SPEEDUP, "bf16"), (1.0, "none"), (0.55, "none")])
def test_auto_on_cpu_follows_the_measured_speedup(monkeypatch: pytest.MonkeyPatch, speedup: float, expected: str) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_speedup", lambda: speedup)
    assert resolve_amp("auto", torch.device("cpu")) == expected


def test_probe_is_measured_once_and_kept() -> None:
    first = cpu_bf16_speedup()
    assert math.isfinite(first) and first > 0
    assert cpu_bf16_speedup() == first  # cached: every layer of a run sees the same choice


def test_the_loops_take_only_a_resolved_precision() -> None:
    """Precision is resolved once, by fit: a loop handed "auto" refuses it instead of measuring again."""
    with pytest.raises(ValueError, match="resolve 'auto' first"):
        autocast(torch.device("cpu"), "auto")
    assert isinstance(autocast(torch.device("cpu"), "none"), nullcontext)
