"""The ``streamclient`` command line.

The CLI needs the ``cli`` extra (typer, rich and the emulator). It is imported lazily so that the library itself
never depends on it.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

__all__ = ("main",)

EXIT_INTERRUPTED = 130


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C before a command installs its own handling (while Python imports, or in a blocking read)."""
    del signum, frame
    sys.stderr.write("interrupted\n")
    raise SystemExit(EXIT_INTERRUPTED)


def main() -> None:
    """Run the ``streamclient`` command (the console-script entry point, and ``python -m streamclient``)."""
    # First thing: a Ctrl-C in the first half second (importing typer, rich, pydantic...) must not print a
    # KeyboardInterrupt traceback. Live commands replace this handler while they run, to close sessions cleanly.
    signal.signal(signal.SIGINT, _interrupted)
    try:
        from streamclient.cli.app import command, global_options_first
    except ImportError as exc:
        sys.stderr.write(
            f"streamclient: the command line needs the 'cli' extra ({exc.name} is missing).\n"
            'Install it with: pip install "streamclient[cli]"\n'
        )
        raise SystemExit(2) from None
    try:
        command()(args=global_options_first(sys.argv[1:]), prog_name="streamclient")
    except SystemExit as exc:
        _exit_now_after_a_signal(exc)
        raise


def _exit_now_after_a_signal(exc: SystemExit) -> None:
    """After a handled signal, exit with the first signal's code at once, whatever arrives during the shutdown.

    Python's own shutdown puts the default signal handlers back before it ends: a SIGTERM sent shortly after a
    SIGINT would then kill the process (status -15) instead of letting it exit with 130. Everything is closed by
    now (the session, through the API); only the standard streams need flushing.
    """
    from streamclient.cli import _runner

    if _runner.exit_code_after_signal is None:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed terminal or pipe
            pass
    code = exc.code if isinstance(exc.code, int) else _runner.exit_code_after_signal
    os._exit(code)
