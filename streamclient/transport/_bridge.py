"""The one crossing from native SDK threads into the event loop.

An SDK callback runs on a thread the SDK owns. It must never block, never touch loop state and never raise, so it
only copies primitives and calls :meth:`ThreadBridge.call_soon` (or :meth:`ThreadBridge.post`), which schedules work
on the loop with ``loop.call_soon_threadsafe``. Everything else happens on the loop thread.

Events are buffered in a bounded deque read by one consumer through :meth:`events`, which waits on an
:class:`anyio.Event` only when the deque is empty. (An anyio memory object stream raised and caught a ``WouldBlock``
inside every ``receive`` that had to wait, leaving an exception, its traceback and a frame in a reference cycle per
frame received: garbage only the cyclic collector frees, a large part of what made full collections frequent with
a thousand sessions in one process.)

A consumer may instead take the events pushed (:meth:`ThreadBridge.push_to`, the transports' ``push_events``): each
batch buffered is then handed to its callback from one ``loop.call_soon``, so no consumer task waits between events
(see :class:`~streamclient.transport.base.PushTransport`), and the callback never runs inside the producer's call.

Overflow policy (the buffer holds ``capacity`` events):

* :class:`~streamclient.transport.base.MessagesLost` is telemetry: when the buffer is full it is dropped and counted
  in :attr:`ThreadBridge.dropped_telemetry` (and logged).
* Every other event (frames above all) is never dropped silently: the bridge *fails*. It stops accepting events,
  closes the buffer, and the consumer receives the events already buffered and then
  :class:`~streamclient.errors.TransportOverflowError`. The owning transport sees :attr:`ThreadBridge.failure` and
  refuses further sends.

After :meth:`close` (the transport is leaving) callbacks are dropped, both on the SDK thread (the ``closed`` flag)
and on the loop (the flag is checked again there); ``RuntimeError`` from a closed loop is swallowed.

This is the only transport module that imports :mod:`asyncio`: it needs ``loop.call_soon_threadsafe``, so the
transports run on anyio's asyncio backend.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from streamclient.errors import TransportOverflowError
from streamclient.transport._push import EventPusher
from streamclient.transport.base import MessagesLost, TransportEndHandler, TransportEvent, TransportEventHandler

__all__ = ("DEFAULT_EVENT_CAPACITY", "EventIterator", "ThreadBridge")

logger = logging.getLogger(__name__)

#: Default number of events buffered between the SDK threads and the consumer.
DEFAULT_EVENT_CAPACITY = 4096


class EventIterator:
    """Single-consumer async iterator over a bridge's buffered events.

    Ends with ``StopAsyncIteration`` after the bridge is closed and drained, or raises the bridge's failure
    (:class:`~streamclient.errors.TransportOverflowError`) once the events buffered before it have been read.
    """

    def __init__(self, bridge: ThreadBridge) -> None:
        """Wrap ``bridge``'s receive stream."""
        self._bridge = bridge

    def __aiter__(self) -> EventIterator:
        """Return ``self``."""
        return self

    async def __anext__(self) -> TransportEvent:
        """Return the next event; raise the bridge's failure or ``StopAsyncIteration`` at the end."""
        bridge = self._bridge
        while not bridge._items:
            if bridge._ended:
                failure = bridge.failure
                if failure is not None:
                    raise failure
                raise StopAsyncIteration
            wakeup = bridge._wakeup = anyio.Event()
            await wakeup.wait()
        return bridge._items.popleft()


