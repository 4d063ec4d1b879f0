"""curl, the reference HTTP client, talks to ``webtrip web serve`` over loopback.

Each test checks one behaviour from curl's own point of view — the status,
connection count, size and type curl reports with ``-w``, the headers it
received (``-D -``), what it says on stderr with ``-v`` — and, where it
matters, from the server's Common Log Format access log.
"""

from __future__ import annotations

import email.utils
import gzip
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import DATA, RunningWebServer, require_program, webtrip_web_server
from webtrip.lab.loopback import has_ipv6_loopback

pytestmark = pytest.mark.peer("curl")

SITES = DATA / "sites"
WWW = SITES / "www"
STATIC = SITES / "static"
WWW_HOST = "www.example.test"
STATIC_HOST = "static.example.test"
ALLOW = "GET, HEAD, OPTIONS"
SECRET = (SITES / "www-secret" / "secret.txt").read_bytes()

# Every file a visitor of the www site may fetch: hidden names are never served.
WWW_FILES = sorted(
    path.relative_to(WWW).as_posix()
    for path in WWW.rglob("*")
    if path.is_file() and not any(part.startswith(".") for part in path.relative_to(WWW).parts)
)

# A marker line, so that curl's -w report can be told apart from -D - headers.
WRITE_OUT = (
    "\n##w %{http_code} %{num_connects} %{num_redirects} %{size_download} "
    "%{url_effective} %{content_type}\n"
)
LOG_LINE = re.compile(
    r'^(?P<client>\S+) - - \[(?P<when>[^\]]+)\] "(?P<method>\S+) (?P<target>\S+) '
    r'HTTP/(?P<version>\d\.\d)" (?P<status>\d{3}) (?P<size>\d+|-)$'
)


# --- running curl --------------------------------------------------------------------


@dataclass
class Transfer:
    """One transfer as curl saw it."""

    status: int
    connects: int
    redirects: int
    size: int
    url: str
    content_type: str
    head_blocks: list[list[tuple[str, str]]]  # every response head, in order (1xx, 3xx...)
    body: bytes

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The fields of the last response head, names lower-cased."""
        return self.head_blocks[-1] if self.head_blocks else []

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name]
        assert len(values) <= 1, f"{name} appears {len(values)} times: {self.headers}"
        return values[0] if values else None


@dataclass
class CurlRun:
    transfers: list[Transfer]
    stderr: str
    args: list[str] = field(default_factory=list)

    @property
    def only(self) -> Transfer:
        assert len(self.transfers) == 1, self.transfers
        return self.transfers[0]


def parse_heads(text: str) -> list[list[tuple[str, str]]]:
    blocks: list[list[tuple[str, str]]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("HTTP/"):
            blocks.append([])
        elif line and blocks and ":" in line:
            name, _, value = line.partition(":")
            blocks[-1].append((name.strip().lower(), value.strip()))
    return blocks


class Curl:
    """Runs curl with a clean environment and collects what it reports."""

    def __init__(self, program: str, workdir: Path) -> None:
        self.program = program
        self.workdir = workdir
        self.runs = 0
        self.env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}

    def __call__(
        self, *groups: Sequence[str], outputs: Sequence[Path] = (), check: bool = True
    ) -> CurlRun:
        """Run curl; each group is one set of options ending with its URLs (``--next``).

        Within a group, every word that starts with ``http://`` is a URL and
        gets its own output file: the next of ``outputs``, then fresh ones.
        """
        self.runs += 1
        args = [self.program, "-q", "-sS", "-v"]
        bodies: list[Path] = []
        for number, group in enumerate(groups):
            if number:
                args.append("--next")  # resets the per-transfer options below
            args += ["--noproxy", "*", "--max-time", "10", "-D", "-", "-w", WRITE_OUT]
            for word in group:
                if word.startswith("http://"):
                    body = (
                        outputs[len(bodies)]
                        if len(bodies) < len(outputs)
                        else self.workdir / f"body-{self.runs}-{len(bodies)}"
                    )
                    bodies.append(body)
                    args += ["-o", str(body)]
                args.append(word)
        done = subprocess.run(args, capture_output=True, timeout=20, env=self.env)
        stderr = done.stderr.decode("utf-8", "replace")
        if check:
            assert done.returncode == 0, f"curl exited {done.returncode}: {stderr}"
        # stdout: heads of transfer 0, "##w report 0", heads of transfer 1, "##w report 1"...
        pieces = done.stdout.decode("latin-1").split("\n##w ")
        transfers = []
        for number, piece in enumerate(pieces[1:]):
            report = piece.partition("\n")[0]
            heads = pieces[number] if number == 0 else pieces[number].partition("\n")[2]
            status, connects, redirects, size, url, *ctype = report.split(" ", 5)
            body_path = bodies[number] if number < len(bodies) else None
            body = body_path.read_bytes() if body_path and body_path.exists() else b""
            transfers.append(
                Transfer(
                    status=int(status),
                    connects=int(connects),
                    redirects=int(redirects),
                    size=int(size),
                    url=url,
                    content_type=ctype[0] if ctype else "",
                    head_blocks=parse_heads(heads),
                    body=body,
                )
            )
        return CurlRun(transfers, stderr, args)


# --- the access log ------------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    client: str
    method: str
    target: str
    version: str
    status: int
    size: int | None


def parse_log(line: str) -> LogEntry:
    match = LOG_LINE.match(line)
    assert match, f"not a Common Log Format line: {line!r}"
    size = match["size"]
    return LogEntry(
        match["client"],
        match["method"],
        match["target"],
        match["version"],
        int(match["status"]),
        None if size == "-" else int(size),
    )


class AccessLog:
    """The lines a server logged since the last mark."""

    def __init__(self, server: RunningWebServer) -> None:
        self.server = server
        self.seen = 0

    def _lines(self) -> list[str]:
        return self.server.log_lines() if self.server.access_log.exists() else []

    def mark(self) -> None:
        """Start counting from now, once the lines of earlier requests have all arrived.

        The server logs just after it sends, so an earlier test's last line
        can land after curl has exited: wait until the count holds still.
        """
        count = len(self._lines())
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            time.sleep(0.06)
            settled = len(self._lines())
            if settled == count:
                break
            count = settled
        self.seen = count

    def new(self, count: int, timeout: float = 5.0) -> list[LogEntry]:
        """Wait for ``count`` new lines (the server logs just after sending) and return them."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self._lines()[self.seen :]
            if len(lines) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        # Give a stray extra line a moment to show up, so that "exactly" means exactly.
        time.sleep(0.05)
        lines = self._lines()[self.seen :]
        self.seen += len(lines)
        assert len(lines) == count, f"expected {count} new log lines, got {lines}"
        return [parse_log(line) for line in lines]


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def curl_program() -> str:
    return require_program("curl")


