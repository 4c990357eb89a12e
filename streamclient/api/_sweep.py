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
``streamclient sessions sweep`` (``--dry-run``, ``--yes``, ``--json``, ``--all-open``, ``--every``).

On a PostgreSQL ledger (a fleet, ``docs/fleet.md``) the owner is a *lease*, judged by the database's clock:

* a session whose owner's lease has lapsed is **claimed** (``FOR UPDATE ... SKIP LOCKED`` and a claim deadline, so
  that sweepers running at once never take the same record, nor one whose owner is renewing right now), **closed**
  and recorded ``swept`` with the reason; its owner learns of it when (if ever) it renews;
* a live owner's session is never a candidate, with or without ``all_open``;
* a create whose answer was lost (``unknown``, or ``creating`` by a lapsed owner) is resolved through the service's
  session list: an open session on the list that no record holds, of the same avatar, is taken to be it and closed;
  when the list has none, nothing bills for it and the record ends. While any live owner has a create in flight
  (its session may be on the list before its id is recorded), lost creates wait for the next pass;
* with ``all_open``, every other open session that no record holds is closed too (same in-flight rule).

Records past their end are marked ``expired``; records are never ended from the listing alone (a live owner records
its own close; an orphan's is claimed and closed, and the service's "already closed" is recorded as such).
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from streamclient import telemetry
from streamclient.api._guard import Budget, CreateGuard
from streamclient.api.models import Session, SessionStatus
from streamclient.api.sessions import Sessions
from streamclient.errors import APIError, ConfigurationError, LiveAvatarClosedError, SessionNotFoundError
from streamclient.ledger import LedgerEntry, PostgresLedger, SessionLedger, resolve_ledger
from streamclient.ledger._postgres import Claim

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
    #: (PostgreSQL) ids a claimed close found already closed on the service (not closed by this sweep).
    already_closed: list[str] = field(default_factory=list)
    #: (PostgreSQL) lost creates resolved this pass (matched and closed, or found to bill nothing).
    lost_resolved: int = 0
    #: (PostgreSQL) open sessions of live owners, left alone.
    live: int = 0


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
    return _entry_item(session.id, entry, status, now, reason, closable=closable)


async def _open_on_service(client: AsyncAkoolClient) -> dict[str, tuple[Session, int]]:
    """The open sessions with their status (a session without one is taken to have the status it was listed for)."""
    found: dict[str, tuple[Session, int]] = {}
    for wanted in (SessionStatus.QUEUEING, SessionStatus.PROCESSING):
        async for session in client.sessions.iter(status=wanted):
            status = int(wanted if session.status is None else session.status)
            if status in (1, 2) and session.id:  # a service that ignores the filter: closed sessions are not swept
                found[session.id] = (session, status)
    return found


@telemetry.traced_sweep  # telemetry: a span per sweep; sweeps and sessions swept counted
async def sweep(
    client: AsyncAkoolClient,
    *,
    ledger: SessionLedger | PostgresLedger | str | bool | None = None,
    all_open: bool = False,
    close: bool = False,
    sweeper: str | None = None,
) -> SweepReport:
    """Find (and with ``close``, close) the sessions left open by processes that are gone; see the module docstring.

    Args:
        client: the API client (its ``base_url`` picks the service's records in the ledger).
        ledger: the ledger (default: the client's).
        all_open: also every open session on the account that is not in the ledger, and those recorded by another
            host; never one whose owner still runs here.
        close: close the closable sessions (else only report them: a dry run).
        sweeper: this sweeper's name in the records it claims (PostgreSQL; default host, pid and a random tag).

    Returns:
        The report.

    Raises:
        ConfigurationError: the ledger is off or unreadable and ``all_open`` is not set.
        APIError: the open sessions could not be listed.
    """
    book = client.ledger if ledger is None else resolve_ledger(ledger)
    if isinstance(book, PostgresLedger):
        name = sweeper or f"sweeper {uuid.uuid4().hex[:8]} (pid {os.getpid()} on {socket.gethostname()})"
        return await _sweep_fleet(client, book, all_open=all_open, close=close, sweeper=name)
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


#: Records claimed per transaction, closes in flight at once, and how long a claim holds off other sweepers.
CLAIM_BATCH = 100
CLOSE_CONCURRENCY = 8
CLAIM_SECONDS = 120.0
#: An ``unknown`` record of a live owner is resolved only after this many seconds (its owner cannot close it).
UNKNOWN_AFTER = 60.0


def _avatar(session: Session) -> str | None:
    extra = session.model_extra or {}
    value = extra.get("avatar_id")
    return value if isinstance(value, str) else None


async def _close_one(client: AsyncAkoolClient, session_id: str) -> str | None:
    """Close; ``None`` when closed now, ``"already"`` when the service had ended it, else the error.

    The close bypasses the client's own ledger step: the sweeper records the end itself, with its reason, under its
    claim (a plain ``closed`` written first would hide the claimed record from :meth:`PostgresLedger.finish_claim`).
    """
    unrecorded = Sessions(client._core, CreateGuard(None, Budget(), timeout=client._core.timeout))
    try:
        await unrecorded.close(session_id)
    except (LiveAvatarClosedError, SessionNotFoundError):
        return "already"
    except APIError as exc:
        return str(exc)
    return None


