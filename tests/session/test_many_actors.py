"""Many actors in one room (issue 20): nothing another participant does may derail the bot's turn.

Real participants over the emulator: viewers are ``RoomTransport`` peers that join with tokens the room minted, and
talk to the avatar with their own protocol connection, as AKOOL's web client does. Every scene runs under both
reply-mid behaviours (a reply reuses the request's mid, or gets a fresh one).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.codec import ProtocolConnection, Role
from streamclient.codec.chunking import new_mid
from streamclient.codec.frames import ChatFrame, encode_frame
from streamclient.emulator import Emulator, EmulatorConfig, FaultPlan
from streamclient.emulator.faults import Fault
from streamclient.errors import TransportUnavailableError
from streamclient.session import (
    AgoraRoom,
    AvatarSession,
    BotTextDelta,
    ParticipantMessage,
    ReplyToOther,
    SessionEvent,
    SessionOptions,
    connect,
)
from streamclient.transport.base import JoinParams
from streamclient.transport.room import RoomTransport
from tests.session.harness import FakeClient

AVATAR = "dvp_Tristan_cloth2_1080P"
APP_ID = secrets.token_hex(16)
CERT = secrets.token_hex(16)
OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=6, command_timeout=5, close_timeout=5)
#: Two speaking units: the avatar sends the first, speaks it (0.5 s at 100 characters a second), then the second.
TWO_UNITS = "The first sentence takes half a second to say out. And then a second one ends the reply."
FIRST_UNIT = "The first sentence takes half a second to say out. "


@pytest.fixture(params=["request", "fresh"], ids=["reply-reuses-mid", "reply-fresh-mid"])
def reply_mid(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def shared_room(reply_mid: str, **config: Any) -> AsyncIterator[tuple[Emulator, AsyncAkoolClient, AgoraRoom]]:
    settings: dict[str, Any] = {
        "avatar_join_delay": 0.05,
        "speech_chars_per_second": 100.0,
        "reply_mid": reply_mid,
        "agora_app_id": APP_ID,
        "agora_app_certificate": CERT,
        **config,
    }
    async with Emulator(EmulatorConfig(**settings)) as emu:
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            room = AgoraRoom(
                channel=f"many-{secrets.token_hex(3)}",
                app_id=APP_ID,
                app_certificate=CERT,
                avatar_uid=5001,
                bot_uid=42,
                room_url=emu.room_url,
            )
            yield emu, client, room
        assert emu.open_session_count() == 0, "a session was left open"


class Viewer:
    """A browser in the room: joins with its own minted token, chats with the avatar, presses stop."""

    def __init__(self, emu: Emulator, room: AgoraRoom, uid: int) -> None:
        self.uid = str(uid)
        self.room = room
        self.transport = RoomTransport(emu.room_url)
        self.conn = ProtocolConnection(Role.CLIENT)

    async def join(self, task_group: anyio.abc.TaskGroup) -> None:
        grant = self.room.viewer_token(int(self.uid))
        params = JoinParams(app_id=APP_ID, channel=self.room.channel, uid=self.uid, token=grant.token)
        await self.transport.join(params, timeout=5)
        task_group.start_soon(self._drain)

    async def _drain(self) -> None:
        async for _ in self.transport.events():
            pass

    async def _flush(self) -> None:
        with anyio.fail_after(5):
            while True:
                datagrams = self.conn.data_to_send(anyio.current_time())
                if not datagrams and self.conn.send_delay(anyio.current_time()) is None:
                    return
                for datagram in datagrams:
                    await self.transport.send(datagram, timeout=5)
                await anyio.sleep(0.01)

    async def chat(self, text: str) -> str:
        mid = self.conn.send_chat(text)
        await self._flush()
        return mid

    async def interrupt(self) -> str:
        mid = self.conn.send_interrupt()
        await self._flush()
        return mid

    async def unfinished(self, count: int) -> None:
        """``count`` chat messages whose first chunk never comes (a web client cut off mid-message)."""
        for _ in range(count):
            frame = ChatFrame(mid=new_mid(), idx=1, fin=False, text="flood")
            await self.transport.send(encode_frame(frame), timeout=5)

    async def leave(self) -> None:
        await self.transport.leave(timeout=5)


@asynccontextmanager
async def viewers(emu: Emulator, room: AgoraRoom, *uids: int) -> AsyncIterator[list[Viewer]]:
    async with AsyncExitStack() as stack:
        task_group = await stack.enter_async_context(anyio.create_task_group())
        joined = [Viewer(emu, room, uid) for uid in uids]
        for viewer in joined:
            await viewer.join(task_group)
            stack.push_async_callback(viewer.leave)
        yield joined
        task_group.cancel_scope.cancel()


async def first_delta(session: AvatarSession, events: AsyncIterator[SessionEvent]) -> None:
    with anyio.fail_after(5):
        async for event in events:
            if isinstance(event, BotTextDelta):
                return


# ------------------------------------------------------------------------------------------- case 1: flood


async def test_a_flood_of_unfinished_messages_from_viewers_never_evicts_the_avatars_reply(reply_mid: str) -> None:
    # Four viewers each send 20 unfinished chat messages between two chunks of the avatar's reply: 80 pending
    # messages from others, more than the 64 slots all senders used to share (within the room's per-sender limits).
    async with shared_room(reply_mid) as (emu, client, room):
        async with connect(client, avatar_id=AVATAR, mode_type=1, options=OPTIONS, room=room) as session:
            async with viewers(emu, room, 3001, 3002, 3003, 3004) as crowd:
                events = session.events().__aiter__()
                turn = session.say(TWO_UNITS)
                await first_delta(session, events)
                async with anyio.create_task_group() as tg:
                    for viewer in crowd:
                        tg.start_soon(viewer.unfinished, 20)
                result = await turn
    assert result.reply == TWO_UNITS
    assert not result.incomplete
    assert not result.interrupted


# ------------------------------------------------------------------------------- case 2: a viewer talks too


async def test_a_reply_owed_to_a_viewer_is_never_taken_for_our_turn(reply_mid: str) -> None:
    # The avatar speaks our first turn; meanwhile a viewer asks something; then our second turn goes out. The
    # avatar answers in order: ours, the viewer's, ours. Each of our turns resolves with its own reply.
    async with shared_room(reply_mid) as (emu, client, room):
        async with connect(client, avatar_id=AVATAR, mode_type=1, options=OPTIONS, room=room) as session:
            async with viewers(emu, room, 3001) as (viewer,):
                events = session.events().__aiter__()
                others: list[ReplyToOther] = []
                session.on(lambda e: others.append(e) if isinstance(e, ReplyToOther) else None, ReplyToOther)
                first = session.say(TWO_UNITS)
                await first_delta(session, events)
                asked = await viewer.chat("A viewer asks the avatar something else.")
                with anyio.fail_after(5):
                    async for event in events:
                        if isinstance(event, ParticipantMessage) and event.final:
                            break
                second = session.say("Our second turn.")
                results = [await first, await second]
    assert [r.reply for r in results] == [TWO_UNITS, "Our second turn."]
    assert [(o.asked_by, o.request_mid) for o in others] == [("3001", asked)]
    assert others[0].rule == ("participant_mid" if reply_mid == "request" else "oldest_request")


async def test_a_viewer_talking_while_no_turn_of_ours_is_open_changes_nothing(reply_mid: str) -> None:
    async with shared_room(reply_mid, speech_chars_per_second=3000.0) as (emu, client, room):
        async with connect(client, avatar_id=AVATAR, mode_type=1, options=OPTIONS, room=room) as session:
            async with viewers(emu, room, 3001) as (viewer,):
                others: list[ReplyToOther] = []
                session.on(lambda e: others.append(e) if isinstance(e, ReplyToOther) else None, ReplyToOther)
                await viewer.chat("Hello avatar, a viewer here.")
                await emu.wait_until(lambda: len(others) == 1)
                result = await session.say("Only our words.")
    assert result.reply == "Only our words."
    assert others[0].asked_by == "3001"


# ---------------------------------------------------------------------------------- case 3: a viewer stops it


async def test_a_viewers_interrupt_cuts_our_turn_at_once_with_what_was_spoken(reply_mid: str) -> None:
    async with shared_room(reply_mid) as (emu, client, room):
        async with connect(client, avatar_id=AVATAR, mode_type=1, options=OPTIONS, room=room) as session:
            async with viewers(emu, room, 3001) as (viewer,):
                events = session.events().__aiter__()
                turn = session.say(TWO_UNITS)
                await first_delta(session, events)
                await viewer.interrupt()
                with anyio.fail_after(3):  # not the reply timeout, nor the message timeout
                    result = await turn
                after = await session.say("Still talking after the viewer's stop.")
    assert result.interrupted
    assert result.reply == FIRST_UNIT
    assert after.reply == "Still talking after the viewer's stop."
    assert not after.interrupted


async def test_a_viewers_interrupt_also_cuts_our_turn_queued_behind_the_reply(reply_mid: str) -> None:
    # The avatar drops the replies it had queued: our second turn, sent while the first was spoken, is cut too.
    async with shared_room(reply_mid) as (emu, client, room):
        async with connect(client, avatar_id=AVATAR, mode_type=1, options=OPTIONS, room=room) as session:
            async with viewers(emu, room, 3001) as (viewer,):
                events = session.events().__aiter__()
                first = session.say(TWO_UNITS)
                await first_delta(session, events)
                second = session.say("Queued behind the first.")
                await emu.wait_until(lambda: second.fully_sent)
                await viewer.interrupt()
                with anyio.fail_after(3):
                    results = [await first, await second]
                after = await session.say("After the stop.")
    assert [r.interrupted for r in results] == [True, True]
    assert results[1].reply == ""
    assert after.reply == "After the stop."


# ------------------------------------------------------------------------ issue 23 item 4: a lost chunk


async def test_a_reply_with_a_lost_chunk_keeps_every_character_and_resolves_soon_after_audio_end(
    reply_mid: str,
) -> None:
    sentences = [f"Sentence number {n} is here. " for n in range(6)]
    text = "".join(sentences)
    # Frames to the client: 0 audio_start, 1..6 the six sentences, 7 audio_end. Frame 3 (the third sentence) is lost.
    plan = FaultPlan(script={3: Fault.DROP})
    options = SessionOptions(
        avatar_join_timeout=5, reply_timeout=10, command_timeout=5, close_timeout=5, reply_grace=0.3
    )
    async with shared_room(reply_mid, speech_chars_per_second=3000.0, faults_to_client=plan) as (_, client, room):
        async with connect(client, avatar_id=AVATAR, mode_type=1, options=options, room=room) as session:
            with anyio.fail_after(5):  # the message timeout (30 s) is not waited for
                result = await session.say(text)
    assert result.incomplete
    assert result.reply == "".join(sentences[:2]) + "…" + "".join(sentences[3:])
    assert result.gaps == (len(sentences[0] + sentences[1]),)
    assert result.received_chars == len(text) - len(sentences[2])
    assert result.timings.audio_end is not None
    assert result.timings.done - result.timings.audio_end < 3.0


# ----------------------------------------------------------------------- issue 23 item 5: no billed session first


async def test_connect_refuses_before_creating_when_the_agora_transport_cannot_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamclient.transport import _agora_sdk

    def missing() -> None:
        raise TransportUnavailableError("The Agora SDK cannot be used: not installed.")

    monkeypatch.setattr(_agora_sdk, "load_agora", missing)
    client = FakeClient()
    client.base_url = "https://openapi.akool.com"  # type: ignore[attr-defined]
    with pytest.raises(TransportUnavailableError):
        async with connect(client.typed(), avatar_id=AVATAR, options=OPTIONS):
            pass
    assert client.sessions.created == []
