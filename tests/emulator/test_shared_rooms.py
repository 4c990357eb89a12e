"""Shared rooms in a channel the caller owns: every join and renewal token is checked, tokens lapse on schedule."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.codec.connection import ProtocolConnection, Role
from streamclient.codec.events import ChatMessage
from streamclient.emulator import Emulator
from streamclient.errors import InvalidParameterError, JoinError, TransportError
from streamclient.tokens.agora import build_rtc_token
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    PeerJoined,
    PeerLeft,
    TokenExpired,
    TokenWillExpire,
    TransportEvent,
)
from streamclient.transport.room import RoomTransport

from .emulator_harness import AVATAR_ID, fast_config

APP_ID = secrets.token_hex(16)
CERT = secrets.token_hex(16)
CHANNEL = "shared-room"
T0 = 1_800_000_000.0


class WallClock:
    """A fake epoch clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def token(uid: int | str, *, channel: str = CHANNEL, expire: int = 600, cert: str = CERT, **kw: Any) -> str:
    return build_rtc_token(APP_ID, cert, channel=channel, uid=uid, expire=expire, issued_at=int(T0), **kw)


@dataclass
class Participant:
    transport: RoomTransport
    events: list[TransportEvent] = field(default_factory=list)
    conn: ProtocolConnection = field(default_factory=lambda: ProtocolConnection(Role.CLIENT))
    messages: list[ChatMessage] = field(default_factory=list)
    ended: anyio.Event = field(default_factory=anyio.Event)

    async def pump(self) -> None:
        try:
            async for event in self.transport.events():
                self.events.append(event)
                if isinstance(event, FrameReceived):
                    self.conn.receive_data(event.data, sender=event.sender, now=anyio.current_time())
                    self.messages.extend(e for e in self.conn.events_received() if isinstance(e, ChatMessage))
        finally:
            self.ended.set()


@asynccontextmanager
async def shared_emulator(clock: WallClock) -> AsyncIterator[Emulator]:
    config = fast_config(agora_app_id=APP_ID, agora_app_certificate=CERT)
    async with Emulator(config, wall_clock=clock) as emu:
        yield emu


@asynccontextmanager
async def joined(emu: Emulator, uid: str, tok: str, *, app_id: str = APP_ID) -> AsyncIterator[Participant]:
    transport = RoomTransport(emu.room_url)
    await transport.join(JoinParams(app_id=app_id, channel=CHANNEL, uid=uid, token=tok), timeout=5)
    participant = Participant(transport)
    async with anyio.create_task_group() as tg:
        tg.start_soon(participant.pump)
        try:
            yield participant
        finally:
            await transport.leave()


async def _join_error(emu: Emulator, uid: str, tok: str, *, app_id: str = APP_ID) -> JoinError:
    transport = RoomTransport(emu.room_url)
    with pytest.raises(JoinError) as caught:
        await transport.join(JoinParams(app_id=app_id, channel=CHANNEL, uid=uid, token=tok), timeout=5)
    return caught.value


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("another app id", 6),
        ("bad signature", 8),
        ("wrong channel", 8),
        ("wrong uid", 8),
        ("expired", 9),
        ("garbage", 8),
        ("empty", 8),
    ],
)
async def test_every_bad_join_token_is_refused_with_agoras_reason(case: str, reason: int) -> None:
    clock = WallClock()
    async with shared_emulator(clock) as emu:
        uid, tok, app_id = "3001", token(3001), APP_ID
        if case == "another app id":
            app_id = secrets.token_hex(16)
        elif case == "bad signature":
            tok = token(3001, cert=secrets.token_hex(16))
        elif case == "wrong channel":
            tok = token(3001, channel="another-room")
        elif case == "wrong uid":
            tok = token(3002)
        elif case == "expired":
            clock.now = T0 + 600
        elif case == "garbage":
            tok = "007" + "A" * 40
        else:
            tok = ""
        error = await _join_error(emu, uid, tok, app_id=app_id)
        assert error.reason == reason
        assert tok[3:] not in str(error) or not tok[3:]
        assert emu.room_for_channel(CHANNEL) is None  # a refused join opens no room


async def test_participants_share_the_room_by_channel_and_see_each_other() -> None:
    async with shared_emulator(WallClock()) as emu:
        async with joined(emu, "3001", token(3001)) as viewer:
            async with joined(emu, "42", token(42)) as bot:
                await emu.wait_until(lambda: PeerJoined("42") in viewer.events)
                assert PeerJoined("3001") in bot.events
                room = emu.room_for_channel(CHANNEL)
                assert room is not None
                assert sorted(room.peers) == ["3001", "42"]
            await emu.wait_until(lambda: PeerLeft("42", 0) in viewer.events)


async def test_a_uid_0_token_admits_any_uid_but_string_accounts_must_match() -> None:
    async with shared_emulator(WallClock()) as emu:
        async with joined(emu, "777", token(0)):
            pass
        async with joined(emu, "alice", token("alice")):
            pass
        assert (await _join_error(emu, "bob", token("alice"))).reason == 8


