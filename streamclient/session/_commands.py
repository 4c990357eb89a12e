"""Commands: sending an interrupt (and cutting the turns it stops), and waiting for a command's ack."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from streamclient.codec import ProtocolConnection
from streamclient.errors import CommandError, CommandTimeoutError, SessionClosedError
from streamclient.session._inbound import Inbound, PendingAck
from streamclient.session._speech import SpeechLine
from streamclient.session._turn_tracker import TurnTracker
from streamclient.session.events import CommandAcked
from streamclient.session.stats import SessionStats
from streamclient.session.turns import Turn

__all__ = ("await_ack", "send_interrupt")


def send_interrupt(
    conn: ProtocolConnection, turns: TurnTracker, speech: SpeechLine, *, drop_queued: bool
) -> tuple[str, list[Turn]]:
    """Queue an interrupt and cut the turns it stops; return its mid and those turns (resolved when it is acked).

    A cut turn not (fully) confirmed sent resolves at once: its rest is dropped, no reply of its own will come.
    """
    mid = conn.send_interrupt()
    interrupted = conn.last_interrupted
    cut = turns.mark_interrupted(interrupted.mid if interrupted is not None else None, unsent=drop_queued)
    cut += [t for t in speech.interrupt(drop_queued=drop_queued) if t not in cut]
    now = anyio.current_time()
    for turn in cut:
        if turn.sent_at is None:
            conn.cancel_chat(turn.message_id)
            turns.resolve(turn, now)
    return mid, cut


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
