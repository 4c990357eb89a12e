"""What this process is waiting for, and which sessions it created and has not closed yet.

Process-local bookkeeping (no I/O) for the signal helper: a second SIGINT/SIGTERM during a close says what is
still awaited and for how long at most, a third one says which session ids may stay open. The REST client records
creates and closes here; ``AvatarSession`` records the steps of its close.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = (
    "Waiting",
    "closed_here",
    "created_here",
    "open_here",
    "record_closed",
    "record_created",
    "waiting",
    "waiting_for",
)


@dataclass
class Waiting:
    """One thing the process is waiting for.

    Attributes:
        what: what, for people (``"the answer to the create request"``); may be updated as steps advance.
        deadline: ``time.monotonic()`` value by which it ends at the latest (``None``: unbounded).
    """

    what: str
    deadline: float | None

    def remaining(self) -> float | None:
        """Seconds left until the deadline."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


_waiting: dict[int, Waiting] = {}
_ids = itertools.count()
_created: list[str] = []
_open: dict[str, None] = {}


@contextmanager
def waiting_for(what: str, timeout: float | None) -> Iterator[Waiting]:
    """Register ``what`` as awaited for the duration of the block (at most ``timeout`` seconds)."""
    key = next(_ids)
    entry = Waiting(what, None if timeout is None else time.monotonic() + timeout)
    _waiting[key] = entry
    try:
        yield entry
    finally:
        del _waiting[key]


def waiting() -> list[Waiting]:
    """What the process is waiting for now, oldest first."""
    return list(_waiting.values())


def record_created(session_id: str) -> None:
    """A session was created by this process."""
    _created.append(session_id)
    _open[session_id] = None


def record_closed(session_id: str) -> None:
    """A session was closed (or found closed) by this process."""
    _open.pop(session_id, None)


def created_here() -> list[str]:
    """Every session id this process created, in order."""
    return list(_created)


def open_here() -> list[str]:
    """The session ids this process created and has not closed."""
    return list(_open)


def closed_here() -> list[str]:
    """The session ids this process created and closed."""
    return [sid for sid in _created if sid not in _open]
