"""RoomTransport against a real room over loopback websockets (no REST state: a dict resolver)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
import pytest
from starlette.applications import Starlette

from streamclient.emulator._serve import serve
from streamclient.emulator.room import GUIDE_LIMITS, PeerRole, Room, RoomLimits
from streamclient.emulator.room_endpoint import JoinRefused, JoinRequest, room_route
from streamclient.errors import (
    FrameTooLargeError,
    InvalidArgumentError,
    JoinError,
    SendRateLimitedError,
    TransportClosedError,
    TransportOverflowError,
)
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    PeerJoined,
    PeerLeft,
    Transport,
    TransportEvent,
    TransportLimits,
)
from streamclient.transport.room import RoomTransport

TOKEN = "007-secret-token"


@dataclass
class RoomServer:
    url: str
    rooms: dict[str, Room] = field(default_factory=dict)

    def resolve(self, request: JoinRequest) -> Room:
        room = self.rooms.get(request.channel)
        if room is None:
            raise JoinRefused("unknown channel", reason=7)
        if request.token != TOKEN:
            raise JoinRefused("bad token", reason=8)
        return room


@pytest.fixture
async def server() -> AsyncIterator[RoomServer]:
    # pytest-asyncio runs fixture setup and teardown in different tasks, so the server (and its task group)
    # lives in a task of its own.
    holder = RoomServer(url="")
    app = Starlette(routes=[room_route("/room", holder.resolve)])
    ready, stop = anyio.Event(), anyio.Event()

    async def run() -> None:
        async with serve(app) as base_url:
            holder.url = base_url.replace("http://", "ws://") + "/room"
            ready.set()
            await stop.wait()

    task = asyncio.get_running_loop().create_task(run())
    with anyio.fail_after(10):
        await ready.wait()
    yield holder
    for room in holder.rooms.values():
        room.close()
    stop.set()
    with anyio.fail_after(10):
        await task


def params(channel: str = "ch", uid: str = "100", token: str = TOKEN) -> JoinParams:
    return JoinParams(app_id="emulator", channel=channel, uid=uid, token=token)


async def next_event(events: AsyncIterator[TransportEvent], kind: type[TransportEvent]) -> TransportEvent:
    with anyio.fail_after(5):
        async for event in events:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"stream ended before {kind.__name__}")


async def test_implements_the_transport_protocol() -> None:
    assert isinstance(RoomTransport("ws://127.0.0.1:1/room"), Transport)


async def test_join_relay_and_leave(server: RoomServer) -> None:
    room = server.rooms["ch"] = Room("ch")
    avatar = room.join("900", role=PeerRole.AVATAR)
    transport = RoomTransport(server.url)
    await transport.join(params())
    assert transport.local_uid == "100"
    events = transport.events()
    assert await next_event(events, ConnectionStateChanged) == ConnectionStateChanged(ConnectionState.CONNECTED, 1)
    assert await next_event(events, PeerJoined) == PeerJoined("900")

    await transport.send(b'{"hello":1}')
    with anyio.fail_after(5):
        received = await avatar.mailbox.get()
        while not isinstance(received, FrameReceived):
            received = await avatar.mailbox.get()
    assert received == FrameReceived("100", b'{"hello":1}')
    assert room.frames_to_avatar == 1

    assert avatar.send(b"reply") == 0
    assert await next_event(events, FrameReceived) == FrameReceived("900", b"reply")
    avatar.leave()
    assert await next_event(events, PeerLeft) == PeerLeft("900", 0)

    await transport.leave()
    await transport.leave()  # idempotent
    assert await next_event(events, ConnectionStateChanged) == ConnectionStateChanged(ConnectionState.DISCONNECTED, 5)
    with anyio.fail_after(5):
        assert [e async for e in events] == []
    with pytest.raises(TransportClosedError):
        await transport.send(b"x")


async def test_bad_token_is_reason_8_and_token_never_in_errors(server: RoomServer) -> None:
    server.rooms["ch"] = Room("ch")
    transport = RoomTransport(server.url)
    with pytest.raises(JoinError) as info:
        await transport.join(params(token="wrong-" + TOKEN))
    assert info.value.reason == 8
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(params())
    await transport.leave()


async def test_unknown_channel_is_refused(server: RoomServer) -> None:
    transport = RoomTransport(server.url)
    with pytest.raises(JoinError) as info:
        await transport.join(params(channel="nope"))
    assert info.value.reason == 7


async def test_same_uid_twice_is_refused(server: RoomServer) -> None:
    server.rooms["ch"] = Room("ch")
    first, second = RoomTransport(server.url), RoomTransport(server.url)
    await first.join(params())
    with pytest.raises(JoinError) as info:
        await second.join(params())
    assert info.value.reason == 19
    await first.leave()


async def test_connection_refused_is_a_join_error() -> None:
    with anyio.CancelScope() as scope, pytest.raises(JoinError):
        await RoomTransport("ws://127.0.0.1:9/room").join(params(), timeout=5)
    assert not scope.cancel_called


async def test_oversize_frame_refused_by_the_room_with_114(server: RoomServer) -> None:
    server.rooms["ch"] = room = Room("ch")
    transport = RoomTransport(server.url, limits=TransportLimits(max_message_bytes=4096))
    await transport.join(params())
    await transport.send(b"x" * 1024)
    with pytest.raises(FrameTooLargeError) as info:
        await transport.send(b"x" * 1025)
    assert info.value.code == -114
    assert room.rejected[-114] == 1
    # the local limit is checked first, with the same error
    strict = RoomTransport(server.url)
    await strict.join(params(uid="101"))
    with pytest.raises(FrameTooLargeError):
        await strict.send(b"x" * 1025)
    # the same local checks as every adapter: bytes only, never empty
    for bad in ("text", b""):
        with pytest.raises(InvalidArgumentError):
            await strict.send(bad)  # type: ignore[arg-type]
    await transport.leave()
    await strict.leave()


async def test_message_rate_limit_is_minus_12(server: RoomServer) -> None:
    server.rooms["ch"] = room = Room("ch", limits=RoomLimits(messages_per_second=5))
    transport = RoomTransport(server.url)
    await transport.join(params())
    for _ in range(5):
        await transport.send(b"m")
    with pytest.raises(SendRateLimitedError) as info:
        await transport.send(b"m")
    assert info.value.code == -12
    assert room.rejected[-12] == 1
    await transport.leave()


async def test_byte_rate_limit_is_minus_115(server: RoomServer) -> None:
    server.rooms["ch"] = room = Room("ch", limits=RoomLimits(bytes_per_second=2000))
    transport = RoomTransport(server.url)
    await transport.join(params())
    await transport.send(b"b" * 1000)
    await transport.send(b"b" * 1000)
    with pytest.raises(SendRateLimitedError) as info:
        await transport.send(b"b")
    assert info.value.code == -115
    assert room.rejected == {-115: 1}
    await transport.leave()


async def test_rate_window_rolls_over() -> None:
    now = [0.0]
    room = Room("ch", limits=RoomLimits(messages_per_second=2), clock=lambda: now[0])
    peer = room.join("1", role=PeerRole.CLIENT)
    assert [peer.send(b"a"), peer.send(b"a"), peer.send(b"a")] == [0, 0, -12]
    now[0] = 0.999
    assert peer.send(b"a") == -12
    now[0] = 1.0
    assert peer.send(b"a") == 0
    assert room.send("stranger", b"a") == -113


async def test_room_close_fails_the_transport(server: RoomServer) -> None:
    room = server.rooms["ch"] = Room("ch")
    room.join("900", role=PeerRole.AVATAR)
    transport = RoomTransport(server.url)
    await transport.join(params())
    events = transport.events()
    await next_event(events, PeerJoined)
    room.close(reason=3)
    with anyio.fail_after(5):
        rest = [e async for e in events]
    assert rest == [PeerLeft("900", 0), ConnectionStateChanged(ConnectionState.FAILED, 3)]
    assert transport.local_uid is None
    with pytest.raises(TransportClosedError):
        await transport.send(b"x")
    await transport.leave()


async def test_leave_while_cancelled_is_safe(server: RoomServer) -> None:
    gone = anyio.Event()
    room: Room

    def on_change() -> None:
        if "100" not in room.peers:
            gone.set()

    server.rooms["ch"] = room = Room("ch", on_change=on_change)
    transport = RoomTransport(server.url)
    await transport.join(params())
    with anyio.CancelScope() as scope:
        scope.cancel()
        await transport.leave()
    with anyio.fail_after(5):
        await gone.wait()


async def test_renew_token(server: RoomServer) -> None:
    server.rooms["ch"] = Room("ch")
    transport = RoomTransport(server.url)
    with pytest.raises(TransportClosedError):
        await transport.renew_token("t")
    await transport.join(params())
    await transport.renew_token("new-token")
    await transport.leave()


async def test_raw_socket_protocol_documented_messages(server: RoomServer) -> None:
    from websockets.asyncio.client import connect

    server.rooms["ch"] = Room("ch")
    async with connect(server.url, proxy=None) as ws:
        await ws.send(json.dumps({"op": "join", "channel": "ch", "uid": "7", "token": TOKEN}))
        assert json.loads(await ws.recv()) == {"op": "joined", "uid": "7"}
        await ws.send((41).to_bytes(4, "big") + b"frame")
        assert json.loads(await ws.recv()) == {"op": "result", "seq": 41, "code": 0}


async def test_overflow_fails_the_transport_instead_of_dropping(server: RoomServer) -> None:
    room = server.rooms["ch"] = Room("ch")
    avatar = room.join("900", role=PeerRole.AVATAR)
    transport = RoomTransport(server.url, max_buffered_events=3)
    await transport.join(params())  # CONNECTED and PeerJoined fill two slots
    for i in range(5):
        assert avatar.send(b"frame %d" % i) == 0
    with anyio.fail_after(5):
        while not transport.overflowed:  # noqa: ASYNC110 - the reader task sets it when the frames arrive
            await anyio.sleep(0.01)
    events = transport.events()
    with anyio.fail_after(5), pytest.raises(TransportOverflowError):
        async for _ in events:
            pass
    await transport.leave()


async def test_the_guide_room_enforces_6000_bytes_and_30_messages_in_every_sliding_second() -> None:
    now = [100.0]
    room = Room("ch", limits=GUIDE_LIMITS, clock=lambda: now[0])
    peer = room.join("1", role=PeerRole.CLIENT)
    codes = []
    for i in range(7):  # 1000 B every 100 ms: the 7th would make 7000 B within one second
        now[0] = 100.0 + i * 0.1
        codes.append(peer.send(b"b" * 1000))
    assert codes == [0, 0, 0, 0, 0, 0, -115]
    now[0] = 100.999  # the first frame is still inside (100.999 - 1, 100.999]
    assert peer.send(b"b" * 1000) == -115
    now[0] = 101.0
    assert peer.send(b"b" * 1000) == 0  # refused frames were not counted
    other = room.join("2", role=PeerRole.CLIENT)
    assert [other.send(b"m") for _ in range(31)][-2:] == [0, -12]
    assert room.rejected == {-115: 2, -12: 1}
