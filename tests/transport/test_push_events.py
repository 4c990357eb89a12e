"""Pushed events (``PushTransport``): the room transport and the thread bridge hand events to callbacks.

The room side here is a bare websockets server that writes raw frames, so the tests control exactly which messages
arrive in one read: the cases a real room produces (the avatar's arrival in the same segment as the join reply, a
fragmented message, a socket that dies) are made deterministic.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from websockets.asyncio.server import ServerConnection, serve

from streamclient.errors import TransportOverflowError
from streamclient.transport._bridge import ThreadBridge
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    PeerJoined,
    PushTransport,
    TransportEvent,
)
from streamclient.transport.loopback import LoopbackTransport
from streamclient.transport.room import RoomTransport

PARAMS = JoinParams(app_id="emulator", channel="ch", uid="100", token="007-token")


def ws_frame(payload: bytes, *, opcode: int, fin: bool = True) -> bytes:
    """One unmasked (server-to-client) websocket frame."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        return head + bytes([n]) + payload
    return head + bytes([126]) + n.to_bytes(2, "big") + payload


def text(obj: dict[str, Any]) -> bytes:
    return ws_frame(json.dumps(obj).encode(), opcode=0x1)


def binary(sender: str, data: bytes) -> bytes:
    return ws_frame(bytes([len(sender)]) + sender.encode() + data, opcode=0x2)


JOINED = text({"op": "joined", "uid": "100"})


