"""Run an async CLI command with clean signal handling and one-line errors.

SIGINT (Ctrl-C), SIGTERM (``timeout``, systemd, containers, CI) and SIGHUP (a closed terminal) cancel the command's
task instead of killing the process, so every ``async with`` unwinds normally: an open avatar session is interrupted,
left and closed through the API, then the process exits with ``128 + signal`` (130, 143, 129) after saying what it
closed. A second signal says what the close is waiting for and how long at most; a third exits at once, naming the
session ids that may still be open (``streamclient.session.close_on_signals``).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import anyio
import typer

from streamclient import _inflight
from streamclient.cli._visible import visible
from streamclient.errors import (
    APIConnectionError,
    ConfigurationError,
    InvalidArgumentError,
    StreamClientError,
    TransportUnavailableError,
)
from streamclient.session.signals import DEFAULT_SIGNALS, SignalStop, close_on_signals

if TYPE_CHECKING:
    from streamclient.api import AsyncAkoolClient, Session

__all__ = ("EXIT_CODES", "create_unless_interrupted", "run_async")

T = TypeVar("T")

#: Exit codes that scripts can rely on.
EXIT_CODES = {
    "ok": 0,
    "error": 1,  # an API, protocol, transport or session error
    "usage": 2,  # bad arguments or configuration (also missing optional dependencies)
    "connection": 3,  # the service could not be reached or timed out
    "interrupted": 130,  # Ctrl-C (SIGINT); SIGTERM gives 143 and SIGHUP 129, both 128 + the signal
}


def _exit_code(exc: StreamClientError) -> int:
    if isinstance(exc, (ConfigurationError, InvalidArgumentError, TransportUnavailableError)):
        return EXIT_CODES["usage"]
    if isinstance(exc, APIConnectionError):
        return EXIT_CODES["connection"]
    return EXIT_CODES["error"]


def _our_error(exc: BaseException) -> StreamClientError | None:
    """``exc`` itself, or the first of our errors inside an exception group (task groups wrap errors)."""
    if isinstance(exc, StreamClientError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _our_error(inner)
        if found is not None:
            return found
    return None


@overload
def run_async(main: Callable[[], Awaitable[T]]) -> T: ...


@overload
def run_async(main: Callable[[], Awaitable[T]], *, stop_on_ctrl_c: Literal[True]) -> T | None: ...


def run_async(main: Callable[[], Awaitable[T]], *, stop_on_ctrl_c: bool = False) -> T | None:
    """Run ``main`` on asyncio; turn SIGINT/SIGTERM/SIGHUP into cancellation and our errors into one line on stderr.

    Args:
        main: the command's coroutine function.
        stop_on_ctrl_c: a signal is how this command normally stops (a server): return ``None`` instead of exiting
            with ``128 + signal``.

    Raises:
        typer.Exit: with the exit code from :data:`EXIT_CODES` on error, or ``128 + signal`` after a signal.
    """
    stop = SignalStop()

    async def runner() -> T | None:
        nonlocal stop
        async with close_on_signals(report=_tell) as stop:
            return await main()
        return None  # type: ignore[unreachable]  # reached when a signal cancelled main()

    saved = _signal_handlers()
    try:
        outcome = anyio.run(runner)
    except Exception as exc:
        error = _our_error(exc)
        if error is None:
            raise
        _tell(f"error: {error}")
        if stop.signal is not None:
            _tell(_interrupted(stop))
        raise typer.Exit(_exit_code(error)) from None
    finally:
        _restore_signal_handlers(saved)
    if stop.signal is not None:
        if stop_on_ctrl_c:
            return None
        _tell(_interrupted(stop))
        raise typer.Exit(stop.exit_code or EXIT_CODES["interrupted"])
    return outcome


def _signal_handlers() -> dict[signal.Signals, Any]:
    """The current Python-level handlers of the signals the run handles (main thread only)."""
    return {s: signal.getsignal(s) for s in DEFAULT_SIGNALS}


def _restore_signal_handlers(saved: dict[signal.Signals, Any]) -> None:
    """Put back the handlers the run found.

    asyncio's ``remove_signal_handler`` (and its runner) leave Python's *default* handlers behind, not the previous
    ones: a Ctrl-C while a finished command prints its summary would raise ``KeyboardInterrupt`` (click's
    "Aborted!", exit 1) instead of the CLI's own handler (exit 130).
    """
    for signum, handler in saved.items():
        if handler is None:  # installed from C, not by Python: nothing we can put back
            continue
        try:
            signal.signal(signum, handler)
        except (ValueError, OSError):  # not the main thread
            pass


def _tell(line: str) -> None:
    """One line on stderr; a closed terminal (SIGHUP) or pipe is not an error."""
    try:
        sys.stderr.write(visible(line) + "\n")  # error messages can quote the service's text
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _interrupted(stop: SignalStop) -> str:
    """The truth about the sessions this process created, after a signal."""
    still_open, closed = _inflight.open_here(), _inflight.closed_here()
    text = f"interrupted ({stop.name})"
    if closed:
        text += f": session {' '.join(closed)} was closed"
    if still_open:
        ids = " ".join(still_open)
        text += f"{';' if closed else ':'} session {ids} may still be open: run `streamclient sessions close {ids}`"
    if not closed and not still_open:
        text += ": no session was created"
    return text


async def create_unless_interrupted(client: AsyncAkoolClient, avatar_id: str, **options: Any) -> Session:
    """Create a session; if a signal arrives meanwhile, wait for the answer, close what was made, and re-raise.

    AKOOL has no idempotency key: cancelling a create in flight would leave a session that nobody knows, billing.

    Raises:
        The create's error; or the cancellation, after the created session was closed.
    """
    with anyio.CancelScope(shield=True):
        session = await client.sessions.create(avatar_id, **options)
    try:
        await anyio.lowlevel.checkpoint_if_cancelled()
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True), anyio.move_on_after(60):
            await client.sessions.close(session.id)
        raise
    return session
