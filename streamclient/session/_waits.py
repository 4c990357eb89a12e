"""Small waiting helpers shared by the session's objects."""

from __future__ import annotations

import anyio

__all__ = ("first_of",)


async def first_of(*events: anyio.Event) -> None:
    """Return as soon as any of ``events`` is set (at once if one already is)."""
    if any(event.is_set() for event in events):
        return
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait, event)