@pytest.fixture
def curl(curl_program: str, tmp_path: Path) -> Curl:
    return Curl(curl_program, tmp_path)


@pytest.fixture(scope="module")
def sites(
    curl_program: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningWebServer]:
    """www and static by name, and no default site."""
    logs = tmp_path_factory.mktemp("sites-log")
    with webtrip_web_server(sites={WWW_HOST: WWW, STATIC_HOST: STATIC}, log_dir=logs) as running:
        yield running


@pytest.fixture(scope="module")
def big_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of www with a file too large for the server's memory cache (it is streamed)."""
    root = tmp_path_factory.mktemp("root") / "www"
    shutil.copytree(WWW, root)
    (root / "big.bin").write_bytes(os.urandom(300 * 1024 + 7))
    shutil.copytree(SITES / "www-secret", root.parent / "www-secret")
    (root / "leak.txt").symlink_to(Path("..") / "www-secret" / "secret.txt")
    return root


@pytest.fixture(scope="module")
def with_default(
    curl_program: str, big_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningWebServer]:
    """A copy of www as the default site (ROOT), and static by name."""
    logs = tmp_path_factory.mktemp("default-log")
    with webtrip_web_server(big_root, sites={STATIC_HOST: STATIC}, log_dir=logs) as running:
        yield running


@pytest.fixture
def log(sites: RunningWebServer) -> AccessLog:
    access = AccessLog(sites)
    access.mark()
    return access


def www(server: RunningWebServer, path: str = "/") -> list[str]:
    """Options and URL for ``path`` on the www site."""
    return ["-H", f"Host: {WWW_HOST}", server.url + path]


def file_bytes(relative: str) -> bytes:
    return (WWW / relative).read_bytes()


# --- keep-alive ----------------------------------------------------------------------


