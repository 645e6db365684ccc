"""Shared fixtures. Real-data tests read FER_DATA (``make test`` and CI set it); caches go to a per-session folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test session decodes into its own cache (notebook kernels started by nbval inherit it)."""
    path = tmp_path_factory.mktemp("fer_cache")
    os.environ["FER_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def fer_data() -> Path:
    """The real data root. Missing FER_DATA is a set-up error, not a reason to skip."""
    root = os.environ.get("FER_DATA")
    if not root or not Path(root).is_dir():
        pytest.fail("FER_DATA must point at the data root (e.g. FER_DATA=../shared/data make test)")
    return Path(root).resolve()


def pytest_configure(config: pytest.Config) -> None:
    """nbval runs notebooks with notebooks/ as working directory: make a relative FER_DATA absolute first."""
    if os.environ.get("FER_DATA"):
        os.environ["FER_DATA"] = str(Path(os.environ["FER_DATA"]).resolve())


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Batches of 2 gain nothing from a second thread, and on a busy 2-core machine every OpenMP barrier waits for a
    descheduled thread (measured: ResNet50 forward 0.1 s with 1 thread, 0.2–3 s with 2 while other jobs run).
    Model test modules use it with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
