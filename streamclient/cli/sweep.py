"""``streamclient sessions sweep``: find and close sessions left open by processes that are gone.

Shows each open session the sweep considers (id, status, avatar, created, billed so far, time left, owner, what it
does with it) and closes the closable ones only with ``--yes`` (``--dry-run`` never closes). See
:func:`streamclient.api.sweep` for what counts as closable. Exit 0 when nothing failed, 1 when a close failed.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from streamclient.api import AsyncAkoolClient, SweepReport, sweep
from streamclient.cli._runner import EXIT_CODES, run_async
from streamclient.cli._visible import visible
from streamclient.cli.resources import BaseUrlOption, TimeoutOption, sessions_app

__all__ = ("register",)


def register(app: typer.Typer) -> None:  # noqa: ARG001 - the command hangs off the ``sessions`` group
    """Add ``sweep`` to the ``sessions`` group."""
    sessions_app.command("sweep")(sessions_sweep)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _print(report: SweepReport, *, closing: bool) -> None:
    console = Console(soft_wrap=True, highlight=False)
    columns = ("id", "status", "avatar", "created", "billed so far", "time left", "owner", "action")
    rows: list[tuple[str, ...]] = []
    if not report.items:
        console.print("no open session to sweep")
    else:
        for item in report.items:
            if item.session_id in report.closed:
                action = "closed"
            elif item.session_id in report.failed:
                action = f"close failed: {report.failed[item.session_id]}"
            elif item.closable:
                action = f"would close: {item.reason}"
            else:
                action = f"kept: {item.reason}"
            cells = (
                item.session_id,
                str(item.status),
                item.avatar_id or "-",
                _when(item.created_at),
                _duration(item.billed),
                _duration(item.remaining),
                item.owner,
                action,
            )
            rows.append(tuple(visible(cell) for cell in cells))
        if sys.stdout.isatty():
            table = Table(title=f"Open sessions to sweep ({len(report.items)})")
            for index, column in enumerate(columns):
                table.add_column(column, no_wrap=index == 0)
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))
            console.print(table)
        else:  # a pipe or a file: whole values, one line per row, tab-separated (never cut to "…")
            for line in (columns, *rows):
                typer.echo("\t".join(" ".join(cell.split()) for cell in line))
    if closing:  # what --yes did, in one line
        summary = f"closed {len(report.closed)} session(s)"
        summary += f": {' '.join(report.closed)}" if report.closed else ""
        if report.failed:
            summary += f"; {len(report.failed)} close(s) failed: {' '.join(report.failed)}"
        console.print(summary)
    closable = [i for i in report.items if i.closable]
    if closable and not closing:
        console.print(f"{len(closable)} session(s) would be closed: run again with --yes to close them")
    if report.lost_creates:
        console.print(
            f"{report.lost_creates} create request(s) in the ledger never got an answer: their sessions, if any, are "
            "not in the ledger; --all-open closes every open session on the account"
        )


def sessions_sweep(
    yes: bool = typer.Option(False, "--yes", "-y", help="Close the sessions found (without it: only show them)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be closed, even with --yes."),
    all_open: bool = typer.Option(
        False,
        "--all-open",
        help="Every open session on the account, not only the ledger's (never one whose process still runs here).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """Find sessions still open on the service whose process is gone (from the session ledger); close with --yes."""
    closing = yes and not dry_run

    async def main() -> SweepReport:
        async with AsyncAkoolClient(base_url=base_url, timeout=timeout) as client:
            return await sweep(client, all_open=all_open, close=closing)

    report = run_async(main)
    if as_json:
        payload = {
            "items": [dataclasses.asdict(i) for i in report.items],
            "closed": report.closed,
            "failed": report.failed,
            "lost_creates": report.lost_creates,
            "dry_run": not closing,
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print(report, closing=closing)
    if report.failed:
        raise typer.Exit(EXIT_CODES["error"])
