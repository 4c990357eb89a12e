"""Count the timers an event loop schedules: what a hot path must not do once per message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def timers_scheduled() -> Iterator[list[Any]]:
    """The callbacks the running loop schedules with ``call_at`` (``call_later`` goes through it) inside the block."""
    loop = asyncio.get_running_loop()
    scheduled: list[Any] = []
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        scheduled.append(callback)
        return call_at(when, callback, *args, **kwargs)

    loop.call_at = counting_call_at  # type: ignore[method-assign,assignment]
    try:
        yield scheduled
    finally:
        del loop.call_at  # the class's method again
