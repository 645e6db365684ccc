"""Where data and caches live. The data root comes from one place: ``FER_DATA`` (a parameter overrides it)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from .errors import ConfigError

DATA_ENV = "FER_DATA"
CACHE_ENV = "FER_CACHE"


class DataRootError(ConfigError, FileNotFoundError):
    """No data root: ``FER_DATA`` is unset, or the data root names no folder."""


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the data root: ``root`` if given, else the ``FER_DATA`` environment variable.

    Raises :class:`DataRootError` (a ``ConfigError`` and a ``FileNotFoundError``) naming the fix when neither is set
    or the folder does not exist.
    """
    if root is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise DataRootError(
                f"No data root: set the {DATA_ENV} environment variable to the folder holding the datasets "
                "(e.g. `export FER_DATA=/path/to/data`), or pass that folder as root (`--root DIR` on the command line)"
            )
        root = env
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataRootError(
            f"Data root {path} does not exist or is not a folder: point {DATA_ENV} (or `--root DIR`, root=... in Python) at the folder holding the datasets"
        )
    return path


def cache_dir() -> Path:
    """Return the cache folder: ``FER_CACHE`` if set, else the user's cache dir (``~/.cache/fer_lib``). Created if missing.

    Raises ``ConfigError`` naming ``FER_CACHE`` when the folder cannot be created (the path is a file, or lies under one).
    """
    path = Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("fer_lib")).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = "it is a file" if path.is_file() else error.strerror
        raise ConfigError(
            f"Cache folder {path} cannot be created ({reason}): set {CACHE_ENV} to a writable folder, "
            f"e.g. `export {CACHE_ENV}=$HOME/.cache/fer_lib`"
        ) from None
    return path
