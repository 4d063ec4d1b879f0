"""Every refusal of webtrip ui, each shown: who may ask, what may change, how much."""

from __future__ import annotations

import json


def test_a_request_for_another_host_name_is_refused_as_dns_rebinding(ui_server):
    with ui_server.client(Host=f"evil.example:{ui_server.port}") as client:
        answer = client.get("/api/options")
    assert answer.status_code == 421
    assert "only at http://127.0.0.1:" in answer.json()["error"]


def test_the_bound_address_on_another_port_is_refused(ui_server):
    with ui_server.client(Host=f"127.0.0.1:{ui_server.port + 1}") as client:
        assert client.get("/").status_code == 421


def test_localhost_with_the_port_is_answered_on_loopback(ui_server):
    with ui_server.client(Host=f"localhost:{ui_server.port}") as client:
        assert client.get("/api/options").status_code == 200


def test_a_post_from_another_origin_is_refused(ui_server):
    answer = ui_server.post_run({"seed": 1}, Origin="http://evil.example")
    assert answer.status_code == 403
    assert answer.json() == {"error": "Changes are taken only from the app's own page."}


def test_a_post_without_origin_is_refused(ui_server):
    with ui_server.client() as client:
        assert client.post("/api/runs", json={"seed": 1}).status_code == 403


def test_a_form_encoded_post_is_refused(ui_server):
    with ui_server.client(Origin=ui_server.origin) as client:
        answer = client.post("/api/runs", data={"seed": "1"})
    assert answer.status_code == 403
    assert "application/json" in answer.json()["error"]


def test_a_body_over_64_kb_is_refused_by_its_length(ui_server):
    body = json.dumps({"url": "x" * 70_000})
    with ui_server.client(Origin=ui_server.origin) as client:
        answer = client.post(
            "/api/runs", content=body, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 413
    assert answer.json()["error"] == "The request is larger than 64 KB."


def test_a_chunked_body_over_64_kb_is_refused_while_read(ui_server):
    def chunks():
        for _ in range(20):
            yield b" " * 8192

    with ui_server.client(Origin=ui_server.origin) as client:
        answer = client.post(
            "/api/runs", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 413


def test_every_answer_carries_the_security_headers(ui_server):
    with ui_server.client() as client:
        for path in ("/", "/api/options", "/api/runs/999"):
            headers = client.get(path).headers
            csp = headers["content-security-policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert "script-src 'self';" in csp  # no inline script allowed
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "no-referrer"


DATA_TYPES = ("application/json", "application/gzip+base64")


def test_the_page_has_no_inline_script(ui_server):
    with ui_server.client() as client:
        page = client.get("/").text
    assert '<script src="/assets/ui.js"></script>' in page
    for piece in page.split("<script")[1:]:
        tag, _, rest = piece.partition(">")
        # a data block (JSON, or the report's gzip+base64 data) is never run as a script
        data_block = any(f'type="{kind}"' in tag for kind in DATA_TYPES)
        assert "src=" in tag or data_block, tag
        assert "src=" not in tag or rest.startswith("</script>")
    assert "Content-Security-Policy" not in page  # the header's policy only


def test_no_server_path_can_be_asked_for(ui_server):
    with ui_server.client() as client:
        assert client.get("/assets/..%2F..%2Fapp.py").status_code == 404
        assert client.get("/assets/app.py").status_code == 404
    answer = ui_server.post_run({"lab": "/etc/passwd"})
    assert answer.status_code == 400
    assert "There is no lab named '/etc/passwd'" in answer.json()["error"]


def test_bad_parameters_get_one_sentence_in_english(ui_server):
    answer = ui_server.post_run({"loss": 150, "seed": 1})
    assert answer.status_code == 400
    assert answer.json() == {"error": "The loss (%) must be a number from 0 to 50."}


def test_bad_parameters_get_one_sentence_in_spanish(ui_server):
    answer = ui_server.post_run({"loss": 150}, **{"Accept-Language": "es-ES,es;q=0.9"})
    assert answer.json() == {"error": "La pérdida (%) debe ser un número de 0 a 50."}
    answer = ui_server.post_run({"seed": -1, "lang": "es"})
    assert answer.json() == {
        "error": "La semilla debe ser un número entero de 0 a 9.223.372.036.854.775.807."
    }


def test_an_unknown_packet_filter_is_named_in_the_sentence(ui_server):
    answer = ui_server.post_run({"faults": [{"action": "drop", "packet": "sin"}]})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("'sin' is not a packet webtrip can pick out")


def test_an_address_that_is_not_http_is_refused_in_the_lab(ui_server):
    answer = ui_server.post_run({"url": "ftp://www.webtrip.test/"})
    assert answer.status_code == 400
    assert (
        answer.json()["error"] == "'ftp://www.webtrip.test/' is not an http:// or https:// address."
    )


def test_the_real_network_is_off_without_allow_network(ui_server):
    answer = ui_server.post_run({"lab": "internet", "url": "https://example.com/"})
    assert answer.status_code == 403
    assert "--allow-network" in answer.json()["error"]


def test_with_allow_network_internal_targets_are_still_refused(network_ui):
    for url in ("http://127.0.0.1:22/", "http://localhost/", "http://10.0.0.1/",
                "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
                "http://192.168.1.1/", "ftp://example.com/"):  # fmt: skip
        answer = network_ui.post_run({"lab": "internet", "url": url})
        assert answer.status_code in (400, 403), url
        assert answer.json()["error"], url
    answer = network_ui.post_run({"lab": "internet", "url": "http://10.1.2.3/", "lang": "es"})
    assert answer.status_code == 403
    assert "red privada" in answer.json()["error"]


def test_an_unknown_run_is_404(ui_server):
    with ui_server.client() as client:
        answer = client.get("/api/runs/nope")
    assert answer.status_code == 404
    assert isinstance(answer.json()["error"], str)
