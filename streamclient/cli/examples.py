"""``streamclient examples [DIR]``: write the example programs into a folder, for users who installed the wheel.

The examples ship inside the wheel (``streamclient/_examples``, from the repository's ``examples/``); in a source
checkout they are read from ``examples/`` itself. Each is a single file that runs with ``python FILE``: against the
embedded emulator without credentials, against the real service with ``AKOOL_API_KEY`` set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import streamclient

__all__ = ("example_files", "register")


def register(app: typer.Typer) -> None:
    """Add ``examples`` to ``app``."""
    app.command("examples")(examples)


def example_files() -> list[Path]:
    """The example programs: the copy inside the installed package, else the source checkout's ``examples/``."""
    package = Path(streamclient.__file__).resolve().parent
    for folder in (package / "_examples", package.parent / "examples"):
        files = sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")
        if files:
            return files
    return []


def examples(
    directory: Annotated[Path, typer.Argument(help="Where to write them (created if missing).")] = Path(
        "streamclient-examples"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
    list_only: Annotated[bool, typer.Option("--list", help="Only list the examples.")] = False,
) -> None:
    """Write the example programs (echo bot, LLM streaming, shared room, pipecat, a pytest test...) into DIRECTORY."""
    files = example_files()
    if not files:
        typer.echo("error: this installation holds no examples (a wheel built without them?)", err=True)
        raise typer.Exit(1)
    if list_only:
        for path in files:
            typer.echo(path.name)
        return
    targets = [directory / path.name for path in files]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        typer.echo(f"error: {', '.join(existing)} already exist(s): add --force to overwrite", err=True)
        raise typer.Exit(2)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, target in zip(files, targets, strict=True):
            target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: {directory}: cannot write the examples: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {len(targets)} examples into {directory}:")
    for target in targets:
        typer.echo(f"  {target.name}")
    typer.echo(f"run one with: python {targets[0]}  (no credentials: it starts the embedded emulator)")