def test_several_urls_share_one_connection(
    sites: RunningWebServer, curl: Curl, log: AccessLog
) -> None:
    paths = ["/", "/style.css", "/script.js", "/img/logo.png"]
    run = curl(["-H", f"Host: {WWW_HOST}", *(sites.url + path for path in paths)])
    assert [t.status for t in run.transfers] == [200, 200, 200, 200]
    assert [t.connects for t in run.transfers] == [1, 0, 0, 0]
    assert run.stderr.count("Re-using existing connection") == 3
    assert run.stderr.count("Connected to") == 1
    entries = log.new(4)
    assert [(e.method, e.target, e.status) for e in entries] == [("GET", p, 200) for p in paths]
    files = ["index.html", "style.css", "script.js", "img/logo.png"]
    assert [e.size for e in entries] == [len(file_bytes(f)) for f in files]
    assert {e.client for e in entries} == {"127.0.0.1"}
    assert {e.version for e in entries} == {"1.1"}


# --- HEAD ----------------------------------------------------------------------------


@pytest.mark.parametrize("relative", ["index.html", "style.css", "img/logo.png", "img/diagram.svg"])
def test_head_has_the_get_headers_and_no_body(
    sites: RunningWebServer, curl: Curl, log: AccessLog, relative: str
) -> None:
    # HEAD then GET on the same connection: a stray body after HEAD would
    # corrupt the GET that follows.
    run = curl(["-I", *www(sites, "/" + relative)], www(sites, "/" + relative))
    head, get = run.transfers
    size = len(file_bytes(relative))
    assert head.status == get.status == 200
    assert head.size == 0
    assert head.header("content-length") == str(size)
    assert get.connects == 0, "the connection was not reused after HEAD"
    assert get.body == file_bytes(relative)

    def without_date(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, value) for name, value in headers if name != "date"]

    assert without_date(head.headers) == without_date(get.headers)
    entries = log.new(2)
    assert [(e.method, e.status, e.size) for e in entries] == [
        ("HEAD", 200, None),
        ("GET", 200, size),
    ]


# --- conditional requests ------------------------------------------------------------


def test_if_none_match_with_the_etag_gives_304(
    sites: RunningWebServer, curl: Curl, log: AccessLog
) -> None:
    first = curl(www(sites, "/style.css")).only
    etag = first.header("etag")
    assert etag and etag.startswith('"') and etag.endswith('"')
    again = curl(["-H", f"If-None-Match: {etag}", *www(sites, "/style.css")]).only
    assert again.status == 304
    assert again.size == 0 and again.body == b""
    assert again.header("etag") == etag
    assert again.header("content-length") is None
    assert [(e.status, e.size) for e in log.new(2)] == [(200, first.size), (304, None)]


def test_curl_etag_save_and_compare(sites: RunningWebServer, curl: Curl, tmp_path: Path) -> None:
    saved = tmp_path / "etag"
    first = curl(["--etag-save", str(saved), *www(sites, "/script.js")]).only
    assert first.status == 200
    assert saved.read_text().strip() == first.header("etag")
    again = curl(["--etag-compare", str(saved), *www(sites, "/script.js")]).only
    assert again.status == 304
    assert again.body == b""


def test_if_modified_since_gives_304(sites: RunningWebServer, curl: Curl, log: AccessLog) -> None:
    first = curl(www(sites, "/index.html")).only
    last_modified = first.header("last-modified")
    assert last_modified is not None
    again = curl(["-z", last_modified, *www(sites, "/index.html")])
    assert f"> If-Modified-Since: {last_modified}" in again.stderr
    assert again.only.status == 304
    assert again.only.body == b""
    stamp = email.utils.parsedate_to_datetime(last_modified).timestamp()
    older = email.utils.formatdate(stamp - 86400, usegmt=True)
    stale = curl(["-z", older, *www(sites, "/index.html")]).only
    assert stale.status == 200
    assert stale.body == file_bytes("index.html")
    assert [e.status for e in log.new(3)] == [200, 304, 200]


def test_a_stale_etag_gives_the_whole_file(sites: RunningWebServer, curl: Curl) -> None:
    current = curl(www(sites, "/style.css")).only.header("etag")
    stale = '"0-113"'
    assert stale != current
    run = curl(["-H", f"If-None-Match: {stale}", *www(sites, "/style.css")]).only
    assert run.status == 200
    assert run.body == file_bytes("style.css")
    assert run.header("etag") == current


def test_the_gzip_etag_revalidates_the_gzip_form(sites: RunningWebServer, curl: Curl) -> None:
    gz = curl(["--compressed", *www(sites, "/style.css")]).only
    plain = curl(www(sites, "/style.css")).only
    assert gz.header("content-encoding") == "gzip"
    assert gz.header("etag") != plain.header("etag"), "two representations share one ETag"
    again = curl(
        ["--compressed", "-H", f"If-None-Match: {gz.header('etag')}", *www(sites, "/style.css")]
    ).only
    assert again.status == 304


