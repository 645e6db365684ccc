"""Where data and caches live. The data root comes from one place: ``FER_DATA`` (a parameter overrides it)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_ENV = "FER_DATA"
CACHE_ENV = "FER_CACHE"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the data root: ``root`` if given, else the ``FER_DATA`` environment variable.

    Raises ``FileNotFoundError`` naming the fix when neither is set or the folder does not exist.
    """
    if root is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise FileNotFoundError(
                f"No data root: set the {DATA_ENV} environment variable to the folder holding the "
                "datasets (e.g. `export FER_DATA=/path/to/data`) or pass root=..."
            )
        root = env
    path = Path(root).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"Data root {path} does not exist or is not a folder (set {DATA_ENV} or pass root=...)")
    return path


def cache_dir() -> Path:
    """Return the cache folder: ``FER_CACHE`` if set, else the user's cache dir (``~/.cache/fer_lib``). Created if missing."""
    path = Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("fer_lib")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
