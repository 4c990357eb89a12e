"""A turn: one text sent to the avatar and the reply it produced.

``session.say(text)`` returns a :class:`Turn` at once; ``await turn`` (or ``await turn.wait(timeout=...)``) gives a
:class:`TurnResult`: the text the avatar spoke back, whether it was interrupted, and when each step happened.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass
from typing import Any

from streamclient.errors import ReplyTimeoutError
from streamclient.session._waits import Flag

__all__ = ("Turn", "TurnResult", "TurnTimings")


@dataclass(frozen=True, slots=True)
class TurnTimings:
    """When each step of a turn happened, in seconds of the event loop's clock (``None``: did not happen).

    ``queued`` is when ``say`` was called; ``sent`` when the last frame was handed to the transport;
    ``first_chunk`` when the first reply chunk arrived; ``audio_start``/``audio_end`` are the avatar's events;
    ``done`` is when the turn resolved.
    """

    queued: float
    sent: float | None
    first_chunk: float | None
    audio_start: float | None
    audio_end: float | None
    done: float

    @property
    def latency(self) -> float | None:
        """Seconds from the last frame sent to the first reply chunk (or ``audio_start``), if both happened."""
        first = self.first_chunk if self.first_chunk is not None else self.audio_start
        if self.sent is None or first is None:
            return None
        return first - self.sent


@dataclass(frozen=True, slots=True)
class TurnResult:
    """The outcome of a turn."""

    message_id: str
    text: str
    reply: str
    interrupted: bool
    timings: TurnTimings
    #: The reply started but never completed (chunks were lost), and the turn was not interrupted.
    incomplete: bool = False
    #: Where chunks of an incomplete reply are missing: offsets in ``reply`` of the ``"…"`` marking each gap.
    gaps: tuple[int, ...] = ()

    @property
    def received_chars(self) -> int:
        """How many characters of the reply arrived (``reply`` without the gap markers)."""
        return len(self.reply) - len(self.gaps)


class Turn:
    """Handle for one ``say``/``ask``. Await it for the :class:`TurnResult`."""

    def __init__(self, *, message_id: str, text: str, queued: float, default_timeout: float) -> None:
        self.message_id = message_id
        self.text = text
        self.default_timeout = default_timeout
        self.sent_at: float | None = None
        self.first_chunk_at: float | None = None
        self.audio_start_at: float | None = None
        self.audio_end_at: float | None = None
        self.queued_at = queued
        self.reply_parts: list[str] = []
        self.reply_gaps: tuple[int, ...] = ()
        self.reply_key: Hashable | None = None
        self.reply_complete = False
        self.reply_lost = False  # the reply expired with chunks missing
        self.interrupted = False
        self._done = Flag()
        self._reply_started = Flag()
        self._result: TurnResult | None = None
        self._error: BaseException | None = None
        #: Called once the turn resolves or fails (telemetry: streamclient.telemetry).
        self.observer: Callable[[Turn], None] | None = None

    @property
    def done(self) -> bool:
        """Whether the turn has resolved (with a result or an error)."""
        return self._done.is_set()

    @property
    def fully_sent(self) -> bool:
        """Whether every frame of the text has been handed to the transport."""
        return self.sent_at is not None

    def mark_first_chunk(self, now: float) -> None:
        """Record when the first reply chunk arrived (once); the reply has started."""
        if self.first_chunk_at is None:
            self.first_chunk_at = now
        self._reply_started.set()

    def mark_audio_start(self, now: float) -> None:
        """Record when the avatar started speaking this reply (once); the reply has started."""
        if self.audio_start_at is None:
            self.audio_start_at = now
        self._reply_started.set()

    async def wait_reply_started(self, *, timeout: float | None = None) -> bool:
        """Wait until the avatar starts replying (first chunk or ``audio_start``) or the turn ends.

        Returns:
            True if the reply started, False if the turn ended or ``timeout`` passed first.
        """
        limit = self.default_timeout if timeout is None else timeout
        if not self._done.is_set() and not self._reply_started.is_set():
            await self._reply_started.wait(limit)  # the turn's end wakes it too (see resolve and fail)
        return self._reply_started.is_set()

    def resolve(self, now: float) -> None:
        """Finish the turn with what it has collected (idempotent)."""
        if self._done.is_set():
            return
        timings = TurnTimings(
            queued=self.queued_at,
            sent=self.sent_at,
            first_chunk=self.first_chunk_at,
            audio_start=self.audio_start_at,
            audio_end=self.audio_end_at,
            done=now,
        )
        self._result = TurnResult(
            message_id=self.message_id,
            text=self.text,
            reply="".join(self.reply_parts),
            interrupted=self.interrupted,
            timings=timings,
            incomplete=(self.reply_lost or self.first_chunk_at is not None)
            and not self.reply_complete
            and not self.interrupted,
            gaps=self.reply_gaps,
        )
        self._done.set()
        self._reply_started.wake()
        if self.observer is not None:  # telemetry
            self.observer(self)

    def fail(self, error: BaseException) -> None:
        """Finish the turn with ``error`` (idempotent)."""
        if self._done.is_set():
            return
        self._error = error
        self._done.set()
        self._reply_started.wake()
        if self.observer is not None:  # telemetry
            self.observer(self)

    def outcome(self) -> tuple[TurnResult | None, BaseException | None]:
        """The result or the error, once the turn is done (``(None, None)`` before)."""
        return self._result, self._error

    async def wait(self, *, timeout: float | None = None) -> TurnResult:
        """Wait for the outcome.

        Args:
            timeout: seconds to wait; the session's ``reply_timeout`` if ``None``.

        Raises:
            ReplyTimeoutError: no outcome within ``timeout``.
            SessionClosedError: the session closed before the turn finished.
        """
        limit = self.default_timeout if timeout is None else timeout
        if not await self._done.wait(limit):
            raise ReplyTimeoutError(f"no reply to message {self.message_id} within {limit:g} s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def __await__(self) -> Generator[Any, None, TurnResult]:
        return self.wait().__await__()

    def __repr__(self) -> str:
        state = "done" if self.done else ("sent" if self.fully_sent else "queued")
        return f"<Turn {self.message_id} {state} {len(self.text)} chars>"
