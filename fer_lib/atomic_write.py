"""Writing a file so that its final name never holds half of it: every writer of the library goes through here."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Callable


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` to a temporary name beside ``path``, then rename it to ``path`` (atomic on POSIX).

    The temporary name is unique per call, so two processes writing the same file never share one; it is removed when
    ``write`` fails (disk full, interrupted), so no stray partial file is left either.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
