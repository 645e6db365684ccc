"""Errors raised by dataset loaders. Each message names the file and what was expected."""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """A dataset, or a file it needs, is not where the loader looked."""


class DatasetFormatError(ValueError):
    """A dataset file exists but its content or layout is not what the loader expects."""
