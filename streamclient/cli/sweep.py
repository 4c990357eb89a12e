"""``streamclient sessions sweep``: find and close sessions left open by processes that are gone.

Shows each open session the sweep considers (id, status, avatar, created, billed so far, time left, owner, what it
does with it) and closes the closable ones only with ``--yes`` (``--dry-run`` never closes). See
:func:`streamclient.api.sweep` for what counts as closable. Exit 0 when nothing failed, 1 when a close failed.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time

import anyio
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from streamclient.api import AsyncAkoolClient, SweepReport, sweep
from streamclient.cli._runner import EXIT_CODES, run_async
from streamclient.cli._visible import visible
from streamclient.cli.resources import BaseUrlOption, TimeoutOption, sessions_app
from streamclient.errors import ConfigurationError
from streamclient.ledger import PostgresLedger, resolve_ledger

__all__ = ("register",)


def register(app: typer.Typer) -> None:  # noqa: ARG001 - the command hangs off the ``sessions`` group
    """Add ``sweep`` and ``ledger-migrate`` to the ``sessions`` group."""
    sessions_app.command("sweep")(sessions_sweep)
    sessions_app.command("ledger-migrate")(sessions_ledger_migrate)


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _interval(text: str | None) -> float | None:
    """``30s``, ``2m``, ``500ms``, ``1h`` or a number of seconds; ``None`` stays ``None``."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*", text)
    if match is None or float(match.group(1)) <= 0:
        raise typer.BadParameter(f"an interval such as 30s, 2m or 500ms, got {text!r}", param_hint="--every")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _pass_line(number: int, report: SweepReport) -> str:
    closed = f"{len(report.closed)} closed" + (f" [{' '.join(report.closed)}]" if report.closed else "")
    return (
        f"sweep pass {number} at {time.strftime('%Y-%m-%d %H:%M:%S')}: {closed}, "
        f"{len(report.already_closed)} already closed, {len(report.failed)} failed, {report.live} live, "
        f"{report.lost_resolved} lost creates resolved, {report.lost_creates} lost creates waiting"
    )


async def _sweep_every(client: AsyncAkoolClient, every: float, *, all_open: bool, as_json: bool) -> None:
    """Sweep, then wait ``every`` seconds, until a signal stops the command; one line per pass."""
    number = 0
    while True:
        number += 1
        try:
            report = await sweep(client, all_open=all_open, close=True)
        except Exception as exc:  # a sidecar outlives a bad pass (the service or the database away): say it, go on
            typer.echo(f"sweep pass {number} failed: {exc}", err=True)
        else:
            if as_json:
                typer.echo(json.dumps({"pass": number, **_payload(report, closing=True)}, ensure_ascii=False))
            else:
                typer.echo(_pass_line(number, report))
        await anyio.sleep(every)


def _payload(report: SweepReport, *, closing: bool) -> dict[str, object]:
    return {
        "items": [dataclasses.asdict(i) for i in report.items],
        "closed": report.closed,
        "failed": report.failed,
        "lost_creates": report.lost_creates,
        "dry_run": not closing,
    }


def sessions_ledger_migrate() -> None:
    """Create or migrate the PostgreSQL session ledger's schema (STREAMCLIENT_LEDGER=postgresql://...)."""

    async def main() -> int:
        book = resolve_ledger()
        if not isinstance(book, PostgresLedger):
            raise ConfigurationError("STREAMCLIENT_LEDGER is not a postgresql:// URL: the SQLite ledger needs no step")
        try:
            return await book.migrate()
        finally:
            await book.aclose()

    version = run_async(main)
    typer.echo(f"session ledger schema at version {version}")


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
    every: str | None = typer.Option(
        None,
        "--every",
        help="Run as a long-lived sweeper: sweep (and close) every interval (30s, 2m) until stopped, a line per pass.",
    ),
) -> None:
    """Find sessions still open on the service whose process is gone (from the session ledger); close with --yes."""
    closing = yes and not dry_run
    interval = _interval(every)
    if interval is not None:
        if dry_run:
            raise typer.BadParameter("--every closes what it finds: it cannot be a dry run", param_hint="--every")

        async def forever() -> None:
            async with AsyncAkoolClient(base_url=base_url, timeout=timeout) as client:
                await _sweep_every(client, interval, all_open=all_open, as_json=as_json)

        run_async(forever, stop_on_ctrl_c=True)
        return

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
