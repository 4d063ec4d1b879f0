"""``webtrip sim`` as a user meets it: the lab in the simulated network, its packets, its pcap."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import require_program, run_webtrip
from webtrip.labs import demo_path
from webtrip.packets.pcap import read_pcap


def webtrip(*args: str) -> subprocess.CompletedProcess[str]:
    return run_webtrip(*args, columns=140)


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    """``webtrip sim ARGS`` 160 columns wide."""
    return run_webtrip("sim", *args, columns=160)


def test_sim_tells_the_four_steps_and_lists_the_packets():
    done = webtrip("sim", "--no-render")
    assert done.returncode == 0, done.stderr
    assert "Step 1 — DNS" in done.stdout and "10.0.0.53:53" in done.stdout
    assert "192.0.2.1, a root server" in done.stdout  # the resolver's walk, narrated
    assert "Standard query" in done.stdout and "[SYN]" in done.stdout
    assert "GET / HTTP/1.1" in done.stdout and "HTTP/1.1 200 OK" in done.stdout


def test_the_same_seed_gives_the_same_pcap_and_another_seed_another(tmp_path):
    paths = [tmp_path / name for name in ("a.pcap", "b.pcap", "c.pcap")]
    for path, seed in zip(paths, ("5", "5", "6"), strict=True):
        done = webtrip("sim", "--seed", seed, "--loss", "3%", "--pcap", str(path), "--json")
        assert done.returncode == 0, done.stderr
    first, second, third = (path.read_bytes() for path in paths)
    assert first == second
    assert first != third


@pytest.mark.peer("tshark")
def test_tshark_reads_the_pcap_without_malformed_packets(tmp_path):
    tshark = require_program("tshark")
    pcap = tmp_path / "lab.pcap"
    assert webtrip("sim", "--pcap", str(pcap), "--json").returncode == 0
    malformed = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "_ws.malformed || _ws.expert.severity >= error"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert malformed.returncode == 0 and malformed.stdout.strip() == ""
    fields = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "http.request || http.response || dns",
         "-T", "fields", "-e", "dns.qry.name", "-e", "http.request.uri",
         "-e", "http.response.code"],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "www.webtrip.test" in fields and "/style.css" in fields and "200" in fields


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--latency", "fast"), "give a number with a unit"),
        (("--bandwidth", "10 parsecs"), "give a number with a unit"),
        (("--loss", "150%"), "below 100%"),
        (("--loss", "100"), "below 100%"),  # a bare number is a percentage
        (("--bandwidth", "0"), "--bandwidth 0: a link's speed must be above 0"),
        # What the user typed is printed as it is, never read as rich markup.
        (("--drop", "[/]"), "--drop '[/]' is not a packet filter"),
        (("--latency", "[/bold]"), "--latency [/bold]: give a number"),
        (("--lab", "/nonexistent/[/x].toml"), "[/x].toml"),
        (("http://[bad/",), "'http://[bad/' is not a valid URL"),
        (("ftp://www.webtrip.test/",), "is not an http:// or https:// address"),
        (("http://www.webtrip.test:99999/",), "Port out of range"),
    ],
)
def test_bad_options_are_one_sentence_and_exit_2(args, words):
    done = webtrip("sim", *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert words in done.stderr
    assert done.stderr.startswith("webtrip: ") and done.stderr.count("\n") == 1


def test_a_bare_loss_number_is_a_percentage(tmp_path):
    runs = {}
    for loss in ("2", "2%"):
        pcap = tmp_path / f"{loss}.pcap"
        done = webtrip("sim", "--loss", loss, "--seed", "4", "--pcap", str(pcap), "--json")
        assert done.returncode == 0, done.stderr
        runs[loss] = pcap.read_bytes()
    assert runs["2"] == runs["2%"]


def test_piped_packet_rows_are_one_line_each():
    done = webtrip("sim", "--no-render")
    assert done.returncode == 0, done.stderr
    rows = done.stdout.split("Packets at browser (10.0.0.1)")[1].strip().splitlines()[1:]
    numbers = [int(row.split()[0]) for row in rows]
    assert numbers == list(range(1, len(rows) + 1))  # no row wrapped onto a second line
    assert any("[SYN, ACK]" in row and "MSS=1460" in row for row in rows)


def test_the_connections_close_before_the_world_stops():
    """After the load the browser's FINs are answered: the server's FIN and the last ACK
    are in the capture, and every connection of the browser ends in TIME-WAIT."""
    done = webtrip("sim", "--no-render")
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("Packets at browser (10.0.0.1)")[1]
    fins_out = re.findall(r"10\.0\.0\.1\s+10\.0\.0\.3\s+TCP.*\[FIN, ACK\]", listed)
    fins_in = re.findall(r"10\.0\.0\.3\s+10\.0\.0\.1\s+TCP.*\[FIN, ACK\]", listed)
    assert len(fins_out) == len(fins_in) == 5  # 5 connections: the page and its files
    last = listed.strip().splitlines()[-1]
    assert re.search(r"10\.0\.0\.1\s+10\.0\.0\.3\s+TCP\s+40\s+\d+ → 80 \[ACK\]", last)


def test_the_waterfall_legend_is_explained_in_spanish():
    done = webtrip("sim", "--lang", "es", "--no-render", "--no-packets")
    assert done.returncode == 0, done.stderr
    assert "d consulta DNS (dns)" in done.stdout and "conexión reutilizada" in done.stdout


def test_a_name_outside_the_lab_is_nxdomain_from_the_labs_root(tmp_path):
    done = webtrip("sim", "http://example.com/", "--no-packets")
    assert done.returncode == 10, done.stderr  # NXDOMAIN
    assert "192.0.2.1, a root server, which said the name does not exist" in done.stdout


def test_reload_tells_a_second_load_answered_from_the_resolvers_cache():
    done = webtrip("sim", "--reload", "--no-packets", "--no-render")
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.split("Load 2: the same page again")
    assert "walking down the DNS tree, with 3 questions" in first
    assert "answered from its cache at once" in second and "walking down" not in second


def test_at_resolver_lists_and_captures_the_walk(tmp_path):
    pcap = tmp_path / "resolver.pcap"
    done = webtrip("sim", "--at", "resolver", "--no-render", "--pcap", str(pcap))
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("Packets at resolver (10.0.0.53)")[1]
    for server in ("192.0.2.1", "198.51.100.1", "10.0.0.2"):  # root, .test, webtrip.test
        assert re.search(rf"10\.0\.0\.53\s+{re.escape(server)}\s+DNS", listed)
    assert pcap.read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"  # a pcap file, little-endian
    # Packets lost between other hosts are not the resolver's: none is listed here.
    lossy = webtrip("sim", "--at", "resolver", "--loss", "30%", "--seed", "3", "--no-render")
    assert "(dropped:" in webtrip("sim", "--loss", "30%", "--seed", "3", "--no-render").stdout
    for row in lossy.stdout.split("Packets at resolver (10.0.0.53)")[1].splitlines():
        assert "(dropped:" not in row or "10.0.0.53" in row, row
    wrong = webtrip("sim", "--at", "nowhere")
    assert wrong.returncode == 2 and "not a host or router of the lab" in wrong.stderr


def test_at_router_lists_each_packet_in_and_out_and_no_false_retransmissions():
    done = webtrip("sim", "--at", "router", "--no-render")
    assert done.returncode == 0, done.stderr
    rows = done.stdout.split("Packets at router")[1].strip().splitlines()[1:]
    syns = [r for r in rows if "[SYN]" in r and "10.0.0.1" in r]
    assert len(syns) == 10  # 5 connections' SYNs, each received and sent on
    marked = [r for r in rows if "[TCP " in r.replace("[TCP segment of a reassembled PDU]", "")]
    assert not marked  # copies on two links are not resends (a piece of a message is no mark)


@pytest.mark.parametrize(
    ("lang", "header", "directions"),
    [("en", "Interface", ("in", "out")), ("es", "Interfaz", ("entrada", "salida"))],
)
def test_at_router_each_packet_says_on_which_interface_and_which_way(lang, header, directions):
    """The router's list numbers its frames across its links, as the replay's: like the
    replay, it says on which interface each was captured and whether it came in or went
    out — a SYN in on eth0 and out on another link is one SYN, forwarded."""
    done = webtrip("sim", "--at", "router", "--no-render", "--lang", lang)
    assert done.returncode == 0, done.stderr
    heading, *rows = (
        done.stdout.split("Packets at router" if lang == "en" else "Paquetes en router")[1]
        .strip()
        .splitlines()
    )
    assert heading.split()[2] == header
    places = [tuple(r.split()[2:4]) for r in rows if r.split() and r.split()[0].isdigit()]
    assert places and {way for _, way in places} == set(directions)
    assert {link for link, _ in places} >= {"eth0", "eth1"}
    assert all(re.fullmatch(r"eth\d+", link) for link, _ in places)
    browser = webtrip("sim", "--no-render", "--lang", lang).stdout
    number = "No." if lang == "en" else "N.º"
    columns = next(line for line in browser.splitlines() if line.startswith(number))
    assert header not in columns  # the browser has one link: no such column


ANALYSIS = {  # tshark's retransmission field is on fast and spurious ones too
    "[TCP Retransmission]": "tcp.analysis.retransmission && !tcp.analysis.spurious_retransmission"
    " && !tcp.analysis.fast_retransmission",
    "[TCP Fast Retransmission]": "tcp.analysis.fast_retransmission",
    "[TCP Spurious Retransmission]": "tcp.analysis.spurious_retransmission",
    "[TCP Out-Of-Order]": "tcp.analysis.out_of_order",
    "[TCP Dup ACK ": "tcp.analysis.duplicate_ack",
    "[TCP Previous segment not captured]": "tcp.analysis.lost_segment",
    "[TCP Keep-Alive]": "tcp.analysis.keep_alive",
    "[TCP Keep-Alive ACK]": "tcp.analysis.keep_alive_ack",
}


def shuffling_lab(folder: Path) -> Path:
    """The demo lab with half the packets on the browser's link reordered and duplicated."""
    shutil.copytree(demo_path(), folder)
    lab_file = folder / "lab.toml"
    text = lab_file.read_text()
    assert text.count("mtu = 1500\n") == 1
    lab_file.write_text(text.replace("mtu = 1500\n", 'mtu = 1500\nreorder = "50%"\n'
                                     'duplicate = "50%"\n'))  # fmt: skip
    return lab_file