class ThreadBridge:
    """Hands events from native threads to the event loop, through a bounded buffer (see module docstring)."""

    def __init__(self, *, capacity: int = DEFAULT_EVENT_CAPACITY) -> None:
        """Create the bridge; call :meth:`open` on the loop before any callback can fire.

        Args:
            capacity: how many events may wait for the consumer before the overflow policy applies.
        """
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._loop: asyncio.AbstractEventLoop | None = None
        self._items: deque[TransportEvent] = deque()
        self._wakeup: anyio.Event | None = None  # the consumer's, while it waits for an event
        self._closed = False
        self._ended = False
        self._failure: TransportOverflowError | None = None
        self._iterator_taken = False
        self._pusher: EventPusher | None = None
        self._push_loop: asyncio.AbstractEventLoop | None = None
        self._flush_scheduled = False
        self.dropped_telemetry = 0

    # ------------------------------------------------------------------------------------------- loop side

    def open(self) -> None:
        """Capture the running loop (call on the loop thread, in the coroutine that joins)."""
        self._loop = asyncio.get_running_loop()

    @property
    def closed(self) -> bool:
        """Whether the bridge has stopped accepting events (left, or failed)."""
        return self._closed

    @property
    def failure(self) -> TransportOverflowError | None:
        """The overflow error that failed the bridge, if it did."""
        return self._failure

    def events(self) -> AsyncIterator[TransportEvent]:
        """Return the single consumer's iterator over the buffered events."""
        if self._iterator_taken:
            raise RuntimeError("events() has a single consumer; it was already called")
        self._iterator_taken = True
        return EventIterator(self)

    def push_to(self, on_event: TransportEventHandler, on_end: TransportEndHandler) -> None:
        """Hand every event to ``on_event`` instead of an iterator (see the module docstring). Loop thread only.

        Raises:
            RuntimeError: :meth:`events` or :meth:`push_to` was already called.
        """
        if self._iterator_taken:
            raise RuntimeError("events() has a single consumer; it was already called")
        self._iterator_taken = True
        self._pusher = EventPusher(on_event, on_end, label="transport")
        self._push_loop = asyncio.get_running_loop()
        if self._items or self._ended:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        loop = self._push_loop
        if loop is None or self._flush_scheduled:
            return
        self._flush_scheduled = True
        try:
            loop.call_soon(self._flush)
        except RuntimeError:
            logger.debug("event loop closed; %d pushed events dropped", len(self._items))

    def _flush(self) -> None:
        self._flush_scheduled = False
        pusher = self._pusher
        assert pusher is not None
        items = self._items
        while items:
            pusher.push(items.popleft())
        if self._ended:
            pusher.end(self._failure)

    def deliver(self, event: TransportEvent) -> None:
        """Buffer ``event`` for the consumer, applying the overflow policy. Loop thread only."""
        if self._closed:
            logger.debug("bridge closed; dropping %s", type(event).__name__)
            return
        if len(self._items) >= self._capacity:
            if isinstance(event, MessagesLost):
                self.dropped_telemetry += 1
                logger.warning("event buffer full; dropped telemetry event (%d so far)", self.dropped_telemetry)
                return
            self._failure = TransportOverflowError(
                f"the transport's event buffer ({self._capacity} events) overflowed: events were not consumed "
                "fast enough; the transport is failed rather than silently dropping frames"
            )
            logger.error("event buffer overflow; failing the transport")
            self.close()
            return
        self._items.append(event)
        if self._pusher is not None:
            self._schedule_flush()
        elif self._wakeup is not None:
            self._wakeup.set()

    def stop_intake(self) -> None:
        """Stop accepting events (callbacks are dropped from now on); the consumer keeps what is buffered."""
        self._closed = True

    def close(self) -> None:
        """Stop accepting events and end the consumer's iteration after what is buffered. Idempotent; loop only."""
        self._closed = True
        self._ended = True
        if self._pusher is not None:
            self._schedule_flush()
        elif self._wakeup is not None:
            self._wakeup.set()

    # ----------------------------------------------------------------------------------------- thread side

    def call_soon(self, fn: Callable[..., None], *args: Any) -> None:
        """Schedule ``fn(*args)`` on the loop. Safe from any thread; never blocks, never raises."""
        loop = self._loop
        if self._closed or loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._run_guarded, fn, args)
        except RuntimeError:
            # The loop is closed (the application shut it down before leaving): nothing can receive this.
            logger.debug("event loop closed; dropping a callback")

    def post(self, event: TransportEvent) -> None:
        """Schedule delivery of ``event``. Safe from any thread; never blocks, never raises."""
        self.call_soon(self.deliver, event)

    def _run_guarded(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        if self._closed:
            return
        try:
            fn(*args)
        except Exception:
            logger.exception("transport event handler failed")
