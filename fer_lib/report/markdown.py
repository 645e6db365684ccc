"""Markdown pieces that render on a git host: pipe tables, code spans, relative links."""

from __future__ import annotations

import re
from urllib.parse import quote


def code(text: object) -> str:
    """``text`` as a code span (verbatim names, paths and error lines), fenced with more backticks than it holds."""
    text = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def link(text: str, target: str) -> str:
    """A link to ``target`` (a ``/``-separated relative path), percent-encoded where the path needs it."""
    return f"[{text}]({quote(target)})"


def image(alt: str, target: str) -> str:
    return f"![{alt}]({quote(target)})"


def table(header: list[str], rows: list[list[str]], right: tuple[int, ...] = ()) -> str:
    """A pipe table; columns whose index is in ``right`` are right-aligned (numbers)."""
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(_cell(c) for c in line) + " |" for line in lines) + "\n"


def bullets(items: list[str]) -> str:
    return "".join(f"- {item}\n" for item in items)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
