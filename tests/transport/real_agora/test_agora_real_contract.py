"""AgoraTransport over the SDK's real Python wrapper: join, send, receive, failures, reconnection and leave.

Each test runs twice, over the scripted Python stand-in and over the C stand-in whose callbacks come from native
threads (see ``harness.py``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import anyio
import pytest

from streamclient.errors import JoinError, SendRateLimitedError, TransportClosedError
from streamclient.transport import AgoraTransport
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    MessagesLost,
    PeerJoined,
    PeerLeft,
    TokenExpired,
    TokenWillExpire,
    TransportEvent,
)
from tests.transport.real_agora.harness import StandIn

E = TypeVar("E")
PARAMS = JoinParams(app_id="0123456789abcdef0123456789abcdef", channel="room-1", uid="42", token="007token")


async def next_of(events: AsyncIterator[TransportEvent], kind: type[E]) -> E:
    with anyio.fail_after(10):
        async for event in events:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"the events ended before a {kind.__name__}")


async def until(events: AsyncIterator[TransportEvent], expected: TransportEvent) -> None:
    with anyio.fail_after(10):
        async for event in events:
            if event == expected:
                return
    raise AssertionError(f"the events ended before {expected}")


async def joined(tmp_path: Path, params: JoinParams = PARAMS) -> AgoraTransport:
    transport = AgoraTransport(log_dir=tmp_path / "logs")
    await transport.join(params, timeout=10)
    return transport


async def test_join_send_receive_burst_and_leave(stand_in: StandIn, tmp_path: Path) -> None:
    transport = await joined(tmp_path)
    assert transport.local_uid == "42"
    await transport.send(b'{"type":"chat","text":"h\xc3\xa9llo"}')
    assert stand_in.sent() == [b'{"type":"chat","text":"h\xc3\xa9llo"}']
    events = transport.events()
    threads, repeat = 4, 50
    stand_in.fire_messages("77", b'{"seq":1}', threads=threads, repeat=repeat)
    frames = 0
    with anyio.fail_after(10):
        async for event in events:
            if isinstance(event, FrameReceived):
                assert event == FrameReceived("77", b'{"seq":1}')
                frames += 1
                if frames == threads * repeat:
                    break
    await transport.leave()
    calls = stand_in.calls()
    order = [
        "agora_local_user_unregister_observer",
        "agora_rtc_conn_disconnect",
        "agora_rtc_conn_unregister_observer",
        "agora_rtc_conn_destroy",
    ]
    assert [call for call in calls if call in order] == order
    assert [event async for event in events if isinstance(event, FrameReceived)] == []


async def test_peer_token_and_loss_events(stand_in: StandIn, tmp_path: Path) -> None:
    transport = await joined(tmp_path)
    events = transport.events()
    stand_in.fire_user(True, "77")
    assert await next_of(events, PeerJoined) == PeerJoined("77")
    stand_in.fire_token(False, "007old")
    assert await next_of(events, TokenWillExpire) == TokenWillExpire()
    stand_in.fire_stream_error("77", 117, 2, 1)
    assert await next_of(events, MessagesLost) == MessagesLost("77", 117, 2, 1)
    stand_in.fire_token(True, "")
    assert await next_of(events, TokenExpired) == TokenExpired()
    stand_in.fire_user(False, "77", 1)
    assert await next_of(events, PeerLeft) == PeerLeft("77", 1)
    await transport.leave()


async def test_frames_with_nul_are_counted_as_corrupt(stand_in: StandIn, tmp_path: Path) -> None:
    """The wrapper reads a NUL-containing message past its end: such frames are corrupt, never delivered."""
    transport = await joined(tmp_path)
    events = transport.events()
    stand_in.fire_messages("77", b"ab\x00cdef")
    from streamclient.transport.agora import CORRUPT_FRAME_CODE

    lost = await next_of(events, MessagesLost)
    assert lost == MessagesLost("77", CORRUPT_FRAME_CODE, 1, 0)
    assert transport.corrupt_frames == 1
    stand_in.fire_messages("77", json.dumps({"text": "nul \u0000 escaped"}).encode())
    frame = await next_of(events, FrameReceived)
    assert json.loads(frame.data) == {"text": "nul \u0000 escaped"}  # JSON escapes U+0000: NUL-free on the wire
    await transport.leave()


async def test_connection_failure_is_a_join_error(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("connect_outcome", 1)
    stand_in.set("fail_reason", 8)
    with pytest.raises(JoinError) as info:
        await AgoraTransport(log_dir=tmp_path).join(PARAMS, timeout=10)
    assert info.value.reason == 8
    assert "agora_rtc_conn_destroy" in stand_in.calls()


async def test_send_error_codes(stand_in: StandIn, tmp_path: Path) -> None:
    transport = await joined(tmp_path)
    stand_in.push_send_code(-12)
    with pytest.raises(SendRateLimitedError):
        await transport.send(b"{}")
    await transport.send(b"{}")
    await transport.leave()


async def test_reconnecting_send_retries_until_back_in_the_channel(stand_in: StandIn, tmp_path: Path) -> None:
    """-113 (not in channel) during a network drop is retried with back-off, not the end of the session."""
    transport = await joined(tmp_path)
    events = transport.events()
    stand_in.fire_state("on_reconnecting", 4, 2)
    await until(events, ConnectionStateChanged(ConnectionState.RECONNECTING, 2))
    for _ in range(3):
        stand_in.push_send_code(-113)
    async with anyio.create_task_group() as tg:
        tg.start_soon(transport.send, b'{"after":"drop"}')
        stand_in.fire_state("on_reconnected", 3, 12)
    assert stand_in.sent() == [b'{"after":"drop"}']
    await until(events, ConnectionStateChanged(ConnectionState.CONNECTED, 12))
    await transport.leave()


async def test_unrequested_disconnect_ends_the_transport(stand_in: StandIn, tmp_path: Path) -> None:
    transport = await joined(tmp_path)
    events = transport.events()
    stand_in.fire_state("on_disconnected", 1, 14)
    with anyio.fail_after(10):
        rest = [event async for event in events]
    assert rest[-1] == ConnectionStateChanged(ConnectionState.DISCONNECTED, 14)
    with pytest.raises(TransportClosedError):
        await transport.send(b"{}")
    await transport.leave()


@pytest.mark.parametrize("reason", [8, 19, 20, 21])
async def test_terminal_reasons_end_the_transport(stand_in: StandIn, tmp_path: Path, reason: int) -> None:
    transport = await joined(tmp_path)
    events = transport.events()
    stand_in.fire_state("on_reconnecting", 4, reason)
    with anyio.fail_after(10):
        rest = [event async for event in events]
    assert rest[-1] == ConnectionStateChanged(ConnectionState.RECONNECTING, reason)
    with pytest.raises(TransportClosedError):
        await transport.send(b"{}")
    await transport.leave()


async def test_leave_after_a_failed_join_and_twice(stand_in: StandIn, tmp_path: Path) -> None:
    transport = await joined(tmp_path)
    await transport.leave()
    await transport.leave()
    assert stand_in.calls().count("agora_rtc_conn_destroy") == 1


async def test_pushed_events_from_native_threads_reach_the_handler_on_the_loop(
    stand_in: StandIn, tmp_path: Path
) -> None:
    transport = await joined(tmp_path)
    received: list[TransportEvent] = []
    ended: list[BaseException | None] = []
    loop_thread = threading.get_ident()
    off_loop: list[int] = []
    enough, finished = anyio.Event(), anyio.Event()
    threads, repeat = 4, 50

    def on_event(event: TransportEvent) -> None:
        if threading.get_ident() != loop_thread:
            off_loop.append(threading.get_ident())
        anyio.current_time()  # what the session's handler does: anyio must know the backend here
        received.append(event)
        if sum(isinstance(e, FrameReceived) for e in received) == threads * repeat:
            enough.set()

    def on_end(error: BaseException | None) -> None:
        ended.append(error)
        finished.set()

    transport.push_events(on_event, on_end)
    stand_in.fire_messages("77", b'{"seq":1}', threads=threads, repeat=repeat)
    with anyio.fail_after(10):
        await enough.wait()
    await transport.leave()
    with anyio.fail_after(10):
        await finished.wait()
    assert off_loop == []
    assert [e for e in received if isinstance(e, FrameReceived)] == [FrameReceived("77", b'{"seq":1}')] * 200
    assert ended == [None]  # once, after the last event (leave stops the intake: no DISCONNECTED here)
