"""AvatarSession end to end against the emulator, over real loopback sockets (REST + WebSocket room)."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig, FaultPlan, ResponseShapes
from streamclient.errors import (
    APIError,
    CommandError,
    ConfigurationError,
    JoinTokenMissingError,
    ReplyTimeoutError,
    SessionClosedError,
)
from streamclient.session import (
    BotMessage,
    MessageIncomplete,
    SessionClosed,
    SessionOptions,
    SpeakingStarted,
    SpeakingStopped,
    attach,
    connect,
)

AVATAR = "dvp_Tristan_cloth2_1080P"
OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=15, command_timeout=5, close_timeout=5)


_VARIANT: dict[str, object] = {}


@pytest.fixture(autouse=True, params=["request", "fresh"], ids=["reply-reuses-mid", "reply-fresh-mid"])
def reply_mid_variant(request: pytest.FixtureRequest) -> str:
    """Every test here runs against both reply-mid behaviours the docs allow (EmulatorConfig.reply_mid)."""
    _VARIANT["reply_mid"] = request.param
    return str(request.param)


@asynccontextmanager
async def emulator(**config: object) -> AsyncIterator[tuple[Emulator, AsyncAkoolClient]]:
    settings: dict[str, object] = {
        "avatar_join_delay": 0.05,
        "speech_chars_per_second": 3000.0,
        **_VARIANT,
        **config,
    }
    async with Emulator(EmulatorConfig(**settings)) as emu:  # type: ignore[arg-type]
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            yield emu, client
        assert emu.open_session_count() == 0, "a session was left open"


async def test_full_lifecycle_in_retelling_mode() -> None:
    async with emulator() as (emu, client):
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            assert emu.open_session_count() == 1
            events = session.events()
            text = "Streaming avatars speak what they are told. " * 30  # several frames each way
            result = await session.say(text)
            assert result.reply == text
            assert not result.interrupted
            ack = await session.set_params(language="es", mode=1)
            assert ack.ok
            with pytest.raises(CommandError) as refused:
                await session.set_params(language="xx-unknown")
            assert refused.value.code == 1003
        kinds = [type(e) async for e in events]
    assert kinds.index(SpeakingStarted) < kinds.index(BotMessage) < kinds.index(SpeakingStopped)
    assert kinds[-1] is SessionClosed
    assert session.close_reason == "closed"


async def test_ask_in_dialogue_mode_gets_the_answer() -> None:
    async with emulator() as (_, client):
        async with connect(client, avatar_id=AVATAR, mode_type=2, duration=60, options=OPTIONS) as session:
            answer = await session.ask("What is your name?")
    assert answer.reply.startswith("You said: What is your name?")


async def test_interrupt_mid_reply_stops_the_avatar() -> None:
    async with emulator(speech_chars_per_second=200.0) as (emu, client):
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            assert session.session_id is not None
            turn = session.say("This is a long story that will be cut short. " * 10)
            assert await turn.wait_reply_started(timeout=5)
            ack = await session.interrupt()
            result = await turn
            room = emu.room_for(session.session_id)
            assert room is not None
            assert room.avatar is not None
            assert room.avatar.interrupted_count == 1
            assert not room.avatar.speaking
            # The session keeps working after an interrupt.
            after = await session.say("And now a short one.")
    assert ack.ok
    assert result.interrupted
    assert len(result.reply) < len(result.text)
    assert after.reply == "And now a short one."


async def test_concurrent_says_come_back_in_order() -> None:
    texts = [f"sentence {i}, " * (20 + 10 * i) for i in range(4)]
    async with emulator() as (emu, client):
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            turns = [session.say(t) for t in texts]
            results = [await t for t in turns]
            assert session.session_id is not None
            room = emu.room_for(session.session_id)
            assert room is not None
            assert room.avatar is not None
            assert room.avatar.received_texts == texts
    assert [r.reply for r in results] == texts


@pytest.mark.parametrize("stage", ["body", "turn", "cancel_in_turn"])
async def test_every_exit_path_closes_the_session(stage: str) -> None:
    async with emulator(speech_chars_per_second=50.0) as (emu, client):
        with anyio.move_on_after(10) as guard:
            try:
                async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
                    if stage == "body":
                        raise RuntimeError("bot crashed")
                    turn = session.say("A reply long enough to be speaking when we leave. " * 5)
                    await turn.wait_reply_started(timeout=5)
                    if stage == "turn":
                        raise RuntimeError("bot crashed while the avatar speaks")
                    with anyio.CancelScope() as scope:
                        scope.cancel()
                        await turn
            except RuntimeError:
                pass
        assert not guard.cancelled_caught
        await emu.wait_until(lambda: emu.open_session_count() == 0)


async def test_rest_failure_at_create_leaves_nothing_open() -> None:
    async with emulator() as (emu, client):
        emu.state.fail_next("session/create", code=1215)
        with pytest.raises(APIError):
            async with connect(client, avatar_id=AVATAR, options=OPTIONS):
                pytest.fail("must not start")
        assert emu.open_session_count() == 0


async def test_duration_expiry_closes_cleanly() -> None:
    async with emulator() as (_, client):
        options = SessionOptions(expiry_margin=0.5, avatar_join_timeout=5, close_timeout=5)
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=2, options=options) as session:
            with anyio.fail_after(6):
                reason = await session.wait_closed()
            with pytest.raises(SessionClosedError):
                session.say("too late")
    assert reason in {"expired", "disconnected"}


async def test_disconnect_fault_ends_the_session_without_a_hang() -> None:
    async with emulator() as (emu, client):
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            assert session.session_id is not None
            room = emu.room_for(session.session_id)
            assert room is not None
            room.set_faults(to_client=FaultPlan(disconnect_after=0))
            turn = session.say("hello")
            with anyio.fail_after(5):
                reason = await session.wait_closed()
            with pytest.raises(SessionClosedError):
                await turn
    assert reason == "disconnected"


@pytest.mark.parametrize(
    "plan",
    [
        FaultPlan(duplicate=0.3, seed=1),
        FaultPlan(reorder=0.3, reorder_hold_seconds=0.05, seed=2),
        FaultPlan(delay=0.3, delay_seconds=0.02, seed=3),
        FaultPlan(duplicate=0.2, reorder=0.2, delay=0.2, delay_seconds=0.02, reorder_hold_seconds=0.05, seed=4),
    ],
    ids=["duplicate", "reorder", "delay", "mixed"],
)
async def test_faults_never_deliver_twice_or_hang(plan: FaultPlan) -> None:
    texts = [f"reply {i} has a few words, " * 20 for i in range(3)]  # few sentences: few frames
    async with emulator(faults_to_client=plan) as (_, client):
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            events = session.events()
            results = [await session.say(t) for t in texts]
            await session.aclose()
            messages = [e.text async for e in events if isinstance(e, BotMessage)]
    assert [r.reply for r in results] == texts
    assert messages == texts


async def test_lost_chunks_are_reported_and_nothing_hangs() -> None:
    plan = FaultPlan(drop=0.3, seed=5)
    options = SessionOptions(avatar_join_timeout=5, reply_timeout=3, message_timeout=0.5, close_timeout=5)
    texts = [f"lossy reply {i} has a few words, " * 20 for i in range(3)]
    async with emulator(faults_to_client=plan) as (_, client):
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=options) as session:
            events = session.events()
            for text in texts:
                turn = session.say(text)
                try:
                    result = await turn
                except ReplyTimeoutError:
                    continue  # its audio_end was lost: the wait is bounded, never a hang
                # Every character that arrived, in order, with a marker where chunks are missing.
                pieces = [
                    result.reply[a + 1 : b] for a, b in zip((-1, *result.gaps), (*result.gaps, None), strict=True)
                ]
                at = 0
                for piece in pieces:
                    found = text.find(piece, at)
                    assert found >= at, (piece, text)
                    at = found + len(piece)
                assert result.received_chars == sum(len(p) for p in pieces)
            # Every reply ends as exactly one BotMessage or one MessageIncomplete (after message_timeout).
            outcomes: list[BotMessage | MessageIncomplete] = []
            with anyio.fail_after(5):
                async for event in events:
                    if isinstance(event, (BotMessage, MessageIncomplete)):
                        outcomes.append(event)
                        if len(outcomes) == len(texts):
                            break
    complete = [e.text for e in outcomes if isinstance(e, BotMessage)]
    assert len({e.message_id for e in outcomes}) == len(texts), "a message was reported twice"
    assert all(text in texts for text in complete)
    assert any(isinstance(e, MessageIncomplete) for e in outcomes), "30% loss must leave some reply incomplete"


async def test_rate_limit_errors_slow_the_sender_and_nothing_is_lost() -> None:
    # A room far stricter than the pacer's defaults: the room refuses sends (-12 / -115, as Agora does) and the
    # session backs off and resends until the whole text got through.
    strict = {"room_messages_per_second": 4, "room_bytes_per_second": 2500, "reply_chunk_chars": 900}
    async with emulator(**strict) as (emu, client):
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            text = "rate limits must slow us down and never lose a chunk, " * 60  # ~3 KB: several frames
            result = await session.say(text)
            assert session.session_id is not None
            room = emu.room_for(session.session_id)
            assert room is not None
            refused = sum(room.rejected.values())  # both directions: the avatar is held to the same limits
    assert result.reply == text
    assert session.stats.send_retries > 0
    assert refused >= session.stats.send_retries


async def test_no_send_is_refused_by_a_strict_room_whose_clock_is_slow_and_jittery() -> None:
    # The room enforces 6000 B and 30 messages in every sliding second on its own clock, which runs 0.5% slow and
    # jitters by up to 3 ms: the session's margin (and its records re-stamped when each send returns) absorb both.
    rng = random.Random(14)
    origin = time.monotonic()

    def skewed() -> float:
        return origin + (time.monotonic() - origin) * 0.995 + rng.uniform(0.0, 0.003)

    config = EmulatorConfig(
        avatar_join_delay=0.05, speech_chars_per_second=3000.0, reply_chunk_chars=900, room_limits="guide"
    )
    assert (config.limits().bytes_per_second, config.limits().messages_per_second) == (6000, 30)  # the guide room
    async with Emulator(config, clock=skewed) as emu:
        async with (
            AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client,
            connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session,
        ):
            text = "流媒体虚拟人会逐段朗读收到的文字。" * 250  # 12.75 KB of UTF-8: three windows' worth
            result = await session.say(text)
            assert session.session_id is not None
            room = emu.room_for(session.session_id)
            assert room is not None
            refused = dict(room.rejected)
    assert refused == {}
    assert session.stats.send_retries == 0
    assert result.reply == text


async def test_the_issue_repro_interrupt_right_after_say_cuts_the_turn() -> None:
    async with emulator(speech_chars_per_second=40.0) as (_, client):
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            turn = session.say("First sentence is here. Second sentence follows it. Third one ends the text.")
            await anyio.lowlevel.checkpoint()  # the issue's `await anyio.sleep(0)`
            await session.interrupt()
            assert turn.done  # resolved no later than the ack
            result = await turn.wait(timeout=1)
    assert result.interrupted


async def test_replies_are_matched_to_turns_whatever_their_mid(reply_mid_variant: str) -> None:
    async with emulator() as (emu, client):
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            events = session.events()
            first = await session.say("First message.")
            second = await session.say("Second message, a little longer.")
            assert (first.reply, second.reply) == ("First message.", "Second message, a little longer.")
            (room,) = emu.rooms.values()
            assert room.avatar is not None
            mids = room.avatar.reply_mids
            await session.aclose()
        replies = [e async for e in events if isinstance(e, BotMessage)]
    assert [r.text for r in replies] == ["First message.", "Second message, a little longer."]
    if reply_mid_variant == "request":
        assert mids == [first.message_id, second.message_id]  # the reply carries the request's mid
        assert [r.message_id for r in replies] == mids
    else:
        assert not set(mids) & {first.message_id, second.message_id}


async def test_attach_to_a_tokenless_detail_fails_clearly_and_leaves_the_session_open() -> None:
    # the emulator answers detail without a token, as the docs do (issue 10, case 3)
    async with emulator() as (emu, client):
        created = await client.sessions.create(AVATAR, duration=60)
        try:
            with pytest.raises(JoinTokenMissingError, match="create answer"):
                async with attach(client, created.id, options=OPTIONS):
                    pass
            assert emu.open_session_count() == 1  # attach does not own the session
        finally:
            await client.sessions.close(created.id)


async def test_attach_joins_when_the_detail_carries_the_token() -> None:
    async with emulator(shapes=ResponseShapes(tokens_in_detail=True)) as (_, client):
        created = await client.sessions.create(AVATAR, duration=60, mode_type=1)
        async with attach(client, created.id, options=OPTIONS, close_on_exit=True) as session:
            assert (await session.say("attached")).reply == "attached"


@pytest.mark.parametrize("stream_type", ["livekit", "trtc"])
async def test_other_stream_types_parse_end_to_end_then_refuse_to_join_and_close(stream_type: str) -> None:
    async with emulator() as (emu, client):  # the helper asserts no session is left open
        with pytest.raises(ConfigurationError, match=stream_type):
            async with connect(client, avatar_id=AVATAR, stream_type=stream_type, options=OPTIONS):
                pass
        (session,) = emu.state.sessions.values()
        assert (session.stream_type, session.close_reason) == (stream_type, "closed")
