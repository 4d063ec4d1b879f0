"""``webtrip web serve`` as a user meets it: errors in one sentence, the access log."""

from __future__ import annotations

import re
import socket
import subprocess
import time

from support import DATA, assert_one_clear_sentence, run_webtrip, webtrip_web_server

SITES = DATA / "sites"


def webtrip(*args: str) -> subprocess.CompletedProcess[str]:
    return run_webtrip(*args, timeout=30)


def test_help_has_examples():
    done = webtrip("web", "serve", "--help")
    assert done.returncode == 0 and "Examples" in done.stdout


def test_a_missing_folder_is_one_sentence():
    assert "not a folder" in assert_one_clear_sentence(
        webtrip("web", "serve", "/nonexistent/folder"), 1
    )


def test_a_malformed_site_option_is_a_usage_error():
    done = webtrip("web", "serve", "--site", "www.example.test")
    assert "NAME=FOLDER" in assert_one_clear_sentence(done, 2)


def test_nothing_to_serve_is_a_usage_error():
    assert "give a folder" in assert_one_clear_sentence(webtrip("web", "serve"), 2)


def test_a_busy_port_is_one_sentence():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = webtrip("web", "serve", str(SITES / "www"), "--listen", f"127.0.0.1:{port}")
    assert "cannot listen on" in assert_one_clear_sentence(done, 1)


def test_access_log_is_common_log_format(tmp_path):
    with webtrip_web_server(SITES / "www", log_dir=tmp_path) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as client:
            client.sendall(b"GET /docs/guide.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while client.recv(65536):
                pass
        lines = []
        for _ in range(50):
            lines = server.log_lines()
            if lines:
                break
            time.sleep(0.05)
    pattern = (
        r"127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "
        r'"GET /docs/guide\.txt HTTP/1\.1" 200 26'
    )
    assert re.fullmatch(pattern, lines[0])
