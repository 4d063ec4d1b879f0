"""Path traversal: no request target, however it is spelled, reads a byte from outside the site.

Specification, for every hostile request target below:

* :func:`webtrip.web.sites.resolve` refuses it (400, 403 or 404, as listed);
* a live ``webtrip web serve`` answers it with that refusal, the response bytes
  never contain a secret from outside the site folder (nor from its hidden
  files), and the server still serves ``/index.html`` afterwards.

Targets are sent as raw bytes over a socket, because curl and browsers
normalize ``..`` and percent-encoding before sending.

The site is a temporary copy of ``tests/data/sites/www`` next to a copy of its
sibling ``www-secret``: the real path ``.../www-secret/secret.txt`` *starts
with* the site's path ``.../www`` as a string, so a server that compares paths
as string prefixes would let it out (CVE-2023-29159). Inside the copy, hidden
files and symlinks that lead outside are added; symlinks that stay inside the
site remain allowed.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support import DATA, RunningWebServer, webtrip_web_server
from webtrip.web.sites import Found, Listing, Redirect, Refused, Site, resolve, split_target

SECRET_TXT = (DATA / "sites" / "www-secret" / "secret.txt").read_bytes().strip()
OUTSIDE_SECRET = b"OUTSIDE-SECRET-5f1c: a file in no site at all"
GIT_SECRET = b"GIT-SECRET-9a2e: url = https://token@example.test/repo.git"
ENV_SECRET = b"ENV-SECRET-77b0=database-password"
PASSWD_LINE = b"root:x:0:0:"

#: Bytes that must never appear in any response.
SECRETS = (SECRET_TXT, OUTSIDE_SECRET, GIT_SECRET, ENV_SECRET, PASSWD_LINE)

STATIC_HOST = "static.example.test"


# --- the site under attack ------------------------------------------------------------


@dataclass(frozen=True)
class Sites:
    www: Path  # the default site
    static: Path  # served for Host: static.example.test
    secret_dir: Path  # www-secret, the sibling of www
    outside: Path  # a folder in no site


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Sites:
    """A copy of the test sites with hidden files and symlinks added."""
    base = tmp_path_factory.mktemp("sites")
    www = base / "www"
    shutil.copytree(DATA / "sites" / "www", www)
    shutil.copytree(DATA / "sites" / "www-secret", base / "www-secret")
    shutil.copytree(DATA / "sites" / "static", base / "static")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(OUTSIDE_SECRET + b"\n")

    (www / ".git").mkdir()
    (www / ".git" / "config").write_bytes(b"[remote]\n" + GIT_SECRET + b"\n")
    (www / ".env").write_bytes(ENV_SECRET + b"\n")
    (www / "docs" / ".env").write_bytes(ENV_SECRET + b"\n")
    (www / ".well-known").mkdir()
    (www / ".well-known" / "security.txt").write_text("Contact: mailto:security@example.test\n")

    # Symlinks that lead out of the site: never followed.
    (www / "sibling-link.txt").symlink_to(Path("..") / "www-secret" / "secret.txt")
    (www / "outside-link.txt").symlink_to(outside / "secret.txt")
    (www / "passwd-link").symlink_to("/etc/passwd")
    (www / "sibling-folder").symlink_to(Path("..") / "www-secret", target_is_directory=True)
    (www / "outside-folder").symlink_to(outside, target_is_directory=True)
    (www / "root-folder").symlink_to("/", target_is_directory=True)
    (www / "docs" / "up-link").symlink_to(Path("..") / "..", target_is_directory=True)
    # Symlinks that stay inside the site: allowed.
    (www / "docs" / "home.html").symlink_to(Path("..") / "index.html")
    (www / "linked-docs").symlink_to("docs", target_is_directory=True)
    return Sites(www=www, static=base / "static", secret_dir=base / "www-secret", outside=outside)


@pytest.fixture(scope="module")
def server(sites: Sites, tmp_path_factory: pytest.TempPathFactory):
    logs = tmp_path_factory.mktemp("logs")
    with webtrip_web_server(sites.www, sites={STATIC_HOST: sites.static}, log_dir=logs) as running:
        yield running


# --- a raw HTTP/1.1 client --------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes  # every byte received on the connection


def raw_request(server: RunningWebServer, target: bytes, host: bytes = b"x") -> Response:
    """Send ``GET target`` exactly as given, with Connection: close; read until EOF."""
    request = b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
    received = b""
    deadline = time.monotonic() + 5.0
    with socket.create_connection((server.host, server.port), timeout=5.0) as sock:
        sock.sendall(request)
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
        else:
            pytest.fail("the server did not close the connection after Connection: close")
    head, sep, body = received.partition(b"\r\n\r\n")
    assert sep, f"no complete response head: {received[:200]!r}"
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, _ = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    return Response(int(status), headers, body, received)


# --- the corpus -------------------------------------------------------------------------

BAD = {400}
NOT_FOUND = {404}


def case(target: str | bytes, expected: set[int], id: str, host: str = "x"):
    raw = target if isinstance(target, bytes) else target.encode("latin-1")
    return pytest.param(raw, expected, host, id=id)


TRAVERSAL = [
    # plain dot-dot
    case("/../www-secret/secret.txt", BAD, "dotdot-to-sibling"),
    case("/..", BAD, "dotdot-alone"),
    case("/../", BAD, "dotdot-slash"),
    case("/docs/../../www-secret/secret.txt", BAD, "dotdot-after-a-folder"),
    case("/" + "../" * 12 + "etc/passwd", BAD, "dotdot-many-to-etc-passwd"),
    case("/docs/..", BAD, "dotdot-staying-inside"),
    case("/./docs/./../.././www-secret/secret.txt", BAD, "dot-segments-around-dotdot"),
    # percent-encoded dots and slashes
    case("/%2e%2e/www-secret/secret.txt", BAD, "pct-2e2e"),
    case("/%2E%2E%2Fwww-secret%2Fsecret.txt", BAD, "pct-2E2E2F-uppercase"),
    case("/.%2e/www-secret/secret.txt", BAD, "dot-then-pct-2e"),
    case("/%2e./www-secret/secret.txt", BAD, "pct-2e-then-dot"),
    case("/..%2fwww-secret%2fsecret.txt", BAD, "dotdot-pct-2f"),
    case("/..%2Fwww-secret/secret.txt", BAD, "dotdot-pct-2F-to-sibling"),
    case("/docs%2f..%2f..%2fwww-secret%2fsecret.txt", BAD, "encoded-slashes-only"),
    # double encoding: decoded once, it is a literal name that does not exist
    case("/%252e%252e/www-secret/secret.txt", NOT_FOUND, "double-encoded-dots"),
    case("/..%252fwww-secret%252fsecret.txt", NOT_FOUND, "double-encoded-slash"),
    case("/%252e%252e%252fwww-secret%252fsecret.txt", NOT_FOUND, "double-encoded-all"),
    # backslashes
    case("/..%5cwww-secret%5csecret.txt", BAD, "dotdot-pct-5c"),
    case("/..%5Cwww-secret%5Csecret.txt", BAD, "dotdot-pct-5C-uppercase"),
    case(b"/..\\www-secret\\secret.txt", BAD, "raw-backslashes"),
    case(b"/docs\\..\\..\\www-secret\\secret.txt", BAD, "raw-backslashes-after-folder"),
    case("/..%255cwww-secret%255csecret.txt", NOT_FOUND, "double-encoded-backslash"),
    # NUL
    case("/index.html%00", BAD, "pct-00-at-end"),
    case("/../www-secret/secret.txt%00.html", BAD, "pct-00-extension-trick"),
    case(b"/index.html\x00", BAD, "raw-nul"),
    case(b"/../www-secret/secret.txt\x00.html", BAD, "raw-nul-extension-trick"),
    # overlong and otherwise invalid UTF-8: bytes that name a file, never a dot or a slash
    # (as nginx: a file name need not be UTF-8)
    case("/%c0%ae%c0%ae/www-secret/secret.txt", NOT_FOUND, "overlong-utf8-dots"),
    case("/%e0%80%ae%e0%80%ae/www-secret/secret.txt", NOT_FOUND, "overlong-utf8-3-byte-dots"),
    case("/..%c0%afwww-secret%c0%afsecret.txt", NOT_FOUND, "overlong-utf8-slash"),
    case("/..%c1%9cwww-secret%c1%9csecret.txt", NOT_FOUND, "overlong-utf8-backslash"),
    case("/%ff%fe/secret.txt", NOT_FOUND, "invalid-utf8"),
    case("/%ef%bc%8e%ef%bc%8e/www-secret/secret.txt", NOT_FOUND, "fullwidth-dots-are-a-name"),
    case("/..;/www-secret/secret.txt", NOT_FOUND, "dotdot-semicolon"),
    # absolute paths and absolute-form targets
    case("/etc/passwd", NOT_FOUND, "etc-passwd-is-inside-the-site"),
    case("//etc/passwd", NOT_FOUND, "double-slash-etc-passwd"),
    case("///etc/passwd", NOT_FOUND, "triple-slash-etc-passwd"),
    case("http://x/../../etc/passwd", BAD, "absolute-form-dotdot"),
    case("http://x/%2e%2e/www-secret/secret.txt", BAD, "absolute-form-pct-2e2e"),
    case("HTTP://X/..%2fwww-secret%2fsecret.txt", BAD, "absolute-form-uppercase-scheme"),
    case("http://x/../www-secret/secret.txt", BAD, "absolute-form-to-sibling"),
    case("file:///etc/passwd", BAD, "file-scheme"),
    case("../www-secret/secret.txt", BAD, "relative-target"),
    case("*", BAD, "asterisk-form-with-get"),
    # hidden files
    case("/.git/config", NOT_FOUND, "hidden-git-config"),
    case("/.git/", NOT_FOUND, "hidden-git-folder"),
    case("/.env", NOT_FOUND, "hidden-env"),
    case("/docs/.env", NOT_FOUND, "hidden-env-in-subfolder"),
    case("/%2egit/config", NOT_FOUND, "hidden-git-pct-2e"),
    case("/%2Eenv", NOT_FOUND, "hidden-env-pct-2E"),
    case("/.well-known/../.env", BAD, "well-known-then-dotdot"),
    case("/.well-known/%2e%2e/.git/config", BAD, "well-known-then-pct-dotdot"),
    # symlinks leading out of the site
    case("/sibling-link.txt", NOT_FOUND, "symlink-to-sibling-file"),
    case("/outside-link.txt", NOT_FOUND, "symlink-to-outside-file"),
    case("/passwd-link", NOT_FOUND, "symlink-to-etc-passwd"),
    case("/sibling-folder/secret.txt", NOT_FOUND, "symlinked-sibling-folder"),
    case("/sibling-folder/", NOT_FOUND, "symlinked-sibling-folder-itself"),
    case("/outside-folder/secret.txt", NOT_FOUND, "symlinked-outside-folder"),
    case("/root-folder/etc/passwd", NOT_FOUND, "symlink-to-filesystem-root"),
    case("/docs/up-link/www-secret/secret.txt", NOT_FOUND, "symlink-to-parent-of-site"),
    # another site's Host cannot reach back into www or its sibling
    case("/../www/index.html", BAD, "other-site-dotdot", host=STATIC_HOST),
    case("/../www-secret/secret.txt", BAD, "other-site-to-sibling", host=STATIC_HOST),
]

INDEX = (DATA / "sites" / "www" / "index.html").read_bytes()
GUIDE = (DATA / "sites" / "www" / "docs" / "guide.txt").read_bytes()

ALLOWED = [
    pytest.param(b"/docs/home.html", INDEX, id="symlink-to-a-file-inside"),
    pytest.param(b"/linked-docs/guide.txt", GUIDE, id="symlinked-folder-inside"),
    pytest.param(b"/./docs/./guide.txt", GUIDE, id="dot-segments"),
    pytest.param(b"/docs//guide.txt", GUIDE, id="empty-segment"),
    pytest.param(b"/%64ocs/guide%2etxt", GUIDE, id="percent-encoded-letters"),
    pytest.param(b"/index.html?../../www-secret/secret.txt", INDEX, id="dotdot-in-query-only"),
    pytest.param(b"http://x/docs/guide.txt", GUIDE, id="absolute-form"),
]


def _resolve_target(site: Site, target: bytes):
    path, query, _ = split_target(target.decode("latin-1"))
    return resolve(site, path, query)


# --- resolve(), directly ------------------------------------------------------------------


@pytest.mark.parametrize(("target", "expected", "host"), TRAVERSAL)
def test_resolve_refuses_a_path_leading_outside_or_to_hidden_files(
    sites: Sites, target: bytes, expected: set[int], host: str
) -> None:
    root = sites.static if host == STATIC_HOST else sites.www
    found = _resolve_target(Site.from_folder("", root), target)
    assert isinstance(found, Refused), found
    assert found.status in expected


@pytest.mark.parametrize(("target", "content"), ALLOWED)
def test_resolve_finds_a_file_that_stays_inside_the_site(
    sites: Sites, target: bytes, content: bytes
) -> None:
    site = Site.from_folder("", sites.www)
    found = _resolve_target(site, target)
    assert isinstance(found, Found), found
    assert found.path.is_relative_to(site.root)
    assert found.path.read_bytes() == content


def test_site_root_and_its_sibling_share_a_string_prefix(sites: Sites) -> None:
    """The premise of the CVE-2023-29159 cases: a string-prefix check would pass."""
    secret = os.path.realpath(sites.secret_dir / "secret.txt")
    assert secret.startswith(os.path.realpath(sites.www))
    assert os.path.realpath(sites.www / "sibling-link.txt") == secret


SEGMENTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "%2e%2e",
        "%2E.",
        "..%2f",
        "%5c",
        "\\",
        "%00",
        "docs",
        "index.html",
        "www-secret",
        "secret.txt",
        "sibling-link.txt",
        "sibling-folder",
        "outside-folder",
        "root-folder",
        "linked-docs",
        "up-link",
        "etc",
        "passwd",
        ".git",
        ".well-known",
        "%252e%252e",
        "%c0%ae",
    ]
)


@settings(max_examples=400, deadline=None)
@given(segments=st.lists(SEGMENTS, max_size=8), slash=st.booleans())
def test_resolve_never_answers_with_a_file_outside_the_site(
    sites: Sites, segments: list[str], slash: bool
) -> None:
    site = Site.from_folder("", sites.www)
    found = resolve(site, "/" + "/".join(segments) + ("/" if slash else ""))
    if isinstance(found, Found | Listing):
        assert Path(os.path.realpath(found.path)).is_relative_to(site.root)
        assert not any(part.startswith(".git") for part in found.path.parts)
    elif isinstance(found, Redirect):
        assert found.location.startswith("/")
        assert not found.location.startswith("//")  # never an open redirect
    else:
        assert found.status in (400, 403, 404)


# --- a live server --------------------------------------------------------------------


@pytest.mark.parametrize(("target", "expected", "host"), TRAVERSAL)
def test_live_server_refuses_a_path_leading_outside_or_to_hidden_files(
    server: RunningWebServer, target: bytes, expected: set[int], host: str
) -> None:
    response = raw_request(server, target, host.encode())
    assert response.status in expected


@pytest.mark.parametrize(("target", "expected", "host"), TRAVERSAL)
def test_live_server_never_sends_a_secret(
    server: RunningWebServer, target: bytes, expected: set[int], host: str
) -> None:
    response = raw_request(server, target, host.encode())
    for secret in SECRETS:
        assert secret not in response.raw


@pytest.mark.parametrize(("target", "expected", "host"), TRAVERSAL)
def test_live_server_still_serves_the_index_after_a_traversal_attempt(
    server: RunningWebServer, target: bytes, expected: set[int], host: str
) -> None:
    raw_request(server, target, host.encode())
    response = raw_request(server, b"/index.html")
    assert response.status == 200
    assert response.body == INDEX
    assert server.process.poll() is None


@pytest.mark.parametrize(("target", "content"), ALLOWED)
def test_live_server_serves_a_file_that_stays_inside_the_site(
    server: RunningWebServer, target: bytes, content: bytes
) -> None:
    response = raw_request(server, target)
    assert response.status == 200
    assert response.body == content


def test_live_server_serves_well_known_despite_the_leading_dot(server: RunningWebServer) -> None:
    response = raw_request(server, b"/.well-known/security.txt")
    assert response.status == 200
    assert response.body.startswith(b"Contact:")


def test_live_server_never_follows_a_symlink_repointed_outside(
    server: RunningWebServer, sites: Sites
) -> None:
    """A symlink served once, then re-pointed at a secret, never serves the secret
    (not even from the resolver's short-lived cache)."""
    link = sites.www / "repointed.txt"
    link.symlink_to("index.html")
    try:
        assert raw_request(server, b"/repointed.txt").body == INDEX
        link.unlink()
        link.symlink_to(Path("..") / "www-secret" / "secret.txt")
        statuses = set()
        deadline = time.monotonic() + 1.5  # longer than the resolver's 1 s memory
        for _ in range(100):  # bounded in count as well as in time
            if time.monotonic() > deadline:
                break
            response = raw_request(server, b"/repointed.txt")
            assert SECRET_TXT not in response.raw
            statuses.add(response.status)
            time.sleep(0.05)
        assert statuses <= {200, 404}
        assert raw_request(server, b"/repointed.txt").status == 404
    finally:
        link.unlink(missing_ok=True)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("/etc/passwd", id="file-swapped-for-symlink-to-etc-passwd"),
        pytest.param("outside", id="file-swapped-for-symlink-to-outside-file"),
    ],
)
def test_live_server_refuses_a_file_swapped_for_a_symlink_within_the_cache_second(
    server: RunningWebServer, sites: Sites, target: str
) -> None:
    """A real file, served (so its resolution is cached for a second), then replaced
    by a symlink leading outside: the very next request gets a refusal, not the
    outside file (the check is made on the file opened, not on the cached path)."""
    name = "swapped-outside.txt" if target == "outside" else "swapped-passwd.txt"
    victim = sites.www / name
    victim.write_bytes(b"an honest file\n")
    swap = sites.www / (name + ".new")
    try:
        assert raw_request(server, f"/{name}".encode()).body == b"an honest file\n"
        swap.symlink_to(sites.outside / "secret.txt" if target == "outside" else target)
        os.replace(swap, victim)  # atomic: the name is never missing
        started = time.monotonic()
        response = raw_request(server, f"/{name}".encode())
        assert time.monotonic() - started < 1.0  # within the resolver's memory
        for secret in SECRETS:
            assert secret not in response.raw
        assert response.status in (403, 404)
    finally:
        victim.unlink(missing_ok=True)
        swap.unlink(missing_ok=True)


def test_live_server_refuses_a_folder_swapped_for_a_symlink_within_the_cache_second(
    server: RunningWebServer, sites: Sites
) -> None:
    """The same with a folder on the path: replaced by a symlink to a folder outside
    that holds a file of the same name."""
    folder = sites.www / "swapped-folder"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"an honest file\n")
    try:
        assert raw_request(server, b"/swapped-folder/secret.txt").body == b"an honest file\n"
        shutil.rmtree(folder)
        folder.symlink_to(sites.outside, target_is_directory=True)
        response = raw_request(server, b"/swapped-folder/secret.txt")
        assert OUTSIDE_SECRET not in response.raw
        assert response.status in (403, 404)
    finally:
        if folder.is_symlink():
            folder.unlink()
        elif folder.exists():
            shutil.rmtree(folder)