@pytest.mark.peer("tshark")
@pytest.mark.parametrize(
    ("link", "seed"), [("lossy", "3"), ("lossy", "7"), ("lossy", "11"), ("shuffling", "14")]
)
def test_the_packet_list_marks_what_tsharks_tcp_analysis_marks(tmp_path, link, seed):
    """Over a lossy link, or one that reorders and duplicates, the list marks the same
    frames as Wireshark's TCP analysis (retransmissions, spurious ones, duplicate ACKs and
    the frame each repeats, segments after a lost one, keep-alives and their ACKs) and
    shows each TCP window as tshark scales it."""
    tshark = require_program("tshark")
    pcap = tmp_path / "capture.pcap"
    condition = (
        ("--loss", "25%") if link == "lossy" else ("--lab", str(shuffling_lab(tmp_path / "lab")))
    )
    done = webtrip("sim", *condition, "--seed", seed, "--no-render", "--pcap", str(pcap))
    # A quarter of the packets lost can keep the photo from arriving in the page's time
    # (exit code 14): the list and the capture are compared all the same.
    assert done.returncode in (0, 14), done.stderr
    rows = done.stdout.split("Packets at browser (10.0.0.1)")[1].strip().splitlines()[1:]
    numbered = {int(r.split()[0]): r for r in rows if r.split()[0].isdigit()}
    marked_any = False
    for words, field in ANALYSIS.items():
        theirs = subprocess.run(
            [tshark, "-r", str(pcap), "-Y", field, "-T", "fields", "-e", "frame.number"],
            capture_output=True, text=True, timeout=60,
        ).stdout.split()  # fmt: skip
        ours = [n for n, row in numbered.items() if words in row]
        assert ours == [int(n) for n in theirs], words
        marked_any = marked_any or bool(ours)
    assert marked_any  # a bad link: something to mark
    duplicates = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "tcp.analysis.duplicate_ack", "-T", "fields",
         "-e", "frame.number", "-e", "tcp.analysis.duplicate_ack_frame",
         "-e", "tcp.analysis.duplicate_ack_num"],
        capture_output=True, text=True, timeout=60,
    ).stdout.split("\n")  # fmt: skip
    for line in filter(None, duplicates):
        number, frame, count = line.split("\t")
        assert f"[TCP Dup ACK {frame}#{count}]" in numbered[int(number)]
    windows = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "tcp", "-T", "fields", "-e", "frame.number",
         "-e", "tcp.window_size"],
        capture_output=True, text=True, timeout=60,
    ).stdout.split("\n")  # fmt: skip
    for line in filter(None, windows):
        number, window = line.split("\t")
        if numbered[int(number)].split()[4] == "TCP" and "HTTP/1.1" not in numbered[int(number)]:
            assert f" Win={window} " in numbered[int(number)]  # a TCP row shows its header


