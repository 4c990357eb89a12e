"""An interrupt cuts the turn in progress at every moment of its life, deterministically.

A transport whose ``send`` blocks on an event the test controls holds a chosen frame inside the transport call, so
each moment (before the first frame, a middle or the last frame in the call, after the last frame, while the reply
streams) is reached without timing guesses. In every case the turn resolves with ``interrupted=True`` no later than
the interrupt's ack, and no frame of it reaches the avatar after the interrupt frame.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import anyio
import anyio.lowlevel

from streamclient.codec import ChatFrame, Frame, decode_frame
from streamclient.session import AvatarSession, SessionOptions, connect
from streamclient.transport.loopback import LoopbackTransport
from tests.session.harness import FakeClient, ScriptedAvatar

OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=10, command_timeout=5, close_timeout=5)
THREE_SENTENCES = "First sentence is here. Second sentence follows it. Third one ends the text."


class GatedTransport(LoopbackTransport):
    """A loopback end whose ``send`` of the first frame matching ``gate`` waits for ``release`` before delivering."""

    def __init__(self, *, direction: int = 0) -> None:
        super().__init__(direction=direction)
        self.gate: Callable[[Frame], bool] | None = None
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:
        """Deliver ``data``, after waiting for ``release`` if it is the gated frame."""
        gate = self.gate
        if gate is not None and gate(decode_frame(data)):
            self.gate = None
            self.entered.set()
            await self.release.wait()
        await super().send(data, timeout=timeout)


def gated_pair() -> tuple[GatedTransport, GatedTransport]:
    ours, theirs = GatedTransport(direction=0), GatedTransport(direction=1)
    ours._peer, theirs._peer = theirs, ours  # the construction of LoopbackTransport.pair
    return ours, theirs


@asynccontextmanager
async def gated_session(
    *, max_frame_bytes: int | None = None, **avatar_kwargs: object
) -> AsyncIterator[tuple[AvatarSession, ScriptedAvatar, GatedTransport, GatedTransport]]:
    ours, theirs = gated_pair()
    avatar = ScriptedAvatar(theirs, **avatar_kwargs)  # type: ignore[arg-type]
    options = replace(OPTIONS, max_frame_bytes=max_frame_bytes)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(FakeClient().typed(), avatar_id="a", transport=ours, options=options) as session:
            yield session, avatar, ours, theirs
        tg.cancel_scope.cancel()


def chat_of(mid_holder: list[str], *, final: bool | None = None, idx: int | None = None) -> Callable[[Frame], bool]:
    """A gate for a chat frame of the (first) turn's message; ``final``/``idx`` narrow it."""

    def gate(frame: Frame) -> bool:
        if not isinstance(frame, ChatFrame) or not mid_holder or frame.mid != mid_holder[0]:
            return False
        return (final is None or frame.fin == final) and (idx is None or frame.idx == idx)

    return gate


def assert_nothing_of(avatar: ScriptedAvatar, mid: str, *, after_interrupt: bool = True) -> None:
    log = avatar.raw_log
    at = next(i for i, (kind, _) in enumerate(log) if kind == "command:interrupt")
    late = [entry for entry in log[at + 1 :] if entry == ("chat", mid)]
    assert not late, f"{len(late)} chunks of the cut message reached the avatar after the interrupt"


async def test_before_the_first_frame_the_turn_is_cut_and_never_sent() -> None:
    async with gated_session() as (session, avatar, _, _):
        turn = session.say(THREE_SENTENCES)
        ack = await session.interrupt()  # no checkpoint between: the writer has not taken a frame
        assert turn.done
        result = await turn
    assert ack.ok
    assert result.interrupted
    assert result.reply == ""
    assert ("chat", turn.message_id) not in avatar.raw_log
    assert avatar.commands == ["interrupt"]


async def test_the_issue_repro_after_one_checkpoint() -> None:
    async with gated_session() as (session, avatar, _, _):
        turn = session.say(THREE_SENTENCES)
        await anyio.lowlevel.checkpoint()
        await session.interrupt()
        assert turn.done
        result = await turn.wait(timeout=5)
    assert result.interrupted
    assert_nothing_of(avatar, turn.message_id)