# --- ranges --------------------------------------------------------------------------

RANGES = [
    ("0-9", slice(0, 10)),
    ("5-", slice(5, None)),
    ("-5", slice(-5, None)),
    ("270-1000", slice(270, None)),
]


@pytest.mark.parametrize(("spec", "part"), RANGES, ids=[spec for spec, _ in RANGES])
def test_a_byte_range_gives_206(
    sites: RunningWebServer, curl: Curl, log: AccessLog, spec: str, part: slice
) -> None:
    data = file_bytes("style.css")
    run = curl(["-r", spec, *www(sites, "/style.css")]).only
    wanted = data[part]
    first = part.start % len(data)
    assert run.status == 206
    assert run.body == wanted
    assert run.size == len(wanted)
    assert run.header("content-range") == f"bytes {first}-{first + len(wanted) - 1}/{len(data)}"
    assert run.header("content-length") == str(len(wanted))
    assert run.header("content-encoding") is None
    assert [(e.status, e.size) for e in log.new(1)] == [(206, len(wanted))]


def test_a_range_with_compressed_asks_still_gives_identity_bytes(
    sites: RunningWebServer, curl: Curl
) -> None:
    run = curl(["--compressed", "-r", "0-9", *www(sites, "/style.css")]).only
    assert run.status == 206
    assert run.header("content-encoding") is None
    assert run.body == file_bytes("style.css")[:10]


def test_a_range_beyond_the_end_gives_416(
    sites: RunningWebServer, curl: Curl, log: AccessLog
) -> None:
    size = len(file_bytes("style.css"))
    run = curl(["-r", f"{size}-", *www(sites, "/style.css")]).only
    assert run.status == 416
    assert run.header("content-range") == f"bytes */{size}"
    assert run.content_type.startswith("text/html")
    assert [e.status for e in log.new(1)] == [416]


@pytest.mark.parametrize(
    "options",
    [["-r", "0-1,5-6"], ["-r", "9-5"], ["-r", "0-9", "-H", 'If-Range: "0-0"']],
    ids=["several-ranges", "backwards", "stale-if-range"],
)
def test_ranges_that_are_answered_with_the_whole_file(
    sites: RunningWebServer, curl: Curl, options: list[str]
) -> None:
    run = curl([*options, *www(sites, "/style.css")]).only
    assert run.status == 200
    assert run.header("content-range") is None
    assert run.body == file_bytes("style.css")


def test_if_range_with_the_current_etag_gives_the_range(
    sites: RunningWebServer, curl: Curl
) -> None:
    etag = curl(["-I", *www(sites, "/style.css")]).only.header("etag")
    run = curl(["-r", "0-9", "-H", f"If-Range: {etag}", *www(sites, "/style.css")]).only
    assert run.status == 206
    assert run.body == file_bytes("style.css")[:10]


def test_curl_resumes_a_partial_download(
    sites: RunningWebServer, curl: Curl, log: AccessLog, tmp_path: Path
) -> None:
    data = file_bytes("style.css")
    partial = tmp_path / "style.css"
    partial.write_bytes(data[:100])
    run = curl(["-C", "-", *www(sites, "/style.css")], outputs=[partial])
    assert "> Range: bytes=100-" in run.stderr
    assert run.only.status == 206
    assert run.only.size == len(data) - 100
    assert partial.read_bytes() == data
    assert [(e.status, e.size) for e in log.new(1)] == [(206, len(data) - 100)]


def test_curl_resumes_a_complete_download_without_damage(
    sites: RunningWebServer, curl: Curl, tmp_path: Path
) -> None:
    data = file_bytes("style.css")
    complete = tmp_path / "style.css"
    complete.write_bytes(data)
    run = curl(["-C", "-", *www(sites, "/style.css")], outputs=[complete])
    assert f"> Range: bytes={len(data)}-" in run.stderr
    assert run.only.status == 416
    assert run.only.header("content-range") == f"bytes */{len(data)}"
    assert complete.read_bytes() == data


@pytest.mark.parametrize(
    ("spec", "part"),
    [("0-9", slice(0, 10)), ("300000-", slice(300000, None)), ("-7", slice(-7, None))],
    ids=["first-ten", "open-end", "suffix"],
)
def test_ranges_of_a_streamed_file(
    with_default: RunningWebServer, curl: Curl, big_root: Path, spec: str, part: slice
) -> None:
    data = (big_root / "big.bin").read_bytes()
    run = curl(["-r", spec, with_default.url + "/big.bin"]).only
    wanted = data[part]
    first = part.start % len(data)
    assert run.status == 206
    assert run.body == wanted
    assert run.header("content-range") == f"bytes {first}-{first + len(wanted) - 1}/{len(data)}"


