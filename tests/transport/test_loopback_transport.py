"""The in-memory LoopbackTransport pair."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamclient.errors import FrameTooLargeError, InvalidArgumentError, TransportClosedError, TransportOverflowError
from streamclient.transport import LoopbackFaults, LoopbackTransport, Transport
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    PeerJoined,
    PeerLeft,
    TokenWillExpire,
    TransportEvent,
    TransportLimits,
)

A = JoinParams(app_id="app", channel="room", uid="100", token="ta")
B = JoinParams(app_id="app", channel="room", uid="200", token="tb")


async def drain(events: AsyncIterator[TransportEvent]) -> list[TransportEvent]:
    with anyio.fail_after(5):
        return [event async for event in events]


async def frames_after_leave(faults: LoopbackFaults | None, payloads: list[bytes]) -> list[bytes]:
    a, b = LoopbackTransport.pair(faults=faults, event_capacity=4 * len(payloads) + 16)
    await a.join(A)
    await b.join(B)
    for payload in payloads:
        await a.send(payload)
    await a.leave()
    await b.leave()
    return [event.data for event in await drain(b.events()) if isinstance(event, FrameReceived)]


async def test_pair_join_send_leave() -> None:
    a, b = LoopbackTransport.pair()
    assert isinstance(a, Transport)
    await a.join(A)
    await b.join(B)
    assert (a.local_uid, b.local_uid) == ("100", "200")
    await a.send(b'{"x":1}')
    await b.send(bytearray(b"back"))  # type: ignore[arg-type]
    await a.leave()
    await a.leave()
    await b.leave()
    assert await drain(a.events()) == [
        ConnectionStateChanged(ConnectionState.CONNECTED, 1),
        PeerJoined("200"),
        FrameReceived("200", b"back"),
        ConnectionStateChanged(ConnectionState.DISCONNECTED, 5),
    ]
    assert await drain(b.events()) == [
        ConnectionStateChanged(ConnectionState.CONNECTED, 1),
        PeerJoined("100"),
        FrameReceived("100", b'{"x":1}'),
        PeerLeft("100", 0),
        ConnectionStateChanged(ConnectionState.DISCONNECTED, 5),
    ]


async def test_frames_sent_before_the_peer_joins_are_lost() -> None:
    a, b = LoopbackTransport.pair()
    await a.join(A)
    await a.send(b"lost")
    await b.join(B)
    await a.send(b"kept")
    await a.leave()
    await b.leave()
    assert [e.data for e in await drain(b.events()) if isinstance(e, FrameReceived)] == [b"kept"]


async def test_limits_and_argument_checks() -> None:
    a, b = LoopbackTransport.pair(limits=TransportLimits(max_message_bytes=8))
    with pytest.raises(TransportClosedError):
        await a.send(b"x")
    with pytest.raises(TransportClosedError):
        await a.renew_token("t")
    await a.join(A)
    await b.join(B)
    with pytest.raises(FrameTooLargeError) as info:
        await a.send(b"123456789")
    assert info.value.code == -114
    with pytest.raises(InvalidArgumentError):
        await a.send("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        await a.send(b"")
    await a.renew_token("new")
    assert a.token_renewals == 1
    with pytest.raises(TransportClosedError):
        await a.join(A)
    await a.leave()
    await b.leave()
    with pytest.raises(TransportClosedError):
        await a.send(b"x")


async def test_inject_and_overflow() -> None:
    a, b = LoopbackTransport.pair(event_capacity=3)
    await a.join(A)
    a.inject(TokenWillExpire())
    events = a.events()
    assert await events.__anext__() == ConnectionStateChanged(ConnectionState.CONNECTED, 1)
    assert await events.__anext__() == TokenWillExpire()
    await b.join(B)  # a: PeerJoined
    for n in range(3):
        await b.send(b"%d" % n)  # the third overflows a's buffer of 3
    with pytest.raises(TransportOverflowError):
        await drain(events)
    with pytest.raises(TransportClosedError):
        await a.send(b"x")
    await a.leave()
    await b.leave()


async def test_faults_drop_everything() -> None:
    assert await frames_after_leave(LoopbackFaults(drop=1.0), [b"a", b"b"]) == []


async def test_faults_duplicate_everything() -> None:
    assert await frames_after_leave(LoopbackFaults(duplicate=1.0), [b"a", b"b"]) == [b"a", b"a", b"b", b"b"]


async def test_faults_reorder_swaps_neighbours() -> None:
    assert await frames_after_leave(LoopbackFaults(reorder=1.0), [b"a", b"b", b"c"]) == [b"b", b"a", b"c"]


async def test_faults_are_reproducible_from_the_seed() -> None:
    faults = LoopbackFaults(drop=0.3, duplicate=0.3, reorder=0.3, seed=7)
    payloads = [b"%d" % n for n in range(50)]
    first = await frames_after_leave(faults, payloads)
    assert first == await frames_after_leave(faults, payloads)
    assert first != payloads


def test_fault_probabilities_are_validated() -> None:
    with pytest.raises(InvalidArgumentError):
        LoopbackFaults(drop=1.5)


@settings(max_examples=30, deadline=None)
@given(
    payloads=st.lists(st.binary(min_size=1, max_size=16), max_size=20),
    duplicate=st.floats(0, 1),
    reorder=st.floats(0, 1),
    seed=st.integers(0, 1000),
)
def test_without_drops_every_frame_arrives(payloads: list[bytes], duplicate: float, reorder: float, seed: int) -> None:
    faults = LoopbackFaults(duplicate=duplicate, reorder=reorder, seed=seed)
    received = anyio.run(frames_after_leave, faults, payloads)
    sent, got = Counter(payloads), Counter(received)
    assert set(got) == set(sent)
    assert all(sent[frame] <= got[frame] <= 2 * sent[frame] for frame in sent)
