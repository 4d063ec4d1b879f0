"""File names that are not UTF-8 (item 14 of issue 14): listed, linked and served, as nginx does.

A file created as ``b"caf\\xe9.txt"`` (Latin-1) is listed with its odd byte
escaped (``caf\\xe9.txt``), linked by its very bytes percent-encoded
(``caf%E9.txt``), and a GET of that link serves it — the same link and the
same bytes as nginx's autoindex, checked against nginx serving the same folder.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from peers.nginx import nginx_server
from support import webtrip_web_server

NAME = b"caf\xe9.txt"
CONTENT = b"hello from a Latin-1 name\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "ok.txt").write_text("ok\n")
    with open(os.fsencode(root) + b"/" + NAME, "wb") as file:
        file.write(CONTENT)
    return root


def curl(url: str) -> tuple[int, bytes]:
    done = subprocess.run(
        ["curl", "-s", "-g", "--max-time", "10", "-w", "\n%{http_code}", url],
        capture_output=True,
        check=True,
        timeout=20,
    )
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


def links(listing: bytes) -> set[bytes]:
    return set(re.findall(rb'href="([^"]+)"', listing)) - {b"../"}


def test_a_name_that_is_not_utf8_is_listed_and_served(folder: Path, tmp_path: Path) -> None:
    with webtrip_web_server(folder, log_dir=tmp_path, extra=["--list-folders"]) as server:
        status, listing = curl(server.url + "/")
        assert status == 200
        assert b"caf%E9.txt" in links(listing)
        assert b"caf\\xe9.txt" in listing  # shown escaped, in a page that stays UTF-8
        listing.decode("utf-8")
        assert curl(server.url + "/caf%E9.txt") == (200, CONTENT)


@pytest.mark.peer("nginx")
def test_the_link_and_the_bytes_are_nginxs(folder: Path, tmp_path: Path) -> None:
    with webtrip_web_server(folder, log_dir=tmp_path, extra=["--list-folders"]) as server:
        ours = links(curl(server.url + "/")[1])
        our_file = curl(server.url + "/caf%E9.txt")
    with nginx_server(folder, extra_server=["autoindex on;"]) as nginx:
        theirs = links(curl(nginx.url + "/")[1])
        their_file = curl(nginx.url + "/caf%E9.txt")
    assert {link.lower() for link in ours} == {link.lower() for link in theirs}
    assert our_file == their_file == (200, CONTENT)