async def _sweep_fleet(
    client: AsyncAkoolClient, book: PostgresLedger, *, all_open: bool, close: bool, sweeper: str
) -> SweepReport:
    """:func:`sweep` on a PostgreSQL ledger (see the module docstring)."""
    base = client.base_url
    report = SweepReport()
    open_now = await _open_on_service(client)
    await book.expire_ended(base)
    entries = await book.open_entries(base)
    now = await book.db_now()
    report.live = sum(1 for e in entries if e.lease_alive and e.session_id is not None)
    if not close:
        for entry in entries:
            if entry.session_id is not None and not entry.lease_alive and entry.session_id in open_now:
                report.items.append(_fleet_item(entry, open_now[entry.session_id][1], now, "owner's lease lapsed"))
        report.lost_creates = sum(1 for e in entries if e.session_id is None and e.state == "unknown")
        if all_open:
            known = await book.known_ids(base, list(open_now))
            for sid, (session, status) in open_now.items():
                if sid not in known:
                    report.items.append(
                        SweepItem(
                            sid,
                            status,
                            _avatar(session),
                            None,
                            None,
                            None,
                            "not in the ledger",
                            "not in the ledger",
                            True,
                        )
                    )
        return report

    limiter = anyio.CapacityLimiter(CLOSE_CONCURRENCY)
    ended: list[tuple[Claim, str, str]] = []
    outcomes: dict[str, str | None] = {}

    async def sweep_claim(claim: Claim) -> None:
        entry = claim.entry
        sid = entry.session_id
        assert sid is not None  # claim_orphans takes records with an id only
        async with limiter:
            outcome = await _close_one(client, sid)
        if outcome is not None and outcome != "already":
            report.failed[sid] = outcome
            await book.release_claim(claim, sweeper)
            return
        how = "the service had already ended it" if outcome == "already" else f"closed by {sweeper}"
        outcomes[claim.ticket] = outcome
        ended.append((claim, "swept", f"the lease of its owner ({entry.owner()}) lapsed; {how}"))

    while True:
        claims = await book.claim_orphans(base, sweeper, limit=CLAIM_BATCH, claim_seconds=CLAIM_SECONDS)
        if not claims:
            break
        async with anyio.create_task_group() as group:
            for claim in claims:
                group.start_soon(sweep_claim, claim)
        finished = await book.finish_claims(ended, sweeper)  # one statement per batch
        for claim, _state, reason in ended:
            done = claim.entry.session_id
            assert done is not None
            if claim.ticket in finished:
                (report.already_closed if outcomes[claim.ticket] == "already" else report.closed).append(done)
            report.items.append(_fleet_item(claim.entry, open_now.get(done, (None, 2))[1], now, reason))
        ended.clear()
    await _resolve_lost(client, book, report, open_now, sweeper=sweeper, all_open=all_open)
    report.items.sort(key=lambda i: (i.created_at is None, i.created_at or 0.0))
    return report


def _fleet_item(entry: LedgerEntry, status: int, now: float, reason: str, *, closable: bool = True) -> SweepItem:
    assert entry.session_id is not None
    return _entry_item(entry.session_id, entry, status, now, reason, closable=closable)


def _entry_item(
    session_id: str, entry: LedgerEntry, status: int, now: float, reason: str, *, closable: bool
) -> SweepItem:
    """A sweep row for ``session_id`` from its ledger record."""
    return SweepItem(
        session_id,
        status,
        entry.avatar_id,
        entry.created_at,
        entry.billed(now),
        entry.remaining(now),
        entry.owner(),
        reason,
        closable,
    )


async def _resolve_lost(
    client: AsyncAkoolClient,
    book: PostgresLedger,
    report: SweepReport,
    open_now: dict[str, tuple[Session, int]],
    *,
    sweeper: str,
    all_open: bool,
) -> None:
    """Resolve lost creates through the service's list; with ``all_open``, close the sessions no record holds."""
    base = client.base_url
    lost = await book.claim_lost(
        base, sweeper, limit=CLAIM_BATCH * 10, claim_seconds=CLAIM_SECONDS, unknown_after=UNKNOWN_AFTER
    )
    if not lost and not all_open:
        return
    if await book.live_creating(base):
        # A live owner's create is in flight: its session may be listed before its id is recorded. Next pass.
        for claim in lost:
            await book.release_claim(claim, sweeper)
        report.lost_creates = len(lost)
        return
    known = await book.known_ids(base, list(open_now))
    candidates = [(sid, session) for sid, (session, _) in open_now.items() if sid not in known]
    for claim in lost:
        avatar = claim.entry.avatar_id
        match = next((c for c in candidates if _avatar(c[1]) in (None, avatar)), None)
        if match is None:
            reason = "the answer to its create was lost; the service lists no open session it could have made"
            await book.finish_claim(claim, sweeper, state="swept", reason=reason)
            report.lost_resolved += 1
            continue
        candidates.remove(match)
        sid = match[0]
        outcome = await _close_one(client, sid)
        if outcome is not None and outcome != "already":
            report.failed[sid] = outcome
            await book.release_claim(claim, sweeper)
            continue
        reason = f"the answer to its create was lost; matched to open session {sid} (same avatar, in no record)"
        if await book.finish_claim(
            claim, sweeper, state="swept", reason=reason + f", closed by {sweeper}", session_id=sid
        ):
            report.lost_resolved += 1
            (report.already_closed if outcome == "already" else report.closed).append(sid)
    if all_open:
        for sid, _session in candidates:
            outcome = await _close_one(client, sid)
            if outcome is None:
                report.closed.append(sid)
            elif outcome == "already":
                report.already_closed.append(sid)
            else:
                report.failed[sid] = outcome
