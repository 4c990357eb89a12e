"""Small waiting helpers shared by the session's objects."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from streamclient.errors import AvatarJoinTimeoutError, SessionClosedError

if TYPE_CHECKING:
    from streamclient.session._inbound import Inbound

__all__ = ("Flag", "Wakeup", "first_of", "wait_for_avatar")


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


class Flag:
    """A one-shot flag that tasks can wait on with a timeout: one bare future per waiter, one timer per timed wait.

    What a turn needs from ``anyio.Event`` + ``move_on_after`` at a fraction of the cost: a turn is created, awaited
    and resolved a thousand times a second at scale, and each ``anyio.Event`` built an asyncio event and a deque at
    creation while each ``move_on_after`` built a cancel scope (two sets, a timer, a copied context). Here nothing
    is allocated until someone waits. :meth:`wake` ends the current waits without setting the flag (a wait that
    also ends on another condition). Cancellation (anyio's cancel scopes on asyncio) works as for any await.
    """

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        """Create it unset."""
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        """Whether :meth:`set` was called."""
        return self._set

    def set(self) -> None:
        """Set the flag and wake every waiter (idempotent)."""
        self._set = True
        self.wake()

    def wake(self) -> None:
        """End the current waits (they return whether the flag is set)."""
        waiters, self._waiters = self._waiters, None
        if waiters:
            for future in waiters:
                _wake_one(future)

    async def wait(self, timeout: float) -> bool:
        """Wait until the flag is set, :meth:`wake` is called or ``timeout`` seconds pass; return :meth:`is_set`.

        A flag already set returns after a checkpoint (like ``anyio.Event.wait``).
        """
        if self._set:
            await anyio.lowlevel.checkpoint()
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if self._waiters is None:
            self._waiters = [future]
        else:
            self._waiters.append(future)
        timer = loop.call_later(timeout, _wake_one, future) if timeout < math.inf else None
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()
            waiters = self._waiters
            if waiters is not None and future in waiters:  # timed out or cancelled: not woken by set() or wake()
                waiters.remove(future)
        return self._set


def _wake_one(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


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


async def wait_for_avatar(
    inbound: Inbound, closed: anyio.Event, closed_reason: Callable[[], str | None], timeout: float, label: str | None
) -> None:
    """Wait until the avatar joined the channel.

    Raises:
        SessionClosedError: the session closed first.
        AvatarJoinTimeoutError: the avatar did not join within ``timeout``.
    """
    with anyio.move_on_after(timeout):
        await first_of(inbound.avatar_joined, closed)
    reason = closed_reason()
    if reason is not None:
        raise SessionClosedError(f"session closed while waiting for the avatar ({reason})", reason=reason)
    if inbound.avatar_uid is None:
        raise AvatarJoinTimeoutError(f"the avatar did not join session {label} within {timeout:g} s")
