"""The Markdown report as one self-contained HTML file: images embedded as base64 data URIs, links re-pointed so
they still resolve from where the HTML file lies."""

from __future__ import annotations

import base64
import html
import mimetypes
import os
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import mistune

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; vertical-align: top; }
th { background: #f3f3f3; }
code { background: #f5f5f5; padding: 0 0.2em; font-size: 0.95em; }
img { max-width: 100%; }
"""


def markdown_to_html(markdown: str, markdown_dir: Path, html_dir: Path, title: str) -> str:
    """``markdown`` (whose relative links are relative to ``markdown_dir``) as a complete HTML page to be written in
    ``html_dir``. Raises ``FileNotFoundError`` naming an image the Markdown shows but that does not exist."""
    renderer = _SelfContainedRenderer(markdown_dir, html_dir)
    body = mistune.create_markdown(renderer=renderer, plugins=["table"])(markdown)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )


class _SelfContainedRenderer(mistune.HTMLRenderer):
    def __init__(self, markdown_dir: Path, html_dir: Path) -> None:
        super().__init__(escape=False)  # the report's own <details> blocks; file text sits in code spans, always escaped
        self.markdown_dir = markdown_dir
        self.html_dir = html_dir

    def image(self, text: str, url: str, title: str | None = None) -> str:
        if _is_relative(url):
            path = self.markdown_dir / unquote(url)
            if not path.is_file():
                raise FileNotFoundError(f"the report shows the image {path}, which does not exist")
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            url = f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
        return super().image(text, url, title)

    def link(self, text: str, url: str, title: str | None = None) -> str:
        if _is_relative(url):
            url = quote(Path(os.path.relpath(self.markdown_dir / unquote(url), self.html_dir)).as_posix())
        return super().link(text, url, title)


def _is_relative(url: str) -> bool:
    parsed = urlparse(url)
    return not parsed.scheme and not parsed.netloc and not url.startswith(("/", "#"))
