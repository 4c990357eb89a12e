"""session.say_stream: an LLM's token stream spoken piece by piece, as one turn (loopback avatar and emulator)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import asynccontextmanager

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.emulator.handles import EmulatorHandle
from streamclient.errors import InvalidArgumentError, LocalProtocolError, ReplyTimeoutError, SessionClosedError
from streamclient.session import AvatarSession, SessionOptions, StreamTurn, connect
from streamclient.session.sync import connect_sync
from streamclient.transport.loopback import LoopbackTransport
from tests.session.harness import FakeClient, ScriptedAvatar

FAST = SessionOptions(avatar_join_timeout=5, reply_timeout=10, command_timeout=5, close_timeout=5)
ANSWER = "Streaming avatars speak in real time. They start before the answer is complete! Isn't that neat?"
SENTENCES = [
    "Streaming avatars speak in real time.",
    " They start before the answer is complete!",
    " Isn't that neat?",
]


def tokens(text: str) -> list[str]:
    """Words with their leading space, punctuation on its own: roughly how an LLM streams."""
    out: list[str] = []
    for ch in text:
        if ch.isalnum() and out and (out[-1][-1:].isalnum() or out[-1] == " "):
            out[-1] += ch
        else:
            out.append(ch)
    return out


class FakeLLM:
    """An async generator of tokens that records what was consumed and whether it was closed.

    ``stall_after`` blocks the generator (the LLM "thinking") after that many tokens until ``resume`` is set.
    """

    def __init__(self, toks: list[str], *, stall_after: int | None = None, fail_after: int | None = None) -> None:
        self.toks = toks
        self.stall_after = stall_after
        self.fail_after = fail_after
        self.resume = anyio.Event()
        self.stalled = anyio.Event()
        self.consumed: list[str] = []
        self.closed = anyio.Event()
        self.gen: AsyncGenerator[str, None] | None = None

    @property
    def finalized(self) -> bool:
        """Whether the generator was closed (a never-started one runs no ``finally`` when closed)."""
        return self.gen is not None and getattr(self.gen, "ag_frame", True) is None

    def stream(self) -> AsyncGenerator[str, None]:
        self.gen = self._stream()
        return self.gen

    async def _stream(self) -> AsyncGenerator[str, None]:
        try:
            for i, tok in enumerate(self.toks):
                if i == self.stall_after:
                    self.stalled.set()
                    await self.resume.wait()
                if i == self.fail_after:
                    raise ConnectionError("the LLM connection dropped")
                self.consumed.append(tok)
                yield tok
        finally:
            self.closed.set()


@asynccontextmanager
async def loopback(**avatar_kwargs: object) -> AsyncIterator[tuple[AvatarSession, ScriptedAvatar]]:
    client = FakeClient()
    ours, theirs = LoopbackTransport.pair()
    avatar = ScriptedAvatar(theirs, **avatar_kwargs)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(client.typed(), avatar_id="a1", transport=ours, options=FAST, mode_type=1) as session:
            yield session, avatar
        tg.cancel_scope.cancel()
    assert client.sessions.open == 0


def contiguous(avatar: ScriptedAvatar) -> bool:
    """Whether the frames of each chat message arrived together (no message interleaved with another)."""
    runs = [mid for i, (_, mid) in enumerate(avatar.raw_log) if i == 0 or avatar.raw_log[i - 1][1] != mid]
    return len(runs) == len(set(runs))


async def test_each_sentence_is_its_own_message_and_the_answer_is_one_turn() -> None:
    llm = FakeLLM(tokens(ANSWER))
    async with loopback() as (session, avatar):
        turn = session.say_stream(llm.stream())
        assert isinstance(turn, StreamTurn)
        result = await turn
    assert avatar.received == SENTENCES
    assert result.text == ANSWER
    assert result.reply == ANSWER  # everything the avatar spoke back, all pieces
    assert not result.interrupted
    assert [p.text for p in turn.pieces] == SENTENCES
    t = result.timings
    assert t.sent is not None
    assert t.first_chunk is not None
    assert t.audio_start is not None
    assert t.audio_end is not None
    assert t.queued <= t.sent <= t.first_chunk <= t.audio_end <= t.done
    assert llm.closed.is_set()


async def test_a_sentence_goes_out_before_the_stream_goes_on() -> None:
    toks = tokens(ANSWER)
    llm = FakeLLM(toks, stall_after=toks.index("!") + 1)  # stalls after the second sentence
    async with loopback() as (session, avatar):
        turn = session.say_stream(llm.stream(), max_wait=60)
        assert await turn.wait_reply_started(timeout=5)  # the first sentence is spoken while the LLM generates
        await llm.stalled.wait()
        assert not turn.done
        llm.resume.set()
        result = await turn
    assert avatar.received == SENTENCES
    assert result.reply == ANSWER


async def test_says_made_during_a_stream_go_after_it_never_between_its_pieces() -> None:
    toks = tokens(ANSWER)
    llm = FakeLLM(toks, stall_after=toks.index(".") + 1)
    second = FakeLLM(tokens("A second answer. In two sentences."))
    async with loopback() as (session, avatar):
        before = session.say("Before.")
        turn = session.say_stream(llm.stream(), max_wait=60)
        await llm.stalled.wait()
        assert await turn.wait_reply_started(timeout=5)
        after = session.say("After.")
        next_turn = session.say_stream(second.stream())
        last = session.say("Last.")
        assert second.consumed == []  # a waiting stream is not consumed before its turn
        llm.resume.set()
        results = [await before, await turn, await after, await next_turn, await last]
    assert avatar.received == [
        "Before.",
        *SENTENCES,
        "After.",
        "A second answer.",
        " In two sentences.",
        "Last.",
    ]
    assert [r.reply for r in results] == [
        "Before.",
        ANSWER,
        "After.",
        "A second answer. In two sentences.",
        "Last.",
    ]
    assert contiguous(avatar)  # every message's frames went out together, one message after the other


async def test_interrupt_stops_consuming_closes_the_generator_and_cuts_the_turn() -> None:
    toks = tokens(ANSWER)
    llm = FakeLLM(toks, stall_after=toks.index(".") + 3)  # " They start" buffered, then the LLM stalls
    async with loopback(hold_after_first_chunk=True, reply_chunk_chars=10) as (session, avatar):
        turn = session.say_stream(llm.stream(), max_wait=60)
        assert await turn.wait_reply_started(timeout=5)
        await llm.stalled.wait()
        consumed = list(llm.consumed)
        ack = await session.interrupt()
        result = await turn
        with anyio.fail_after(5):
            await llm.closed.wait()
        avatar.release.set()
        after = await session.say("Still here.")
    assert ack.ok
    assert llm.consumed == consumed  # nothing consumed after the interrupt
    assert result.interrupted
    assert result.reply == "Streaming "  # the first chunk of the first sentence: where it was cut
    assert avatar.received == [SENTENCES[0], "Still here."]  # the buffered " They start" was never sent
    assert after.reply == "Still here."


async def test_interrupt_drops_unsent_pieces_and_with_drop_queued_the_waiting_answers() -> None:
    text = "One sentence here. " * 6
    llm = FakeLLM(tokens(text), stall_after=len(tokens(text)) - 1)
    waiting = FakeLLM(tokens("Never said."))
    async with loopback(hold_after_first_chunk=True, reply_chunk_chars=5) as (session, avatar):
        turn = session.say_stream(llm.stream(), max_wait=60)
        assert await turn.wait_reply_started(timeout=5)
        await llm.stalled.wait()
        queued_answer = session.say_stream(waiting.stream())
        queued_say = session.say("Never said either.")
        await session.interrupt(drop_queued=True)
        result, dropped, dropped_say = await turn, await queued_answer, await queued_say
        await anyio.wait_all_tasks_blocked()
        assert waiting.finalized
        avatar.release.set()
        assert await session.say("Fresh start.") is not None
    assert result.interrupted
    assert result.reply == "One s"
    assert len(turn.pieces) >= 5
    assert all(p.done for p in turn.pieces)
    assert dropped.interrupted
    assert dropped.reply == ""
    assert waiting.consumed == []
    assert dropped_say.interrupted
    assert avatar.received[0] == "One sentence here."
    assert "Never said." not in avatar.received
    assert "Never said either." not in avatar.received
    assert avatar.received[-1] == "Fresh start."


async def test_without_drop_queued_the_waiting_answer_is_said_after_the_interrupt() -> None:
    llm = FakeLLM(tokens("First answer. Second sentence."), stall_after=4)
    waiting = FakeLLM(tokens("Next answer."))
    async with loopback(hold_after_first_chunk=True) as (session, avatar):
        turn = session.say_stream(llm.stream(), max_wait=60)
        assert await turn.wait_reply_started(timeout=5)
        queued_answer = session.say_stream(waiting.stream())
        await session.interrupt()
        avatar.release.set()
        result, next_result = await turn, await queued_answer
    assert result.interrupted
    assert not next_result.interrupted
    assert next_result.reply == "Next answer."
    assert avatar.received == ["First answer.", "Next answer."]


async def test_a_run_on_answer_starts_after_max_wait() -> None:
    llm = FakeLLM(["and so we kept on talking", " without", " any"], stall_after=2)
    async with loopback() as (session, avatar):
        turn = session.say_stream(llm.stream(), max_wait=0.05)
        assert await turn.wait_reply_started(timeout=5)  # said while the generator is stalled: cut by max_wait
        llm.resume.set()
        result = await turn
    assert avatar.received[0] == "and so we kept on talking "  # at the last word boundary
    assert "".join(avatar.received) == "and so we kept on talking without any"
    assert result.reply == "and so we kept on talking without any"


async def test_a_failing_stream_fails_the_turn_and_the_session_goes_on() -> None:
    llm = FakeLLM(tokens(ANSWER), fail_after=10)
    async with loopback() as (session, avatar):
        turn = session.say_stream(llm.stream())
        with pytest.raises(ConnectionError):
            await turn
        assert (await session.say("Still working.")).reply == "Still working."
    assert avatar.received[0] == SENTENCES[0]  # what was complete before the failure was still said


async def test_bad_input_is_refused_clearly() -> None:
    async def numbers() -> AsyncIterator[object]:
        yield 42

    async with loopback() as (session, _):
        with pytest.raises(InvalidArgumentError):
            session.say_stream(["not", "async"])  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            session.say_stream(FakeLLM([]).stream(), max_chars=0)
        with pytest.raises(InvalidArgumentError, match="str deltas"):
            await session.say_stream(numbers())  # type: ignore[arg-type]
        empty = await session.say_stream(FakeLLM(["", "  "]).stream())
    assert empty.reply == ""
    assert empty.text == "  "
    assert not empty.interrupted


async def test_a_silent_stream_times_out() -> None:
    llm = FakeLLM(["Hello"], stall_after=0)
    async with loopback() as (session, _):
        with pytest.raises(ReplyTimeoutError, match="yielded nothing"):
            await session.say_stream(llm.stream(), timeout=0.05)
    assert llm.closed.is_set()


async def test_closing_the_session_fails_open_answers_and_closes_their_generators() -> None:
    llm = FakeLLM(tokens(ANSWER), stall_after=3)
    waiting = FakeLLM(tokens("Never."))
    async with loopback() as (session, _):
        turn = session.say_stream(llm.stream(), max_wait=60)
        queued_answer = session.say_stream(waiting.stream())
        await llm.stalled.wait()
    with pytest.raises(SessionClosedError):
        await turn
    with pytest.raises(SessionClosedError):
        await queued_answer
    assert llm.closed.is_set()
    assert waiting.finalized
    with pytest.raises(SessionClosedError):
        session.say_stream(FakeLLM([]).stream())


async def test_a_streamed_answer_over_the_emulator() -> None:
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0)
    async with Emulator(config) as emu:
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            options = SessionOptions(avatar_join_timeout=5, reply_timeout=15, command_timeout=5, close_timeout=5)
            async with connect(client, avatar_id="dvp_Tristan_cloth2_1080P", mode_type=1, options=options) as s:
                result = await s.say_stream(FakeLLM(tokens(ANSWER * 3)).stream())
                assert s.session_id is not None
                room = emu.room_for(s.session_id)
                assert room is not None
                assert room.avatar is not None
                received = room.avatar.received_texts
        assert emu.open_session_count() == 0
    assert result.reply == ANSWER * 3
    assert not result.interrupted
    assert "".join(received) == ANSWER * 3
    assert len(received) == 9


def test_the_sync_facade_streams_a_blocking_iterator(akool_emulator: EmulatorHandle) -> None:
    closed: list[bool] = []

    def llm() -> Iterator[str]:
        try:
            yield from tokens(ANSWER)
        finally:
            closed.append(True)

    with connect_sync(
        akool_emulator.api_key, base_url=akool_emulator.base_url, avatar_id="dvp_Tristan_cloth2_1080P", mode_type=1
    ) as session:
        result = session.say_stream(llm())
    assert result.reply == ANSWER
    assert closed == [True]
    akool_emulator.wait_until(lambda: akool_emulator.open_session_count() == 0)


async def test_a_say_held_behind_a_stream_is_still_checked_at_once() -> None:
    llm = FakeLLM(tokens(ANSWER), stall_after=2)
    async with loopback() as (session, avatar):
        turn = session.say_stream(llm.stream(), max_wait=60)
        await llm.stalled.wait()
        with pytest.raises(LocalProtocolError):
            session.say("")  # refused now, not when the stream ends
        with pytest.raises(LocalProtocolError):
            session.say("lone \ud800 surrogate")
        llm.resume.set()
        await turn
        assert (await session.say("After.")).reply == "After."
    assert avatar.received == [*SENTENCES, "After."]
