"""AvatarSession against a scripted avatar over the in-memory loopback transport (no network)."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from streamclient.codec import ChatFrame, decode_frame, encode_frame
from streamclient.errors import (
    APIConnectionError,
    AvatarJoinTimeoutError,
    CommandError,
    CommandTimeoutError,
    LocalProtocolError,
    SendError,
    SessionClosedError,
)
from streamclient.session import (
    AvatarSession,
    BotMessage,
    BotTextDelta,
    CommandAcked,
    EventsDropped,
    SessionClosed,
    SessionEvent,
    SessionExpiring,
    SessionOptions,
    SpeakingStarted,
    SpeakingStopped,
    connect,
)
from streamclient.transport import FrameReceived
from streamclient.transport.loopback import LoopbackFaults, LoopbackTransport
from tests.session.harness import TOKEN, FakeClient, IteratedTransport, ScriptedAvatar

FAST = SessionOptions(avatar_join_timeout=5, reply_timeout=10, command_timeout=5, close_timeout=5)


@asynccontextmanager
async def avatar_session(
    *,
    options: SessionOptions = FAST,
    faults: LoopbackFaults | None = None,
    **avatar_kwargs: object,
) -> AsyncIterator[tuple[AvatarSession, ScriptedAvatar, FakeClient]]:
    client = FakeClient()
    ours, theirs = LoopbackTransport.pair(faults=faults)
    avatar = ScriptedAvatar(theirs, **avatar_kwargs)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(client.typed(), avatar_id="a1", transport=ours, options=options, mode_type=1) as session:
            yield session, avatar, client
        tg.cancel_scope.cancel()


async def test_say_gets_the_text_spoken_back_and_the_session_is_closed() -> None:
    async with avatar_session() as (session, _avatar, client):
        assert session.avatar_uid == "avatar-7"
        result = await session.say("Hello there, avatar. " * 20)
        assert result.reply == "Hello there, avatar. " * 20
        assert not result.interrupted
        t = result.timings
        assert t.sent is not None
        assert t.first_chunk is not None
        assert t.audio_start is not None
        assert t.audio_end is not None
        assert t.queued <= t.sent <= t.first_chunk <= t.done
        assert t.latency is not None
        assert t.latency >= 0
        assert client.sessions.created == [{"avatar_id": "a1", "mode_type": 1}]
    assert client.sessions.closed == ["s1"]
    assert session.closed
    assert session.close_reason == "closed"
    assert session.stats.turns_completed == 1
    assert session.stats.frames_sent >= 1
    assert session.stats.frames_received >= 3


async def test_concurrent_says_are_sent_in_order_and_never_interleaved() -> None:
    texts = [f"message {i}: " + "x" * (1500 + 100 * i) for i in range(3)]
    async with avatar_session() as (session, avatar, _):
        turns = [session.say(t) for t in texts]
        results = [await t for t in turns]
    assert [r.reply for r in results] == texts
    assert avatar.received == texts
    chat_mids = [mid for kind, mid in avatar.raw_log if kind == "chat"]
    # All chunks of one message arrive before any chunk of the next.
    seen: list[str | None] = []
    for mid in chat_mids:
        if not seen or seen[-1] != mid:
            assert mid not in seen, "frames of two messages interleaved"
            seen.append(mid)
    assert seen == [t.message_id for t in turns]


async def test_events_arrive_in_order() -> None:
    async with avatar_session() as (session, _, _):
        events = session.events()
        await session.say("one two three four five six seven eight nine ten")
        await session.aclose()
        kinds: list[type[SessionEvent]] = [type(e) async for e in events]
    assert kinds[0] is SpeakingStarted
    assert BotTextDelta in kinds
    assert kinds.index(BotMessage) > kinds.index(BotTextDelta)
    assert kinds.index(SpeakingStopped) > kinds.index(BotMessage)
    assert kinds[-1] is SessionClosed


async def test_interrupt_mid_reply_marks_the_turn_and_gets_acked() -> None:
    async with avatar_session(hold_after_first_chunk=True, reply_chunk_chars=10) as (session, avatar, _):
        turn = session.say("a fairly long sentence that the avatar will not finish saying")
        assert await turn.wait_reply_started(timeout=5)
        with anyio.fail_after(5):
            await avatar.first_chunk_sent.wait()
        ack = await session.interrupt()
        result = await turn
    assert ack.ok
    assert ack.command == "interrupt"
    assert result.interrupted
    assert 0 < len(result.reply) < len(result.text)
    assert avatar.interrupted == 1


async def test_interrupt_drops_the_queued_chunks_of_the_message_being_sent() -> None:
    big = "word " * 8000  # 40 KB: about 40 frames, several seconds at 6000 B/s
    async with avatar_session() as (session, avatar, _):
        turn = session.say(big)
        # Wait until the first frame went out, then interrupt while most frames are still queued.
        with anyio.fail_after(5):
            while session.stats.frames_sent == 0:
                await anyio.lowlevel.checkpoint()
        await session.interrupt()
        result = await turn
    assert result.interrupted
    assert result.reply == ""
    assert avatar.received == []  # the message never completed at the avatar
    log = avatar.raw_log
    interrupt_at = next(i for i, (kind, _) in enumerate(log) if kind == "command:interrupt")
    assert all(kind != "chat" for kind, _ in log[interrupt_at + 1 :]), "chunks sent after the interrupt"
    sent_chunks = sum(1 for kind, mid in log if kind == "chat" and mid == turn.message_id)
    assert 1 <= sent_chunks < 40


async def test_set_params_is_acked() -> None:
    async with avatar_session() as (session, avatar, _):
        ack = await session.set_params(language="es", mode=1)
    assert isinstance(ack, CommandAcked)
    assert ack.ok
    assert avatar.commands == ["set-params"]


async def test_a_failed_ack_raises_command_error() -> None:
    async with avatar_session(ack_code=1003) as (session, _, _):
        with pytest.raises(CommandError) as info:
            await session.set_action("nod")
    assert info.value.code == 1003
    assert info.value.cmd == "set-action"


async def test_a_missing_ack_times_out() -> None:
    async with avatar_session(ack_commands=False) as (session, _, _):
        with pytest.raises(CommandTimeoutError):
            await session.set_params(language="es", timeout=0.2)


async def test_empty_text_is_refused_before_sending() -> None:
    async with avatar_session() as (session, _, _):
        with pytest.raises(LocalProtocolError):
            session.say("")
        assert session.stats.frames_sent == 0


async def test_an_exception_in_the_body_still_leaves_and_closes() -> None:
    client = FakeClient()
    ours, theirs = LoopbackTransport.pair()
    avatar = ScriptedAvatar(theirs)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        with pytest.raises(RuntimeError, match="boom"):
            async with connect(client.typed(), avatar_id="a1", transport=ours, options=FAST):
                raise RuntimeError("boom")
        tg.cancel_scope.cancel()
    assert client.sessions.closed == ["s1"]
    assert not ours.connected


async def test_cancellation_in_the_body_still_closes() -> None:
    client = FakeClient()
    ours, theirs = LoopbackTransport.pair()
    avatar = ScriptedAvatar(theirs)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        with anyio.move_on_after(0.2):
            async with connect(client.typed(), avatar_id="a1", transport=ours, options=FAST) as session:
                session.say("this reply is cut by the cancellation " * 10)
                await anyio.sleep_forever()
        tg.cancel_scope.cancel()
    assert client.sessions.closed == ["s1"]
    assert session.close_reason == "cancelled"


async def test_cancellation_during_create_still_closes_the_created_session() -> None:
    client = FakeClient()
    gate = client.sessions.create_gate = anyio.Event()
    ours, theirs = LoopbackTransport.pair()
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:

            async def release_later() -> None:
                scope.cancel()  # cancel while create is in flight
                await anyio.lowlevel.checkpoint()
                gate.set()

            tg.start_soon(release_later)
            async with connect(client.typed(), avatar_id="a1", transport=ours, options=FAST):
                pytest.fail("the body must not run")
    assert scope.cancelled_caught
    assert len(client.sessions.created) == 1
    assert client.sessions.closed == ["s1"]
    del theirs


async def test_a_create_error_propagates_and_nothing_is_closed() -> None:
    client = FakeClient()
    client.sessions.create_error = APIConnectionError("refused")
    ours, _ = LoopbackTransport.pair()
    with pytest.raises(APIConnectionError):
        async with connect(client.typed(), avatar_id="a1", transport=ours, options=FAST):
            pass
    assert client.sessions.closed == []


async def test_an_avatar_that_never_joins_times_out_and_the_session_is_closed() -> None:
    client = FakeClient()
    ours, _ = LoopbackTransport.pair()
    options = SessionOptions(avatar_join_timeout=0.2, close_timeout=2)
    with pytest.raises(AvatarJoinTimeoutError):
        async with connect(client.typed(), avatar_id="a1", transport=ours, options=options):
            pass
    assert client.sessions.closed == ["s1"]
    assert not ours.connected


async def test_duration_expiry_warns_then_closes() -> None:
    client = FakeClient()
    ours, theirs = LoopbackTransport.pair()
    avatar = ScriptedAvatar(theirs)
    options = SessionOptions(expiry_margin=0.3, close_timeout=2, avatar_join_timeout=5)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(client.typed(), avatar_id="a1", transport=ours, options=options, duration=1) as session:
            events = session.events()
            with anyio.fail_after(5):
                reason = await session.wait_closed()
            seen = [e async for e in events]
            with pytest.raises(SessionClosedError):
                session.say("too late")
        tg.cancel_scope.cancel()
    assert reason == "expired"
    assert any(isinstance(e, SessionExpiring) for e in seen)
    assert seen[-1] == SessionClosed("expired")
    assert client.sessions.closed == ["s1"]


async def test_a_slow_consumer_gets_events_dropped_not_unbounded_memory() -> None:
    options = SessionOptions(event_buffer=4, avatar_join_timeout=5, reply_timeout=10)
    async with avatar_session(options=options, reply_chunk_chars=5) as (session, _, _):
        events = session.events()
        await session.say("many small chunks make many delta events for the consumer")
        first = await events.__anext__()
        rest = []
        for _ in range(4):
            rest.append(await events.__anext__())
    assert isinstance(first, EventsDropped)
    assert first.count > 0
    assert len(rest) == 4


async def test_duplicates_deliver_every_reply_exactly_once() -> None:
    # Reordering is covered end to end against the emulator, whose reorder fault delays frames; the loopback's
    # reorder holds a frame until the next one, which never comes after the last frame of a conversation.
    faults = LoopbackFaults(duplicate=0.4, seed=7)
    texts = [f"reply number {i} " * 30 for i in range(4)]
    async with avatar_session(faults=faults) as (session, _, _):
        events = session.events()
        results = [await session.say(t) for t in texts]
        await session.aclose()
        messages = [e.text async for e in events if isinstance(e, BotMessage)]
    assert [r.reply for r in results] == texts
    assert messages == texts


async def test_secrets_stay_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with avatar_session() as (session, _, _):
        await session.say("hello")
        assert TOKEN not in repr(session)
        assert TOKEN not in repr(session.info)
    assert TOKEN not in caplog.text


class RefusingTransport(IteratedTransport):
    """Wraps a loopback end; refuses the chat frames of chosen messages with a non-rate SDK error (Agora's -2)."""

    def __init__(self, inner: LoopbackTransport, refuse_mids: list[str]) -> None:
        super().__init__(inner)
        self.refuse_mids = refuse_mids

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:
        frame = decode_frame(data)
        if isinstance(frame, ChatFrame) and frame.mid in self.refuse_mids:
            raise SendError("refused by the SDK", code=-2)
        await self.inner.send(data, timeout=timeout)


async def test_a_refused_frame_fails_its_turn_and_the_session_goes_on() -> None:
    client = FakeClient()
    ours, theirs = LoopbackTransport.pair()
    refuse: list[str] = []
    transport = RefusingTransport(ours, refuse)
    avatar = ScriptedAvatar(theirs)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(client.typed(), avatar_id="a1", transport=transport, options=FAST) as session:
            doomed = session.say("this one is refused")
            refuse.append(doomed.message_id)
            with pytest.raises(SendError):
                await doomed
            assert (await session.say("this one gets through")).reply == "this one gets through"
            assert session.stats.send_failures == 1
        tg.cancel_scope.cancel()
    assert avatar.received == ["this one gets through"]


async def test_an_avatar_without_audio_events_resolves_turns_on_the_complete_reply() -> None:
    async with avatar_session(audio_events=False) as (session, _, _):
        first = await session.say("no audio events here")
        second = await session.say("nor here")
    assert (first.reply, second.reply) == ("no audio events here", "nor here")
    assert first.timings.audio_start is None
    assert first.timings.first_chunk is not None


async def test_a_failed_api_close_is_reported_not_raised() -> None:
    client = FakeClient()
    client.sessions.close_error = APIConnectionError("refused")
    ours, theirs = LoopbackTransport.pair()
    avatar = ScriptedAvatar(theirs)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(client.typed(), avatar_id="a1", transport=ours, options=FAST) as session:
            assert session.close_error is None
        tg.cancel_scope.cancel()
    assert session.close_reason == "closed"
    assert isinstance(session.close_error, APIConnectionError)
    assert not ours.connected  # the channel was still left


async def test_finished_turns_are_not_kept_alive_by_the_session() -> None:
    # Each reply's key used to keep its finished Turn (and result) alive, up to 256 a session: with a thousand
    # sessions that was a quarter of a million objects for every full garbage collection to traverse.
    async with avatar_session() as (session, _, _):
        turns = [session.say(f"message number {i}") for i in range(80)]
        for turn in turns:
            await turn
        tracker = session._inbound.turns  # type: ignore[union-attr]
        alive = [t for t in tracker._owners.values() if t is not None]
        assert alive == []
        assert len(tracker._owners) <= 64


async def test_a_finished_turn_dropped_by_the_app_is_freed_at_once() -> None:
    # The reply in progress kept its finished turn (with its result and events) until the next reply started,
    # about a second per session under load: long enough to survive into the collector's older generations.
    async with avatar_session() as (session, _, _):
        turn = session.say("one message")
        await turn
        gone = anyio.Event()
        weakref.finalize(turn, gone.set)
        gc_was_enabled = gc.isenabled()
        gc.disable()  # freed by reference counting, not by a collection
        try:
            del turn
            assert gone.is_set()
        finally:
            if gc_was_enabled:
                gc.enable()


async def test_a_frame_that_moves_no_deadline_earlier_does_not_wake_the_timer() -> None:
    # Waking the timer task for every received frame cost a new event, cancel scope and timer handle per frame.
    ours, _theirs = LoopbackTransport.pair()
    options = SessionOptions(wait_for_avatar=False, close_timeout=5)
    async with connect(FakeClient().typed(), avatar_id="a", transport=ours, options=options) as session:

        def chunk(idx: int) -> FrameReceived:
            frame = ChatFrame(mid="reply-1", idx=idx, fin=False, text=f"part {idx} ", source="bot")
            return FrameReceived("avatar-7", encode_frame(frame))

        ours.inject(chunk(0))  # the first pending message: a deadline where there was none
        await anyio.wait_all_tasks_blocked()
        sleeping_on = session._timer.wakeup  # type: ignore[union-attr]
        for idx in range(1, 5):
            ours.inject(chunk(idx))
            await anyio.wait_all_tasks_blocked()
        assert session._timer.wakeup is sleeping_on  # type: ignore[union-attr]


async def test_say_and_say_stream_use_the_connections_short_mids() -> None:
    # Every byte of the envelope is a byte less of text per frame, six frames a second: the turns' ids come from
    # the connection's short counter, not from 22-character uuids (a regression that cost 1.08x -> 1.13x the floor).
    async def tokens() -> AsyncIterator[str]:
        for word in ("One sentence here. ", "And another one."):
            yield word

    async with avatar_session() as (session, avatar, _):
        said = session.say("Hello there, avatar.")
        streamed = session.say_stream(tokens())
        await said
        await streamed
    chat_mids = {mid for kind, mid in avatar.raw_log if kind == "chat"}
    assert said.message_id in chat_mids
    assert len(chat_mids) == 3  # the say, and one message per streamed sentence
    assert all(mid is not None and len(mid) <= 6 for mid in chat_mids), chat_mids
    assert len(streamed.message_id) <= 6
