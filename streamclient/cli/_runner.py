"""Run an async CLI command with clean Ctrl-C handling and one-line errors.

Ctrl-C (SIGINT) cancels the command's task instead of raising ``KeyboardInterrupt`` at an arbitrary point, so every
``async with`` unwinds normally: an open avatar session is interrupted, left and closed through the API before the
process exits with status 130.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar, overload

import anyio
import typer

from streamclient.errors import (
    APIConnectionError,
    ConfigurationError,
    InvalidArgumentError,
    StreamClientError,
    TransportUnavailableError,
)

__all__ = ("EXIT_CODES", "run_async")

T = TypeVar("T")

#: Exit codes that scripts can rely on.
EXIT_CODES = {
    "ok": 0,
    "error": 1,  # an API, protocol, transport or session error
    "usage": 2,  # bad arguments or configuration (also missing optional dependencies)
    "connection": 3,  # the service could not be reached or timed out
    "interrupted": 130,  # Ctrl-C
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
    """Run ``main`` on asyncio; turn Ctrl-C into cancellation and our errors into one line on stderr.

    Args:
        main: the command's coroutine function.
        stop_on_ctrl_c: Ctrl-C is how this command normally stops (a server): return ``None`` instead of exiting
            with 130.

    Raises:
        typer.Exit: with the exit code from :data:`EXIT_CODES` on error or Ctrl-C.
    """
    interrupted = False

    async def runner() -> T | None:
        nonlocal interrupted
        loop = asyncio.get_running_loop()
        with anyio.CancelScope() as scope:

            def on_sigint() -> None:
                nonlocal interrupted
                interrupted = True
                scope.cancel()

            try:
                loop.add_signal_handler(signal.SIGINT, on_sigint)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows, or not the main thread
                pass
            try:
                return await main()
            finally:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signal.SIGINT)
        return None

    try:
        outcome = anyio.run(runner)
    except Exception as exc:
        error = _our_error(exc)
        if error is None:
            raise
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(_exit_code(error)) from None
    if interrupted:
        if stop_on_ctrl_c:
            return None
        sys.stderr.write("interrupted: the session was closed\n")
        raise typer.Exit(EXIT_CODES["interrupted"])
    return outcome
