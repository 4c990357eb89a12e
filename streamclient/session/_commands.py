"""Waiting for a command's ack: the result, a typed error, and the turns an acknowledged interrupt resolves."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from streamclient.errors import CommandError, CommandTimeoutError, SessionClosedError
from streamclient.session._inbound import Inbound, PendingAck
from streamclient.session.events import CommandAcked
from streamclient.session.stats import SessionStats
from streamclient.session.turns import Turn

__all__ = ("await_ack",)


async def await_ack(
    inbound: Inbound,
    stats: SessionStats,
    *,
    mid: str,
    cmd: str,
    limit: float,
    on_ack: list[Turn],
    wake_writer: Callable[[], None],
    closed_reason: Callable[[], str | None],
) -> CommandAcked:
    """Wait up to ``limit`` seconds for the ack of command ``mid``; then resolve the turns in ``on_ack``.

    Raises:
        CommandTimeoutError: no ack in time.
        CommandError: the ack carried a failure code.
        SessionClosedError: the session closed first.
    """
    pending = PendingAck(cmd)
    inbound.acks[mid] = pending
    stats.commands_sent += 1
    wake_writer()
    try:
        with anyio.move_on_after(limit):
            await pending.done.wait()
    finally:
        inbound.acks.pop(mid, None)
    now = anyio.current_time()
    for turn in on_ack:
        inbound.turns.resolve(turn, now)
    result = pending.result
    if result is None:
        reason = closed_reason()
        if reason is not None:
            raise SessionClosedError(f"session closed before {cmd} was acknowledged", reason=reason)
        raise CommandTimeoutError(f"no ack for {cmd} (mid {mid}) within {limit:g} s")
    acked = CommandAcked(message_id=mid, command=result.cmd or cmd, code=result.code, message=result.msg)
    if not result.ok:
        raise CommandError(f"{cmd} failed: {result.code} {result.msg}", cmd=cmd, code=result.code, msg=result.msg)
    return acked
