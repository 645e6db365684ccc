"""docs/failure_modes.md names, for every failure, the test that checks it: each named test must exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# `test_file.py::test_name`, or `::test_name` for another test of the file named last in the same cell.
TEST_REFERENCE = re.compile(r"`(test_\w+\.py)?::(\w+)`")


def test_every_test_the_failure_modes_name_exists() -> None:
    missing = []
    for number, line in enumerate((REPO / "docs" / "failure_modes.md").read_text().splitlines(), start=1):
        for cell in line.split(" | "):
            file = None
            for match in TEST_REFERENCE.finditer(cell):
                file = match.group(1) or file
                assert file, f"docs/failure_modes.md line {number}: `::{match.group(2)}` follows no test file in its cell"
                if not re.search(rf"^def {match.group(2)}\(", (REPO / "tests" / file).read_text(), re.MULTILINE):
                    missing.append(f"line {number}: {file}::{match.group(2)}")
    assert not missing, f"docs/failure_modes.md names tests that do not exist: {missing}"
