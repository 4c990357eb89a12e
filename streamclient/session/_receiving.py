"""The receiving side's plumbing: what the transport reports goes to the inbound side, then the timer is poked.

A transport that pushes its events (:class:`~streamclient.transport.base.PushTransport`) calls :meth:`pushed` and
:meth:`ended` on the event loop; any other is read by :meth:`read` in the session's reader task. Either way, the end
of the events means the channel is gone (unless we are leaving it), and a failure closes the session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from streamclient.session._inbound import Inbound
from streamclient.session._timer import SessionTimer
from streamclient.transport.base import Transport, TransportEvent

__all__ = ("Receiver",)

logger = logging.getLogger(__name__)


class Receiver:
    """Feeds one session's inbound side from its transport."""

    def __init__(
        self,
        transport: Transport,
        inbound: Inbound,
        timer: SessionTimer,
        *,
        label: str | None,
        closing: Callable[[], bool],
        close: Callable[[str], Awaitable[None]],
        close_soon: Callable[[str], None],
        failed: Callable[[str, BaseException], None],
    ) -> None:
        self._transport = transport
        self._inbound = inbound
        self._timer = timer
        self._label = label
        self._closing = closing
        self._close = close
        self._close_soon = close_soon
        self._failed = failed

    async def read(self) -> None:
        """Read a transport that cannot push its events (the reader task)."""
        async for event in self._transport.events():
            self.handle(event)
        if not self._closing():
            await self._close("disconnected")

    def handle(self, event: TransportEvent) -> None:
        """One event: to the inbound side; the timer wakes if it brought an earlier deadline."""
        self._inbound.on_transport_event(event)
        self._timer.poke()

    def pushed(self, event: TransportEvent) -> None:
        """A pushed event; a failure closes the session, as in the reader task."""
        try:
            self.handle(event)
        except Exception as exc:
            self._failed(f"handling {type(event).__name__}", exc)

    def ended(self, error: BaseException | None) -> None:
        """The pushed events ended: the channel is gone (or the transport failed), unless we are leaving it."""
        if error is not None:
            logger.error("session %s: the transport failed: %s", self._label, error)
        self._close_soon("disconnected")
