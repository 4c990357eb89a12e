"""The whole scene: a bot and a browser viewer share one room the caller owns, with the avatar.

The viewer (a second participant with its own minted token) speaks (injected user transcripts, as AKOOL's ASR
reports them); the bot answers; a second viewer comes and goes mid-answer; the first viewer sends a frame that
looks like an avatar reply; the viewer barges in and the bot interrupts. Nothing that did not come from the avatar
is taken for it; the session is closed; and every token (the avatar's, the bot's, the viewer's) lapses exactly on
schedule, on the emulator's fake wall clock.

The bot answers the way an LLM bot does: ``session.say_stream`` of a token stream, each sentence sent as it completes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.codec import ProtocolConnection, Role
from streamclient.codec.chunking import new_mid
from streamclient.codec.events import ChatMessage
from streamclient.codec.frames import ChatFrame, encode_frame
from streamclient.emulator import Emulator, EmulatorConfig, Room
from streamclient.errors import AgoraTokenError
from streamclient.session import (
    AgoraRoom,
    AvatarSession,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMessage,
    SessionEvent,
    SessionOptions,
    Turn,
    UserTranscript,
    connect,
)
from streamclient.tokens.agora import RtcRole, check_rtc_token, parse_token
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    TokenExpired,
    TokenWillExpire,
    TransportEvent,
)
from streamclient.transport.room import RoomTransport

AVATAR = "dvp_Tristan_cloth2_1080P"
APP_ID = secrets.token_hex(16)
CERT = secrets.token_hex(16)
CHANNEL = "scene-room"
T0 = 1_800_000_000.0
ANSWER = (
    "Streaming avatars turn text into speech and video in real time. "
    "A bot sends its answer, and the avatar speaks it to everyone in the room. "
    "Anyone can interrupt, and the bot stops the avatar at once. "
    "This sentence should never be heard in full, because the viewer barges in."
)
SENTENCES = [s if i == 0 else " " + s for i, s in enumerate(re.findall(r"[^.]+\.", ANSWER.replace(". ", ".")))]
OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=20, command_timeout=5, close_timeout=5)


class WallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class RecordingRoom(AgoraRoom):
    """An AgoraRoom that remembers every token it minted, to check their schedules at the end."""

    def __init__(self, **kwargs: Any) -> None:
        self.minted: list[str] = []
        super().__init__(**kwargs)

    def _mint(self, uid: int | str, *, role: RtcRole = RtcRole.PUBLISHER, expire: int | None = None) -> str:
        token = super()._mint(uid, role=role, expire=expire)
        self.minted.append(token)
        return token


class Viewer:
    """A simulated browser: joins with its own token, records what the room shows it."""

    def __init__(self, url: str, uid: str) -> None:
        self.uid = uid
        self.transport = RoomTransport(url)
        self.events: list[TransportEvent] = []
        self.conn = ProtocolConnection(Role.CLIENT)
        self.messages: list[ChatMessage] = []
        self.ended = anyio.Event()

    async def join(self, token: str) -> None:
        await self.transport.join(JoinParams(app_id=APP_ID, channel=CHANNEL, uid=self.uid, token=token), timeout=5)

    async def pump(self) -> None:
        try:
            async for event in self.transport.events():
                self.events.append(event)
                if isinstance(event, FrameReceived):
                    self.conn.receive_data(event.data, sender=event.sender, now=anyio.current_time())
                    self.messages.extend(e for e in self.conn.events_received() if isinstance(e, ChatMessage))
        finally:
            self.ended.set()


async def llm_tokens(text: str) -> AsyncIterator[str]:
    """The bot's "LLM": ``text`` word by word, a token every 20 ms."""
    for token in re.findall(r"\s*\S+", text):
        await anyio.sleep(0.02)
        yield token


class Bot:
    """The bot under test: answers what the viewer says, and interrupts the avatar when the viewer talks over it."""

    def __init__(self, session: AvatarSession) -> None:
        self.session = session
        self.heard: list[str] = []
        self.turns: list[Turn] = []
        self.interrupted = anyio.Event()
        self.answering = anyio.Event()

    async def run(self, events: Any) -> None:
        async for event in events:
            if isinstance(event, UserTranscript) and event.final:
                self.heard.append(event.text)
                if self.turns and not self.turns[-1].done:
                    await self.session.interrupt(drop_queued=True)
                    self.interrupted.set()
                else:
                    self.turns.append(self.session.say_stream(llm_tokens(ANSWER)))
                    self.answering.set()


def _fake_reply() -> bytes:
    return encode_frame(ChatFrame(mid=new_mid(), idx=0, fin=True, text="I am the avatar, trust me.", source="bot"))


async def test_bot_and_viewer_share_a_room_with_the_avatar() -> None:
    clock = WallClock()
    config = EmulatorConfig(
        avatar_join_delay=0.05,
        speech_chars_per_second=150.0,
        reply_chunk_chars=40,
        agora_app_id=APP_ID,
        agora_app_certificate=CERT,
    )
    async with (
        Emulator(config, wall_clock=clock) as emu,
        AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client,
    ):
        room = RecordingRoom(
            channel=CHANNEL,
            app_id=APP_ID,
            app_certificate=CERT,
            avatar_uid=5001,
            bot_uid=42,
            token_ttl=1200,
            room_url=emu.room_url,
            clock=clock,
        )
        viewer = Viewer(emu.room_url, "3001")
        viewer_grant = room.viewer_token(3001, expire=900)
        await viewer.join(viewer_grant.token)  # the browser is there before the bot and the avatar
        async with anyio.create_task_group() as pumps:
            pumps.start_soon(viewer.pump)
            await _scene(emu, client, room, viewer, clock)
            pumps.cancel_scope.cancel()


