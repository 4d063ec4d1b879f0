"""A prediction's options are packet kinds (codes an answers file holds); on a phone in
class, and in the terminal, each is shown with what it means, in the class's language."""

from __future__ import annotations

from webtrip.cli.classroom import class_run
from webtrip.lessons.vocabulary import PACKET_KINDS, packet_kind_words


def test_every_packet_kind_has_words_in_both_languages() -> None:
    english, spanish = packet_kind_words("en"), packet_kind_words("es")
    assert set(english) == set(spanish) == set(PACKET_KINDS)
    assert english["request"] == "the HTTP request"
    assert spanish["request"] == "la petición HTTP"
    assert all(spanish[kind] != english[kind] for kind in PACKET_KINDS)


def test_a_class_prediction_carries_what_each_option_means() -> None:
    run = class_run("lossy-cafe", "es")
    prediction = next(q for q in run.questions if q.type == "prediction")
    shown = prediction.public()
    assert shown["options"] and set(shown["labels"]) >= set(shown["options"])
    for option in shown["options"]:
        assert shown["labels"][option]["es"] == packet_kind_words("es")[option]
    assert "right" not in shown  # the meaning of each option, never which one is right
