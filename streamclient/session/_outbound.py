"""The session's writer: the only code that hands frames to the transport.

It drains the codec's outbox one datagram at a time (so an interrupt queued while a send is in flight goes out
next and can still drop the rest of the message it cuts), sleeps exactly as long as the pacer asks, and turns the
transport's verdicts into pacing (an accepted frame counts from when the call returned; a refused one leaves the
window and is retried after a back-off that doubles), turn failures or a lost channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import anyio

from streamclient.codec import ChatFrame, Frame, ProtocolConnection, decode_frame
from streamclient.errors import SendError, SendRateLimitedError, TransportClosedError
from streamclient.session._inbound import Inbound
from streamclient.session._waits import Wakeup
from streamclient.session.stats import SessionStats
from streamclient.transport.base import Transport

__all__ = ("Outbound",)

logger = logging.getLogger(__name__)

_MAX_BACKOFF = 2.0


class Outbound:
    """The writer of one session: :meth:`wake` when something was queued, :meth:`stop` before the final interrupt.

    The writer is an asyncio task that exists only while there is something to send (started by :meth:`wake`, ended
    when the outbox is empty), so an idle session has no task parked on it: with a thousand sessions each parked
    writer kept a coroutine and a future alive for about a second, in the garbage collector's young generations
    (see "Garbage collection" in ``benchmarks/RESULTS.md``). A bare asyncio task, not an anyio one: anyio's task
    start leaves reference cycles, which doubled the young collections when tried. A failure is handed to
    ``on_failure`` (the session closes). :meth:`stop` cancels the writer through an anyio cancel scope, so a shielded
    transport call (a send handed to an SDK thread) still finishes; :meth:`stopped` waits for the task to end.
    """

    def __init__(
        self,
        *,
        conn: ProtocolConnection,
        transport: Transport,
        inbound: Inbound,
        stats: SessionStats,
        send_timeout: float,
        rate_limit_backoff: float,
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self._conn = conn
        self._transport = transport
        self._inbound = inbound
        self._stats = stats
        self._send_timeout = send_timeout
        self._initial_backoff = self._backoff = rate_limit_backoff
        self._on_failure = on_failure
        self._wakeup = Wakeup()  # for a writer that waits for the pacer
        self._task: asyncio.Task[None] | None = None
        self._scope = anyio.CancelScope()
        self._stopped = False

    def wake(self) -> None:
        """Something was queued: start a writer, or have the running one look at the outbox now."""
        if self._stopped:
            return
        if self._task is not None:
            self._wakeup.set()
            return
        self._scope = anyio.CancelScope()
        self._task = asyncio.get_running_loop().create_task(self._drain(), name="streamclient-writer")

    def stop(self) -> None:
        """Stop writing for good (before the final interrupt and leave)."""
        self._stopped = True
        self._scope.cancel()

    async def stopped(self) -> None:
        """Wait until the writer task (if any) has ended; call after :meth:`stop`."""
        task = self._task
        if task is not None:
            await asyncio.wait([task])

    async def _drain(self) -> None:
        """Send until the outbox is empty, sleeping as long as the pacer asks."""
        conn, wakeup = self._conn, self._wakeup
        clock = asyncio.get_running_loop().time  # anyio.current_time() on asyncio, without its backend lookup
        try:
            with self._scope:
                while True:
                    sent_all = True
                    while batch := conn.data_to_send(clock(), limit=1):
                        if not await self._send_tracked(batch[0]):
                            sent_all = False
                            break
                    delay = conn.send_delay(clock())
                    if delay is None:
                        return  # nothing queued: the next wake() starts a writer again
                    if delay > 0 or not sent_all:
                        with anyio.move_on_after(delay):
                            await wakeup.wait()
        except Exception as exc:
            self._on_failure(exc)
        finally:
            self._task = None

    async def _send_tracked(self, datagram: bytes) -> bool:
        """:meth:`_send_one`, telling the turns whose last frame is in the transport call (its reply may come first)."""
        frame = decode_frame(datagram)
        turns = self._inbound.turns
        turns.in_flight(frame.mid if isinstance(frame, ChatFrame) and frame.fin else None)
        try:
            return await self._send_one(datagram, frame)
        finally:
            turns.in_flight(None)

    async def _send_one(self, datagram: bytes, frame: Frame) -> bool:
        """Send one datagram (``frame`` decoded); False when the outbox must wait (rate limit)."""
        try:
            await self._transport.send(datagram, timeout=self._send_timeout)
        except SendRateLimitedError as exc:
            self._stats.send_retries += 1
            logger.warning(
                "a %d-byte frame was refused for rate (%s); it is retried in %.2f s", len(datagram), exc, self._backoff
            )
            self._conn.retry_later(datagram, now=anyio.current_time(), delay=self._backoff)
            self._backoff = min(_MAX_BACKOFF, self._backoff * 2)
            return False
        except (TransportClosedError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise TransportClosedError(f"the channel closed while sending: {exc}") from exc
        except SendError as exc:
            self._stats.send_failures += 1
            self._conn.not_sent(datagram)
            self._on_send_failed(datagram, exc)
            return True
        now = asyncio.get_running_loop().time()
        self._conn.sent(datagram, now=now)
        self._backoff = self._initial_backoff
        self._stats.frames_sent += 1
        self._stats.bytes_sent += len(datagram)
        if isinstance(frame, ChatFrame):
            self._inbound.turns.frame_sent(frame.mid, final=frame.fin, now=now)
        return True

    def _on_send_failed(self, datagram: bytes, exc: SendError) -> None:
        """A frame was refused for good: its turn fails (the message can never complete), or its command."""
        frame = decode_frame(datagram)
        logger.warning("frame %s not sent: %s", frame.mid, exc)
        if isinstance(frame, ChatFrame):
            self._conn.cancel_chat(frame.mid)
            turn = self._inbound.turns.get(frame.mid)
            if turn is not None:
                turn.fail(exc)
        elif frame.mid is not None and frame.mid in self._inbound.acks:
            self._inbound.acks[frame.mid].done.set()