def test_a_streamed_file_is_byte_exact(
    with_default: RunningWebServer, curl: Curl, big_root: Path
) -> None:
    data = (big_root / "big.bin").read_bytes()
    run = curl([with_default.url + "/big.bin", with_default.url + "/big.bin"])
    assert [t.status for t in run.transfers] == [200, 200]
    assert [t.connects for t in run.transfers] == [1, 0]
    assert all(t.body == data for t in run.transfers)
    assert run.transfers[0].content_type == "application/octet-stream"


# --- gzip ----------------------------------------------------------------------------


def test_compressed_gets_gzip_and_decodes_byte_exact(
    sites: RunningWebServer, curl: Curl, log: AccessLog
) -> None:
    data = file_bytes("style.css")
    run = curl(["--compressed", *www(sites, "/style.css")]).only
    assert run.status == 200
    assert run.header("content-encoding") == "gzip"
    assert run.header("vary") == "Accept-Encoding"
    assert run.body == data
    assert run.size < len(data)
    assert run.header("content-length") == str(run.size)
    assert [(e.status, e.size) for e in log.new(1)] == [(200, run.size)]


def test_head_announces_the_gzip_length(sites: RunningWebServer, curl: Curl) -> None:
    run = curl(
        ["-I", "--compressed", *www(sites, "/style.css")],
        ["--compressed", *www(sites, "/style.css")],
    )
    head, get = run.transfers
    assert head.header("content-encoding") == get.header("content-encoding") == "gzip"
    assert head.header("etag") == get.header("etag")
    assert head.header("content-length") == str(get.size)
    assert get.connects == 0


def test_gzip_bytes_on_the_wire_decompress_to_the_file(sites: RunningWebServer, curl: Curl) -> None:
    run = curl(["-H", "Accept-Encoding: gzip", *www(sites, "/index.html")]).only
    assert run.header("content-encoding") == "gzip"
    assert gzip.decompress(run.body) == file_bytes("index.html")


def test_without_accept_encoding_the_bytes_are_sent_as_they_are(
    sites: RunningWebServer, curl: Curl
) -> None:
    run = curl(www(sites, "/style.css")).only
    assert run.header("content-encoding") is None
    assert run.header("vary") == "Accept-Encoding"
    assert run.header("content-length") == str(len(file_bytes("style.css")))
    assert run.body == file_bytes("style.css")


def test_gzip_refused_with_q_zero(sites: RunningWebServer, curl: Curl) -> None:
    run = curl(["-H", "Accept-Encoding: gzip;q=0, deflate", *www(sites, "/style.css")]).only
    assert run.header("content-encoding") is None
    assert run.body == file_bytes("style.css")


def test_a_png_is_never_gzipped(sites: RunningWebServer, curl: Curl) -> None:
    run = curl(["--compressed", *www(sites, "/img/logo.png")]).only
    assert run.content_type == "image/png"
    assert run.header("content-encoding") is None
    assert run.header("vary") is None
    assert run.body == file_bytes("img/logo.png")


# --- virtual hosts -------------------------------------------------------------------


@pytest.mark.parametrize(("host", "folder"), [(WWW_HOST, WWW), (STATIC_HOST, STATIC)])
def test_resolve_picks_the_site(
    sites: RunningWebServer, curl: Curl, log: AccessLog, host: str, folder: Path
) -> None:
    url = f"http://{host}:{sites.port}/"
    run = curl(["--resolve", f"{host}:{sites.port}:127.0.0.1", url])
    assert f"> Host: {host}:{sites.port}" in run.stderr
    assert run.only.status == 200
    assert run.only.url == url
    assert run.only.body == (folder / "index.html").read_bytes()
    assert [e.status for e in log.new(1)] == [200]


@pytest.mark.parametrize(
    ("host", "folder"),
    [(WWW_HOST, WWW), (STATIC_HOST, STATIC), ("STATIC.Example.TEST.", STATIC)],
    ids=["www", "static", "case-and-trailing-dot"],
)
def test_the_host_header_picks_the_site(
    sites: RunningWebServer, curl: Curl, host: str, folder: Path
) -> None:
    run = curl(["-H", f"Host: {host}", sites.url + "/"]).only
    assert run.status == 200
    assert run.body == (folder / "index.html").read_bytes()