@dataclass
class RawRoom:
    """A websockets server that answers the join with raw bytes written in one go."""

    script: Callable[[ServerConnection], Awaitable[None]]
    url: str = ""
    joins: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def raw_room() -> AsyncIterator[Callable[[Callable[[ServerConnection], Awaitable[None]]], Awaitable[str]]]:
    servers: list[Any] = []

    async def start(script: Callable[[ServerConnection], Awaitable[None]]) -> str:
        async def handler(ws: ServerConnection) -> None:
            json.loads(await ws.recv())  # the join
            await script(ws)
            with anyio.move_on_after(5):
                await ws.wait_closed()

        server = await serve(handler, "127.0.0.1", 0)
        servers.append(server)
        port = next(iter(server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/room"

    yield start
    for server in servers:
        server.close()
        with anyio.fail_after(10):
            await server.wait_closed()


class Collector:
    """A push consumer that records what it gets, and in which circumstances."""

    def __init__(self) -> None:
        self.events: list[TransportEvent] = []
        self.ended: list[BaseException | None] = []
        self.outside_tasks = 0
        self.anyio_works = True
        self.in_call = False  # set by a test around its own calls into the transport
        self.during_call: list[TransportEvent] = []
        self.arrived = anyio.Event()
        self.finished = anyio.Event()

    def on_event(self, event: TransportEvent) -> None:
        if asyncio.current_task() is None:
            self.outside_tasks += 1
        try:
            anyio.Event().set()  # what a session's handler does: needs anyio to know the backend
            anyio.current_time()
        except Exception:
            self.anyio_works = False
        if self.in_call:
            self.during_call.append(event)
        self.events.append(event)
        self.arrived.set()
        self.arrived = anyio.Event()

    def on_end(self, error: BaseException | None) -> None:
        self.ended.append(error)
        self.finished.set()

    async def wait_for(self, count: int) -> None:
        with anyio.fail_after(5):
            while len(self.events) < count:
                await self.arrived.wait()


async def test_the_transports_push() -> None:
    assert isinstance(RoomTransport("ws://127.0.0.1:1/room"), PushTransport)
    assert isinstance(LoopbackTransport(), PushTransport)


@pytest.mark.parametrize("consumer", ["push", "iterate"])
async def test_messages_in_the_same_read_as_the_join_reply_are_kept(
    raw_room: Callable[..., Awaitable[str]], consumer: str
) -> None:
    async def script(ws: ServerConnection) -> None:
        ws.transport.write(JOINED + text({"op": "peer_joined", "uid": "900"}) + binary("900", b'{"v":2}'))

    transport = RoomTransport(await raw_room(script))
    await transport.join(PARAMS)
    expected = [
        ConnectionStateChanged(ConnectionState.CONNECTED, 1),
        PeerJoined("900"),
        FrameReceived("900", b'{"v":2}'),
    ]
    if consumer == "push":
        collector = Collector()
        transport.push_events(collector.on_event, collector.on_end)
        await collector.wait_for(3)
        assert collector.events == expected
    else:
        events = transport.events()
        with anyio.fail_after(5):
            assert [await events.__anext__() for _ in range(3)] == expected
    await transport.leave()


async def test_pushed_events_come_from_loop_callbacks_where_anyio_still_works(
    raw_room: Callable[..., Awaitable[str]],
) -> None:
    frames_sent = anyio.Event()

    async def script(ws: ServerConnection) -> None:
        ws.transport.write(JOINED)
        await ws.recv()  # the client says when it listens
        ws.transport.write(binary("900", b"a") + binary("900", b"b"))
        frames_sent.set()

    transport = RoomTransport(await raw_room(script))
    await transport.join(PARAMS)
    collector = Collector()
    transport.push_events(collector.on_event, collector.on_end)
    await collector.wait_for(1)  # CONNECTED, handed over from a call_soon
    await transport._ws.send("listening")
    await collector.wait_for(3)
    assert collector.events[1:] == [FrameReceived("900", b"a"), FrameReceived("900", b"b")]
    assert collector.outside_tasks == 3  # no task of ours waited for them
    assert collector.anyio_works
    await transport.leave()


async def test_a_fragmented_message_is_reassembled(raw_room: Callable[..., Awaitable[str]]) -> None:
    control = json.dumps({"op": "peer_joined", "uid": "900"}).encode()

    async def script(ws: ServerConnection) -> None:
        ws.transport.write(
            JOINED
            + ws_frame(control[:10], opcode=0x1, fin=False)
            + ws_frame(control[10:], opcode=0x0)
            + ws_frame(b"\x03900", opcode=0x2, fin=False)
            + ws_frame(b"frame", opcode=0x0)
        )

    transport = RoomTransport(await raw_room(script))
    await transport.join(PARAMS)
    collector = Collector()
    transport.push_events(collector.on_event, collector.on_end)
    await collector.wait_for(3)
    assert collector.events[1:] == [PeerJoined("900"), FrameReceived("900", b"frame")]
    await transport.leave()


async def test_a_dead_socket_is_failed_14_then_the_end_once(raw_room: Callable[..., Awaitable[str]]) -> None:
    async def script(ws: ServerConnection) -> None:
        ws.transport.write(JOINED)
        await ws.recv()
        ws.transport.abort()

    transport = RoomTransport(await raw_room(script))
    await transport.join(PARAMS)
    collector = Collector()
    transport.push_events(collector.on_event, collector.on_end)
    await collector.wait_for(1)
    await transport._ws.send("go")
    with anyio.fail_after(5):
        await collector.finished.wait()
    assert collector.events == [
        ConnectionStateChanged(ConnectionState.CONNECTED, 1),
        ConnectionStateChanged(ConnectionState.FAILED, 14),
    ]
    await transport.leave()
    await anyio.wait_all_tasks_blocked()
    assert collector.ended == [None]


async def test_leave_ends_the_pushed_events_after_the_call_not_inside_it(
    raw_room: Callable[..., Awaitable[str]],
) -> None:
    async def script(ws: ServerConnection) -> None:
        ws.transport.write(JOINED)

    transport = RoomTransport(await raw_room(script))
    await transport.join(PARAMS)
    collector = Collector()
    transport.push_events(collector.on_event, collector.on_end)
    await collector.wait_for(1)
    collector.in_call = True
    await transport.leave()
    collector.in_call = False
    with anyio.fail_after(5):
        await collector.finished.wait()
    assert collector.during_call == []
    assert collector.events[-1] == ConnectionStateChanged(ConnectionState.DISCONNECTED, 5)
    assert collector.ended == [None]


async def test_one_consumer_one_way(raw_room: Callable[..., Awaitable[str]]) -> None:
    async def script(ws: ServerConnection) -> None:
        ws.transport.write(JOINED)

    pushed = RoomTransport(await raw_room(script))
    await pushed.join(PARAMS)
    pushed.push_events(lambda _e: None, lambda _e: None)
    with pytest.raises(RuntimeError):
        await pushed.events().__anext__()
    with pytest.raises(RuntimeError):
        pushed.push_events(lambda _e: None, lambda _e: None)
    await pushed.leave()

    iterated = RoomTransport(await raw_room(script))
    await iterated.join(PARAMS)
    events = iterated.events()
    assert await events.__anext__() == ConnectionStateChanged(ConnectionState.CONNECTED, 1)
    with pytest.raises(RuntimeError):
        iterated.push_events(lambda _e: None, lambda _e: None)
    await iterated.leave()


async def test_the_bridge_pushes_in_order_from_the_loop_and_survives_a_failing_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours, theirs = LoopbackTransport.pair()
    collector = Collector()
    failed_once: list[TransportEvent] = []

    def on_event(event: TransportEvent) -> None:
        if isinstance(event, FrameReceived) and event.data == b"1" and not failed_once:
            failed_once.append(event)
            raise ValueError("a handler bug")
        collector.on_event(event)

    await ours.join(JoinParams(app_id="a", channel="c", uid="1", token="t"))
    ours.push_events(on_event, collector.on_end)
    await theirs.join(JoinParams(app_id="a", channel="c", uid="2", token="t"))
    collector.in_call = True
    for n in range(4):
        await theirs.send(b"%d" % n)
    collector.in_call = False
    with caplog.at_level(logging.ERROR):
        await collector.wait_for(5)
    assert collector.during_call == []  # never inside the sender's call
    assert collector.events == [
        ConnectionStateChanged(ConnectionState.CONNECTED, 1),
        PeerJoined("2"),
        FrameReceived("2", b"0"),
        FrameReceived("2", b"2"),
        FrameReceived("2", b"3"),
    ]
    assert "event handler failed on FrameReceived" in caplog.text
    assert collector.outside_tasks == 5
    assert collector.anyio_works
    await ours.leave()
    with anyio.fail_after(5):
        await collector.finished.wait()
    assert collector.ended == [None]


async def test_a_bridge_that_overflowed_before_pushing_ends_with_the_error() -> None:
    bridge = ThreadBridge(capacity=2)
    bridge.open()
    for n in range(3):
        bridge.deliver(FrameReceived("u", b"%d" % n))
    collector = Collector()
    bridge.push_to(collector.on_event, collector.on_end)
    with anyio.fail_after(5):
        await collector.finished.wait()
    assert collector.events == [FrameReceived("u", b"0"), FrameReceived("u", b"1")]
    assert len(collector.ended) == 1
    assert isinstance(collector.ended[0], TransportOverflowError)
