"""The emulator as a faithful room (issue 20): many participants, one channel, nothing any of them does stops it.

Every case runs over the emulator with real participants: ``RoomTransport`` viewers joined with minted tokens,
sessions created over REST, the scripted avatars.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.codec.connection import ProtocolConnection, Role
from streamclient.codec.events import ChatMessage
from streamclient.emulator import Emulator, GuideViolation, SessionInfo
from streamclient.emulator.avatar_room import AvatarRoom
from streamclient.errors import JoinError, SendRateLimitedError
from streamclient.session import AgoraRoom, SessionOptions, connect
from streamclient.tokens.agora import build_rtc_token
from streamclient.transport.base import FrameReceived, JoinParams, PeerJoined, TransportEvent
from streamclient.transport.room import RoomTransport
from tests.codec.official_client import official_chunks, official_pause

from .emulator_harness import AVATAR_ID, client_peer, fast_config

APP_ID = secrets.token_hex(16)
CERT = secrets.token_hex(16)
CHANNEL = "many-actors"
T0 = 1_800_000_000.0
CREATE = "/api/open/v4/liveAvatar/session/create"
DETAIL = "/api/open/v4/liveAvatar/session/detail"
#: The create-session example of AKOOL's docs, with bring-your-own credentials, verbatim.
DOCS_BYO_EXAMPLE = {"agora_uid": 100000, "agora_channel": "your-channel", "agora_token": "your-token"}


class WallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class ManualClock:
    """The rooms' monotonic clock, moved by hand (for limits checked without waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScheduleClock:
    """The emulator's monotonic clock; while frozen, it moves only as a paced sender's schedule says.

    A sender that sleeps between chunks is run without sleeping: the clock stands still during each send and
    jumps by the wait the sender would have slept, so the room sees the sender's exact schedule, however loaded
    the machine is. Thawed, it runs on from where it stood (never backwards).
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: float | None = None

    def __call__(self) -> float:
        return self._frozen if self._frozen is not None else time.monotonic() + self._offset

    def freeze(self) -> None:
        self._frozen = self()

    def advance(self, seconds: float) -> None:
        assert self._frozen is not None
        self._frozen += seconds

    def thaw(self) -> None:
        assert self._frozen is not None
        self._offset, self._frozen = self._frozen - time.monotonic(), None


def token(uid: int | str, *, channel: str = CHANNEL) -> str:
    return build_rtc_token(APP_ID, CERT, channel=channel, uid=uid, expire=3600, issued_at=int(T0))


@dataclass
class Viewer:
    transport: RoomTransport
    events: list[TransportEvent] = field(default_factory=list)
    conn: ProtocolConnection = field(default_factory=lambda: ProtocolConnection(Role.CLIENT))
    messages: list[ChatMessage] = field(default_factory=list)

    async def pump(self) -> None:
        async for event in self.transport.events():
            self.events.append(event)
            if isinstance(event, FrameReceived):
                self.conn.receive_data(event.data, sender=event.sender, now=anyio.current_time())
                self.messages.extend(e for e in self.conn.events_received() if isinstance(e, ChatMessage))

    def frames_from(self, uid: str) -> list[bytes]:
        return [e.data for e in self.events if isinstance(e, FrameReceived) and e.sender == uid]


@asynccontextmanager
async def project(
    *,
    clock: Any = time.monotonic,
    wall_clock: Any = time.time,
    **config: Any,
) -> AsyncIterator[Emulator]:
    """An emulator hosting the shared rooms of an Agora project (every join token checked)."""
    settings = fast_config(agora_app_id=APP_ID, agora_app_certificate=CERT, **config)
    async with Emulator(settings, clock=clock, wall_clock=wall_clock) as emu:
        yield emu


@asynccontextmanager
async def viewer(emu: Emulator, uid: str, *, channel: str = CHANNEL, tok: str | None = None) -> AsyncIterator[Viewer]:
    transport = RoomTransport(emu.room_url)
    grant = tok if tok is not None else token(uid, channel=channel)
    await transport.join(JoinParams(app_id=APP_ID, channel=channel, uid=uid, token=grant), timeout=5)
    joined = Viewer(transport)
    async with anyio.create_task_group() as tg:
        tg.start_soon(joined.pump)
        try:
            yield joined
        finally:
            await transport.leave()


async def create(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = (await http.post(CREATE, json=body)).json()
    assert answer["code"] == 1000, answer
    data: dict[str, Any] = answer["data"]
    return data


async def status(http: httpx.AsyncClient, session_id: str) -> int:
    answer = (await http.get(DETAIL, params={"id": session_id})).json()
    assert answer["code"] == 1000, answer
    value: int = answer["data"]["status"]
    return value


@asynccontextmanager
async def rest(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emu.base_url, headers={"x-api-key": emu.api_key}, timeout=10) as http:
        yield http


async def still_serving(emu: Emulator) -> None:
    """The emulator answers REST and hosts a session whose avatar answers its client."""
    async with rest(emu) as http:
        assert (await http.get("/api/open/v3/language/list")).json()["code"] == 1000
    async with client_peer(emu, mode_type=1) as peer:
        await peer.say("still here")
        await peer.wait_for(lambda: [m.text for m in peer.messages()] == ["still here"])


# ------------------------------------------------------------------------------------------ taken uids


async def test_a_taken_uid_refuses_the_joining_viewer_and_the_others_carry_on() -> None:
    async with project() as emu, viewer(emu, "3001") as first, viewer(emu, "42") as bot:
        with pytest.raises(JoinError) as caught:
            await RoomTransport(emu.room_url).join(
                JoinParams(app_id=APP_ID, channel=CHANNEL, uid="3001", token=token(3001)), timeout=5
            )
        assert caught.value.reason == 19  # Agora's SAME_UID_LOGIN
        await bot.transport.send(b'{"v":2,"type":"chat","mid":"m1","idx":0,"fin":true,"pld":{"text":"hi"}}')
        await emu.wait_until(lambda: len(first.frames_from("42")) == 1)
        room = emu.room_for_channel(CHANNEL)
        assert room is not None
        assert sorted(room.peers) == ["3001", "42"]


async def test_an_avatar_whose_uid_is_taken_stays_out_its_session_fails_and_the_emulator_serves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with project() as emu, viewer(emu, "5001") as squatter, viewer(emu, "42") as bot, rest(emu) as http:
        credentials = {"agora_uid": 5001, "agora_channel": CHANNEL, "agora_token": token(5001)}
        session = await create(http, {"avatar_id": AVATAR_ID, "mode_type": 1, "credentials": credentials})
        room = emu.room_for(session["_id"])
        assert room is not None
        assert room.avatar is not None
        avatar = room.avatar
        await emu.wait_until(lambda: avatar.left.is_set())
        assert avatar.join_refused == 19
        assert not avatar.joined.is_set()
        assert await status(http, session["_id"]) == 4  # the session failed; billing stopped
        assert emu.open_session_count() == 0
        # The people in the room never noticed.
        await bot.transport.send(b'{"v":2,"type":"chat","mid":"m1","idx":0,"fin":true,"pld":{"text":"hi"}}')
        await emu.wait_until(lambda: len(squatter.frames_from("42")) == 1)
        # Another session with a free uid joins the same room and answers.
        credentials = {"agora_uid": 5002, "agora_channel": CHANNEL, "agora_token": token(5002)}
        other = await create(http, {"avatar_id": AVATAR_ID, "mode_type": 2, "credentials": credentials})
        await emu.wait_until(lambda: PeerJoined("5002") in bot.events)
        await room.inject_user_speech("hello there")
        await emu.wait_until(lambda: any(m.source == "bot" and m.sender == "5002" for m in bot.messages))
        await http.post("/api/open/v4/liveAvatar/session/close", json={"id": other["_id"]})
        await still_serving(emu)
    assert not [r for r in caplog.records if r.exc_info], "an exception reached the log"


async def test_the_docs_create_example_posted_twice_fails_the_second_session_and_nothing_else() -> None:
    async with Emulator(fast_config()) as emu, rest(emu) as http:
        body = {"avatar_id": AVATAR_ID, "mode_type": 1, "credentials": DOCS_BYO_EXAMPLE}
        first = await create(http, body)
        first_avatar = emu.room_for(first["_id"]).avatar  # type: ignore[union-attr]
        assert first_avatar is not None
        await emu.wait_until(first_avatar.joined.is_set)
        second = await create(http, body)
        second_avatar = emu.room_for(second["_id"]).avatars[-1]  # type: ignore[union-attr]
        assert second_avatar is not first_avatar
        await emu.wait_until(lambda: second_avatar.join_refused is not None)
        assert second_avatar.join_refused == 19
        await emu.wait_until(lambda: emu.state.sessions[second["_id"]].status == 4)
        assert await status(http, second["_id"]) == 4
        assert await status(http, first["_id"]) in (1, 2)  # the first keeps its room and avatar (not failed)
        room = emu.room_for_channel("your-channel")
        assert room is not None
        assert room.peers["100000"].role.value == "avatar"
        assert first_avatar.joined.is_set()
        assert not first_avatar.left.is_set()
        await still_serving(emu)


# ------------------------------------------------------------------------------- closing by identity


async def test_closing_the_failed_session_leaves_the_first_sessions_avatar_in_the_room() -> None:
    async with project() as emu, viewer(emu, "3001") as watcher, rest(emu) as http:
        credentials = {"agora_uid": 5001, "agora_channel": CHANNEL, "agora_token": token(5001)}
        body = {"avatar_id": AVATAR_ID, "mode_type": 2, "credentials": credentials}
        first = await create(http, body)
        await emu.wait_until(lambda: PeerJoined("5001") in watcher.events)
        second = await create(http, body)
        room = emu.room_for_channel(CHANNEL)
        assert isinstance(room, AvatarRoom)
        first_avatar, second_avatar = room.avatars
        await emu.wait_until(second_avatar.left.is_set)
        await http.post("/api/open/v4/liveAvatar/session/close", json={"id": second["_id"]})
        assert "5001" in room.peers
        assert first_avatar.joined.is_set()
        assert not first_avatar.left.is_set()
        assert await status(http, first["_id"]) in (1, 2)  # not failed
        await room.inject_user_speech("are you still there?")
        await emu.wait_until(lambda: any(m.source == "bot" for m in watcher.messages))


async def test_a_session_closed_before_its_avatar_joined_never_removes_the_other_avatar() -> None:
    async with project(avatar_join_delay=0.3) as emu, viewer(emu, "3001") as watcher, rest(emu) as http:
        credentials = {"agora_uid": 5001, "agora_channel": CHANNEL, "agora_token": token(5001)}
        body = {"avatar_id": AVATAR_ID, "mode_type": 2, "credentials": credentials}
        await create(http, body)
        await emu.wait_until(lambda: PeerJoined("5001") in watcher.events)
        second = await create(http, body)
        room = emu.room_for_channel(CHANNEL)
        assert isinstance(room, AvatarRoom)
        first_avatar, second_avatar = room.avatars
        closed = (await http.post("/api/open/v4/liveAvatar/session/close", json={"id": second["_id"]})).json()
        assert closed["code"] == 1000
        await emu.wait_until(second_avatar.left.is_set)  # stopped: it will never join
        assert not second_avatar.joined.is_set()
        assert first_avatar.joined.is_set()
        assert not first_avatar.left.is_set()
        assert room.peers["5001"].role.value == "avatar"
        assert watcher.events.count(PeerJoined("5001")) == 1


async def test_two_sessions_on_one_agora_room_the_failed_second_leaves_the_first_alone() -> None:
    clock = WallClock()
    options = SessionOptions(avatar_join_timeout=5, reply_timeout=15, command_timeout=5, close_timeout=5)
    async with project(wall_clock=clock) as emu:
        room = AgoraRoom(
            channel=CHANNEL,
            app_id=APP_ID,
            app_certificate=CERT,
            avatar_uid=5001,
            bot_uid=42,
            room_url=emu.room_url,
            clock=clock,
        )
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            async with connect(client, avatar_id=AVATAR_ID, mode_type=1, options=options, room=room) as first:
                with pytest.raises(JoinError):
                    async with connect(client, avatar_id=AVATAR_ID, mode_type=1, options=options, room=room):
                        pass
                shared = emu.room_for_channel(CHANNEL)
                assert shared is not None
                first_avatar = shared.avatars[0]
                assert first_avatar.joined.is_set()
                assert not first_avatar.left.is_set()
                assert (await first.say("The first session still has its avatar.")).reply == (
                    "The first session still has its avatar."
                )
                assert shared.peers["5001"].role.value == "avatar"
        assert emu.open_session_count() == 0


# --------------------------------------------------------------------------------------------- limits


async def test_the_default_room_refuses_what_agora_refuses_and_reports_traffic_over_the_guidance(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="streamclient.emulator")
    clock = ManualClock()  # the room's clock stands still: every send below falls into one sliding second
    async with project(clock=clock) as emu, viewer(emu, "3001") as loud, viewer(emu, "3002") as chatty:
        async with viewer(emu, "42") as bot:
            for _ in range(7):  # 7,000 B in one second: over AKOOL's 6 KB/s guidance, within Agora's 30 KB/s
                await loud.transport.send(b"x" * 1000)
            room = emu.room_for_channel(CHANNEL)
            assert room is not None
            assert room.guide_violations() == [GuideViolation("3001", 1, 7000, 6000)]
            for _ in range(23):  # 30,000 B in the second
                await loud.transport.send(b"x" * 1000)
            with pytest.raises(SendRateLimitedError) as bitrate:  # 31,000 B > 30 KB/s
                await loud.transport.send(b"x" * 1000)
            assert bitrate.value.code == -115
            for _ in range(60):  # 60 messages a second per stream
                await chatty.transport.send(b"y")
            with pytest.raises(SendRateLimitedError) as often:
                await chatty.transport.send(b"y")
            assert often.value.code == -12
            await emu.wait_until(lambda: len(bot.frames_from("3001")) == 30 and len(bot.frames_from("3002")) == 60)
            (violation,) = room.guide_violations()
            assert violation == GuideViolation("3001", 24, 30000, 6000)
            assert room.rejected == {-115: 1, -12: 1}
    warnings = [r.getMessage() for r in caplog.records if "guidance" in r.getMessage()]
    assert len(warnings) == 1
    assert "3001" in warnings[0]
    assert "7000" in warnings[0]


async def official_send(transport: RoomTransport, text: str, clock: ScheduleClock) -> None:
    """AKOOL's official client's ``sendMessageToAvatar``: its chunks, its pacing, its "throw on a failed chunk".

    Each chunk starts ``official_pause`` after the previous one started (the client sleeps what is left of it after
    the send returns); here the room's clock takes that schedule, sends taking no time.
    """
    frames = official_chunks(text)
    clock.freeze()
    try:
        for i, frame in enumerate(frames):
            started = clock()
            await transport.send(frame)  # a refusal raises: the official client throws and abandons the rest
            if i < len(frames) - 1:
                clock.advance(max(0.0, official_pause(frame) - (clock() - started)))
    finally:
        clock.thaw()


def busiest_second(frames: list[bytes]) -> int:
    """The most bytes of ``frames`` that start within one sliding second, on the official client's schedule."""
    starts, t = [], 0.0
    for frame in frames:
        starts.append(t)
        t += official_pause(frame)
    return max(sum(len(f) for s, f in zip(starts, frames, strict=True) if end - 1.0 < s <= end) for end in starts)