async def test_tokens_warn_then_lapse_unless_renewed() -> None:
    clock = WallClock()
    async with shared_emulator(clock) as emu:
        async with joined(emu, "3001", token(3001, expire=120)) as viewer, joined(emu, "42", token(42)) as bot:
            clock.now = T0 + 95  # 25 s left: inside Agora's 30 s warning
            await emu.wait_until(lambda: TokenWillExpire() in viewer.events)
            assert TokenWillExpire() not in bot.events
            # Renewal with a bad token is refused; the old one still counts.
            with pytest.raises(TransportError, match="invalid"):
                await viewer.transport.renew_token(token(3001, cert=secrets.token_hex(16)))
            # A good renewal moves the lapse time.
            fresh = build_rtc_token(APP_ID, CERT, channel=CHANNEL, uid=3001, expire=120, issued_at=int(clock.now))
            await viewer.transport.renew_token(fresh)
            clock.now = T0 + 130  # past the first token, within the renewed one
            room = emu.room_for_channel(CHANNEL)
            assert room is not None
            room.check_tokens()  # what the room's token watch does at this time, done now (no waiting)
            assert "3001" in room.peers
            assert TokenExpired() not in viewer.events
            clock.now = T0 + 95 + 120
            with anyio.fail_after(5):
                await viewer.ended.wait()
            assert viewer.events[-2:] == [TokenExpired(), ConnectionStateChanged(ConnectionState.FAILED, 9)]
            await emu.wait_until(lambda: PeerLeft("3001", 1) in bot.events)
            assert room.token_expired == ["3001"]
            assert not bot.ended.is_set()


async def test_renewing_with_an_expired_token_answers_expired() -> None:
    clock = WallClock()
    async with shared_emulator(clock) as emu, joined(emu, "3001", token(3001, expire=600)) as viewer:
        stale = token(3001, expire=60)
        clock.now = T0 + 61
        with pytest.raises(TransportError, match="expired"):
            await viewer.transport.renew_token(stale)


async def test_byo_credentials_send_the_avatar_into_the_callers_channel() -> None:
    clock = WallClock()
    async with shared_emulator(clock) as emu, joined(emu, "3001", token(3001)) as viewer:
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            credentials = {
                "agora_uid": 5001,
                "agora_app_id": APP_ID,
                "agora_channel": CHANNEL,
                "agora_token": token(5001),
            }
            info = await client.sessions.create(AVATAR_ID, mode_type=2, credentials=credentials)
            await emu.wait_until(lambda: PeerJoined("5001") in viewer.events)
            room = emu.room_for_channel(CHANNEL)
            assert room is not None
            assert emu.room_for(info.id) is room
            # The viewer's speech, as AKOOL's ASR reports it, reaches everyone in the room; mode 2 answers it.
            await room.inject_user_speech("hello there")
            await emu.wait_until(lambda: any(m.source == "bot" for m in viewer.messages))
            assert [m.text for m in viewer.messages if m.source == "user"] == ["hello there"]
            assert {m.sender for m in viewer.messages} == {"5001"}
            # Closing the session takes the avatar out; the caller's room and its people stay.
            await client.sessions.close(info.id)
            await emu.wait_until(lambda: PeerLeft("5001", 0) in viewer.events)
            assert not room.closed
            assert sorted(room.peers) == ["3001"]


async def test_an_avatar_with_a_bad_token_stays_out() -> None:
    async with shared_emulator(WallClock()) as emu:
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            bad = token(5001, cert=secrets.token_hex(16))
            credentials = {"agora_uid": 5001, "agora_channel": CHANNEL, "agora_token": bad}
            info = await client.sessions.create(AVATAR_ID, credentials=credentials)
            room = emu.room_for(info.id)
            assert room is not None
            assert room.avatar is not None
            avatar = room.avatar
            await emu.wait_until(lambda: avatar.left.is_set())
            assert avatar.join_refused == 8
            assert not avatar.joined.is_set()


async def test_the_avatars_token_lapses_on_schedule_too() -> None:
    clock = WallClock()
    async with shared_emulator(clock) as emu, joined(emu, "3001", token(3001, expire=3600)) as viewer:
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            credentials = {"agora_uid": 5001, "agora_channel": CHANNEL, "agora_token": token(5001, expire=300)}
            await client.sessions.create(AVATAR_ID, credentials=credentials)
            await emu.wait_until(lambda: PeerJoined("5001") in viewer.events)
            clock.now = T0 + 300
            await emu.wait_until(lambda: PeerLeft("5001", 1) in viewer.events)


@pytest.mark.parametrize(
    "credentials",
    [
        "not an object",
        {"agora_channel": CHANNEL, "agora_token": "t"},
        {"agora_uid": "5001", "agora_channel": CHANNEL, "agora_token": "t"},
        {"agora_uid": 5001, "agora_token": "t"},
        {"agora_uid": 5001, "agora_channel": CHANNEL},
        {"agora_uid": 5001, "agora_channel": CHANNEL, "agora_token": "t", "agora_app_id": 5},
    ],
)
async def test_malformed_byo_credentials_are_refused_at_create(credentials: Any) -> None:
    async with shared_emulator(WallClock()) as emu:
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            with pytest.raises(InvalidParameterError):
                await client.sessions.create(AVATAR_ID, extra_body={"credentials": credentials})
        assert emu.open_session_count() == 0


async def test_without_a_project_an_unknown_channel_is_refused() -> None:
    async with Emulator(fast_config()) as emu:
        error = await _join_error(emu, "3001", token(3001))
        assert error.reason == 7


def test_the_config_needs_both_project_fields_and_hides_the_certificate() -> None:
    with pytest.raises(ValueError, match="both"):
        fast_config(agora_app_id=APP_ID)
    assert CERT not in repr(fast_config(agora_app_id=APP_ID, agora_app_certificate=CERT))
