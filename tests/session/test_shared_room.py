"""A session in a room the caller owns: tokens, bring-your-own credentials, the avatar found by uid, renewal."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from pydantic import SecretStr

from streamclient.api import AsyncAkoolClient
from streamclient.codec import ProtocolConnection, Role
from streamclient.codec.chunking import new_mid
from streamclient.codec.frames import ChatFrame, encode_frame
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.errors import ConfigurationError, InvalidArgumentError, JoinError
from streamclient.session import (
    AgoraRoom,
    AvatarJoined,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMessage,
    SessionEvent,
    SessionOptions,
    connect,
)
from streamclient.session._fanout import EventFanout
from streamclient.session._inbound import Inbound
from streamclient.session.stats import SessionStats
from streamclient.tokens.agora import RtcRole, check_rtc_token, parse_token
from streamclient.transport.base import FrameReceived, JoinParams, PeerJoined, PeerLeft
from streamclient.transport.room import RoomTransport

AVATAR = "dvp_Tristan_cloth2_1080P"
APP_ID = secrets.token_hex(16)
CERT = secrets.token_hex(16)
OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=15, command_timeout=5, close_timeout=5)
T0 = 1_800_000_000.0


class WallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make_room(emu: Emulator | None = None, clock: WallClock | None = None, **kw: object) -> AgoraRoom:
    return AgoraRoom(
        channel="support-42",
        app_id=APP_ID,
        app_certificate=CERT,
        avatar_uid=5001,
        bot_uid=42,
        room_url=emu.room_url if emu is not None else None,
        clock=clock or WallClock(),
        **kw,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def project_emulator(clock: WallClock) -> AsyncIterator[tuple[Emulator, AsyncAkoolClient]]:
    config = EmulatorConfig(
        avatar_join_delay=0.05, speech_chars_per_second=3000.0, agora_app_id=APP_ID, agora_app_certificate=CERT
    )
    async with Emulator(config, wall_clock=clock) as emu:
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            yield emu, client
        assert emu.open_session_count() == 0, "a session was left open"


# ---------------------------------------------------------------------------------------------- AgoraRoom


def test_room_reads_the_project_from_the_environment_and_keeps_the_certificate_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGORA_APP_ID", APP_ID)
    monkeypatch.setenv("AGORA_APP_CERTIFICATE", CERT)
    room = AgoraRoom(channel="c1")
    assert room.app_id == APP_ID
    assert room.avatar_uid != room.bot_uid
    assert CERT not in repr(room)
    assert CERT not in str(vars(room) if hasattr(room, "__dict__") else "")
    monkeypatch.delenv("AGORA_APP_CERTIFICATE")
    with pytest.raises(ConfigurationError, match="AGORA_APP_CERTIFICATE"):
        AgoraRoom(channel="c1")


def test_room_credentials_are_cleaned_like_the_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # A pasted certificate often ends with a newline: stripped, and the tokens verify against the clean value.
    monkeypatch.setenv("AGORA_APP_ID", APP_ID + "\n")
    monkeypatch.setenv("AGORA_APP_CERTIFICATE", CERT + "\r\n")
    room = AgoraRoom(channel="c1")
    assert room.app_id == APP_ID
    token = room.bot_token()
    check_rtc_token(token, app_id=APP_ID, app_certificate=CERT, channel="c1", uid=str(room.bot_uid), now=time.time())
    # An inner space is refused by name, never echoed.
    broken = CERT[:8] + " " + CERT[8:]
    monkeypatch.setenv("AGORA_APP_CERTIFICATE", broken)
    with pytest.raises(ConfigurationError, match="AGORA_APP_CERTIFICATE contains a space") as info:
        AgoraRoom(channel="c1")
    assert CERT[8:] not in str(info.value)
    with pytest.raises(ConfigurationError, match="the app_certificate argument contains a space"):
        AgoraRoom(channel="c1", app_certificate=SecretStr(broken))


@pytest.mark.parametrize(
    "kwargs",
    [{"app_id": "not-hex"}, {"channel": ""}, {"avatar_uid": 7, "bot_uid": 7}, {"token_ttl": 10}, {"bot_uid": -1}],
)
def test_room_refuses_bad_settings_before_any_session(kwargs: dict[str, object]) -> None:
    settings: dict[str, object] = {"channel": "c1", "app_id": APP_ID, "app_certificate": CERT, **kwargs}
    with pytest.raises(InvalidArgumentError):
        AgoraRoom(**settings)  # type: ignore[arg-type]


def test_viewer_token_in_one_call() -> None:
    clock = WallClock()
    room = make_room(clock=clock)
    viewer = room.viewer_token(3001, role=RtcRole.SUBSCRIBER, expire=900)
    assert viewer.expires_at == int(T0) + 900
    assert viewer.token not in repr(viewer)
    assert viewer.as_dict()["appId"] == APP_ID
    token = check_rtc_token(viewer.token, app_id=APP_ID, app_certificate=CERT, channel="support-42", uid="3001", now=T0)
    assert [dict(g.privileges) for g in token.rtc] == [{1: 900}]
    publisher = parse_token(room.viewer_token("alice").token)
    assert publisher.rtc[0].uid == "alice"
    assert sorted(publisher.rtc[0].privileges) == [1, 2, 3, 4]
    with pytest.raises(InvalidArgumentError):
        room.viewer_token(5001)
    with pytest.raises(InvalidArgumentError):
        room.viewer_token(3001, expire=0)


def test_avatar_credentials_last_the_whole_session() -> None:
    room = make_room()
    credentials = room.avatar_credentials(1200)
    assert {k: credentials[k] for k in ("agora_uid", "agora_app_id", "agora_channel")} == {
        "agora_uid": 5001,
        "agora_app_id": APP_ID,
        "agora_channel": "support-42",
    }
    assert parse_token(credentials["agora_token"]).expire == 1200 + 300
    assert parse_token(room.avatar_credentials(None)["agora_token"]).expire == 600 + 300
    params = room.join_params()
    assert (params.channel, params.uid) == ("support-42", "42")
    assert parse_token(params.token).expire == 3600


# ------------------------------------------------------------------------------------- inbound identity


def _inbound(avatar_uid: str | None) -> tuple[Inbound, list[SessionEvent]]:
    fanout = EventFanout(maxlen=100)
    seen: list[SessionEvent] = []
    fanout.add_callback(seen.append, None)
    inbound = Inbound(
        conn=ProtocolConnection(Role.CLIENT),
        fanout=fanout,
        stats=SessionStats(),
        local_uid=lambda: "42",
        on_connection_failed=lambda: None,
        label="t",
        avatar_uid=avatar_uid,
    )
    return inbound, seen


def _bot_chat(text: str) -> bytes:
    return encode_frame(ChatFrame(mid=new_mid(), idx=0, fin=True, text=text, source="bot"))


async def test_a_known_avatar_uid_is_waited_for_and_others_are_kept_apart() -> None:
    inbound, seen = _inbound("5001")
    inbound.on_transport_event(PeerJoined("42"))  # ourselves
    inbound.on_transport_event(PeerJoined("3001"))  # a viewer joined first
    assert (inbound.avatar_uid, inbound.avatar_joined.is_set()) == (None, False)
    inbound.on_transport_event(FrameReceived("3001", _bot_chat("I am not the avatar")))
    inbound.on_transport_event(PeerJoined("5001"))
    inbound.on_transport_event(PeerLeft("3001", 0))
    assert inbound.avatar_uid == "5001"
    kinds = [type(e) for e in seen]
    assert kinds == [ParticipantJoined, ParticipantMessage, ParticipantMessage, AvatarJoined, ParticipantLeft]
    assert [e.final for e in seen if isinstance(e, ParticipantMessage)] == [False, True]
    message = seen[2]
    assert isinstance(message, ParticipantMessage)
    assert (message.uid, message.text, message.source, message.final) == ("3001", "I am not the avatar", "bot", True)
    assert inbound._stats.frames_from_others == 1


async def test_an_unknown_avatar_is_the_first_to_join_with_a_warning_for_the_second(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbound, seen = _inbound(None)
    with caplog.at_level(logging.WARNING):
        inbound.on_transport_event(PeerJoined("1000100"))
        inbound.on_transport_event(PeerJoined("3001"))
    assert inbound.avatar_uid == "1000100"
    assert seen == [AvatarJoined("1000100"), ParticipantJoined("3001")]
    assert "joined besides the avatar" in caplog.text
    inbound.on_transport_event(FrameReceived("3001", _bot_chat("fake")))
    assert isinstance(seen[-1], ParticipantMessage)


# ------------------------------------------------------------------------------------ against the emulator


async def test_connect_with_a_room_sends_the_avatar_in_and_joins_as_our_uid() -> None:
    clock = WallClock()
    async with project_emulator(clock) as (emu, client):
        room = make_room(emu, clock)
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS, room=room) as session:
            assert session.avatar_uid == "5001"
            assert session.room is room
            shared = emu.room_for_channel("support-42")
            assert shared is not None
            assert sorted(shared.peers) == ["42", "5001"]
            result = await session.say("Hello from a room we own.")
            assert result.reply == "Hello from a room we own."
        await emu.wait_until(lambda: not shared.peers)


async def test_a_viewer_who_joined_first_is_not_taken_for_the_avatar() -> None:
    clock = WallClock()
    async with project_emulator(clock) as (emu, client):
        room = make_room(emu, clock)
        viewer = RoomTransport(emu.room_url)
        grant = room.viewer_token(3001)
        await viewer.join(JoinParams(app_id=APP_ID, channel=room.channel, uid="3001", token=grant.token))
        try:
            async with connect(client, avatar_id=AVATAR, mode_type=1, options=OPTIONS, room=room) as session:
                assert session.avatar_uid == "5001"
                events = session.events()
                # The viewer pretends to be the avatar while a turn waits for its reply.
                turn = session.say("The real reply comes from the avatar.")
                await viewer.send(_bot_chat("A fake reply from the viewer."))
                result = await turn
                assert result.reply == "The real reply comes from the avatar."
                await session.aclose()
                seen = [e async for e in events]
            fakes = [e for e in seen if isinstance(e, ParticipantMessage)]
            assert {(e.uid, e.text) for e in fakes} == {("3001", "A fake reply from the viewer.")}
            assert session.stats.frames_from_others == 1
        finally:
            await viewer.leave()


async def test_our_token_is_renewed_before_it_lapses() -> None:
    clock = WallClock()
    async with project_emulator(clock) as (emu, client):
        room = make_room(emu, clock, token_ttl=120)
        async with connect(client, avatar_id=AVATAR, mode_type=1, options=OPTIONS, room=room) as session:
            clock.now = T0 + 100  # 20 s before our token lapses
            await emu.wait_until(lambda: session.token_renewals == 1)
            clock.now = T0 + 150  # past the first token's lapse: still in, thanks to the renewal
            shared = emu.room_for_channel(room.channel)
            assert shared is not None
            shared.check_tokens()  # what the room's token watch does at this time, done now (no waiting)
            assert "42" in shared.peers
            assert not session.closed
            assert (await session.say("Still here.")).reply == "Still here."
        assert shared.token_expired == []


async def test_room_and_credentials_together_are_refused() -> None:
    async with project_emulator(WallClock()) as (emu, client):
        with pytest.raises(InvalidArgumentError, match="not both"):
            connect(client, avatar_id=AVATAR, room=make_room(emu), credentials={"agora_uid": 1})


async def test_a_refused_renewal_is_logged_and_the_session_ends_when_the_token_lapses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = WallClock()
    async with project_emulator(clock) as (emu, client):
        room = make_room(emu, clock, token_ttl=120)
        async with connect(client, avatar_id=AVATAR, mode_type=1, options=OPTIONS, room=room) as session:
            room._cert = SecretStr(secrets.token_hex(16))  # the project's certificate was rotated under us
            with caplog.at_level(logging.ERROR):
                clock.now = T0 + 100
                await emu.wait_until(lambda: "renewing the channel token failed" in caplog.text)
            assert session.token_renewals == 0
            clock.now = T0 + 120
            with anyio.fail_after(10):
                assert await session.wait_closed() == "disconnected"
        assert CERT not in caplog.text


async def test_an_empty_renewal_token_is_refused_before_sending() -> None:
    async with project_emulator(WallClock()) as (emu, _):
        transport = RoomTransport(emu.room_url)
        room = make_room(emu)
        await transport.join(room.join_params())
        try:
            with pytest.raises(InvalidArgumentError):
                await transport.renew_token("")
        finally:
            await transport.leave()


async def test_a_join_refused_by_the_channel_still_closes_the_created_session() -> None:
    async with project_emulator(WallClock()) as (emu, client):
        room = AgoraRoom(
            channel="support-42", app_id=APP_ID, app_certificate=secrets.token_hex(16), room_url=emu.room_url
        )
        with pytest.raises(JoinError) as caught:
            async with connect(client, avatar_id=AVATAR, options=OPTIONS, room=room):
                pass
        assert caught.value.reason == 8
    # project_emulator asserts that no session was left open


async def test_a_bad_duration_is_refused_by_create_not_by_the_room() -> None:
    async with project_emulator(WallClock()) as (emu, client):
        with pytest.raises(InvalidArgumentError, match="duration"):
            async with connect(client, avatar_id=AVATAR, options=OPTIONS, room=make_room(emu), duration="long"):  # type: ignore[arg-type]
                pass


@pytest.mark.parametrize("uid", [0, "0", " 0"])
def test_no_token_for_uid_0_which_agora_reads_as_any_uid(uid: int | str) -> None:
    room = make_room()
    with pytest.raises(InvalidArgumentError, match="any uid"):
        room.viewer_token(uid)
    with pytest.raises(InvalidArgumentError, match="any uid"):
        room.mint_token(uid)


def test_no_token_for_the_avatars_or_the_bots_uid() -> None:
    room = make_room()
    for uid, whose in ((room.avatar_uid, "avatar's"), (str(room.bot_uid), "bot's")):
        with pytest.raises(InvalidArgumentError, match=whose):
            room.viewer_token(uid)
        with pytest.raises(InvalidArgumentError, match=whose):
            room.mint_token(uid)
    # The room's own tokens still come out: the bot's (join, renewal) and the avatar's (create).
    assert parse_token(room.bot_token()).rtc[0].uid == str(room.bot_uid)
    assert parse_token(room.avatar_credentials(60)["agora_token"]).rtc[0].uid == str(room.avatar_uid)
    assert parse_token(room.mint_token(3001)).rtc[0].uid == "3001"