def test_the_narration_counts_retries_on_both_sides():
    """A lost answer is sent again by the server, a lost question asked again by the
    browser: the narration says who did, not that nothing was sent again."""
    response = webtrip("sim", "--drop", "http-response", "--no-render", "--no-packets")
    assert response.returncode == 0, response.stderr
    assert "The browser did not have to send any segment again." in response.stdout
    assert "The server had to send 1 segment again." in response.stdout
    question = webtrip("sim", "--drop", "dns-query", "--no-render", "--no-packets")
    assert "2 questions at once" in question.stdout
    assert "It had to ask 1 more time: an answer had not come back in time." in question.stdout
    spanish = webtrip("sim", "--drop", "http-response", "--lang", "es", "--no-packets")
    assert "El servidor ha tenido que reenviar 1 segmento." in spanish.stdout


def test_a_page_with_files_that_did_not_load_exits_21(tmp_path):
    """The demo lab with its stylesheet deleted: the page loads, one file is a 404."""
    lab_dir = tmp_path / "demo"
    shutil.copytree(demo_path(), lab_dir)
    (lab_dir / "site" / "style.css").unlink()
    done = webtrip("sim", "--lab", str(lab_dir / "lab.toml"), "--no-render", "--no-packets")
    assert done.returncode == 21, done.stderr
    assert re.search(r"/style\.css\s+404", done.stdout)


