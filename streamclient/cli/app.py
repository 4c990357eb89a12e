"""Assembles the ``streamclient`` Typer application from one module per command group."""

from __future__ import annotations

import typer

from streamclient.cli import demo, emulator, frames, resources, sweep

__all__ = ("app",)

app = typer.Typer(
    name="streamclient",
    help="Drive AKOOL streaming avatars: REST API, v2 frames, a local emulator, and live sessions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _group in (frames, resources, sweep, emulator, demo):
    _group.register(app)
