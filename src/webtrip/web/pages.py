"""The small HTML pages the web server writes itself: errors and folder listings."""

from __future__ import annotations

import html
import os
import urllib.parse
from pathlib import Path

from webtrip.web.http1 import reason

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#222}h1{font-size:1.4rem}code{background:#eee;padding:0 .2rem}"
    "footer{margin-top:2rem;color:#777;font-size:.85rem}"
)


def _page(title: str, body: str, server: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}<footer>{html.escape(server)}</footer></body></html>\n"
    ).encode()


def error_page(status: int, message: str, server: str) -> bytes:
    """A short page saying what went wrong, in words."""
    title = f"{status} {reason(status)}"
    return _page(title, f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>", server)


def listing_page(folder: Path, url_path: str, server: str) -> bytes:
    """The entries of a folder as links (hidden entries left out)."""
    try:
        names = sorted(os.listdir(folder), key=str.lower)
    except OSError:
        names = []
    items = []
    if url_path != "/":
        items.append('<li><a href="../">../</a></li>')
    for name in names:
        if name.startswith("."):
            continue
        is_dir = (folder / name).is_dir()
        # A name that is not UTF-8 is shown with its odd bytes escaped (caf\xe9.txt)
        # and linked by its very bytes, percent-encoded (caf%E9.txt), as nginx does.
        raw = os.fsencode(name)
        shown = raw.decode("utf-8", "backslashreplace") + ("/" if is_dir else "")
        href = urllib.parse.quote(raw) + ("/" if is_dir else "")
        items.append(f'<li><a href="{html.escape(href)}">{html.escape(shown)}</a></li>')
    title = f"Index of {url_path}"
    body = f"<h1>{html.escape(title)}</h1><ul>{''.join(items)}</ul>"
    return _page(title, body, server)