async def summary(text: str, _info: SessionInfo) -> str:
    return f"A summary of your {len(text)} characters."


async def test_the_official_client_sends_a_5_kb_message_through_the_default_room_and_gets_the_answer() -> None:
    text = "Please summarise this long note for me. " * 125  # 5,000 B: 24 chunks of ~300 B, 51 ms apart
    clock = ScheduleClock()
    async with Emulator(fast_config(responder=summary), clock=clock) as emu, client_peer(emu, mode_type=2) as peer:
        await official_send(peer.transport, text, clock)
        avatar = peer.room.avatar
        assert avatar is not None
        await peer.wait_for(lambda: len(avatar.received_texts) == 1 and len(peer.messages()) == 1)
        assert avatar.received_texts == [text]
        assert peer.messages()[0].text == "A summary of your 5000 characters."  # the avatar's answer
        assert peer.room.rejected == {}
        busiest = busiest_second(official_chunks(text))
        assert busiest > 6000  # 20 chunks of 301-302 B, 51 ms apart: over the guidance, as the issue measured
        (violation,) = peer.room.guide_violations()  # reported, not refused
        assert violation.sender == peer.transport.local_uid
        assert violation.worst_window_bytes == busiest


async def test_the_guide_room_refuses_the_official_clients_twentieth_chunk() -> None:
    clock = ScheduleClock()
    async with (
        Emulator(fast_config(room_limits="guide"), clock=clock) as emu,
        client_peer(emu, mode_type=2) as peer,
    ):
        with pytest.raises(SendRateLimitedError):
            await official_send(peer.transport, "Please summarise this long note for me. " * 125, clock)
        assert peer.room.rejected == {-115: 1}
        assert peer.room.guide_violations() == []
