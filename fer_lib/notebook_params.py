"""Refuse notebook parameters that the notebook does not declare: papermill only warns about them.

``papermill nb.ipynb out.ipynb -p epoch 4`` injects ``epoch = 4`` in a cell after the ``parameters`` cell and runs on
with the declared ``epochs``: a typo silently trains the default. A notebook's first code cell after its parameters
calls ``check_parameters(In)`` (IPython's list of the sources executed so far): the cell papermill injected is the
one that starts with its ``# Parameters`` comment, and the cell executed just before it is the ``parameters`` cell.
Without papermill (JupyterLab, nbval) there is no injected cell and nothing to check.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from .errors import ConfigError

INJECTED_HEADER = "# Parameters\n"  # how papermill's Python translator starts the cell it injects


def assigned_names(source: str) -> list[str]:
    """Names assigned at the top level of ``source`` (``a = 1``, ``a: int = 1``), in order."""
    names: list[str] = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def check_parameters(history: Sequence[str]) -> None:
    """Raise :class:`ConfigError` listing the declared names when papermill injected a parameter that the notebook's
    ``parameters`` cell does not declare. ``history``: the executed cell sources in order (IPython's ``In``)."""
    for index, source in enumerate(history):
        if index == 0 or not source.startswith(INJECTED_HEADER):
            continue
        declared = assigned_names(history[index - 1])
        unknown = [name for name in assigned_names(source) if name not in declared]
        if unknown:
            raise ConfigError(f"Unknown notebook parameter(s) {unknown}; this notebook's parameters are {declared}")