async def test_while_the_only_frame_is_inside_the_transport_call() -> None:
    mid: list[str] = []
    async with gated_session() as (session, avatar, ours, _):
        ours.gate = chat_of(mid, final=True)
        turn = session.say(THREE_SENTENCES)
        mid.append(turn.message_id)
        with anyio.fail_after(5):
            await ours.entered.wait()
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.interrupt)
            await anyio.wait_all_tasks_blocked()
            assert turn.done  # cut before the transport call even returned
            ours.release.set()
        result = await turn
        assert session.stats.frames_sent >= 2
    assert result.interrupted
    assert avatar.received == [THREE_SENTENCES]  # the frame was already on its way: it arrives, then the interrupt
    assert [kind for kind, m in avatar.raw_log if m == turn.message_id or kind.startswith("command")] == [
        "chat",
        "command:interrupt",
    ]


async def test_while_a_middle_frame_is_inside_the_transport_call() -> None:
    mid: list[str] = []
    text = "word " * 200  # 1000 B in frames of 200 B: six frames
    async with gated_session(max_frame_bytes=200) as (session, avatar, ours, _):
        ours.gate = chat_of(mid, idx=2)
        turn = session.say(text)
        mid.append(turn.message_id)
        with anyio.fail_after(5):
            await ours.entered.wait()
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.interrupt)
            await anyio.wait_all_tasks_blocked()
            assert turn.done
            ours.release.set()
        result = await turn
    assert result.interrupted
    assert avatar.received == []
    assert sum(1 for entry in avatar.raw_log if entry == ("chat", turn.message_id)) == 3  # idx 0, 1 and 2
    assert_nothing_of(avatar, turn.message_id)


async def test_after_the_last_frame_before_the_reply() -> None:
    mid: list[str] = []
    async with gated_session(audio_events=False) as (session, _avatar, _, theirs):
        theirs.gate = lambda frame: isinstance(frame, ChatFrame)  # the avatar's reply is held in its transport
        turn = session.say(THREE_SENTENCES)
        mid.append(turn.message_id)
        with anyio.fail_after(5):
            await theirs.entered.wait()
        assert (turn.fully_sent, turn.done) == (True, False)
        await session.interrupt()
        assert turn.done
        result = await turn
    assert result.interrupted
    assert result.reply == ""


async def test_while_the_reply_streams() -> None:
    async with gated_session(hold_after_first_chunk=True, reply_chunk_chars=10) as (session, avatar, _, _):
        turn = session.say(THREE_SENTENCES)
        assert await turn.wait_reply_started(timeout=5)
        with anyio.fail_after(5):
            await avatar.first_chunk_sent.wait()
        await session.interrupt()
        assert turn.done
        result = await turn
    assert result.interrupted
    assert 0 < len(result.reply) < len(THREE_SENTENCES)


async def test_a_turn_queued_behind_the_cut_one_is_sent_and_answered() -> None:
    mid: list[str] = []
    async with gated_session() as (session, _avatar, ours, _):
        ours.gate = chat_of(mid, final=True)
        first = session.say(THREE_SENTENCES)
        mid.append(first.message_id)
        second = session.say("And this one is answered.")
        with anyio.fail_after(5):
            await ours.entered.wait()
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.interrupt)
            await anyio.wait_all_tasks_blocked()
            ours.release.set()
        cut = await first
        answered = await second.wait(timeout=5)
    assert cut.interrupted
    assert not answered.interrupted
    assert answered.reply == "And this one is answered."  # not the stale start of the first message's reply


async def test_drop_queued_cuts_every_queued_turn_and_sends_none() -> None:
    async with gated_session(max_frame_bytes=200) as (session, avatar, _, _):
        first = session.say("word " * 200)
        second = session.say("Never said.")
        await session.interrupt(drop_queued=True)
        results = [await first, await second]
    assert [r.interrupted for r in results] == [True, True]
    assert [kind for kind, _ in avatar.raw_log] == ["command:interrupt"]


async def test_without_drop_queued_only_the_head_of_the_queue_is_cut() -> None:
    async with gated_session() as (session, avatar, _, _):
        first = session.say("Cut before it starts.")
        second = session.say("Said after the interrupt.")
        await session.interrupt()
        cut, answered = await first, await second.wait(timeout=5)
    assert cut.interrupted
    assert not answered.interrupted
    assert avatar.received == ["Said after the interrupt."]
