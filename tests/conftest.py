"""Shared fixtures. Real-data tests read FER_DATA (``make test`` and CI set it); caches go to a per-session folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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
