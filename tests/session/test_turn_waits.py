"""A turn's waits (``await turn``, ``wait_reply_started``) and the ``Flag`` they are built on."""

from __future__ import annotations

import anyio
import pytest

from streamclient.errors import ReplyTimeoutError
from streamclient.session._waits import Flag
from streamclient.session.turns import Turn


def _turn() -> Turn:
    return Turn(message_id="m1", text="hello", queued=0.0, default_timeout=5.0)


async def test_flag_set_wakes_every_waiter_and_later_waits_return_at_once() -> None:
    flag = Flag()
    results: list[bool] = []

    async def waiter() -> None:
        results.append(await flag.wait(5.0))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            flag.set()
        assert results == [True, True]
        assert await flag.wait(0.0)


async def test_flag_wait_times_out_and_wake_ends_a_wait_unset() -> None:
    flag = Flag()
    with anyio.fail_after(5):
        assert not await flag.wait(0.01)
        results: list[bool] = []

        async def waiter() -> None:
            results.append(await flag.wait(5.0))

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            flag.wake()
        assert results == [False]
        assert not flag.is_set()


async def test_a_cancelled_flag_wait_leaves_no_waiter() -> None:
    flag = Flag()
    with anyio.move_on_after(0.01):
        await flag.wait(5.0)
    assert not flag._waiters
    flag.set()


async def test_turn_wait_times_out_resolves_and_fails() -> None:
    turn = _turn()
    with anyio.fail_after(5):
        with pytest.raises(ReplyTimeoutError):
            await turn.wait(timeout=0.01)
        async with anyio.create_task_group() as tg:

            async def resolve_later() -> None:
                await anyio.wait_all_tasks_blocked()
                turn.reply_parts.append("hi")
                turn.resolve(1.0)

            tg.start_soon(resolve_later)
            result = await turn
        assert result.reply == "hi"
        assert (await turn.wait()).reply == "hi"

    failing = _turn()
    failing.fail(RuntimeError("gone"))
    with pytest.raises(RuntimeError, match="gone"):
        await failing


async def test_wait_reply_started_ends_when_the_turn_ends() -> None:
    turn = _turn()
    with anyio.fail_after(5):
        assert not await turn.wait_reply_started(timeout=0.01)
        async with anyio.create_task_group() as tg:

            async def end_later() -> None:
                await anyio.wait_all_tasks_blocked()
                turn.resolve(1.0)

            tg.start_soon(end_later)
            assert not await turn.wait_reply_started(timeout=5)
    started = _turn()
    started.mark_audio_start(0.5)
    assert await started.wait_reply_started(timeout=0.01)
