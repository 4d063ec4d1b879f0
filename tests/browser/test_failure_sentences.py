"""A failed load's details in the learner's language, with the run's own values.

Each failure keeps its English template and values; the trace records both beside the
English sentence, and every view says the template in the run's language (Spanish here)
with the same values. Simulated runs: seconds each.
"""

from __future__ import annotations

import errno
import json

from click.testing import CliRunner, Result

from webtrip.browser import failure_sentence
from webtrip.browser.errors import ConnectionRefused, system_reason
from webtrip.cli import cli
from webtrip.i18n import translation
from webtrip.report.narration import narrate
from webtrip.trace import NameLookupFailed, PageLoadFinished, TcpConnectFailed, Trace

SPANISH = translation("es").gettext


def run(*args: str) -> Result:
    environment = {"NO_COLOR": "1", "COLUMNS": "200", "LANG": "C.UTF-8", "LANGUAGE": ""}
    return CliRunner().invoke(cli, list(args), env=environment, prog_name="webtrip")


def sim_trace(*options: str) -> Trace:
    done = run("sim", "--json", *options)
    return Trace.from_json(done.output)


def finished(trace: Trace) -> PageLoadFinished:
    return next(e for e in trace.events if isinstance(e, PageLoadFinished))


def test_an_unknown_name_is_told_in_spanish_with_its_name():
    done = run("sim", "--lang", "es", "--no-render", "--no-packets", "http://nowhere.webtrip.test/")
    assert done.exit_code == 10
    assert "(el DNS ha respondido que «nowhere.webtrip.test» no existe (NXDOMAIN))" in done.output
    assert "La consulta ha fallado: el DNS ha respondido que «nowhere.webtrip.test»" in done.output


def test_an_unknown_name_is_told_in_english_as_before():
    done = run("sim", "--lang", "en", "--no-render", "--no-packets", "http://nowhere.webtrip.test/")
    assert "(the DNS says 'nowhere.webtrip.test' does not exist (NXDOMAIN))" in done.output


def test_a_silent_dns_server_is_told_with_its_address_tries_and_wait():
    done = run("sim", "--lang", "es", "--no-render", "--no-packets", "--dns-silent")
    assert "(el servidor DNS 10.0.0.53:53 no ha respondido (intentos: 5, de 2 s cada uno))" in (
        done.output
    )
    english = run("sim", "--lang", "en", "--no-render", "--no-packets", "--dns-silent")
    assert "(the DNS server 10.0.0.53:53 did not answer (5 tries of 2 s))" in english.output


def test_a_refused_port_is_told_with_the_port_and_the_systems_reason_in_words():
    done = run("sim", "--lang", "es", "--no-render", "--no-packets", "http://www.webtrip.test:81/")
    assert (
        "(ningún programa acepta conexiones en el puerto 81 de www.webtrip.test "
        "(10.0.0.3:81: ha rechazado la conexión))" in done.output
    )
    english = run("sim", "--no-render", "--no-packets", "http://www.webtrip.test:81/")
    assert (
        "(nothing accepts connections on port 81 of www.webtrip.test "
        "(10.0.0.3:81: refused the connection))" in english.output
    )


def test_the_trace_records_the_template_and_values_and_they_survive_json():
    trace = sim_trace("http://www.webtrip.test:81/")
    end = finished(trace)
    assert end.message_id == "nothing accepts connections on port {port} of {host} ({tried})"
    assert dict(end.message_values) == {
        "port": "81",
        "host": "www.webtrip.test",
        "tried": "10.0.0.3:81=ECONNREFUSED",
    }
    assert failure_sentence(end.message_id, end.message_values) == end.message
    again = Trace.from_json(trace.to_json())
    assert again.events == trace.events
    failed = next(e for e in again.events if isinstance(e, TcpConnectFailed))
    assert (failed.reason, failed.message) == ("ECONNREFUSED", "refused the connection")


def test_a_failed_lookup_event_carries_its_sentence_too():
    trace = sim_trace("http://nowhere.webtrip.test/")
    lookup = next(e for e in trace.events if isinstance(e, NameLookupFailed))
    assert lookup.message_id == "the DNS says '{name}' does not exist (NXDOMAIN)"
    assert lookup.message_values == (("name", "nowhere.webtrip.test"),)


def test_a_trace_without_templates_still_shows_its_english_details():
    trace = sim_trace("http://nowhere.webtrip.test/")
    doc = json.loads(trace.to_json())
    for event in doc["events"]:
        event.pop("message_id", None)
        event.pop("message_values", None)
    old = Trace.from_json(json.dumps(doc))
    assert finished(old).message_id == ""
    ending = next(p for p in narrate(old, "es") if p.heading == "Qué ha fallado")
    assert "(the DNS says 'nowhere.webtrip.test' does not exist (NXDOMAIN))" in ending.text


def test_a_bad_url_is_told_in_spanish_on_stderr_with_what_was_typed():
    done = run("browse", "--lang", "es", "ftp://example.org/")
    assert done.exit_code != 0
    assert "«ftp://example.org/» no es una dirección http:// ni https://" in done.output
    assert "Traceback" not in done.output


def test_an_os_error_is_named_by_errno_and_said_in_each_language():
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    assert system_reason(refused) == "ECONNREFUSED"
    unreachable = OSError(errno.EHOSTUNREACH, "No route to host")
    assert system_reason(unreachable) == "EHOSTUNREACH"
    values = (("reason", "EHOSTUNREACH"),)
    assert failure_sentence("{reason}", values) == "no route to the host"
    assert failure_sentence("{reason}", values, SPANISH) == "no hay ruta hasta el equipo"


def test_words_of_no_errno_are_kept_and_quoted_as_the_systems_own():
    odd = ConnectionError("the endpoint is closed")
    assert system_reason(odd) == "the endpoint is closed"
    values = (("reason", system_reason(odd)),)
    assert failure_sentence("{reason}", values, SPANISH) == "«the endpoint is closed»"


def test_an_error_keeps_its_english_sentence_and_says_it_in_spanish():
    error = ConnectionRefused(
        "nothing accepts connections on port {port} of {host} ({tried})",
        port=8080,
        host="www.example.test",
        tried="10.0.0.3:8080=ECONNREFUSED;[2001:db8::3]:8080=ECONNREFUSED",
    )
    assert str(error) == (
        "nothing accepts connections on port 8080 of www.example.test "
        "(10.0.0.3:8080: refused the connection; [2001:db8::3]:8080: refused the connection)"
    )
    assert error.sentence(SPANISH) == (
        "ningún programa acepta conexiones en el puerto 8080 de www.example.test "
        "(10.0.0.3:8080: ha rechazado la conexión; [2001:db8::3]:8080: ha rechazado la conexión)"
    )