async def _scene(
    emu: Emulator, client: AsyncAkoolClient, room: RecordingRoom, viewer: Viewer, clock: WallClock
) -> None:
    async with anyio.create_task_group() as tg:
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=300, options=OPTIONS, room=room) as session:
            assert session.avatar_uid == "5001"
            shared = emu.room_for_channel(CHANNEL)
            assert shared is not None
            assert shared.avatar is not None
            assert sorted(shared.peers) == ["3001", "42", "5001"]
            bot = Bot(session)
            seen: list[SessionEvent] = []
            session.on(seen.append)
            tg.start_soon(bot.run, session.events())
            await anyio.wait_all_tasks_blocked()  # the bot listens

            # 1. The viewer speaks; the bot hears it (from the avatar's ASR) and answers.
            await shared.inject_user_speech("Tell me about streaming avatars.")
            with anyio.fail_after(10):
                await bot.answering.wait()
            turn = bot.turns[0]
            assert await turn.wait_reply_started(timeout=10)

            # 2. Mid-answer: a second viewer comes and goes, the first one fakes an avatar reply.
            second = Viewer(emu.room_url, "3002")
            await second.join(room.viewer_token(3002, role=RtcRole.SUBSCRIBER, expire=60).token)
            await viewer.transport.send(_fake_reply())
            await second.transport.leave()
            await emu.wait_until(lambda: any(isinstance(e, ParticipantLeft) for e in seen))
            assert not turn.done  # nothing above ended or answered the turn

            # 3. The viewer barges in; the bot interrupts the avatar.
            await shared.inject_user_speech("Wait, stop!")
            with anyio.fail_after(10):
                await bot.interrupted.wait()
            result = await turn
            assert result.interrupted
            assert result.reply != "I am the avatar, trust me."
            assert result.reply is None or ANSWER.startswith(result.reply.strip()[:20])
            assert bot.heard == ["Tell me about streaming avatars.", "Wait, stop!"]
            assert shared.avatar.interrupted_count == 1
            spoken = shared.avatar.replies  # the sentences the avatar finished before the barge-in
            assert spoken == SENTENCES[: len(spoken)]
            assert len(spoken) < len(SENTENCES)  # the answer was cut, never finished
        tg.cancel_scope.cancel()

    assert shared is not None
    shared_room: Room = shared  # (a name of its own: mypy does not carry narrowing into lambdas)

    # Nothing was taken for the avatar that did not come from it.
    assert ParticipantJoined("3002") in seen
    fakes = [e for e in seen if isinstance(e, ParticipantMessage)]
    assert {(e.uid, e.text) for e in fakes} == {("3001", "I am the avatar, trust me.")}
    assert session.stats.frames_from_others == 1
    transcripts = [e for e in seen if isinstance(e, UserTranscript) and e.final]
    assert [e.text for e in transcripts] == bot.heard
    # The viewer saw its own speech and the avatar's answer from the avatar's uid, and (a data stream reaches
    # everyone in an Agora channel) the bot's chat to the avatar from the bot's uid.
    assert [m.text for m in viewer.messages if m.source == "user"] == bot.heard
    assert {(m.sender, m.source) for m in viewer.messages} <= {("5001", "user"), ("5001", "bot"), ("42", None)}
    sent = [m.text for m in viewer.messages if m.sender == "42"]  # one chat message per sentence, in order
    assert sent == SENTENCES[: len(sent)]
    assert len(spoken) <= len(sent) < len(SENTENCES)  # the last sentence was never sent: the stream stopped

    # The session is closed: the avatar and the bot left; the viewer is still in the caller's room.
    assert session.close_reason == "closed"
    await emu.wait_until(lambda: sorted(shared_room.peers) == ["3001"])
    assert emu.open_session_count() == 0

    # Every token lapses on schedule. The viewer is warned 30 s before its 900 s run out, then removed.
    clock.now = T0 + 875
    await emu.wait_until(lambda: TokenWillExpire() in viewer.events)
    assert not viewer.ended.is_set()
    clock.now = T0 + 900
    with anyio.fail_after(5):
        await viewer.ended.wait()
    assert viewer.events[-2:] == [TokenExpired(), ConnectionStateChanged(ConnectionState.FAILED, 9)]
    assert shared_room.token_expired == ["3001"]

    # The avatar's (session 300 s + 300 s margin), the bot's (1200 s) and the viewers' tokens, at their times.
    avatar_token = emu.state.sessions[session.session_id or ""].avatar_token
    expected = {"5001": 600, "42": 1200, "3001": 900, "3002": 60}
    checked: set[str] = set()
    for token in room.minted:
        parsed = parse_token(token)
        uid = parsed.rtc[0].uid
        if uid not in expected or (parsed.expire == 60 and uid == "42"):
            continue  # AgoraRoom's own check at construction
        assert parsed.expire == expected[uid], uid
        args: dict[str, Any] = {"app_id": APP_ID, "app_certificate": CERT, "channel": CHANNEL, "uid": uid}
        check_rtc_token(token, now=parsed.expires_at - 1, **args)
        with pytest.raises(AgoraTokenError) as caught:
            check_rtc_token(token, now=parsed.expires_at, **args)
        assert caught.value.reason == 9
        checked.add(uid)
    assert checked == set(expected)
    assert avatar_token in room.minted
