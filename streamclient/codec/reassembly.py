"""Reassembling chunked chat messages from an unordered, duplicating, lossy stream, within hard memory bounds.

Rules (protocol/README.md §6):

1. A message is keyed by ``(sender, source, mid)``; different keys never mix.
2. Chunks are ordered by ``idx``; a repeated ``idx`` is ignored (the first copy wins).
3. A message completes exactly once, when the ``fin`` chunk (at ``idx`` k) and every ``idx`` 0..k have arrived:
   one :class:`ChatMessage`. Before that, each chunk that extends the contiguous prefix from 0 is reported once,
   in order, as :class:`ChatDelta`.
4. Frames for a completed (or discarded) key are ignored; such keys are remembered in a bounded LRU.
5. A message with no new chunk for ``message_timeout`` seconds (caller's clock) expires: :class:`MessageExpired`.
6. Bounds, each breach reported as :class:`MessageDiscarded` with the reason in brackets:
   ``idx >= max_chunks_per_message`` discards that message [``too_many_chunks``]; a message whose buffered text
   would exceed ``max_message_bytes`` is discarded [``message_too_large``]; a second, different ``fin``, or a chunk
   beyond the ``fin`` index, discards it [``conflicting_fin``]. The other bounds are **per sender**, so that no
   sender can push out another's messages (a viewer flooding a shared room cannot evict the avatar's reply): a
   sender's new message beyond ``max_pending_messages`` evicts that sender's least recently active one
   [``evicted_too_many_pending``]; a sender's buffered text beyond ``max_buffered_bytes`` evicts that sender's least
   recently active messages until it fits [``evicted_buffer_full``]; at most ``max_senders`` senders hold pending
   messages at once, and the message of one more is discarded [``too_many_senders``], except from a sender named
   with :meth:`Reassembler.reserve` (the avatar), which always has its own place. Memory is therefore bounded per
   sender by ``max_pending_messages`` messages and ``max_buffered_bytes`` bytes, and in total by
   ``(max_senders + reserved senders) * max_buffered_bytes`` bytes (36 MiB with the defaults and one reserved
   sender) and as many times ``max_pending_messages`` messages; plus ``remembered_messages`` finished keys.
7. Halves of a surrogate pair that the sender split between chunks (the official client cuts every 216 UTF-16 code
   units; the decoder keeps such lone surrogates in chunk text) are paired again as the chunks are put in order: a
   delta never ends with a high surrogate (it is held for the next chunk) and never holds a lone one, so the text
   comes out exactly as sent. A surrogate still unpaired when its chunk is the last one becomes U+FFFD, counted in
   :attr:`ChatMessage.unpaired_surrogates`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from streamclient.codec.events import ChatDelta, ChatMessage, Event, MessageDiscarded, MessageExpired
from streamclient.codec.frames import ChatFrame
from streamclient.errors import InvalidArgumentError

__all__ = ("CHUNK_OVERHEAD_BYTES", "DISCARD_REASONS", "Reassembler", "ReassemblyLimits")

#: Every ``MessageDiscarded.reason`` the reassembler produces.
DISCARD_REASONS: tuple[str, ...] = (
    "too_many_chunks",
    "message_too_large",
    "conflicting_fin",
    "evicted_too_many_pending",
    "evicted_buffer_full",
    "too_many_senders",
)

#: Bytes charged per buffered chunk on top of its text, so that empty chunks cannot pile up for free.
CHUNK_OVERHEAD_BYTES = 32

_Key = tuple[str, "str | None", str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReassemblyLimits:
    """Hard bounds on what a peer can make the reassembler hold.

    Attributes:
        max_pending_messages: incomplete messages held at once for one sender.
        max_chunks_per_message: highest accepted ``idx`` + 1.
        max_message_bytes: bytes buffered for one message (UTF-8 text plus :data:`CHUNK_OVERHEAD_BYTES` per chunk).
        max_buffered_bytes: bytes buffered across one sender's pending messages (counted the same way).
        max_senders: senders (besides the reserved ones) holding pending messages at once.
        remembered_messages: completed/discarded keys remembered so late frames are ignored (LRU).
    """

    max_pending_messages: int = 64
    max_chunks_per_message: int = 4096
    max_message_bytes: int = 1024 * 1024
    max_buffered_bytes: int = 4 * 1024 * 1024
    remembered_messages: int = 1024
    max_senders: int = 8

    def __post_init__(self) -> None:
        for name in (
            "max_pending_messages",
            "max_chunks_per_message",
            "max_message_bytes",
            "max_buffered_bytes",
            "remembered_messages",
            "max_senders",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise InvalidArgumentError(f"ReassemblyLimits.{name} must be a positive integer, got {value!r}")


@dataclass(slots=True)
class _Budget:
    """What one sender holds: its pending messages and their bytes."""

    messages: int = 0
    nbytes: int = 0
    reserved: bool = False


@dataclass(slots=True)
class _Pending:
    budget: _Budget
    chunks: dict[int, str] = field(default_factory=dict)
    fin_idx: int | None = None
    max_idx: int = -1
    next_idx: int = 0  # first idx not yet reported as a delta (the contiguous prefix is 0..next_idx-1)
    nbytes: int = 0
    deadline: float = 0.0
    halves: set[int] | None = None  # indexes of chunks holding lone surrogates (None: none so far, the usual case)
    carry: str = ""  # a high surrogate that ended the last delta, waiting for the next chunk's low half
    unpaired: int = 0  # lone surrogates replaced by U+FFFD so far


class Reassembler:
    """Turns chat frames into deltas, complete messages, expiries and discards (see the module docstring).

    Args:
        limits: the memory bounds.
        message_timeout: seconds without a new chunk after which an incomplete message expires.
    """

    def __init__(self, limits: ReassemblyLimits | None = None, *, message_timeout: float = 30.0) -> None:
        if not message_timeout > 0:
            raise InvalidArgumentError(f"message_timeout must be positive, got {message_timeout!r}")
        self.limits = limits if limits is not None else ReassemblyLimits()
        self.message_timeout = message_timeout
        self._pending: OrderedDict[_Key, _Pending] = OrderedDict()  # least recently active first
        self._finished: OrderedDict[_Key, None] = OrderedDict()
        self._buffered = 0
        self._budgets: dict[str, _Budget] = {}  # senders holding pending messages, and the reserved ones
        self._others = 0  # senders in _budgets that are not reserved

    def reserve(self, sender: str) -> None:
        """Give ``sender`` (the avatar) a place of its own: it never counts against ``max_senders``."""
        budget = self._budgets.get(sender)
        if budget is None:
            self._budgets[sender] = _Budget(reserved=True)
        elif not budget.reserved:
            budget.reserved = True
            self._others -= 1

    def pending_from(self, sender: str) -> tuple[int, int]:
        """``(messages, bytes)`` pending from ``sender``."""
        budget = self._budgets.get(sender)
        return (budget.messages, budget.nbytes) if budget is not None else (0, 0)

    @property
    def pending_messages(self) -> int:
        """Number of incomplete messages held (all senders)."""
        return len(self._pending)

    @property
    def buffered_bytes(self) -> int:
        """Bytes currently buffered, all senders (UTF-8 text plus :data:`CHUNK_OVERHEAD_BYTES` per chunk)."""
        return self._buffered

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`expire` has something to do, or ``None`` if nothing is pending."""
        for pending in self._pending.values():
            return pending.deadline
        return None

    def expire(self, now: float) -> list[Event]:
        """Report and forget every message whose deadline is at or before ``now``.

        Args:
            now: the caller's clock, in seconds (``math.inf`` flushes everything, e.g. at end of input).

        Returns:
            One :class:`MessageExpired` per expired message, least recently active first.
        """
        out: list[Event] = []
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if pending.deadline > now:
                break
            self._forget(key, pending)
            out.append(_expired(key, pending))
        return out

    def expire_message(self, sender: str, source: str | None, mid: str) -> list[Event]:
        """Report and forget one pending message now, whatever its deadline (its sender said it is over).

        Returns:
            One :class:`MessageExpired`, or nothing when no such message is pending.
        """
        key: _Key = (sender, source, mid)
        pending = self._pending.get(key)
        if pending is None:
            return []
        self._forget(key, pending)
        return [_expired(key, pending)]

    def expire_sender(self, sender: str, source: str | None) -> list[Event]:
        """Report and forget now every pending message of ``sender`` with ``source`` (see :meth:`expire_message`)."""
        keys = [key for key in self._pending if key[0] == sender and key[1] == source]
        return [event for key in keys for event in self.expire_message(*key)]

    def feed(self, frame: ChatFrame, *, sender: str, now: float) -> list[Event]:
        """Add one received chat frame.

        Args:
            frame: the decoded frame.
            sender: the peer's id (transport uid).
            now: the caller's clock, in seconds.

        Returns:
            The events this frame caused, in order (possibly none).
        """
        key: _Key = (sender, frame.source, frame.mid)
        if key in self._finished:
            self._finished.move_to_end(key)
            return []
        limits = self.limits
        if frame.idx >= limits.max_chunks_per_message:
            return self._discard(key, "too_many_chunks")
        pending = self._pending.get(key)
        out: list[Event] = []
        if pending is None:
            budget = self._budgets.get(sender)
            if budget is None:
                if self._others >= limits.max_senders:
                    return self._discard(key, "too_many_senders")
                budget = self._budgets[sender] = _Budget()
                self._others += 1
            while budget.messages >= limits.max_pending_messages:
                out.extend(self._evict_oldest(sender, "evicted_too_many_pending"))
            if sender not in self._budgets:  # evicting its last message took its place away: it keeps it
                self._budgets[sender] = budget
                self._others += 1
            pending = self._pending[key] = _Pending(budget)
            budget.messages += 1
        elif frame.idx in pending.chunks:
            if frame.fin and pending.fin_idx != frame.idx:
                return self._discard(key, "conflicting_fin")
            return []  # duplicate: the first copy wins
        if (frame.fin and pending.fin_idx is not None) or (frame.fin and frame.idx < pending.max_idx):
            return [*out, *self._discard(key, "conflicting_fin")]
        if pending.fin_idx is not None and frame.idx > pending.fin_idx:
            return [*out, *self._discard(key, "conflicting_fin")]
        lone = False
        try:
            size = len(frame.text.encode("utf-8")) + CHUNK_OVERHEAD_BYTES
        except UnicodeEncodeError:  # half a surrogate pair (see rule 7)
            size = len(frame.text.encode("utf-8", "surrogatepass")) + CHUNK_OVERHEAD_BYTES
            lone = True
        if pending.nbytes + size > limits.max_message_bytes:
            return [*out, *self._discard(key, "message_too_large")]
        budget = pending.budget
        while budget.nbytes + size > limits.max_buffered_bytes:
            oldest = self._oldest_of(sender)
            if oldest == key:
                return [*out, *self._discard(key, "evicted_buffer_full")]
            out.extend(self._discard(oldest, "evicted_buffer_full"))
        pending.chunks[frame.idx] = frame.text
        if lone:
            pending.halves = {frame.idx} if pending.halves is None else pending.halves | {frame.idx}
        pending.nbytes += size
        budget.nbytes += size
        self._buffered += size
        pending.max_idx = max(pending.max_idx, frame.idx)
        if frame.fin:
            pending.fin_idx = frame.idx
        pending.deadline = now + self.message_timeout
        self._pending.move_to_end(key)
        out.extend(self._advance(key, pending))
        return out

    def _advance(self, key: _Key, pending: _Pending) -> list[Event]:
        sender, source, mid = key
        out: list[Event] = []
        chunks = pending.chunks
        while pending.next_idx in chunks:
            idx = pending.next_idx
            if pending.halves is not None and (pending.carry or idx in pending.halves):
                chunks[idx] = _pair_halves(pending, idx, chunks[idx])
            out.append(ChatDelta(sender=sender, source=source, mid=mid, index=idx, text=chunks[idx]))
            pending.next_idx += 1
        if pending.fin_idx is not None and pending.next_idx > pending.fin_idx:
            text = "".join(chunks[i] for i in range(pending.fin_idx + 1))
            out.append(
                ChatMessage(
                    sender=sender,
                    source=source,
                    mid=mid,
                    text=text,
                    chunks=pending.fin_idx + 1,
                    unpaired_surrogates=pending.unpaired,
                )
            )
            self._forget(key, pending)
        return out

    def _forget(self, key: _Key, pending: _Pending) -> None:
        del self._pending[key]
        self._buffered -= pending.nbytes
        budget = pending.budget
        budget.messages -= 1
        budget.nbytes -= pending.nbytes
        if not budget.messages and not budget.reserved:
            del self._budgets[key[0]]
            self._others -= 1
        self._finished[key] = None
        self._finished.move_to_end(key)
        while len(self._finished) > self.limits.remembered_messages:
            self._finished.popitem(last=False)

    def _discard(self, key: _Key, reason: str) -> list[Event]:
        pending = self._pending.get(key)
        if pending is not None:
            self._forget(key, pending)
        else:
            self._finished[key] = None
            while len(self._finished) > self.limits.remembered_messages:
                self._finished.popitem(last=False)
        sender, source, mid = key
        return [MessageDiscarded(sender=sender, source=source, mid=mid, reason=reason)]

    def _evict_oldest(self, sender: str, reason: str) -> list[Event]:
        return self._discard(self._oldest_of(sender), reason)

    def _oldest_of(self, sender: str) -> _Key:
        """``sender``'s least recently active pending message (it has one: only called when its budget is used)."""
        return next(key for key in self._pending if key[0] == sender)