def test_an_unknown_host_without_a_default_gets_an_html_404(
    sites: RunningWebServer, curl: Curl, log: AccessLog
) -> None:
    run = curl(["-H", "Host: nobody.example.test", sites.url + "/"]).only
    assert run.status == 404
    assert run.content_type == "text/html; charset=utf-8"
    assert run.body.startswith(b"<!DOCTYPE html>")
    assert b"404" in run.body and b"nobody.example.test" in run.body
    assert run.header("content-length") == str(len(run.body))
    assert [(e.status, e.size) for e in log.new(1)] == [(404, len(run.body))]


def test_an_unknown_host_gets_the_default_site(with_default: RunningWebServer, curl: Curl) -> None:
    unknown = curl(["-H", "Host: nobody.example.test", with_default.url + "/"]).only
    by_address = curl([with_default.url + "/"]).only
    named = curl(["-H", f"Host: {STATIC_HOST}", with_default.url + "/"]).only
    assert unknown.status == by_address.status == named.status == 200
    assert unknown.body == by_address.body == file_bytes("index.html")
    assert named.body == (STATIC / "index.html").read_bytes()


# --- folders and redirects -----------------------------------------------------------


def test_a_folder_without_its_slash_is_redirected(
    sites: RunningWebServer, curl: Curl, log: AccessLog
) -> None:
    run = curl(www(sites, "/docs")).only
    assert run.status == 301
    assert run.header("location") == "/docs/"
    assert run.content_type == "text/html; charset=utf-8"
    assert [(e.target, e.status) for e in log.new(1)] == [("/docs", 301)]


def test_the_redirect_keeps_the_query(sites: RunningWebServer, curl: Curl) -> None:
    run = curl(www(sites, "/docs?page=2&x=%2F")).only
    assert run.status == 301
    assert run.header("location") == "/docs/?page=2&x=%2F"


def test_curl_follows_the_redirect_to_the_docs(
    sites: RunningWebServer, curl: Curl, log: AccessLog
) -> None:
    run = curl(["-L", *www(sites, "/docs")]).only
    assert run.status == 200
    assert run.redirects == 1
    assert run.url == sites.url + "/docs/"
    assert run.connects == 1, "the redirect was not followed on the same connection"
    assert run.body == file_bytes("docs/index.html")
    assert len(run.head_blocks) == 2
    assert ("location", "/docs/") in run.head_blocks[0]
    assert [(e.target, e.status) for e in log.new(2)] == [("/docs", 301), ("/docs/", 200)]


@pytest.mark.parametrize(
    "path",
    ["//docs", "///docs", "//docs?next=1", "/.//docs", "//img", "//./docs", "/%2e//docs"],
)
def test_no_redirect_to_another_host(sites: RunningWebServer, curl: Curl, path: str) -> None:
    # CVE-2021-28861: "//evil.test/..." in Location is another site for a browser.
    run = curl(["--path-as-is", *www(sites, path)]).only
    assert run.status == 301
    location = run.header("location") or ""
    assert location.startswith("/"), location
    assert not location.startswith("//"), location
    assert not location.startswith("/\\"), location
    assert "//" not in location.partition("?")[0], location


@pytest.mark.parametrize(
    ("path", "relative"),
    [
        ("/img/logo%2Epng", "img/logo.png"),
        ("/style.css?v=12", "style.css"),
        ("/./docs/./guide.txt", "docs/guide.txt"),
        ("//img//diagram.svg", "img/diagram.svg"),
        ("/docs/", "docs/index.html"),
    ],
)
def test_equivalent_paths_name_the_same_file(
    sites: RunningWebServer, curl: Curl, log: AccessLog, path: str, relative: str
) -> None:
    run = curl(["--path-as-is", *www(sites, path)]).only
    assert run.status == 200
    assert run.body == file_bytes(relative)
    assert [(e.target, e.status) for e in log.new(1)] == [(path, 200)]


@pytest.mark.parametrize(
    "path",
    [
        "/../www-secret/secret.txt",
        "/docs/../../www-secret/secret.txt",
        "/%2e%2e/www-secret/secret.txt",
        "/..%2fwww-secret/secret.txt",
        "/docs/..%5c..%5cwww-secret/secret.txt",
        "/%2E%2E/%2E%2E/www-secret/secret.txt",
    ],
)
def test_no_path_leaves_the_site(sites: RunningWebServer, curl: Curl, path: str) -> None:
    run = curl(["--path-as-is", *www(sites, path)]).only
    assert run.status in (400, 404)
    assert SECRET not in run.body


