"""CLI command ``streamclient frames view FILE.jsonl``: the inspector page on a recording (issue 25).

It serves the emulator's inspector page, read-only, on a recording (``streamclient emulator --record FILE``, or a
room's recording downloaded from the live page) until Ctrl-C. Nothing leaves the machine: the page and its assets
are served from the package on loopback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import anyio
import typer

from streamclient.cli._runner import run_async

__all__ = ("register",)


def register(app: typer.Typer) -> None:  # noqa: ARG001 - the command hangs off the ``frames`` group
    """Add ``view`` to the ``frames`` group."""
    from streamclient.cli.frames import frames_app

    frames_app.command("view")(view)


def view(
    path: Annotated[Path, typer.Argument(metavar="FILE.jsonl", help="A recording (emulator --record, or downloaded).")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port).")] = 0,
) -> None:
    """Serve the inspector page on a recording until Ctrl-C (conversation, frames, rates, turns)."""
    if not path.is_file():
        typer.echo(f"error: {path}: no such file", err=True)
        raise typer.Exit(2)
    try:
        run_async(lambda: _serve(path, host, port), stop_on_ctrl_c=True)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from exc


async def _serve(path: Path, host: str, port: int) -> None:
    from streamclient.emulator.inspector.offline import serve_recording

    async with serve_recording(path, host=host, port=port) as (url, frames, skipped):
        note = f" ({skipped} lines were not records)" if skipped else ""
        typer.echo(f"inspector on {path}: {frames} records{note}\n  open {url}  (Ctrl-C to stop)")
        sys.stdout.flush()
        await anyio.sleep_forever()
