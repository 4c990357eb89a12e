"""Small waiting helpers shared by the session's objects."""

from __future__ import annotations

import asyncio

import anyio

__all__ = ("Wakeup", "first_of")


class Wakeup:
    """A reusable wake-up call for one waiting task: one bare future per wait.

    ``anyio.Event`` costs two events, two coroutines, a deque and a future per wait; a task that waits between
    turns holds them for about a second, and with a thousand sessions the garbage collector's older generations
    fill with them (see "Garbage collection" in ``benchmarks/RESULTS.md``). A :meth:`set` before the :meth:`wait`
    is kept: the next wait returns at once. Cancellation (anyio's cancel scopes on asyncio) works as for any await.
    """

    __slots__ = ("_future", "_set")

    def __init__(self) -> None:
        """Create it unset."""
        self._future: asyncio.Future[None] | None = None
        self._set = False

    def set(self) -> None:
        """Wake the waiter, or the next one to wait."""
        future = self._future
        if future is not None:
            if not future.done():
                future.set_result(None)
        else:
            self._set = True

    async def wait(self) -> None:
        """Return once :meth:`set` was called (since the last wait returned)."""
        if self._set:
            self._set = False
            return
        future = self._future = asyncio.get_running_loop().create_future()
        try:
            await future
        finally:
            self._future = None
            self._set = False


async def first_of(*events: anyio.Event) -> None:
    """Return as soon as any of ``events`` is set (at once if one already is)."""
    if any(event.is_set() for event in events):
        return
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait, event)