def test_a_symlink_to_a_sibling_folder_is_not_followed(
    with_default: RunningWebServer, curl: Curl
) -> None:
    # www/leak.txt -> ../www-secret/secret.txt: "www-secret" starts with "www",
    # the trap of comparing paths as strings (CVE-2023-29159).
    run = curl([with_default.url + "/leak.txt", with_default.url + "/style.css"])
    assert [t.status for t in run.transfers] == [404, 200]
    assert SECRET not in run.transfers[0].body


def test_a_proxy_style_absolute_target_picks_its_site(sites: RunningWebServer, curl: Curl) -> None:
    # curl as a client of a proxy sends the absolute form; the later --noproxy
    # undoes the helper's "--noproxy *".
    proxy = f"{sites.host}:{sites.port}"
    run = curl(["--noproxy", "", "-x", proxy, f"http://{STATIC_HOST}/"])
    assert f"> GET http://{STATIC_HOST}/ HTTP/1.1" in run.stderr
    assert run.only.status == 200
    assert run.only.body == (STATIC / "index.html").read_bytes()


def test_an_empty_folder_is_forbidden_and_its_hidden_file_not_found(
    sites: RunningWebServer, curl: Curl
) -> None:
    run = curl(www(sites, "/empty-folder/"), www(sites, "/empty-folder/.keep"))
    assert [t.status for t in run.transfers] == [403, 404]
    assert [t.connects for t in run.transfers] == [1, 0]


# --- methods -------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/", "*"], ids=["path", "asterisk"])
def test_options_gives_204_with_allow(
    sites: RunningWebServer, curl: Curl, log: AccessLog, target: str
) -> None:
    run = curl(["-X", "OPTIONS", "--request-target", target, *www(sites, "/")]).only
    assert run.status == 204
    assert run.header("allow") == ALLOW
    assert run.header("content-length") is None
    assert run.size == 0
    assert [(e.method, e.target, e.status) for e in log.new(1)] == [("OPTIONS", target, 204)]


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("POST", ["-d", "name=value"]),
        ("PUT", ["-X", "PUT", "--data-binary", "0123456789" * 10]),
        ("DELETE", ["-X", "DELETE"]),
        ("PATCH", ["-X", "PATCH", "-d", "x"]),
    ],
)
def test_writing_methods_get_405_with_allow(
    sites: RunningWebServer, curl: Curl, log: AccessLog, method: str, options: list[str]
) -> None:
    run = curl([*options, *www(sites, "/index.html")], www(sites, "/script.js"))
    refused, after = run.transfers
    assert refused.status == 405
    assert refused.header("allow") == ALLOW
    assert refused.content_type == "text/html; charset=utf-8"
    assert b"405" in refused.body
    # The request body was read and dropped: the next request on the connection works.
    assert after.connects == 0
    assert after.status == 200 and after.body == file_bytes("script.js")
    assert [(e.method, e.status) for e in log.new(2)] == [(method, 405), ("GET", 200)]


def test_expect_100_continue_is_answered_at_once(sites: RunningWebServer, curl: Curl) -> None:
    # RFC 9110 §10.1.1: on a complete head with "Expect: 100-continue", an
    # origin server MUST send at once either a final status (405 is known from
    # the method alone) or 100 Continue. curl waits one second, then gives up
    # waiting and sends the body anyway ("Done waiting for 100-continue").
    run = curl(
        [
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            "x" * 5000,
            *www(sites, "/upload"),
        ]
    )
    assert run.only.status == 405
    assert "Done waiting for 100-continue" not in run.stderr


# --- HTTP/1.0 ------------------------------------------------------------------------


def test_http10_is_closed_after_each_response(
    sites: RunningWebServer, curl: Curl, log: AccessLog
) -> None:
    run = curl(["--http1.0", *www(sites, "/"), sites.url + "/style.css"])
    assert [t.status for t in run.transfers] == [200, 200]
    assert [t.connects for t in run.transfers] == [1, 1]
    assert all(t.header("connection") == "close" for t in run.transfers)
    assert run.stderr.count("Closing connection") == 2
    assert "Re-using existing connection" not in run.stderr
    assert run.transfers[0].body == file_bytes("index.html")
    assert {e.version for e in log.new(2)} == {"1.0"}


