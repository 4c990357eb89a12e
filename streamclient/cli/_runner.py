"""Run an async CLI command with clean signal handling and one-line errors.

SIGINT (Ctrl-C), SIGTERM (``timeout``, systemd, containers, CI) and SIGHUP (a closed terminal) cancel the command's
task instead of killing the process, so every ``async with`` unwinds normally: an open avatar session is interrupted,
left and closed through the API, then the process exits with ``128 + signal`` (130, 143, 129) after saying what it
closed. A second signal says what the close is waiting for and how long at most; a third exits at once, naming the
session ids that may still be open (``streamclient.session.close_on_signals``).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import anyio
import typer

from streamclient import _inflight
from streamclient.cli import _telemetry
from streamclient.cli._visible import visible
from streamclient.errors import (
    APIConnectionError,
    BudgetExceededError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidTokenError,
    StreamClientError,
    TransportUnavailableError,
)
from streamclient.session.signals import DEFAULT_SIGNALS, SignalStop, close_on_signals

if TYPE_CHECKING:
    from streamclient.api import AsyncAkoolClient, Session

__all__ = ("EXIT_CODES", "create_unless_interrupted", "run_async")

T = TypeVar("T")

#: Set once a signal was handled and its close is done: ``main()`` then ends the process with this code at once,
#: without the interpreter's shutdown (which puts the default handlers back, so a late SIGTERM would kill it).
exit_code_after_signal: int | None = None

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


#: The environment variables behind the client's budget limits (the command line has no options for them).
_BUDGET_VARIABLES = {"max_duration": "STREAMCLIENT_MAX_DURATION", "max_open_sessions": "STREAMCLIENT_MAX_OPEN_SESSIONS"}


def in_command_line_words(error: StreamClientError) -> str:
    """The error's message, naming what a command-line user sets (an option, a variable), not a Python parameter."""
    text = str(error)
    if isinstance(error, BudgetExceededError) and error.limit in _BUDGET_VARIABLES:
        text = text.replace(f"{error.limit}=", f"{_BUDGET_VARIABLES[error.limit]}=", 1)
    elif isinstance(error, InvalidTokenError):
        text += " (check AKOOL_API_KEY, or AKOOL_CLIENT_ID and AKOOL_CLIENT_SECRET)"
    return text.replace("only all_open=True can sweep", "only --all-open can sweep")


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
    code_after_signal = 0 if stop_on_ctrl_c else None

    async def runner() -> T | None:
        nonlocal stop
        try:
            async with close_on_signals(report=_tell) as stop:
                return await main()
        finally:
            if stop.signal is not None:  # at once, as anyio hands the signals back to Python's defaults
                _keep_exit_code(code_after_signal if code_after_signal is not None else stop.exit_code)
        return None  # type: ignore[unreachable]  # reached when a signal cancelled main()

    saved = _signal_handlers()
    runner = _telemetry.exported(runner)  # telemetry: OTEL_* variables + the SDK: export, flushed at the end
    try:
        outcome = anyio.run(runner)
    except Exception as exc:
        if stop.signal is not None:  # the signal decides the exit code (a closed terminal's EIO is no news)
            error = _our_error(exc)
            if error is not None:
                _tell(f"error: {in_command_line_words(error)}")
            elif not _is_closed_output(exc):
                raise _single(exc) from None
            if stop_on_ctrl_c:
                return None
            _tell(_interrupted(stop))
            raise typer.Exit(stop.exit_code or EXIT_CODES["interrupted"]) from None
        if _is_closed_output(exc):  # `streamclient say ... | head -1`: the reader is gone; nothing left to tell
            _quiet_stdout()
            raise typer.Exit(EXIT_CODES["error"]) from None
        error = _our_error(exc)
        if error is None:
            raise _single(exc) from None
        _tell(f"error: {in_command_line_words(error)}")
        raise typer.Exit(_exit_code(error)) from None
    finally:
        if stop.signal is None:
            _restore_signal_handlers(saved)
    if stop.signal is not None:
        if stop_on_ctrl_c:
            return None
        _tell(_interrupted(stop))
        raise typer.Exit(stop.exit_code or EXIT_CODES["interrupted"])
    return outcome


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc`` (task groups wrap errors in groups, maybe nested), or ``exc`` itself."""
    inner = getattr(exc, "exceptions", None)
    if inner is None:
        return [exc]
    return [leaf for e in inner for leaf in _leaves(e)]


def _single(exc: Exception) -> Exception:
    """The one error inside a group of one (so that callers can catch it by its type), else ``exc``."""
    leaves = _leaves(exc)
    return leaves[0] if len(leaves) == 1 and isinstance(leaves[0], Exception) else exc


def _is_closed_output(exc: BaseException) -> bool:
    """Every error in ``exc`` is a write to a closed pipe (EPIPE) or a closed terminal (EIO)."""
    return all(isinstance(e, OSError) and e.errno in (errno.EPIPE, errno.EIO) for e in _leaves(exc))


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush does not fail again (EPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - no file descriptor behind stdout
        pass


def _keep_exit_code(code: int | None) -> None:
    """After a signal was handled: a later one (TERM, then INT 0.05 s later) must not change the exit code.

    anyio hands the signals back to Python's defaults when the run ends (SIGTERM would kill the process, SIGINT raise
    ``KeyboardInterrupt``, the CLI's own handler exit 130): until the process exits with the first signal's code, a
    further signal is ignored; a third one exits at once with that code.
    """
    global exit_code_after_signal
    exit_code_after_signal = code or 0
    late = 0

    def handler(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        nonlocal late
        late += 1
        if late >= 2:
            os._exit(code or 0)

    for signum in DEFAULT_SIGNALS:
        try:
            signal.signal(signum, handler)
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            pass


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
