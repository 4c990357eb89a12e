"""Pacing: how long to wait before the next datagram so that no rolling window exceeds the limits at the receiver.

Invariant (property-tested): for every time ``t``, the datagrams recorded at times ``s`` with ``t < s + W`` (the
window ``(t - W, t]``, ``W = 1 + window_margin`` seconds) total at most ``bytes_per_second`` bytes and
``messages_per_second`` messages, as long as every datagram is recorded no earlier than ``now + delay(now, nbytes)``.
A single datagram larger than the byte budget goes out alone, once the window is empty (otherwise it could never go).

Why the window is longer than one second: the limit is enforced by the receiver (the SDK, the RTC server, the
emulator's room), on its own clock. A datagram handed to the transport at ``s`` reaches it at some ``a >= s``; if the
driver re-stamps the record with the time the transport call returned (:meth:`Pacer.restamp`, an upper bound of
``a`` when the transport reports the receiver's verdict), a datagram that waits for an older one to leave the window
reaches the receiver at least ``W`` after it, on the sender's clock. The margin absorbs what remains: the receiver's
clock running slower than ours, and jitter in its timestamps (10 ms by default: 1% of clock-rate skew, or 10 ms of
jitter; real clocks differ by parts per million). A datagram the receiver refused is not in its window, so
:meth:`Pacer.unrecord` takes it out of ours.

Priority lane: ordinary (chat) datagrams leave ``priority_reserve_bytes`` / ``priority_reserve_messages`` of each
window unused, so a command such as ``interrupt`` (``priority=True``) normally goes out at once, and never waits
behind paced chat; both lanes together still respect the full limits.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from streamclient.errors import InvalidArgumentError

__all__ = ("WINDOW_SECONDS", "Pacer", "PacingLimits", "tiled_frame_bytes")

#: Length of the rolling window the limits apply to, at the receiver.
WINDOW_SECONDS = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PacingLimits:
    """Rate limits for one sender. Defaults: Agora's conservative 6 KB/s and 30 messages/s.

    Attributes:
        bytes_per_second: bytes allowed in any rolling one-second window.
        messages_per_second: datagrams allowed in any rolling one-second window.
        priority_reserve_bytes: part of the byte budget only the priority lane may use (an ``interrupt`` command
            with the connection's short mid is 63 bytes: it always fits the default).
        priority_reserve_messages: part of the message budget only the priority lane may use.
        window_margin: seconds added to the one-second window on our clock, for the receiver's clock skew and
            jitter (see the module docstring).
    """

    bytes_per_second: int = 6000
    messages_per_second: int = 30
    priority_reserve_bytes: int = 80
    priority_reserve_messages: int = 2
    window_margin: float = 0.01

    def __post_init__(self) -> None:
        for name in ("bytes_per_second", "messages_per_second"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise InvalidArgumentError(f"PacingLimits.{name} must be a positive integer, got {value!r}")
        for name, cap in (
            ("priority_reserve_bytes", self.bytes_per_second),
            ("priority_reserve_messages", self.messages_per_second),
        ):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < cap:
                raise InvalidArgumentError(f"PacingLimits.{name} must be an integer in [0, {cap}), got {value!r}")
        margin = self.window_margin
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin <= 1:
            raise InvalidArgumentError(f"PacingLimits.window_margin must be a number in [0, 1], got {margin!r}")

    @property
    def window_seconds(self) -> float:
        """The window length on the sender's clock: one second plus the margin."""
        return WINDOW_SECONDS + self.window_margin


def tiled_frame_bytes(limits: PacingLimits, max_frame_bytes: int) -> int:
    """The frame budget that lets whole chat frames fill the chat share of every window.

    Chat may use ``bytes_per_second - priority_reserve_bytes`` bytes a window (5920 with the defaults). Frames of the
    transport's full 1024 bytes fit only 5 times (5120 B), wasting 14% of the budget; 986-byte frames fit 6 times
    (5916 B). Returns the largest size, at most ``max_frame_bytes``, with that property (at most the chat share itself).

    Args:
        limits: the pacing limits.
        max_frame_bytes: the transport's (or caller's) hard cap for one frame.

    Raises:
        InvalidArgumentError: ``max_frame_bytes`` is not a positive integer.
    """
    if type(max_frame_bytes) is not int or max_frame_bytes < 1:
        raise InvalidArgumentError(f"max_frame_bytes must be a positive integer, got {max_frame_bytes!r}")
    chat_share = limits.bytes_per_second - limits.priority_reserve_bytes
    if chat_share <= max_frame_bytes:
        return chat_share  # a larger frame could never go out
    frames = -(-chat_share // max_frame_bytes)  # ceil
    return chat_share // frames


class Pacer:
    """Tracks what was sent in the last window and says how long the next datagram must wait.

    The caller's clock is passed in (seconds, any monotonic origin, never decreasing between calls).

    Args:
        limits: the rates to respect.
    """

    def __init__(self, limits: PacingLimits | None = None) -> None:
        self.limits = limits if limits is not None else PacingLimits()
        self._window = self.limits.window_seconds
        # (time, nbytes, confirmed), oldest first (a re-stamp may move one a little later than the next). Tuples, not
        # lists: a tuple of numbers leaves the garbage collector's lists at its first collection, and each entry
        # lives a whole window (with many sessions, lists of a second's age filled the collector's young generations).
        self._sent: deque[tuple[float, int, bool]] = deque()
        self._blocked_until = -math.inf

    def delay(self, now: float, nbytes: int, *, priority: bool = False) -> float:
        """Seconds to wait from ``now`` before a datagram of ``nbytes`` may go out (0.0 if it may go now).

        Args:
            now: the caller's clock.
            nbytes: size of the datagram.
            priority: use the full limits (commands) instead of leaving the priority reserve free (chat).

        Returns:
            A non-negative delay; ``now + delay`` is a time at which the datagram fits.
        """
        limits = self.limits
        window = self._window
        cap_bytes = limits.bytes_per_second - (0 if priority else limits.priority_reserve_bytes)
        cap_messages = limits.messages_per_second - (0 if priority else limits.priority_reserve_messages)
        start = max(now, self._blocked_until)
        sent = sorted((t, n) for t, n, _ in self._sent if start < t + window)
        total = sum(n for _, n in sent)
        count = len(sent)
        target = start
        for t, n in sent:
            if count == 0 or (count + 1 <= cap_messages and total + nbytes <= cap_bytes):
                break
            target = t + window
            total -= n
            count -= 1
        if target <= now:
            return 0.0
        wait = target - now
        while now + wait < target:  # pragma: no cover - float-rounding guard; no case found by random search
            wait = math.nextafter(wait, math.inf)
        return wait

    def record(self, now: float, nbytes: int) -> None:
        """Note that a datagram of ``nbytes`` went out at ``now``."""
        self._sent.append((now, nbytes, False))
        window = self._window
        while self._sent and self._sent[0][0] + window <= now:
            self._sent.popleft()

    def restamp(self, now: float, nbytes: int) -> None:
        """The oldest unconfirmed datagram of ``nbytes`` reached the receiver at or before ``now``: count it from then.

        Call it when the transport call returns (in sending order), so that the window runs from an upper bound of
        the receiver's time of arrival; the record is then confirmed. A time earlier than the record is ignored; so
        is a size with no unconfirmed record.
        """
        for i, (t, n, confirmed) in enumerate(self._sent):
            if n == nbytes and not confirmed:
                self._sent[i] = (max(t, now), n, True)
                return

    def unrecord(self, nbytes: int) -> None:
        """The newest unconfirmed datagram of ``nbytes`` was refused by the receiver: it is not in the window."""
        for i in range(len(self._sent) - 1, -1, -1):
            entry = self._sent[i]
            if entry[1] == nbytes and not entry[2]:
                del self._sent[i]
                return

    def penalize(self, now: float, seconds: float) -> None:
        """Send nothing for ``seconds`` from ``now`` (the transport reported a rate-limit error)."""
        self._blocked_until = max(self._blocked_until, now + max(0.0, seconds))

    def window(self, now: float) -> tuple[int, int]:
        """``(bytes, messages)`` recorded in the window ending at ``now``."""
        sent = [n for t, n, _ in self._sent if now < t + self._window]
        return int(sum(sent)), len(sent)
