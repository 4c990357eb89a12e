"""Counters and latency figures of a session."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ("SessionStats",)


@dataclass(slots=True)
class SessionStats:
    """Counters and latency figures of one session (read them any time; they only grow)."""

    frames_sent: int = 0
    bytes_sent: int = 0
    frames_received: int = 0
    bytes_received: int = 0
    send_retries: int = 0
    send_failures: int = 0
    frames_rejected: int = 0
    #: halves of surrogate pairs in received messages that found no partner (each became U+FFFD)
    unpaired_surrogates: int = 0
    unknown_frames: int = 0
    messages_incomplete: int = 0
    messages_lost: int = 0
    commands_sent: int = 0
    turns_completed: int = 0
    #: frames from participants other than the avatar (kept apart: never taken for the avatar's reply)
    frames_from_others: int = 0
    #: seconds from a turn's last frame sent to its first reply chunk, for the most recent 100 turns
    reply_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=100))
