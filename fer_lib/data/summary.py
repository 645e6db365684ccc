"""What is under a data root: per dataset, counts per split and class and the number of subjects."""

from __future__ import annotations

import json
import os
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..paths import data_root
from .errors import DatasetFormatError, DatasetNotFoundError
from .registry import check_loader_options, create_dataset, get_dataset_spec, list_datasets


def parse_loader_options(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``["ckplus.on_no_face=skip"]`` -> ``{"ckplus": {"on_no_face": "skip"}}`` (VALUE read as JSON when it parses,
    else as text); a malformed pair, an unknown dataset or an option its loader lacks is a :class:`ConfigError`."""
    options: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        target, sep, text = pair.partition("=")
        name, dot, key = target.strip().partition(".")
        if not sep or not dot or not name or not key:
            raise ConfigError(f"--loader-option {pair!r}: expected DATASET.KEY=VALUE, e.g. --loader-option ckplus.on_no_face=skip")
        if name not in list_datasets():
            raise ConfigError(f"--loader-option {pair!r}: unknown dataset {name!r}; choose one of {list_datasets()}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        options.setdefault(name, {})[key] = value
        try:
            check_loader_options(name, options[name])
        except ValueError as error:
            raise ConfigError(f"--loader-option {pair!r}: {error}") from None
    return options


def summarize_dataset(name: str, root: str | os.PathLike[str] | None = None, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Counts of dataset ``name`` under ``root`` (loaded with the loader's keyword arguments ``options``), or where to
    obtain it when it is not there.

    Returns ``{"name", "title", "found", ...}``: when found, ``folder`` and ``splits`` mapping each split
    to ``{"n", "classes": {class: count}, "subjects"}``; otherwise ``expected`` (layout) and ``source``; a
    dataset that is found but fails to load carries ``error`` (the loader's message).
    """
    spec = get_dataset_spec(name)
    base = data_root(root)
    folder = spec.locate(base)
    entry: dict[str, Any] = {"name": name, "title": spec.title, "found": folder is not None}
    if folder is None:
        return entry | {"expected": spec.layout, "source": spec.source}
    entry["folder"] = str(folder)
    # "all" is the union of the official splits; list it only for datasets that have no other split.
    splits = [s for s in spec.splits if s != "all"] or ["all"]
    try:
        entry["splits"] = {split: _split_counts(name, base, split, options or {}) for split in splits}
    except (DatasetNotFoundError, DatasetFormatError) as error:
        entry["error"] = str(error)
    return entry


def _split_counts(name: str, root: os.PathLike[str], split: str, options: dict[str, Any]) -> dict[str, Any]:
    dataset = create_dataset(name, root, split, **options)
    return {"n": len(dataset), "classes": dataset.class_counts(), "subjects": dataset.num_subjects}


def summarize_all(root: str | os.PathLike[str] | None = None, options: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """:func:`summarize_dataset` for every registered dataset, each with its loader options from ``options``
    (:func:`parse_loader_options`)."""
    return [summarize_dataset(name, root, (options or {}).get(name)) for name in list_datasets()]


def require_some_dataset(entries: list[dict[str, Any]], root: str | os.PathLike[str] | None = None) -> None:
    """Raise ``ConfigError`` when :func:`summarize_all` found no dataset at all under ``root``: the root is wrong or empty."""
    if any(entry["found"] for entry in entries):
        return
    names = ", ".join(entry["name"] for entry in entries)
    raise ConfigError(
        f"No dataset found under {data_root(root)} (looked for {names}): point --root or FER_DATA at the folder that holds "
        "the datasets, or place one there in its public layout (each dataset's expected layout and source are listed above)"
    )


def format_summary(entries: list[dict[str, Any]]) -> str:
    """Plain-text table of :func:`summarize_all`'s result, for the terminal."""
    lines = []
    for entry in entries:
        if not entry["found"]:
            lines.append(f"{entry['name']:<10} not found — expected {entry['expected']}; obtain from {entry['source']}")
        elif "error" in entry:
            lines.append(f"{entry['name']:<10} found at {entry['folder']} but failed to load: {entry['error']}")
        else:
            for split, counts in entry["splits"].items():
                classes = " ".join(f"{k}={v}" for k, v in counts["classes"].items())
                subjects = "" if counts["subjects"] is None else f", {counts['subjects']} subjects"
                lines.append(f"{entry['name']:<10} {split:<6} n={counts['n']}{subjects}: {classes}")
    return "\n".join(lines)


def class_count_table(entry: dict[str, Any]) -> pd.DataFrame:
    """One found dataset's counts (an entry of :func:`summarize_all`): a row per split, a column per class, then n and subjects."""
    rows = {split: {**counts["classes"], "n": counts["n"], "subjects": counts["subjects"]} for split, counts in entry["splits"].items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(entry["name"])
