"""Find and close sessions left open by processes that are gone (``kill -9``, a crash, a power cut).

:func:`sweep` compares the session ledger (``streamclient.ledger``) with what the service reports open (status 1
queueing or 2 processing), and closes what nobody can still be using:

* a session recorded in the ledger whose owner process is gone from this host: **closed**;
* a session whose owner still runs on this host: in use, **never closed** (not even with ``all_open``);
* a session recorded by another host (a ledger on a shared home): the owner cannot be checked, so it is shown
  but closed only with ``all_open``;
* with ``all_open``, every other session the service reports open on the account (not in the ledger: created by
  another tool, another machine, or by a create whose answer was lost) is closed too.

Records the service no longer reports open are marked ended in the ledger. The same runs as
``streamclient sessions sweep`` (``--dry-run``, ``--yes``, ``--json``, ``--all-open``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from streamclient.api.models import Session, SessionStatus
from streamclient.errors import APIError, ConfigurationError, LiveAvatarClosedError, SessionNotFoundError
from streamclient.ledger import LedgerEntry, SessionLedger, resolve_ledger

if TYPE_CHECKING:
    from streamclient.api._client import AsyncAkoolClient

__all__ = ("SweepItem", "SweepReport", "sweep")

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepItem:
    """A session the service reports open, and what the sweep makes of it.

    Attributes:
        session_id: the session.
        status: its status on the service (1 queueing, 2 processing).
        avatar_id: the avatar, if the ledger knows it.
        created_at: Unix time of creation, if the ledger knows it.
        billed: seconds used so far, if known.
        remaining: seconds until it ends by itself, if known.
        owner: who created it (``pid 123 on host``, or ``not in the ledger``).
        reason: why it is (or is not) closed, for people.
        closable: whether the sweep closes it.
    """

    session_id: str
    status: int
    avatar_id: str | None
    created_at: float | None
    billed: float | None
    remaining: float | None
    owner: str
    reason: str
    closable: bool


@dataclass
class SweepReport:
    """What :func:`sweep` found and did.

    Attributes:
        items: every open session considered (closable or not).
        closed: the ids closed now (or found already closed).
        failed: ids whose close failed, with the error.
        lost_creates: creates in the ledger whose answer never arrived (their session id is unknown; ``all_open``
            finds such sessions on the account).
    """

    items: list[SweepItem] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    lost_creates: int = 0


def _item(session: Session, status: int, entry: LedgerEntry | None, *, all_open: bool, now: float) -> SweepItem | None:
    if entry is None:
        reason = "not in the ledger" + ("" if all_open else " (closed only with --all-open)")
        return SweepItem(session.id, status, None, None, None, None, "not in the ledger", reason, all_open)
    alive = entry.owner_alive()
    if alive:
        return None  # in use by a running process: not a candidate
    if alive is None:
        reason = "owner on another host, cannot be checked" + ("" if all_open else " (closed only with --all-open)")
        closable = all_open
    else:
        reason, closable = "owner process is gone", True
    return SweepItem(
        session.id,
        status,
        entry.avatar_id,
        entry.created_at,
        entry.billed(now),
        entry.remaining(now),
        entry.owner(),
        reason,
        closable,
    )


async def _open_on_service(client: AsyncAkoolClient) -> dict[str, tuple[Session, int]]:
    """The open sessions with their status (a session without one is taken to have the status it was listed for)."""
    found: dict[str, tuple[Session, int]] = {}
    for wanted in (SessionStatus.QUEUEING, SessionStatus.PROCESSING):
        async for session in client.sessions.iter(status=wanted):
            status = int(wanted if session.status is None else session.status)
            if status in (1, 2) and session.id:  # a service that ignores the filter: closed sessions are not swept
                found[session.id] = (session, status)
    return found


async def sweep(
    client: AsyncAkoolClient,
    *,
    ledger: SessionLedger | str | bool | None = None,
    all_open: bool = False,
    close: bool = False,
) -> SweepReport:
    """Find (and with ``close``, close) the sessions left open by processes that are gone; see the module docstring.

    Args:
        client: the API client (its ``base_url`` picks the service's records in the ledger).
        ledger: the ledger (default: the client's).
        all_open: also every open session on the account that is not in the ledger, and those recorded by another
            host; never one whose owner still runs here.
        close: close the closable sessions (else only report them: a dry run).

    Returns:
        The report.

    Raises:
        ConfigurationError: the ledger is off or unreadable and ``all_open`` is not set.
        APIError: the open sessions could not be listed.
    """
    book = client.ledger if ledger is None else resolve_ledger(ledger)
    now = time.time()
    entries: list[LedgerEntry] = []
    if book is not None:
        try:
            entries = book.open_entries(client.base_url)
        except (sqlite3.Error, OSError) as exc:
            if not all_open:
                raise ConfigurationError(f"the session ledger {book.path} cannot be read ({exc})") from None
            logger.warning("the session ledger %s cannot be read (%s); sweeping every open session", book.path, exc)
    elif not all_open:
        raise ConfigurationError("the session ledger is off (STREAMCLIENT_LEDGER): only all_open=True can sweep")
    by_id = {e.session_id: e for e in entries if e.session_id is not None}
    report = SweepReport(lost_creates=sum(1 for e in entries if e.session_id is None and e.state == "unknown"))
    open_now = await _open_on_service(client)
    if book is not None:
        for sid, entry in by_id.items():
            if sid not in open_now and entry.created_at is not None and entry.created_at < now - 5:
                book.record_closed(sid, base_url=client.base_url, state="expired")  # the service ended it
    for session, status in open_now.values():
        item = _item(session, status, by_id.get(session.id), all_open=all_open, now=now)
        if item is not None:
            report.items.append(item)
    report.items.sort(key=lambda i: (i.created_at is None, i.created_at or 0.0))  # the ledger's, oldest first
    if not close:
        return report
    for item in report.items:
        if not item.closable:
            continue
        try:
            await client.sessions.close(item.session_id)
        except (LiveAvatarClosedError, SessionNotFoundError):
            pass  # closed meanwhile: the goal is reached
        except APIError as exc:
            report.failed[item.session_id] = str(exc)
            continue
        report.closed.append(item.session_id)
    if all_open and book is not None and not report.failed:
        book.resolve_unknown(base_url=client.base_url, before=now)  # every open session is closed now
    return report
