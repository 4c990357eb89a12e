"""Bounded fan-out of session events to any number of consumers.

Policy for slow consumers: each ``events()`` iterator has its own buffer of ``maxlen`` events. When it is full, the
oldest buffered event is discarded (the session never waits for a consumer, so a slow consumer cannot stall the
reader or grow memory), and the consumer receives one :class:`EventsDropped` with the count before its next event.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import anyio

from streamclient.session.events import EventsDropped, SessionEvent

__all__ = ("EventFanout", "EventSubscription")

logger = logging.getLogger(__name__)


class _Subscriber:
    __slots__ = ("buffer", "closed", "dropped", "wakeup")

    def __init__(self, maxlen: int) -> None:
        self.buffer: deque[SessionEvent] = deque(maxlen=maxlen)
        self.dropped = 0
        self.closed = False
        self.wakeup = anyio.Event()

    def push(self, event: SessionEvent) -> None:
        if len(self.buffer) == self.buffer.maxlen:
            self.dropped += 1
        self.buffer.append(event)
        self.wakeup.set()


class EventFanout:
    """Delivers each published event to every current subscriber and to registered callbacks."""

    def __init__(self, *, maxlen: int = 1000) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self._maxlen = maxlen
        self._subscribers: list[_Subscriber] = []
        self._callbacks: list[tuple[type[SessionEvent] | None, Callable[[SessionEvent], object]]] = []
        self._closed = False

    def publish(self, event: SessionEvent) -> None:
        """Deliver ``event`` now; never blocks. Callback errors are logged, never raised. Ignored after close."""
        if self._closed:
            return
        for subscriber in self._subscribers:
            subscriber.push(event)
        for kind, callback in self._callbacks:
            if kind is None or isinstance(event, kind):
                try:
                    callback(event)
                except Exception:
                    logger.exception("event callback %r failed", callback)

    def add_callback(self, callback: Callable[[SessionEvent], object], kind: type[SessionEvent] | None) -> None:
        """Register a plain (non-async) callback for events of ``kind`` (all events if ``None``)."""
        self._callbacks.append((kind, callback))

    def remove_callback(self, callback: Callable[[SessionEvent], object]) -> None:
        """Unregister every registration of ``callback``."""
        self._callbacks = [(k, c) for k, c in self._callbacks if c is not callback]

    def close(self) -> None:
        """End every subscription once its buffer is drained; later subscriptions end at once."""
        self._closed = True
        for subscriber in self._subscribers:
            subscriber.closed = True
            subscriber.wakeup.set()

    def subscribe(self) -> EventSubscription:
        """Start buffering events for a new consumer now (events published before this call are not seen)."""
        subscriber = _Subscriber(self._maxlen)
        subscriber.closed = self._closed
        self._subscribers.append(subscriber)
        return EventSubscription(self, subscriber)

    def _unsubscribe(self, subscriber: _Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)


class EventSubscription:
    """An async iterator over one consumer's events; ends when the session closes. ``aclose()`` unsubscribes."""

    def __init__(self, fanout: EventFanout, subscriber: _Subscriber) -> None:
        self._fanout = fanout
        self._subscriber = subscriber

    @property
    def buffered(self) -> int:
        """Events waiting for this consumer."""
        return len(self._subscriber.buffer) + (1 if self._subscriber.dropped else 0)

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> SessionEvent:
        subscriber = self._subscriber
        while True:
            if subscriber.dropped:
                count, subscriber.dropped = subscriber.dropped, 0
                return EventsDropped(count)
            if subscriber.buffer:
                return subscriber.buffer.popleft()
            if subscriber.closed:
                self._fanout._unsubscribe(subscriber)
                raise StopAsyncIteration
            subscriber.wakeup = anyio.Event()
            await subscriber.wakeup.wait()

    async def aclose(self) -> None:
        """Stop receiving events."""
        self._subscriber.closed = True
        self._subscriber.buffer.clear()
        self._fanout._unsubscribe(self._subscriber)
