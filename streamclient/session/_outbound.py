"""The session's writer: the only code that hands frames to the transport.

It drains the codec's outbox one datagram at a time (so an interrupt queued while a send is in flight goes out
next and can still drop the rest of the message it cuts), sleeps exactly as long as the pacer asks, and turns the
transport's verdicts into pacing (an accepted frame counts from when the call returned; a refused one leaves the
window and is retried after a back-off that doubles), turn failures or a lost channel.
"""

from __future__ import annotations

import logging

import anyio

from streamclient.codec import ChatFrame, ProtocolConnection, decode_frame
from streamclient.errors import SendError, SendRateLimitedError, TransportClosedError
from streamclient.session._inbound import Inbound
from streamclient.session._waits import Wakeup
from streamclient.session.stats import SessionStats
from streamclient.transport.base import Transport

__all__ = ("Outbound",)

logger = logging.getLogger(__name__)

_MAX_BACKOFF = 2.0


class Outbound:
    """Runs the writer loop (:meth:`run`) for one session; :meth:`wake` when something was queued."""

    def __init__(
        self,
        *,
        conn: ProtocolConnection,
        transport: Transport,
        inbound: Inbound,
        stats: SessionStats,
        send_timeout: float,
        rate_limit_backoff: float,
    ) -> None:
        self._conn = conn
        self._transport = transport
        self._inbound = inbound
        self._stats = stats
        self._send_timeout = send_timeout
        self._initial_backoff = self._backoff = rate_limit_backoff
        self._wakeup = Wakeup()  # a bare future per wait: the writer waits between every turn
        self._scope = anyio.CancelScope()

    def wake(self) -> None:
        """Something was queued: look at the outbox now."""
        self._wakeup.set()

    def stop(self) -> None:
        """Stop the loop (before the final interrupt and leave)."""
        self._scope.cancel()

    async def run(self) -> None:
        """Send until stopped.

        Raises:
            TransportClosedError: the channel closed.
        """
        conn = self._conn
        with self._scope:
            wakeup = self._wakeup
            while True:
                sent_all = True
                while batch := conn.data_to_send(anyio.current_time(), limit=1):
                    if not await self._send_tracked(batch[0]):
                        sent_all = False
                        break
                delay = conn.send_delay(anyio.current_time())
                if delay is None:
                    await wakeup.wait()
                elif delay > 0 or not sent_all:
                    with anyio.move_on_after(delay):
                        await wakeup.wait()

    async def _send_tracked(self, datagram: bytes) -> bool:
        """:meth:`_send_one`, telling the turns whose last frame is in the transport call (its reply may come first)."""
        frame = decode_frame(datagram)
        turns = self._inbound.turns
        turns.in_flight(frame.mid if isinstance(frame, ChatFrame) and frame.fin else None)
        try:
            return await self._send_one(datagram)
        finally:
            turns.in_flight(None)

    async def _send_one(self, datagram: bytes) -> bool:
        """Send one datagram; False when the outbox must wait (rate limit)."""
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
        self._conn.sent(datagram, now=anyio.current_time())
        self._backoff = self._initial_backoff
        self._stats.frames_sent += 1
        self._stats.bytes_sent += len(datagram)
        frame = decode_frame(datagram)
        if isinstance(frame, ChatFrame):
            self._inbound.turns.frame_sent(frame.mid, final=frame.fin, now=anyio.current_time())
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
