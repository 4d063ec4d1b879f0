"""Every trace event as one sentence a learner reads, in English and Spain's Spanish.

Each event type of :mod:`webtrip.trace.events` has its own sentence (a new type
without one fails here); real simulated runs — clean, a lost SYN-ACK, a silent
DNS server, a reload — are told with no English left in Spanish; and each
sentence says only what its event's fields say.
"""

from __future__ import annotations

import pytest

from report.test_no_english_in_spanish import english_in
from webtrip import lab
from webtrip.lab import sim as simulated
from webtrip.report.event_text import SENTENCES, describe
from webtrip.trace import Trace
from webtrip.trace.events import (
    DROP,
    Event,
    FaultOutcome,
    HttpRequestFailed,
    HttpRequestRetried,
    LinkConditionsSet,
    NameLookupFailed,
    PacketCaptured,
    TcpConnectFailed,
    TcpInfoRead,
    TlsHandshakeCompleted,
    event_types,
)

RUNS = {
    "clean": {},
    "drop-synack": {"faults": [lab.parse_fault("drop", "synack")]},
    "dns-silent": {"dns_silent": True},
    "reload": {"loads": 2},
}


@pytest.fixture(scope="module")
def traces() -> dict[str, Trace]:
    return {name: simulated.run(lab.demo_lab(), 1, **kw).world.trace  # type: ignore[arg-type]
            for name, kw in RUNS.items()}  # fmt: skip


# The types a demo run does not record, made by hand with values as actors write them.
BY_HAND: list[Event] = [
    TcpConnectFailed(1.0, "browser", 2, ("10.0.0.3", 80), "refused", "refused the connection"),
    TcpConnectFailed(1.0, "browser", 3, ("10.0.0.3", 80), "error", "something odd"),
    TlsHandshakeCompleted(
        1.0,
        "browser",
        1,
        "www.webtrip.test",
        "TLSv1.3",
        "TLS_AES_128_GCM_SHA256",
        "CN=www.webtrip.test",
        "CN=webtrip CA",
        "2030-01-01",
    ),
    HttpRequestRetried(1.0, "browser", 4, 2, "connection reset by peer"),
    HttpRequestFailed(1.0, "browser", 4, "timeout", "no answer in 30 s"),
    NameLookupFailed(1.0, "browser", "nowhere.webtrip.test", "nxdomain", "no such name", 1),
    TcpInfoRead(1.0, "browser", 1, 9, 8, 3, 4, 2, 0.0421, 1460),
    FaultOutcome(1.0, "network", "drop", "syn#3", 3, 0.0, 1, False),
    FaultOutcome(1.0, "network", "delay", "synack=300ms", 1, 0.3, 1, True),
    LinkConditionsSet(0.0, "network", ("browser", "router"), 0.0095, None, 0.025, 1400),
]


def samples(traces: dict[str, Trace]) -> dict[type[Event], list[Event]]:
    found: dict[type[Event], list[Event]] = {}
    for event in [e for trace in traces.values() for e in trace.events] + BY_HAND:
        kept = found.setdefault(type(event), [])
        if len(kept) < 40:
            kept.append(event)
    return found


def test_every_event_type_has_its_own_sentence():
    missing = sorted(name for name, cls in event_types().items() if cls not in SENTENCES)
    assert missing == [], "event types without a sentence in report/event_text.py"


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_event_type_is_told_in_both_languages(traces, language):
    found = samples(traces)
    assert set(event_types().values()) <= set(found), "a sample of every type"
    for cls, events in found.items():
        for event in events:
            sentence = describe(event, language)
            assert sentence.endswith("."), sentence
            assert "{" not in sentence and "}" not in sentence, sentence
            assert type(event).__name__ not in sentence, sentence  # not the fallback
            if language == "es":
                assert english_in(sentence) == [], (cls.__name__, sentence)


@pytest.mark.parametrize("run", list(RUNS))
def test_a_real_run_is_told_in_spanish_without_english(traces, run):
    told = [describe(event, "es") for event in traces[run].events]
    assert english_in("\n".join(told)) == []
    assert told[0].startswith("Se ha preparado el enlace entre el navegador y el router: 20 ms")


def test_the_sentences_say_the_events_values():
    trace = simulated.run(lab.demo_lab(), 1).world.trace
    told = {describe(event, "es") for event in trace.events}
    assert ("El navegador ha preguntado a 10.0.0.53 por la dirección de www.webtrip.test (A)."
            in told)  # fmt: skip
    assert "El navegador ha enviado un SYN a 10.0.0.3:80 para abrir la conexión 1." in told
    assert any(t.startswith("El navegador ha enviado un segmento TCP [SYN] de 10.0.0.1 a "
                            "10.0.0.3 por eth0") for t in told)  # fmt: skip
    assert "El servidor web ha respondido a GET / con 200 (1358 bytes de cuerpo)." in told
    english = {describe(event, "en") for event in trace.events}
    assert "The web server answered GET / with 200 (1,358 bytes of body)." in english


def test_a_lost_synack_is_a_loss_on_the_link_and_nothing_more(traces):
    """The SYN-ACK the fault took is told as lost on the link, with the fault's own
    numbers; no sentence of the run calls any packet a retransmission (the browser's
    kernel counters are where one is counted)."""
    trace = traces["drop-synack"]
    drops = [e for e in trace.events if isinstance(e, PacketCaptured) and e.direction == DROP]
    assert len(drops) == 1
    assert describe(drops[0], "es") == (
        "Un segmento TCP [SYN, ACK] de 10.0.0.3 a 10.0.0.1, enviado por el router por eth0, "
        "se ha perdido en el enlace: se lo ha llevado el fallo provocado a propósito (era el "
        "paquete número 1 que cumplía el filtro)."
    )
    told = [describe(e, "en") for e in trace.events if not isinstance(e, TcpInfoRead)]
    assert not [t for t in told if "retransmi" in t.lower()]
    counters = [describe(e, "es") for e in trace.events if isinstance(e, TcpInfoRead)]
    assert sum("Ha tenido que retransmitir 1 segmento." in t for t in counters) == 1
    clean = [describe(e, "es") for e in traces["clean"].events if isinstance(e, TcpInfoRead)]
    assert not [t for t in clean if "retransmitir" in t]


def test_an_unknown_reason_or_message_in_english_is_left_out():
    retried = HttpRequestRetried(1.0, "browser", 4, 2, "connection reset by peer")
    assert "reset by peer" not in describe(retried, "es")
    odd = TcpConnectFailed(1.0, "browser", 3, ("10.0.0.3", 80), "error", "something odd")
    assert describe(odd, "es") == "El navegador no ha podido abrir la conexión 3 con 10.0.0.3:80."


def test_numbers_are_written_as_each_language_writes_them():
    link = LinkConditionsSet(0.0, "network", ("browser", "router"), 0.0095, None, 0.025, 1400)
    assert describe(link, "es") == (
        "Se ha preparado el enlace entre el navegador y el router: 9,50 ms en cada sentido, "
        "sin límite de ancho de banda, un 2,5 % de paquetes perdidos al azar, MTU de 1400 bytes."
    )
    assert "9.50 ms each way" in describe(link, "en") and "2.5%" in describe(link, "en")
