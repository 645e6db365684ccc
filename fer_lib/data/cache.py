"""Decode once: a dataset is stored as uncompressed arrays keyed by its source files and parameters.

Decoding ~36k JPEGs takes seconds to minutes; reading the arrays back takes well under a second. The key
hashes every source file's relative path, size and mtime plus the loader's parameters, so editing the data
or changing preprocessing builds a new entry. Entries are written to a temporary file of a unique name and
renamed, so a killed process never leaves a half-written entry under its final name, and two processes building the
same entry both finish (the last rename wins; both wrote the same arrays). An entry that cannot be read (truncated,
zeroed by a disk fault, written by an incompatible version) is rebuilt from the source files with a warning naming it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..atomic_write import write_atomic
from ..paths import cache_dir
from .base import FaceDataset

log = logging.getLogger(__name__)
CACHE_FORMAT = 1  # bump when the stored layout changes
# What reading a damaged .npz raises: BadZipFile (truncated, bad CRC-32, no zip at all), EOFError (0 bytes),
# ValueError (a damaged .npy header; a FaceDataset whose arrays disagree), KeyError (an array missing), OSError.
UNREADABLE_ENTRY = (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError)


def cache_key(name: str, params: dict[str, Any], root: Path, sources: Iterable[Path]) -> str:
    """Hex digest of the loader name, parameters and each source file's (relative path, size, mtime)."""
    digest = hashlib.sha256(json.dumps({"name": name, "params": params, "format": CACHE_FORMAT}, sort_keys=True, default=str).encode())
    for path in sorted(sources):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def save_dataset(dataset: FaceDataset, path: Path) -> None:
    """Write ``dataset`` to ``path`` (``.npz``) atomically."""
    arrays = {
        "images": dataset.images,
        "labels": dataset.labels,
        "sample_ids": dataset.sample_ids.astype(str),
        "class_names": np.asarray(dataset.class_names, dtype=str),
        "header": np.asarray([dataset.name, dataset.split], dtype=str),
    }
    if dataset.subjects is not None:
        arrays["subjects"] = dataset.subjects.astype(str)
    arrays.update({f"meta__{k}": v for k, v in dataset.meta.items()})
    def write(tmp: Path) -> None:
        with open(tmp, "xb") as f:  # a file object: np.savez would append ".npz" to a path
            np.savez(f, **arrays)

    write_atomic(path, write)


def load_dataset(path: Path) -> FaceDataset:
    """Read a dataset written by :func:`save_dataset` (no pickle: ``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as z:
        name, split = z["header"].tolist()
        return FaceDataset(
            name=name,
            split=split,
            images=z["images"],
            labels=z["labels"],
            class_names=tuple(z["class_names"].tolist()),
            sample_ids=z["sample_ids"],
            subjects=z["subjects"] if "subjects" in z.files else None,
            meta={k.removeprefix("meta__"): z[k] for k in z.files if k.startswith("meta__")},
        )


def cached_dataset(
    name: str,
    params: dict[str, Any],
    root: Path,
    sources: Iterable[Path],
    build: Callable[[], FaceDataset],
    use_cache: bool = True,
) -> FaceDataset:
    """Return the cached dataset for this key, building (decoding) and storing it on a miss."""
    if not use_cache:
        return build()
    path = cache_dir() / f"{name}-{cache_key(name, params, root, sources)}.npz"
    if path.exists():
        try:
            dataset = load_dataset(path)
        except UNREADABLE_ENTRY as error:
            log.warning("cache entry %s cannot be read (%s: %s); rebuilding it from the source files", path, type(error).__name__, error)
        else:
            log.debug("cache hit %s", path)
            return dataset
    start = time.perf_counter()
    dataset = build()
    save_dataset(dataset, path)
    log.info("decoded %s (%d samples) in %.1f s; cached at %s", name, len(dataset), time.perf_counter() - start, path)
    return dataset
