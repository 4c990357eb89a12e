"""The ``streamclient`` command line.

The CLI needs the ``cli`` extra (typer, rich and the emulator). It is imported lazily so that the library itself
never depends on it.
"""

from __future__ import annotations

import sys

__all__ = ("main",)


def main() -> None:
    """Run the ``streamclient`` command (the console-script entry point)."""
    try:
        from streamclient.cli.app import app
    except ImportError as exc:  # pragma: no cover - depends on what is installed
        sys.stderr.write(
            f"streamclient: the command line needs the 'cli' extra ({exc.name} is missing).\n"
            "Install it with: pip install 'streamclient[cli]'\n"
        )
        raise SystemExit(2) from None
    app()
