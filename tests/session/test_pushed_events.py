"""The session takes a PushTransport's events from callbacks (no reader task), and still reads any other transport.

Both ways must behave the same: replies, handler failures (the session closes with "error") and a channel that
ends (it closes as "disconnected").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest

from streamclient.session import AvatarSession, SessionOptions, connect
from streamclient.session._waits import Wakeup
from streamclient.transport import TransportEvent
from streamclient.transport.base import PushTransport
from streamclient.transport.loopback import LoopbackTransport
from tests.session.harness import FakeClient, IteratedTransport, ScriptedAvatar

FAST = SessionOptions(avatar_join_timeout=5, reply_timeout=10, command_timeout=5, close_timeout=5)


@asynccontextmanager
async def session_over(way: str) -> AsyncIterator[tuple[AvatarSession, LoopbackTransport]]:
    ours, theirs = LoopbackTransport.pair()
    transport = ours if way == "push" else IteratedTransport(ours)
    assert isinstance(transport, PushTransport) == (way == "push")
    avatar = ScriptedAvatar(theirs)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(
            FakeClient().typed(), avatar_id="a1", transport=transport, options=FAST, mode_type=1
        ) as session:
            yield session, ours
        tg.cancel_scope.cancel()


def task_names() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks()}


@pytest.mark.parametrize("way", ["push", "iterate"])
async def test_both_ways_get_the_reply_and_only_iteration_needs_a_reader_task(way: str) -> None:
    async with session_over(way) as (session, _):
        result = await session.say("Hello there, avatar. " * 10)
        assert result.reply == "Hello there, avatar. " * 10
        assert ("streamclient-reader" in task_names()) == (way == "iterate")
    assert session.close_reason == "closed"


@pytest.mark.parametrize("way", ["push", "iterate"])
async def test_a_failing_event_handler_closes_the_session_as_error(way: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with session_over(way) as (session, _):
        inbound = session._inbound
        assert inbound is not None

        def broken(_event: TransportEvent) -> None:
            raise RuntimeError("a bug in event handling")

        monkeypatch.setattr(inbound, "on_transport_event", broken)
        turn = session.say("This reply never gets handled.")
        with anyio.fail_after(5):
            reason = await session.wait_closed()
        assert reason == "error"
        with pytest.raises(Exception, match="closed"):
            await turn


@pytest.mark.parametrize("way", ["push", "iterate"])
async def test_a_channel_that_ends_closes_the_session_as_disconnected(way: str) -> None:
    async with session_over(way) as (session, ours):
        ours._bridge.close()
        with anyio.fail_after(5):
            assert await session.wait_closed() == "disconnected"


async def test_wakeup_keeps_an_early_set_and_survives_a_cancelled_wait() -> None:
    wakeup = Wakeup()
    wakeup.set()
    with anyio.fail_after(1):
        await wakeup.wait()  # the set before the wait is kept

    with anyio.move_on_after(0.01) as scope:
        await wakeup.wait()  # nothing set: times out
    assert scope.cancelled_caught

    async def set_soon() -> None:
        await anyio.lowlevel.checkpoint()
        wakeup.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(set_soon)
        with anyio.fail_after(1):
            await wakeup.wait()  # woken while waiting, after a cancelled wait
