"""Errors that are the user's to fix, not bugs: the command line prints their message as one line and exits with 2."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration or input the user can correct (a missing data root, an unknown name, an unreadable file).

    The message is the whole story: what is wrong, naming the file or value, and the fix that works as written.
    """