def test_a_fault_that_never_matched_is_told_in_both_languages_and_keeps_the_exit_code():
    done = webtrip("sim", "--drop", "synack#99", "--no-render", "--no-packets")
    assert done.returncode == 0, done.stderr
    sentence = "--drop synack#99 matched no packet: the run had 5 SYN-ACKs, so nothing was dropped."
    assert done.stderr == f"webtrip: {sentence}\n"
    assert sentence in done.stdout  # the narration says it too
    spanish = webtrip("sim", "--drop", "synack#99", "--lang", "es", "--no-render", "--no-packets")
    assert spanish.returncode == 0
    assert spanish.stderr == (
        "webtrip: --drop synack#99 no ha coincidido con ningún paquete: en la ejecución ha "
        "habido 5 SYN-ACK, así que no se ha descartado nada.\n"
    )
    assert webtrip("sim", "--drop", "synack", "--no-packets").stderr == ""


def test_an_unreachable_address_fails_at_once_with_the_routers_icmp():
    done = webtrip("sim", "http://203.0.113.5/", "--no-render")
    assert done.returncode == 20, done.stderr
    assert "First it tried 203.0.113.5:80: network is unreachable (ICMP net" in done.stdout
    assert "A router on the way answered that the server's address cannot be reached" in (
        done.stdout
    )
    rows = done.stdout.split("Packets at browser (10.0.0.1)")[1].strip().splitlines()[1:]
    icmp = [r for r in rows if "ICMP" in r]
    assert icmp and "Destination unreachable (Network unreachable)" in icmp[0]
    assert float(icmp[0].split()[1]) < 0.1  # one round trip, not a connect timeout


def test_a_request_sent_again_on_a_new_connection_is_told():
    # Six copies of the first request lost: the server gives up on the silent connection
    # after 60 s, and the browser sends the GET again on a new one.
    done = webtrip("sim", *["--drop", "http-request"] * 6, "--no-render", "--no-packets")
    assert done.returncode == 0, done.stderr
    assert (
        "1 request went out a second time, on a new connection: the server had closed the "
        "one it was sent on without answering."
    ) in done.stdout


def test_small_numbers_are_told_right():
    missing = webtrip("sim", "http://www.webtrip.test/missing", "--no-render", "--no-packets")
    assert "“404 Not Found”: 1 file, " in missing.stdout
    lossy = webtrip("sim", "--loss", "30%", "--seed", "5", "--no-render", "--no-packets")
    assert "round-trip time of" in lossy.stdout and "time of 0.00 ms" not in lossy.stdout
    # random.Random(-1) is random.Random(1): a negative seed would repeat a positive one.
    assert webtrip("sim", "--seed", "-1").returncode == 2


