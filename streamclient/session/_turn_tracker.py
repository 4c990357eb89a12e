"""Attributes what the avatar says and does to the turn that caused it.

The service does not say which reply answers which message (whether a reply reuses the request's ``mid`` is
undocumented, akool-api-and-protocol.md §8), so turns are matched in order: a turn waits once its last frame is
sent; the next reply that starts (first bot chunk or ``audio_start``) belongs to the oldest waiting turn.

A turn resolves when its reply message is complete and, if the avatar reported ``audio_start`` for it, once
``audio_end`` has arrived too; when its reply expired incomplete; when a newer reply starts; or when an interrupt
that cut it is acknowledged. Replies nobody asked for (answers to the user's voice) belong to no turn.

A reply can start before the writer learns that its message's last frame went out (the avatar answers while the
transport call is still returning): when no turn waits, the turn whose last frame is inside the transport call
(:meth:`TurnTracker.in_flight`) is the one answered.

Between an interrupt and its ack, a reply that starts belongs to no turn either: the avatar stops before it acks, and
the data stream is ordered, so such a reply answers a message the interrupt cut (its last frame was on its way when
the interrupt was sent); it must not be taken for the answer of a turn sent after the interrupt.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable

from streamclient.session.turns import Turn

__all__ = ("TurnTracker",)

_REMEMBERED_REPLIES = 64


class TurnTracker:
    """Turn bookkeeping for one session. Runs on the event loop; every method is synchronous."""

    def __init__(self, *, on_resolved: Callable[[Turn], None] | None = None) -> None:
        self._on_resolved = on_resolved
        self._by_mid: dict[str, Turn] = {}
        self._waiting: deque[Turn] = deque()
        self._owners: dict[Hashable, Turn | None] = {}
        self._current: Turn | None = None
        self._in_flight: Turn | None = None
        self._complete: set[str] = set()
        self._unacked_interrupts = 0

    @property
    def current(self) -> Turn | None:
        """The turn whose reply is in progress, if any."""
        return self._current

    def open_turns(self) -> list[Turn]:
        """Every turn that has not resolved yet, oldest first."""
        return [t for t in self._by_mid.values() if not t.done]

    def add(self, turn: Turn) -> None:
        """Track a newly queued turn."""
        self._by_mid[turn.message_id] = turn

    def get(self, message_id: str) -> Turn | None:
        """The turn that sent ``message_id``, if it is still tracked."""
        return self._by_mid.get(message_id)

    def in_flight(self, message_id: str | None) -> None:
        """The last frame of ``message_id`` is being handed to the transport (``None``: the call returned)."""
        self._in_flight = None if message_id is None else self._by_mid.get(message_id)

    def frame_sent(self, message_id: str, *, final: bool, now: float) -> None:
        """Record that a frame of ``message_id`` went out; the final one starts the wait for a reply."""
        turn = self._by_mid.get(message_id)
        if turn is None or not final or turn.done:
            return
        if turn.sent_at is not None:  # its reply started while the frame was in flight: claimed already
            return
        turn.sent_at = now
        self._waiting.append(turn)

    def _claim(self, now: float) -> Turn | None:
        """The oldest waiting turn becomes the current one (resolving a previous current turn)."""
        while self._waiting and self._waiting[0].done:
            self._waiting.popleft()
        if self._waiting:
            turn = self._waiting.popleft()
        elif self._in_flight is not None and not self._in_flight.done and self._in_flight.sent_at is None:
            turn = self._in_flight
            turn.sent_at = now  # (its transport call has not returned yet)
        else:
            return None
        if self._current is not None and not self._current.done:
            self._current.resolve(now)
        self._current = turn
        return turn

    def bot_delta(self, key: Hashable, text: str, now: float) -> None:
        """More text of the reply identified by ``key``."""
        turn = self._owners.get(key)
        if turn is None and key not in self._owners:
            current = self._current
            if current is not None and not current.done and not current.reply_parts and current.reply_key is None:
                turn = current  # audio_start arrived before the first chunk
            elif self._unacked_interrupts:
                turn = None  # a reply the avatar started before it saw the interrupt
            else:
                turn = self._claim(now)
            self._owners[key] = turn  # None: a reply no turn asked for (the user's voice)
            if turn is not None:
                turn.reply_key = key
        if turn is None or turn.done:
            return
        turn.mark_first_chunk(now)
        turn.reply_parts.append(text)

    def bot_complete(self, key: Hashable, now: float) -> None:
        """The reply ``key`` completed."""
        turn = self._owners.get(key)
        if turn is None or turn.done:
            return
        turn.reply_complete = True
        if turn.audio_start_at is None or turn.audio_end_at is not None:
            self._finish(turn, now)

    def bot_incomplete(self, key: Hashable, now: float) -> None:
        """The reply ``key`` expired with chunks missing: the turn resolves with what arrived."""
        turn = self._owners.get(key)
        if turn is not None and not turn.done:
            turn.reply_lost = True
            self._finish(turn, now)

    def audio_start(self, now: float) -> None:
        """The avatar started speaking."""
        turn = self._current
        if turn is None or turn.done or turn.audio_start_at is not None:
            turn = None if self._unacked_interrupts else self._claim(now)
        if turn is not None:
            turn.mark_audio_start(now)

    def audio_end(self, now: float) -> None:
        """The avatar stopped speaking."""
        turn = self._current
        if turn is None or turn.done:
            return
        turn.audio_end_at = now
        if turn.reply_complete or turn.interrupted:
            self._finish(turn, now)

    def mark_interrupted(self, dropped_message_id: str | None, *, unsent: bool = False) -> list[Turn]:
        """An interrupt was queued: cut the turns that can no longer get a reply, until :meth:`interrupt_done`.

        Those are the speaking turn, every turn waiting for its reply, the turn being transmitted (frames dropped,
        or its last frame inside the transport call: ``dropped_message_id``) and, with ``unsent``, the turns still
        queued whole. When none of these exists, the oldest open turn is the one in progress (queued, its first
        frame about to go) and is cut. An interrupt stops the avatar's current reply and, in the emulator, the
        replies queued behind it (what the real service does with queued replies is undocumented), so no turn that
        was already sent may keep waiting for a reply that will not come.
        """
        self._unacked_interrupts += 1
        cut: list[Turn] = []
        if self._current is not None and not self._current.done:
            cut.append(self._current)
        cut.extend(t for t in self._waiting if not t.done and t not in cut)
        if dropped_message_id is not None:
            dropped = self._by_mid.get(dropped_message_id)
            if dropped is not None and not dropped.done and dropped not in cut:
                cut.append(dropped)
        if unsent:
            cut.extend(t for t in self._by_mid.values() if not t.done and t.sent_at is None and t not in cut)
        if not cut:
            head = next((t for t in self._by_mid.values() if not t.done), None)
            if head is not None:
                cut.append(head)
        for turn in cut:
            turn.interrupted = True
        self._waiting.clear()
        return cut

    def interrupt_done(self) -> None:
        """An interrupt was acknowledged (or its wait ended): replies that start from now on are claimed again."""
        self._unacked_interrupts = max(0, self._unacked_interrupts - 1)

    def resolve(self, turn: Turn, now: float) -> None:
        """Resolve ``turn`` now with what it has."""
        self._finish(turn, now)

    def fail_all(self, error: BaseException) -> None:
        """Fail every open turn (the session closed)."""
        for turn in self.open_turns():
            turn.fail(error)
        self._by_mid.clear()
        self._waiting.clear()
        self._current = None

    def _finish(self, turn: Turn, now: float) -> None:
        if turn.done:
            return
        turn.resolve(now)
        if self._on_resolved is not None:
            self._on_resolved(turn)
        self._by_mid.pop(turn.message_id, None)
        if self._current is turn:
            self._current = None
        # A finished turn is not kept alive by its reply's key (later chunks of that reply belong to no turn), and
        # only the newest keys are remembered: a session keeps no history, whatever it has said.
        if turn.reply_key is not None and turn.reply_key in self._owners:
            self._owners[turn.reply_key] = None
        while len(self._owners) > _REMEMBERED_REPLIES:
            del self._owners[next(iter(self._owners))]
