"""Views of HTTP exchanges: the access log in Common Log Format."""

from __future__ import annotations

import datetime

from webtrip.trace import HttpExchangeCompleted


def common_log_line(event: HttpExchangeCompleted, wall_start: float) -> str:
    """``127.0.0.1 - - [25/Nov/2026:18:40:00 +0000] "GET / HTTP/1.1" 200 1234``

    The Common Log Format of NCSA httpd, which Apache and nginx also write:
    client, identity and user (unknown here: ``-``), when the request came,
    the request line, the status, and the body bytes sent (``-`` for none).
    """
    when = datetime.datetime.fromtimestamp(wall_start + event.started, tz=datetime.UTC)
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    request_line = f"{event.method} {event.target} HTTP/{event.version}"
    request_line = request_line.replace("\\", "\\\\").replace('"', '\\"')
    size = str(event.body_size) if event.body_size else "-"
    return f'{event.peer[0]} - - [{stamp}] "{request_line}" {event.status} {size}'
