"""A megabyte across a bad network: every byte arrives, exactly once, in order."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.tcp_world import Conditions, Sender, World, app_of
from webtrip.netsim.tcp import CloseReason, TcpConfig

MEGABYTE = 1 << 20
REPLY = 64 * 1024

# On a path that loses 30% each way, a segment and its ACK both get through
# only half the time: allow more timeouts in a row than the default, and a
# TIME-WAIT long enough to outlast the peer's FIN retransmissions, which may be
# a minute apart once its timer has backed off (with a 2-minute TIME-WAIT, four
# lost FINs in a row — one run in a few hundred — would end it too soon).
PATIENT = TcpConfig(msl=600, max_retransmissions=30)


def transfer(path: Conditions, back: Conditions, seed: int) -> tuple[World, bytes, bytes]:
    """A sends a megabyte while B answers 64 KiB; both close when done."""
    world = World(a_to_b=path, b_to_a=back, seed=seed, config=PATIENT)
    generator = random.Random(seed)
    data = generator.randbytes(MEGABYTE)
    reply = generator.randbytes(REPLY)
    client, accepted = world.connect(
        client=Sender(data), server=lambda: Sender(reply, close_when_sent=False)
    )
    world.run()
    (server,) = accepted
    assert app_of(server).received == data
    assert app_of(client).received == reply
    assert client.close_reason is server.close_reason is CloseReason.CLOSED
    assert app_of(server).events.count("eof") == 1
    return world, data, reply


def test_a_lossless_path_carries_a_megabyte_in_full_segments_without_retransmission():
    world, _, _ = transfer(Conditions(), Conditions(), seed=0)
    client = next(iter(world.a.connections.values()))
    assert client.counters.retransmissions == 0
    assert client.counters.data_segments_out == math.ceil(MEGABYTE / 1460)


@pytest.mark.parametrize("loss", [0.0, 0.05, 0.30], ids=["no loss", "5% loss", "30% loss"])
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_a_megabyte_arrives_byte_exact_despite_loss_duplication_and_reordering(
    loss: float, seed: int
):
    def path() -> Conditions:
        return Conditions(delay=0.02, loss=loss, duplicate=0.05, reorder=0.1)

    transfer(path(), path(), seed)
