"""Turn SIGINT, SIGTERM and SIGHUP into a clean close, for a service or script on asyncio or anyio.

Services, containers, systemd and CI stop a process with SIGTERM; closing a terminal sends SIGHUP. Python's defaults
either kill the process at once (SIGTERM, SIGHUP: the session keeps billing) or raise ``KeyboardInterrupt`` at an
arbitrary point (SIGINT). :func:`close_on_signals` instead cancels the block it wraps, so every ``async with``
unwinds normally and an :class:`~streamclient.session.AvatarSession` is closed through the API (its close is
shielded and bounded by ``SessionOptions.close_timeout``)::

    async with close_on_signals() as stop:
        async with connect(client, avatar_id="dvp_Tristan_cloth2_1080P") as session:
            await serve(session)
    if stop.signal is not None:
        raise SystemExit(stop.exit_code)  # 130 SIGINT, 143 SIGTERM, 129 SIGHUP, after the close

A second signal while closing reports what is still awaited and for how long at most; a third one exits at once
(``os._exit``) after reporting which session ids may still be open. Must run in the main thread (signal handlers).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from anyio.abc import TaskStatus

from streamclient import _inflight

__all__ = ("DEFAULT_SIGNALS", "SignalStop", "close_on_signals", "describe_open", "describe_waiting")

logger = logging.getLogger(__name__)

#: The signals handled by default (SIGHUP where the platform has it).
DEFAULT_SIGNALS: tuple[signal.Signals, ...] = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None
)


@dataclass
class SignalStop:
    """What :func:`close_on_signals` received.

    Attributes:
        signal: the first signal received (``None``: none; the block ended by itself).
        count: how many signals were received.
    """

    signal: int | None = None
    count: int = 0

    @property
    def name(self) -> str | None:
        """``"SIGTERM"``, ... or ``None``."""
        return None if self.signal is None else signal.Signals(self.signal).name

    @property
    def exit_code(self) -> int | None:
        """The conventional exit status after this signal, ``128 + signal`` (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."""
        return None if self.signal is None else 128 + self.signal


def describe_waiting() -> str:
    """What this process is waiting for, and for how long at most, for people."""
    pending = _inflight.waiting()
    if not pending:
        return "still shutting down"
    bounds = [r for r in (w.remaining() for w in pending) if r is not None]
    limit = f" (at most {min(bounds):.0f} s more)" if bounds else ""
    return f"waiting for {pending[-1].what}{limit}"


def describe_open() -> str:
    """Which sessions this process created and may have left open, with the command that closes them."""
    sessions = _inflight.open_here()
    creating = any("create request" in w.what for w in _inflight.waiting())
    parts = []
    if sessions:
        ids = " ".join(sessions)
        parts.append(f"session {ids} may still be open: close it with `streamclient sessions close {ids}`")
    if creating:
        parts.append(
            "a create request had no answer yet, so a session may have been created: "
            "run `streamclient sessions sweep --all-open`"
        )
    return "; ".join(parts) or "no session is left open"


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed terminal (SIGHUP) or a closed pipe
            pass


@asynccontextmanager
async def close_on_signals(
    signals: Sequence[signal.Signals] = DEFAULT_SIGNALS,
    *,
    report: Callable[[str], object] | None = None,
    force_exit_after: int | None = 3,
) -> AsyncIterator[SignalStop]:
    """Cancel the wrapped block on the first of ``signals``; report on the second; exit at once on the third.

    Args:
        signals: the signals to handle.
        report: called with one line for people at each signal (default: a ``logging`` warning).
        force_exit_after: the signal count that exits at once with ``os._exit`` (``None``: never).

    Yields:
        The :class:`SignalStop`, filled in when a signal arrives.
    """
    stop = SignalStop()
    say = report or logger.warning
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as body:

            async def listen(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
                with anyio.open_signal_receiver(*signals) as received:
                    task_status.started()
                    async for signum in received:
                        stop.count += 1
                        name = signal.Signals(signum).name
                        if stop.signal is None:
                            stop.signal = signum
                            say(f"received {name}: closing (send it again to see what the close waits for)")
                            body.cancel()
                        elif force_exit_after is not None and stop.count >= force_exit_after:
                            say(f"received {name} again: exiting now; {describe_open()}")
                            _flush()
                            os._exit(stop.exit_code or 1)
                        else:
                            again = "" if force_exit_after is None else f"; send it {force_exit_after - stop.count} "
                            again += "more time to exit at once" if again else ""
                            say(f"received {name}: {describe_waiting()}{again}")

            try:
                await tg.start(listen)
            except (NotImplementedError, RuntimeError, ValueError) as exc:  # not the main thread, or no signals
                logger.warning("signals are not handled here (%s): a signal ends the process at once", exc)
            try:
                yield stop
            finally:
                tg.cancel_scope.cancel()