def test_http10_keep_alive_when_asked(sites: RunningWebServer, curl: Curl, log: AccessLog) -> None:
    run = curl(
        [
            "--http1.0",
            "-H",
            "Connection: keep-alive",
            *www(sites, "/"),
            sites.url + "/style.css",
        ]
    )
    assert [t.status for t in run.transfers] == [200, 200]
    assert [t.connects for t in run.transfers] == [1, 0]
    assert all(t.header("connection") == "keep-alive" for t in run.transfers)
    assert "Re-using existing connection" in run.stderr
    assert run.transfers[1].body == file_bytes("style.css")
    assert [(e.version, e.status) for e in log.new(2)] == [("1.0", 200), ("1.0", 200)]


def test_connection_close_from_an_http11_client(sites: RunningWebServer, curl: Curl) -> None:
    run = curl(["-H", "Connection: close", *www(sites, "/"), sites.url + "/style.css"])
    assert [t.connects for t in run.transfers] == [1, 1]
    assert all(t.header("connection") == "close" for t in run.transfers)


def test_an_h2c_upgrade_offer_is_declined_and_answered_in_http11(
    sites: RunningWebServer, curl: Curl
) -> None:
    run = curl(["--http2", *www(sites, "/")])
    assert "> Upgrade: h2c" in run.stderr
    assert "< HTTP/1.1 200 OK" in run.stderr
    assert "101 Switching Protocols" not in run.stderr
    assert run.only.body == file_bytes("index.html")


# --- headers every response has ------------------------------------------------------

KINDS = {
    "200": ["/"],
    "206": ["-r", "0-0", "/"],
    "301": ["/docs"],
    "304": ["-H", "If-None-Match: *", "/"],
    "204": ["-X", "OPTIONS", "/"],
    "404": ["/missing"],
    "405": ["-X", "DELETE", "/"],
    "416": ["-r", "99999-", "/"],
    "400": ["--path-as-is", "/a/../b"],
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_response_has_date_and_server(sites: RunningWebServer, curl: Curl, kind: str) -> None:
    *options, path = KINDS[kind]
    run = curl([*options, *www(sites, path)]).only
    assert str(run.status) == kind
    date = run.header("date")
    assert date is not None
    assert date.endswith(" GMT")
    when = email.utils.parsedate_to_datetime(date).timestamp()
    assert abs(when - time.time()) < 60
    server = run.header("server") or ""
    assert server.startswith("webtrip/")


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("script.js", "text/javascript; charset=utf-8"),
        ("docs/guide.txt", "text/plain; charset=utf-8"),
        ("img/diagram.svg", "image/svg+xml; charset=utf-8"),
        ("img/logo.png", "image/png"),
    ],
)
def test_content_type_with_charset_for_text(
    sites: RunningWebServer, curl: Curl, relative: str, expected: str
) -> None:
    run = curl(www(sites, "/" + relative)).only
    assert run.content_type == expected
    assert run.header("content-type") == expected


# --- IPv6 ----------------------------------------------------------------------------


def test_ipv6_loopback(curl: Curl, tmp_path: Path) -> None:
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback address (::1) on this machine")
    with webtrip_web_server(WWW, host="::1", log_dir=tmp_path) as server:
        assert server.url.startswith("http://[::1]:")
        run = curl(["-g", server.url + "/", server.url + "/img/logo.png"])
        assert [t.status for t in run.transfers] == [200, 200]
        assert [t.connects for t in run.transfers] == [1, 0]
        assert run.transfers[0].body == file_bytes("index.html")
        assert run.transfers[1].body == file_bytes("img/logo.png")
        access = AccessLog(server)
        entries = access.new(2)
        assert {e.client for e in entries} == {"::1"}


# --- every file ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [[], ["--compressed"]], ids=["identity", "compressed"])
def test_every_file_of_the_site_is_byte_exact(
    sites: RunningWebServer, curl: Curl, log: AccessLog, encoding: list[str]
) -> None:
    assert len(WWW_FILES) >= 7
    urls = [sites.url + "/" + relative for relative in WWW_FILES]
    run = curl([*encoding, "-H", f"Host: {WWW_HOST}", *urls])
    assert len(run.transfers) == len(WWW_FILES)
    for relative, transfer in zip(WWW_FILES, run.transfers, strict=True):
        assert transfer.status == 200, relative
        assert transfer.body == file_bytes(relative), relative
    assert sum(t.connects for t in run.transfers) == 1
    entries = log.new(len(WWW_FILES))
    assert [e.target for e in entries] == ["/" + relative for relative in WWW_FILES]
    assert {e.status for e in entries} == {200}
