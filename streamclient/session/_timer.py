"""The session's timer task: expires stalled incoming messages and replies, announces and enforces ``duration``.

It sleeps until the earliest of its deadlines: an incoming message's expiry or a reply's grace after ``audio_end``
(:meth:`Inbound.next_deadline`), ``SessionExpiring`` (``expiry_margin`` before the end) and the session's end. A
received frame wakes it only when it brings a deadline earlier than the one it sleeps until (:meth:`poke`): waking it
for every frame cost a new event, cancel scope and timer handle per frame.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio

from streamclient.session._fanout import EventFanout
from streamclient.session._inbound import Inbound
from streamclient.session.events import SessionExpiring

__all__ = ("SessionTimer",)


class SessionTimer:
    """Run :meth:`run` in the session's task group; :meth:`poke` after handling a received frame."""

    def __init__(
        self,
        inbound: Inbound,
        fanout: EventFanout,
        *,
        expires_at: Callable[[], float | None],
        margin: float,
        close: Callable[[str], Awaitable[None]],
    ) -> None:
        self._inbound = inbound
        self._fanout = fanout
        self._expires_at = expires_at
        self._margin = margin
        self._close = close
        self.wakeup = anyio.Event()
        self.until = math.inf  # when the task wakes up by itself
        self._announced = False

    def poke(self) -> None:
        """Wake the task if the inbound side now has a deadline earlier than the one it sleeps until."""
        deadline = self._inbound.next_deadline()
        if deadline is not None and deadline < self.until:
            self.wakeup.set()

    def stop(self) -> None:
        """Wake the task (the session closed)."""
        self.wakeup.set()

    async def run(self) -> None:
        inbound = self._inbound
        while True:
            wakeup = self.wakeup = anyio.Event()
            now = anyio.current_time()
            deadline = inbound.next_deadline()
            if deadline is not None and deadline <= now:
                inbound.expire(now)
                continue
            deadlines = [d for d in (deadline,) if d is not None]
            expires_at = self._expires_at()
            if expires_at is not None:
                if now >= expires_at:
                    await self._close("expired")
                    return
                announce_at = expires_at - self._margin
                if not self._announced:
                    if now >= announce_at:
                        self._announced = True
                        self._fanout.publish(SessionExpiring(remaining=max(0.0, expires_at - now)))
                        continue
                    deadlines.append(announce_at)
                deadlines.append(expires_at)
            if deadlines:
                self.until = min(deadlines)
                with anyio.move_on_after(max(0.0, self.until - now)):
                    await wakeup.wait()
            else:
                self.until = math.inf
                await wakeup.wait()