def test_a_packet_held_past_the_end_of_the_load_still_arrives_and_is_listed(tmp_path):
    # The SYN,ACK held 3 s: the browser's SYN again got another at once and the page
    # loaded long before; the held one still arrives, at 3.1 s, in the list and the pcap.
    pcap = tmp_path / "late.pcap"
    done = webtrip("sim", "--delay", "synack=3s", "--no-render", "--pcap", str(pcap))
    assert done.returncode == 0, done.stderr
    rows = done.stdout.split("Packets at browser (10.0.0.1)")[1].strip().splitlines()[1:]
    late = [r for r in rows if "[SYN, ACK]" in r and float(r.split()[1]) > 3.0]
    assert len(late) == 1
    numbered = [r for r in rows if r.split()[0].isdigit()]
    assert len(read_pcap(pcap.read_bytes())) == len(numbered) >= int(late[0].split()[0])


def test_reload_keeps_both_loads_in_the_har_and_the_diagram(tmp_path):
    har, mmd = tmp_path / "r.har", tmp_path / "r.mmd"
    done = webtrip("sim", "--reload", "--har", str(har), "--mermaid", str(mmd), "--no-packets")
    assert done.returncode == 0, done.stderr
    log = json.loads(har.read_text())["log"]
    refs = [entry["pageref"] for entry in log["entries"]]
    assert len(log["pages"]) == 2 and sorted(refs) == ["page_1"] * 6 + ["page_2"] * 6
    # The second lookup is the resolver's cache: one round trip, not timed from t=0.
    lookups = re.findall(r"is 10\.0\.0\.3 \(dns, ([0-9.]+) ms\)", mmd.read_text())
    assert len(lookups) == 2 and float(lookups[1]) < 50 < float(lookups[0])


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (
            ("--dns-silent",),
            "El navegador ha preguntado 5 veces al servidor DNS 10.0.0.53:53 por la dirección "
            "de www.webtrip.test, y cada vez ha esperado 2 s una respuesta; no ha llegado "
            "ninguna, así que al cabo de 10 s su resolutor local (stub resolver) se ha rendido.",
        ),
        (
            ("http://nope.webtrip.test/",),
            "La consulta ha fallado: el DNS ha respondido que «nope.webtrip.test» no existe "
            "(NXDOMAIN).",
        ),
        (
            ("http://www.webtrip.test:81/",),
            "Primero ha probado con 10.0.0.3:81: se ha rechazado la conexión: ningún programa "
            "escucha en ese puerto.",
        ),
        (
            ("http://10.0.0.99/",),
            "Primero ha probado con 10.0.0.99:80: un router ha respondido que no se puede llegar "
            "hasta allí (ICMP).",
        ),
    ],
)
def test_failures_are_told_in_spanish(args, sentence):
    done = webtrip("sim", *args, "--lang", "es", "--no-render", "--no-packets")
    assert done.returncode != 0
    assert sentence in done.stdout


# --- faults on the browser's link: --drop, --delay, --dns-silent ----------------------


def test_the_command_line_shows_the_retransmission_in_the_packet_table():
    done = sim("--drop", "synack", "--no-render")
    assert done.returncode == 0, done.stderr
    table = done.stdout[done.stdout.index("Packets at browser") :]
    lines = table.splitlines()
    (lost,) = [n for n, line in enumerate(lines) if "(dropped: targeted fault" in line]
    assert "[SYN, ACK]" in lines[lost] and "[SYN] Seq=0" in lines[lost + 1]
    # The dropped packet has no number: the others keep the pcap's (Wireshark's) numbers.
    assert lines[lost].split()[0] != "6" and lines[lost + 1].split()[0] == "6"


