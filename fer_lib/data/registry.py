"""Dataset registry: ``create_dataset(name, root, split, ...)`` and ``list_datasets()``.

A dataset module registers a :class:`DatasetSpec`: how to find the dataset under a data root (marker
files), its splits, its layout and where users obtain it, the loader function and its evaluation protocol.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from ..paths import data_root
from .base import FaceDataset
from .errors import DatasetFormatError, DatasetNotFoundError, LoaderArgumentError
from .protocols import EvaluationProtocol, SubjectKFold

Loader = Callable[..., FaceDataset]


@dataclass(frozen=True)
class DatasetSpec:
    """How to find, describe and load one dataset.

    ``markers`` are ``/``-separated paths relative to a candidate folder whose presence identifies the dataset; the
    candidates are the data root itself and ``root/<folder>`` for each of ``folders`` (first match wins; folder names,
    too, in any capitalisation). Each marker component is matched against the names in its parent folder ignoring
    case (copies differ in capitalisation, ``train/Happy``) and may be an :mod:`fnmatch` pattern
    (``[A-Z][A-Z].*.tif*``), so a marker covers every copy its loader accepts (see :func:`find_path`).
    ``named_folder_markers`` identify the dataset only in ``root/<folder>``: a layout another dataset shares (a 7-class
    AffectNet copy with ``train/`` and ``test/`` is FER2013's Kaggle layout) is told apart by the folder's name alone.
    ``protocol`` says how the dataset is split for training and evaluation (:mod:`fer_lib.data.protocols`; default
    subject-independent k-fold).
    """

    name: str
    title: str
    load: Loader
    splits: tuple[str, ...]
    folders: tuple[str, ...]
    markers: tuple[str, ...]
    layout: str
    source: str
    split_aliases: dict[str, str] = field(default_factory=dict)
    named_folder_markers: tuple[str, ...] = ()
    protocol: EvaluationProtocol = SubjectKFold()
    # The input kind (fer_lib.models: "image", "flow", "clip") the loader serves for each value of its ``modality``
    # argument, ``None`` for a loader without one; a model trains only on data of the kind it reads
    # (fer_lib.profiles.check_model_reads). Default: face images.
    modalities: dict[str | None, str] = field(default_factory=lambda: {None: "image"})

    def locate(self, root: Path) -> Path | None:
        """The dataset's folder under ``root``, or ``None`` when no candidate holds a marker. The candidates' folder
        names are matched ignoring case too (``Fer2013/``, ``jaffe/JaffeDBase/``)."""
        folders = [found for name in self.folders if (found := find_path(root, name)) is not None]
        candidates = [(root, self.markers)] + [(folder, self.markers + self.named_folder_markers) for folder in folders]
        for candidate, markers in candidates:
            if any(find_path(candidate, m) is not None for m in markers):
                return candidate
        return None

    def canonical_split(self, split: str) -> str:
        split = self.split_aliases.get(split, split)
        if split not in self.splits:
            raise ValueError(f"{self.name} has splits {self.splits} (aliases {sorted(self.split_aliases)}), not {split!r}")
        return split


def find_path(folder: Path, pattern: str) -> Path | None:
    """The first path (in name order) under ``folder`` that matches ``pattern``, or ``None``.

    ``pattern`` is a ``/``-separated relative path whose components are compared with the entries of their parent
    folder ignoring case, each possibly an :mod:`fnmatch` pattern. Directories are listed rather than probed with
    ``exists()``: on a case-sensitive filesystem that is the only way to find ``Happy`` for ``happy``.
    """
    matches = [folder]
    for part in PurePosixPath(pattern).parts:
        wanted = part.casefold()
        matches = [child for parent in matches for child in _children(parent) if fnmatch.fnmatchcase(child.name.casefold(), wanted)]
    return matches[0] if matches else None


def _children(folder: Path) -> list[Path]:
    """Entries of ``folder`` sorted by name; none when it is not a readable directory (a marker then does not match)."""
    try:
        return sorted(Path(entry.path) for entry in os.scandir(folder))
    except OSError:
        return []


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to the registry; a name registered twice is an error."""
    if spec.name in _REGISTRY:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_datasets() -> list[str]:
    """Names of all registered datasets, sorted."""
    return sorted(_REGISTRY)


def get_dataset_spec(name: str) -> DatasetSpec:
    if name not in _REGISTRY:
        raise KeyError(f"Unknown dataset {name!r}; registered: {list_datasets()}")
    return _REGISTRY[name]


def locate_dataset(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of dataset ``name`` under the data root, or an error saying where to obtain it."""
    spec = get_dataset_spec(name)
    base = data_root(root)
    folder = spec.locate(base)
    if folder is None:
        raise DatasetNotFoundError(
            f"{spec.title} not found under {base}: expected {spec.layout} in {base} or {base}/{spec.folders[0]}. "
            f"Obtain it from {spec.source}."
        )
    return folder


# Loader arguments a run's recipe sets itself (the data root, split, img_size, modality): not loader_options.
RECIPE_LOADER_ARGUMENTS = ("folder", "split", "image_size", "modality")


def check_loader_options(name: str, options: dict[str, Any]) -> None:
    """A ``ValueError`` unless each key of ``options`` (a recipe's ``loader_options``) is a keyword argument of
    dataset ``name``'s loader that the recipe does not set itself, so that a misspelt option fails before training."""
    accepted = [p for p in inspect.signature(get_dataset_spec(name).load).parameters if p not in RECIPE_LOADER_ARGUMENTS]
    wrong = [key for key in options if key not in accepted]
    if wrong:
        raise ValueError(f"loader_options {wrong} are not options of the {name} loader; it takes {accepted} (img_size and modality are recipe keys)")


def create_dataset(name: str, root: str | os.PathLike[str] | None = None, split: str = "all", **kwargs: Any) -> FaceDataset:
    """Load dataset ``name`` (split ``split``) from the data root ``root`` (default: ``$FER_DATA``).

    Extra keyword arguments go to the dataset's loader (e.g. ``image_size``, ``color``, ``use_cache``); one it refuses is
    a :class:`~fer_lib.data.errors.LoaderArgumentError` (a ``ConfigError`` and a ``ValueError``).
    """
    spec = get_dataset_spec(name)
    canonical = spec.canonical_split(split)
    folder = locate_dataset(name, root)
    try:
        dataset = spec.load(folder, canonical, **kwargs)
    except DatasetFormatError:
        raise
    except ValueError as error:  # the loaders check their arguments with ValueError: a setting, not a bug
        raise LoaderArgumentError(f"the {name} loader refuses {kwargs}: {error}") from None
    # A safety net under the loaders' own checks: an empty split (a header-only table, a split's files missing)
    # would otherwise surface later as a confusing error in training or as a silent zero in a summary.
    if len(dataset) == 0:
        raise DatasetFormatError(
            f"{spec.title} split {canonical!r} in {folder} is empty: the files there hold no samples of that split. "
            f"Check that the copy is complete (expected {spec.layout}); obtain it from {spec.source}."
        )
    return dataset
