"""Errors raised by dataset loaders. Each message names the file and what was expected."""

from __future__ import annotations

from ..errors import ConfigError


class DatasetNotFoundError(FileNotFoundError):
    """A dataset, or a file it needs, is not where the loader looked."""


class DatasetFormatError(ValueError):
    """A dataset file exists but its content or layout is not what the loader expects."""


class LoaderArgumentError(ConfigError, ValueError):
    """A loader refused one of its arguments (``create_dataset(..., on_no_face="drop")``, a recipe's
    ``loader_options``, ``datasets --loader-option``): a user's setting, printed as one line by the command line."""