def test_a_silent_dns_server_is_a_narrated_failure_with_exit_12():
    done = sim("--dns-silent", "--no-render")
    assert done.returncode == 12
    assert "What went wrong" in done.stdout and "did not answer" in done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--drop", "synn"), "not a packet filter"),
        (("--drop", "syn#0"), "counted from 1"),
        (("--delay", "synack"), "needs the delay after '='"),
        (("--delay", "synack=soon"), "not a number with a unit"),
    ],
)
def test_bad_faults_are_one_sentence_and_exit_2(args, words):
    done = sim(*args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert words in done.stderr


# --- lab files: --lab -----------------------------------------------------------------


def test_a_missing_lab_file_is_exit_2_and_one_sentence(tmp_path):
    done = webtrip("sim", "--lab", str(tmp_path / "nothing.toml"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no such lab file" in done.stderr


# --- issue 13: the photo in many segments, --reorder/--duplicate, --network, languages ---


def test_the_demo_photo_travels_as_dozens_of_full_segments():
    """Step 3 to see: the 53 KB photo crosses the browser's link (MTU 1500) as full
    1,460-byte segments, the server's, one after the other."""
    done = webtrip("sim", "--no-render")
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("Packets at browser (10.0.0.1)")[1]
    full = re.findall(r"10\.0\.0\.3\s+10\.0\.0\.1\s+TCP\s+1500\s+80 → \d+ .*Len=1460", listed)
    # 53,177 bytes of photo and 219 of head: 36 full segments (the first one, with the
    # head, is listed as HTTP) and the rest.
    assert len(full) >= 35
    assert "/img/astronaut.jpg" in done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--reorder", "100%"), "--reorder 100%: a share of packets must be at least 0%"),
        (("--reorder", "some"), "--reorder some: give a percentage, like 2%"),
        (("--duplicate", "-1"), "--duplicate -1: give a percentage"),
        (("--network", "wifi"), "--network wifi: not a network profile (known: fast-4g"),
    ],
)
def test_bad_link_options_are_one_sentence_and_exit_2(args, words):
    done = webtrip("sim", *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert words in done.stderr and done.stderr.count("\n") == 1


def test_reorder_and_duplicate_act_on_the_browsers_link_and_keep_the_seed(tmp_path):
    pcaps = []
    for name in ("a", "b"):
        pcap = tmp_path / f"{name}.pcap"
        done = webtrip("sim", "--reorder", "20%", "--duplicate", "5%", "--seed", "3",
                       "--no-render", "--pcap", str(pcap))  # fmt: skip
        assert done.returncode == 0, done.stderr
        pcaps.append(pcap.read_bytes())
    assert pcaps[0] == pcaps[1]
    # Segments held back let later ones overtake them: the browser saw a gap, and the
    # duplicate ACKs it sent made the server send again what was only late.
    assert "[TCP Previous segment not captured]" in done.stdout
    assert "[TCP Spurious Retransmission]" in done.stdout
    plain = webtrip("sim", "--seed", "3", "--no-render")
    assert "[TCP Previous segment not captured]" not in plain.stdout


def test_network_list_names_every_profile_with_its_numbers():
    done = webtrip("sim", "--network", "list")
    assert done.returncode == 0, done.stderr
    for name in ("fast-4g", "slow-4g", "3g", "broadband", "satellite"):
        assert name in done.stdout
    assert "round trip 400 ms, 0.5 Mbit/s" in done.stdout
    spanish = webtrip("sim", "--network", "list", "--lang", "es")
    assert "ida y vuelta 400 ms, 0,5 Mbit/s" in spanish.stdout  # a decimal comma


def test_a_network_profile_sets_the_link_and_an_explicit_flag_wins():
    three_g = webtrip("sim", "--network", "3g", "--no-render", "--no-packets")
    assert three_g.returncode == 0, three_g.stderr
    # 400 ms round trip on the browser's link, plus the lab's 2 ms to the web server.
    assert "the three-way handshake (SYN, SYN-ACK, ACK) took 40" in three_g.stdout
    faster = webtrip("sim", "--network", "3g", "--latency", "50ms", "--no-render",
                     "--no-packets")  # fmt: skip
    assert re.search(r"the three-way handshake \(SYN, SYN-ACK, ACK\) took 10\d ms", faster.stdout)


def test_sim_in_spanish_asks_for_spanish_and_the_server_answers_in_spanish():
    done = webtrip("sim", "--lang", "es", "--no-packets")
    assert done.returncode == 0, done.stderr
    assert "GET /." in done.stdout  # the same URL as in English
    assert "«Cómo funciona la web, en cuatro pasos»" in done.stdout
    english = webtrip("sim", "--no-packets")
    assert "“How the web works, in four steps”" in english.stdout
