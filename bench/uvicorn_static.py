"""Starlette's ``StaticFiles`` as the whole ASGI app: the uvicorn peer in bench/http_rps.py.

    BENCH_STATIC_DIR=FOLDER uvicorn --app-dir bench uvicorn_static:app --port 8000

``StaticFiles`` with its defaults (no ``html=True``: ``/`` is a 404, files are asked for
by name), no middleware and no routing around it, so the figure is uvicorn + Starlette's
own static file serving and nothing else.  The folder comes from the environment because
uvicorn imports the app by name.
"""

from __future__ import annotations

import os

from starlette.staticfiles import StaticFiles

app = StaticFiles(directory=os.environ["BENCH_STATIC_DIR"])