#: What stands for missing chunks in :attr:`MessageExpired.text` (see ``gaps`` for where).
GAP_MARKER = "\u2026"


def _expired(key: _Key, pending: _Pending) -> MessageExpired:
    """What arrived of an incomplete message: its contiguous prefix, and every chunk with the gaps marked."""
    sender, source, mid = key
    chunks = pending.chunks
    prefix = "".join(chunks[i] for i in range(pending.next_idx))
    received = tuple(sorted(chunks))
    parts = [prefix]
    gaps: list[int] = []
    length = len(prefix)
    run: list[str] = []
    expected = pending.next_idx
    for idx in received:
        if idx < pending.next_idx:
            continue
        if idx != expected:  # chunks expected..idx-1 are missing
            length += _flush(run, parts, pending)
            gaps.append(length)
            parts.append(GAP_MARKER)
            length += len(GAP_MARKER)
        run.append(chunks[idx])
        expected = idx + 1
    length += _flush(run, parts, pending)
    if pending.fin_idx is None or expected <= pending.fin_idx:  # the end is missing too
        gaps.append(length)
        parts.append(GAP_MARKER)
    return MessageExpired(
        sender=sender,
        source=source,
        mid=mid,
        received=received,
        partial_text=prefix,
        text="".join(parts),
        gaps=tuple(gaps),
    )


def _flush(run: list[str], parts: list[str], pending: _Pending) -> int:
    """Append a run of consecutive chunks to ``parts`` (lone surrogates made U+FFFD); return its length."""
    if not run:
        return 0
    text = "".join(run)
    run.clear()
    if pending.halves is not None:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    parts.append(text)
    return len(text)


def _pair_halves(pending: _Pending, idx: int, text: str) -> str:
    """Return chunk ``idx``'s text as a delta, with halves of surrogate pairs paired again.

    The held high surrogate is joined on, pairs are combined, a trailing high surrogate is held for the next chunk
    (unless this is the last), and any other lone surrogate is replaced by U+FFFD and counted.
    """
    text = pending.carry + text
    pending.carry = ""
    if idx != pending.fin_idx and text and "\ud800" <= text[-1] <= "\udbff":
        pending.carry = text[-1]
        text = text[:-1]
    paired = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    pending.unpaired += paired.count("\ufffd") - text.count("\ufffd")
    return paired
