"""Reading a user's input file (a zone, a lab, a saved trace) safely: bounded and regular.

A path can name anything: ``/dev/zero`` (endless), a FIFO (blocks until a
writer comes, maybe never), a folder, or a file of many gigabytes. Inputs are
read only from regular files and only up to a size limit, so a mistaken path
ends in one sentence instead of a hang or an exhausted memory.

The limit is :data:`DEFAULT_LIMIT_MB` megabytes; the environment variable
``WEBTRIP_MAX_FILE_MB`` raises (or lowers) it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DEFAULT_LIMIT_MB = 64
"""Megabytes an input file may have unless ``WEBTRIP_MAX_FILE_MB`` says otherwise."""

LIMIT_VARIABLE = "WEBTRIP_MAX_FILE_MB"


class InputFileError(Exception):
    """An input file that cannot be read; the message is one sentence (without the path).

    ``reason`` says which problem it is, for a caller that words it in the
    user's language: ``"kind"`` (not a regular file), ``"size"`` (over the
    limit, ``limit_mb``) or ``"limit"`` (``WEBTRIP_MAX_FILE_MB`` is not a number).
    """

    def __init__(self, message: str, reason: str, limit_mb: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.limit_mb = limit_mb


def size_limit() -> int:
    """The most bytes an input file may have: ``WEBTRIP_MAX_FILE_MB`` megabytes, or 64."""
    value = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not value:
        return DEFAULT_LIMIT_MB * 1024 * 1024
    try:
        megabytes = int(value)
    except ValueError:
        megabytes = 0
    if not 1 <= megabytes <= 1024 * 1024:
        raise InputFileError(
            f"cannot be read: {LIMIT_VARIABLE}={value!r} is not a whole number "
            "of megabytes from 1 to 1048576",
            "limit",
        )
    return megabytes * 1024 * 1024


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_input(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The bytes of the regular file at ``path``, refusing it if over ``limit`` bytes.

    The file is opened without blocking (a FIFO would otherwise wait for a
    writer), checked to be a regular file, and read for at most ``limit + 1``
    bytes, so a file that grows while being read is refused too. Raises
    FileNotFoundError if absent, InputFileError (one sentence) if it is not a
    regular file or too big, OSError for other failures.
    """
    limit = size_limit() if limit is None else limit
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(Path(path), flags)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise InputFileError(f"is {_kind(mode)}, not a regular file", "kind")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise InputFileError(
            f"is larger than {limit // (1024 * 1024)} MB; "
            f"set {LIMIT_VARIABLE} to a bigger number of megabytes to read it",
            "size",
            limit // (1024 * 1024),
        )
    return data
