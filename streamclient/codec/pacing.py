"""Pacing: how long to wait before the next datagram so that no rolling one-second window exceeds the limits.

Invariant (property-tested): for every time ``t``, the datagrams recorded at times ``s`` with ``t < s + 1.0``
(the window ``(t - 1, t]``) total at most ``bytes_per_second`` bytes and ``messages_per_second`` messages, as long
as every datagram is recorded no earlier than ``now + delay(now, nbytes)``. A single datagram larger than the byte
budget goes out alone, once the window is empty (otherwise it could never go).

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

#: Length of the rolling window the limits apply to.
WINDOW_SECONDS = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PacingLimits:
    """Rate limits for one sender. Defaults: Agora's conservative 6 KB/s and 30 messages/s.

    Attributes:
        bytes_per_second: bytes allowed in any rolling one-second window.
        messages_per_second: datagrams allowed in any rolling one-second window.
        priority_reserve_bytes: part of the byte budget only the priority lane may use.
        priority_reserve_messages: part of the message budget only the priority lane may use.
    """

    bytes_per_second: int = 6000
    messages_per_second: int = 30
    priority_reserve_bytes: int = 256
    priority_reserve_messages: int = 2

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


def tiled_frame_bytes(limits: PacingLimits, max_frame_bytes: int) -> int:
    """The frame budget that lets whole chat frames fill the chat share of every one-second window.

    Chat may use ``bytes_per_second - priority_reserve_bytes`` bytes a second (5744 with the defaults). Frames of the
    transport's full 1024 bytes fit only 5 times (5120 B), wasting 11% of the budget; 957-byte frames fit 6 times
    (5742 B). Returns the largest size, at most ``max_frame_bytes``, with that property (at most the chat share itself).

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
    """Tracks what was sent in the last second and says how long the next datagram must wait.

    The caller's clock is passed in (seconds, any monotonic origin, never decreasing between calls).

    Args:
        limits: the rates to respect.
    """

    def __init__(self, limits: PacingLimits | None = None) -> None:
        self.limits = limits if limits is not None else PacingLimits()
        self._sent: deque[tuple[float, int]] = deque()
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
        cap_bytes = limits.bytes_per_second - (0 if priority else limits.priority_reserve_bytes)
        cap_messages = limits.messages_per_second - (0 if priority else limits.priority_reserve_messages)
        start = max(now, self._blocked_until)
        sent = [(t, n) for t, n in self._sent if start < t + WINDOW_SECONDS]
        total = sum(n for _, n in sent)
        count = len(sent)
        target = start
        for t, n in sent:
            if count == 0 or (count + 1 <= cap_messages and total + nbytes <= cap_bytes):
                break
            target = t + WINDOW_SECONDS
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
        self._sent.append((now, nbytes))
        while self._sent and self._sent[0][0] + WINDOW_SECONDS <= now:
            self._sent.popleft()

    def penalize(self, now: float, seconds: float) -> None:
        """Send nothing for ``seconds`` from ``now`` (the transport reported a rate-limit error)."""
        self._blocked_until = max(self._blocked_until, now + max(0.0, seconds))

    def window(self, now: float) -> tuple[int, int]:
        """``(bytes, messages)`` sent in the window ending at ``now``."""
        sent = [n for t, n in self._sent if now < t + WINDOW_SECONDS]
        return sum(sent), len(sent)
