"""The session ledger on PostgreSQL, for a fleet of workers on many machines (the ``postgres`` extra, psycopg 3).

The same three-step record as the SQLite ledger (intent before the request, id and expiry on the answer, ``unknown``
when the answer is lost, the close), with what one machine cannot give:

* **Leases, not pids.** Each process holds an *owner lease* (a row of ``streamclient_owners``) renewed by a
  heartbeat thread every third of the lease. Every time that decides liveness is the database's ``now()``: a
  worker's own clock is never written nor compared, so skewed host clocks change nothing. A session is an orphan
  when its owner's lease has lapsed. A worker whose lease lapsed (paused, cut off) renews before its next create,
  and then learns (a warning per session, and :attr:`PostgresLedger.swept`) which of its sessions a sweeper closed.
* **A fleet-wide budget.** The intent is inserted in one transaction that first takes an advisory lock on the
  service's URL and counts every worker's records: ``max_open_sessions`` (``creating``, ``open`` and ``unknown``
  records not yet past their end) and a billed-seconds budget over a rolling window (AKOOL charges the whole
  duration up front). Two workers can never both take the last place.
* **Claims for sweepers.** A sweeper claims orphans with ``FOR UPDATE ... SKIP LOCKED`` and a claim deadline, so
  many sweepers can run at once and none closes a session another one holds, nor one whose owner is renewing.
* **No record lost.** The writes after the intent (the id, ``unknown``/``failed``, the close) are queued in memory
  when the database cannot be reached and written, in order, as soon as it can (by the heartbeat or the next call).

The schema is versioned (``streamclient_schema``) and created or migrated by the first connection of any worker
under an advisory lock (many workers may start at once), or ahead of time by ``streamclient sessions ledger-migrate``.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import logging
import os
import re
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from streamclient import telemetry
from streamclient.errors import BudgetExceededError, ConfigurationError, LedgerUnavailableError
from streamclient.ledger._sqlite import DEFAULT_BILLED_WINDOW, LONGEST_SESSION, LedgerEntry, check_billed

if TYPE_CHECKING:
    import psycopg

__all__ = (
    "FLEET_HOST_ENV",
    "LEASE_ENV",
    "SCHEMA_VERSION",
    "PostgresLedger",
    "is_postgres_url",
    "postgres_ledger",
)

logger = logging.getLogger("streamclient.ledger")

T = TypeVar("T")

#: Seconds of an owner lease (default 30): a process that has not renewed for this long is taken to be gone.
LEASE_ENV = "STREAMCLIENT_LEASE_SECONDS"
#: The host name recorded for this process's lease (default: the machine's host name).
FLEET_HOST_ENV = "STREAMCLIENT_FLEET_HOST"
DEFAULT_LEASE = 30.0
_OPEN = "('creating', 'open', 'unknown', 'detached')"
_ENDS_AT = (
    "COALESCE(s.expires_at, COALESCE(s.created_at, s.intent_at) "
    f"+ make_interval(secs => COALESCE(s.duration, {LONGEST_SESSION})))"
)
_ENTRY_COLUMNS = (
    "s.row_id, s.session_id, s.state, s.base_url, s.avatar_id, s.duration, "
    "extract(epoch FROM s.intent_at)::float8, extract(epoch FROM s.created_at)::float8, "
    "extract(epoch FROM s.expires_at)::float8, extract(epoch FROM s.closed_at)::float8, "
    "o.pid, NULL::text, o.host, s.owner_id::text, o.lease_until > now(), s.reason"
)
_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('streamclient.ledger.schema'))"
_BUDGET_LOCK = "SELECT pg_advisory_xact_lock(hashtext('streamclient.ledger.budget'), hashtext(%s))"

#: Each migration brings the schema from the version before it to its own; never edit one that has shipped.
_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
CREATE TABLE streamclient_owners (
    owner_id uuid PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    lease_seconds double precision NOT NULL,
    lease_until timestamptz NOT NULL,
    renewed_at timestamptz NOT NULL DEFAULT now(),
    lapses integer NOT NULL DEFAULT 0
);
CREATE TABLE streamclient_sessions (
    ticket uuid PRIMARY KEY,
    row_id bigserial NOT NULL,
    session_id text,
    state text NOT NULL,
    base_url text NOT NULL,
    avatar_id text,
    duration double precision,
    intent_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz,
    expires_at timestamptz,
    closed_at timestamptz,
    owner_id uuid NOT NULL REFERENCES streamclient_owners (owner_id),
    claimed_by text,
    claim_until timestamptz,
    reason text,
    owner_told boolean NOT NULL DEFAULT false
);
CREATE INDEX streamclient_sessions_open ON streamclient_sessions (base_url, state);
CREATE INDEX streamclient_sessions_window ON streamclient_sessions (base_url, intent_at);
CREATE INDEX streamclient_sessions_owner ON streamclient_sessions (owner_id, state);
CREATE INDEX streamclient_sessions_id ON streamclient_sessions (session_id);
""",
    ),
)
#: The schema version this library writes.
SCHEMA_VERSION = _MIGRATIONS[-1][0]


def is_postgres_url(value: str) -> bool:
    """Whether ``value`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return value.startswith(("postgresql://", "postgres://"))


def _redact(url: str) -> str:
    """The URL without its password (for reprs and logs)."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            "a postgresql:// session ledger needs psycopg: pip install 'streamclient[postgres]'"
        ) from None
    return psycopg


_registry: dict[tuple[str, int], PostgresLedger] = {}
_registry_lock = threading.Lock()


def postgres_ledger(url: str) -> PostgresLedger:
    """This process's ledger for ``url``: one owner lease per process and database (clients share it)."""
    key = (url, os.getpid())
    with _registry_lock:
        ledger = _registry.get(key)
        if ledger is None:
            ledger = _registry[key] = PostgresLedger(url)
        return ledger


def _lease_from_env() -> float:
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_LEASE
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{LEASE_ENV} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ConfigurationError(f"{LEASE_ENV} must be positive, got {raw!r}")
    return value


@dataclass
class _Slot:
    """One event loop's connection (psycopg's async connections belong to the loop that opened them)."""

    conn: Any
    lock: asyncio.Lock


def _entries_query(where: str, base_url: str | None) -> tuple[str, tuple[Any, ...]]:
    """The records matching ``where`` (and ``base_url`` if given), with their owners' leases, oldest first."""
    params: tuple[Any, ...] = ()
    if base_url is not None:
        where += " AND s.base_url = %s"
        params = (base_url,)
    query = (
        f"SELECT {_ENTRY_COLUMNS} FROM streamclient_sessions s JOIN streamclient_owners o USING (owner_id) "
        f"WHERE {where} ORDER BY s.row_id"
    )
    return query, params


class PostgresLedger:
    """The session ledger of a fleet, in a PostgreSQL database (see the module docstring).

    Writes after the intent never raise: when the database cannot be reached they are queued and written later.
    The intent follows the unavailable-store policy (``on_unavailable`` of :meth:`record_intent`).

    Args:
        url: ``postgresql://user:password@host:port/database`` (libpq's URL; the password never appears in logs).
        lease_seconds: the owner lease (default ``STREAMCLIENT_LEASE_SECONDS`` or 30 s); the heartbeat renews it
            every third of it. A process paused or cut off for longer is taken to be gone, and its sessions swept.
        host: the host name recorded with the lease (default ``STREAMCLIENT_FLEET_HOST`` or the machine's).
        connect_timeout: seconds to connect to the database.
        timeout: seconds for one database step (a transaction), connection included.

    Raises:
        ConfigurationError: psycopg is not installed (the ``postgres`` extra), or a bad lease.
    """

    def __init__(
        self,
        url: str,
        *,
        lease_seconds: float | None = None,
        host: str | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        _psycopg()
        if not is_postgres_url(url):
            raise ConfigurationError("a PostgreSQL ledger needs a postgresql:// URL")
        self.url = url
        self.lease_seconds = _lease_from_env() if lease_seconds is None else float(lease_seconds)
        if not self.lease_seconds > 0:
            raise ConfigurationError(f"lease_seconds must be positive, got {lease_seconds!r}")
        self.host = host or os.environ.get(FLEET_HOST_ENV) or socket.gethostname()
        self.pid = os.getpid()
        self.owner_id = str(uuid.uuid4())
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        #: Sessions of this process that a sweeper closed while its lease had lapsed (learnt at renewal).
        self.swept: list[LedgerEntry] = []
        #: Called with each such session (from the heartbeat thread or the event loop).
        self.on_swept: list[Callable[[LedgerEntry], None]] = []
        #: How many times this process found its lease lapsed and renewed it.
        self.lapses = 0
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slot] = weakref.WeakKeyDictionary()
        self._pending: collections.deque[tuple[str, tuple[Any, ...]]] = collections.deque()
        self._pending_lock = threading.Lock()
        self._flushing = threading.Lock()
        self._owner_ready = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._warned = False
        #: Until this ``time.monotonic()``, queued writes are left to the heartbeat (the database was just down).
        self._down_until = 0.0

    def __repr__(self) -> str:
        return f"PostgresLedger({_redact(self.url)!r}, host={self.host!r})"

    @property
    def path(self) -> str:
        """The database's URL without its password (what the SQLite ledger calls its path)."""
        return _redact(self.url)

    @property
    def pending_writes(self) -> int:
        """Writes queued while the database could not be reached."""
        with self._pending_lock:
            return len(self._pending)

    # ------------------------------------------------------------------------------------------ connections

    def _conninfo(self) -> dict[str, Any]:
        return {"autocommit": True, "connect_timeout": max(1, round(self.connect_timeout))}

    async def _slot(self) -> _Slot:
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        if slot is None or slot.conn.closed:
            psycopg = _psycopg()
            with anyio.fail_after(self.connect_timeout + 1):
                conn = await psycopg.AsyncConnection.connect(self.url, **self._conninfo())
            slot = _Slot(conn, asyncio.Lock())
            self._slots[loop] = slot
            weakref.finalize(loop, _finish, conn)  # a loop that ends without aclose(): no connection left open
        return slot

    async def _run(self, step: Callable[[Any], Awaitable[T]], *, retry: bool = True) -> T:
        """Run ``step(connection)`` with this loop's connection, bounded by ``timeout``; reconnect once if lost."""
        psycopg = _psycopg()
        for attempt in (1, 2):
            slot: _Slot | None = None
            try:
                slot = await self._slot()
                async with slot.lock:
                    with anyio.fail_after(self.timeout):
                        if not self._owner_ready:
                            await self._prepare(slot.conn)
                        return await step(slot.conn)
            except (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError, OSError) as exc:
                if slot is not None:
                    await self._drop(slot)
                if attempt == 2 or not retry:
                    raise LedgerUnavailableError(f"the session ledger {self.path} cannot be reached ({exc})") from exc
            except psycopg.Error as exc:
                raise LedgerUnavailableError(f"the session ledger {self.path} failed ({exc})") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _drop(self, slot: _Slot) -> None:
        for loop, held in list(self._slots.items()):
            if held is slot:
                del self._slots[loop]
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            await slot.conn.close()

    async def aclose(self) -> None:
        """Close this event loop's connection (the lease and the heartbeat go on: see :meth:`close`)."""
        loop = asyncio.get_running_loop()
        if loop in self._slots:
            await self._flush()  # with this loop's connection, before it goes
        slot = self._slots.pop(loop, None)
        if slot is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                await slot.conn.close()

    def close(self) -> None:
        """Stop the heartbeat, write what is queued, and release the lease (its sessions become sweepable now).

        Called at exit; a process that holds open sessions should close them first.
        """
        self._stop.set()
        for slot in list(self._slots.values()):
            _finish(slot.conn)
        self._slots.clear()
        beat = self._beat
        if beat is not None and beat is not threading.current_thread():
            beat.join(timeout=self.connect_timeout + 2)
        if not self._owner_ready:
            return
        try:
            with self._sync_connect() as conn:
                self._flush_sync(conn)
                conn.execute("UPDATE streamclient_owners SET lease_until = now() WHERE owner_id = %s", (self.owner_id,))
        except Exception as exc:  # at exit: say it, never raise
            logger.warning("the session ledger %s: could not release this process's lease (%s)", self.path, exc)
        finally:
            self._owner_ready = False

    def _sync_connect(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] = _psycopg().connect(self.url, **self._conninfo())
        return conn

    # ------------------------------------------------------------------------------------------ schema and owner

    async def migrate(self) -> int:
        """Create or migrate the schema (under an advisory lock: safe when many workers start at once).

        Returns:
            The schema version now in the database.

        Raises:
            LedgerUnavailableError: the database cannot be reached.
            ConfigurationError: the database holds a newer schema than this library knows.
        """
        return await self._run(_migrate)

    async def _prepare(self, conn: Any) -> None:
        await _migrate(conn)
        await conn.execute(
            "INSERT INTO streamclient_owners (owner_id, host, pid, lease_seconds, lease_until) "
            "VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s)) ON CONFLICT (owner_id) DO NOTHING",
            (self.owner_id, self.host, self.pid, self.lease_seconds, self.lease_seconds),
        )
        self._owner_ready = True
        self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        with self._start_lock:
            if self._beat is not None or self._stop.is_set():
                return
            self._beat = threading.Thread(target=self._heartbeat, name="streamclient-ledger-lease", daemon=True)
            self._beat.start()
            atexit.register(self.close)

    def _heartbeat(self) -> None:
        """Renew the lease every third of it; write queued records; learn of sessions swept meanwhile."""
        conn: psycopg.Connection[Any] | None = None
        psycopg = _psycopg()
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                if conn is None or conn.closed:
                    conn = self._sync_connect()
                if not self._owner_ready:
                    _migrate_sync(conn)
                    self._owner_ready = True  # the owner row is (re)inserted by _renew below
                with conn.transaction():
                    lapsed = self._renew(conn)
                told = self._told(conn)
                self._flush_sync(conn)
                self._down_until = 0.0
            except psycopg.Error as exc:
                logger.warning("the session ledger %s: lease not renewed (%s); retrying", self.path, exc)
                if conn is not None:
                    conn.close()
                conn = None
                continue
            self._learn(lapsed, told)
        if conn is not None:
            conn.close()

    def _renew(self, conn: Any) -> float | None:
        """Renew the lease (in the caller's transaction); the seconds it had lapsed for, else ``None``."""
        row = conn.execute(
            "SELECT extract(epoch FROM now() - lease_until)::float8 FROM streamclient_owners "
            "WHERE owner_id = %s FOR UPDATE",
            (self.owner_id,),
        ).fetchone()
        if row is None:  # the row is gone (a restored database): take a lease again
            conn.execute(
                "INSERT INTO streamclient_owners (owner_id, host, pid, lease_seconds, lease_until) "
                "VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s))",
                (self.owner_id, self.host, self.pid, self.lease_seconds, self.lease_seconds),
            )
            return None
        lapsed = row[0] > 0
        conn.execute(
            "UPDATE streamclient_owners SET lease_until = now() + make_interval(secs => lease_seconds), "
            "renewed_at = now(), lapses = lapses + %s WHERE owner_id = %s",
            (int(lapsed), self.owner_id),
        )
        return float(row[0]) if lapsed else None

    def _told(self, conn: Any) -> list[LedgerEntry]:
        rows = conn.execute(
            f"UPDATE streamclient_sessions s SET owner_told = true FROM streamclient_owners o "
            f"WHERE s.owner_id = %s AND o.owner_id = s.owner_id AND s.state = 'swept' AND NOT s.owner_told "
            f"RETURNING {_ENTRY_COLUMNS}",
            (self.owner_id,),
        ).fetchall()
        return [LedgerEntry(*r) for r in rows]

    def _learn(self, lapsed: float | None, told: list[LedgerEntry]) -> None:
        telemetry.lease_renewed(lapsed)  # telemetry: renewals and lapses
        if lapsed is not None:
            self.lapses += 1
            logger.warning(
                "this process's lease on the session ledger %s had lapsed %.1f s ago (paused or cut off from the "
                "database): renewed; its sessions may have been swept",
                self.path,
                lapsed,
            )
        for entry in told:
            self.swept.append(entry)
            logger.warning("session %s was closed by a sweeper: %s", entry.session_id, entry.reason)
            for callback in list(self.on_swept):
                callback(entry)

    # ------------------------------------------------------------------------------------------ queued writes

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._pending_lock:
            self._pending.append((sql, params))
        await self._flush()

    async def _flush(self) -> None:
        """Write the queued records in order (one writer at a time; another caller leaves them to it).

        Right after a failure the caller does not wait for the database again: the heartbeat writes them.
        """
        if time.monotonic() < self._down_until:
            return
        if not self._flushing.acquire(blocking=False):
            return
        try:
            while True:
                with self._pending_lock:
                    if not self._pending:
                        return
                    sql, params = self._pending[0]

                async def step(conn: Any, sql: str = sql, params: tuple[Any, ...] = params) -> None:
                    await conn.execute(sql, params)

                try:
                    await self._run(step)
                except LedgerUnavailableError as exc:
                    self._down_until = time.monotonic() + self.lease_seconds / 3
                    self._warn(exc)
                    return
                with self._pending_lock:
                    self._pending.popleft()
        finally:
            self._flushing.release()

    def _flush_sync(self, conn: Any) -> None:
        if not self._flushing.acquire(blocking=False):
            return
        try:
            while True:
                with self._pending_lock:
                    if not self._pending:
                        return
                    sql, params = self._pending[0]
                conn.execute(sql, params)
                with self._pending_lock:
                    self._pending.popleft()
        finally:
            self._flushing.release()

    def _warn(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "the session ledger %s cannot be reached (%s): records are queued until it can", self.path, exc
            )
        else:
            logger.debug("session ledger write deferred: %s", exc)

    # ------------------------------------------------------------------------------------------ the three steps

    @telemetry.budget_refusals  # telemetry: refusals counted by limit
    async def record_intent(
        self,
        *,
        base_url: str,
        avatar_id: str | None,
        duration: float | None,
        max_open: int | None = None,
        max_billed: float | None = None,
        billed_window: float = DEFAULT_BILLED_WINDOW,
        on_unavailable: str | None = None,
    ) -> str | None:
        """Record that a create is about to be sent, after the fleet-wide budget check, in one transaction.

        A lapsed lease is renewed first (and the sessions swept meanwhile are reported).

        Args:
            base_url: the service.
            avatar_id: the avatar.
            duration: the requested duration (``None``: the service's default, counted as 3600 s).
            max_open: refuse if the fleet already has this many records that may be billing on ``base_url``.
            max_billed: refuse if the durations of the fleet's creates within the last ``billed_window`` seconds,
                plus this one, would pass this many seconds.
            billed_window: the rolling window of ``max_billed``, in seconds.
            on_unavailable: ``"refuse"`` or ``"allow"`` when the database cannot be reached; ``None``: refuse when
                a limit is set, else allow (with a warning; the intent is then queued and written later).

        Returns:
            The record's ticket (a UUID), used by the later steps.

        Raises:
            BudgetExceededError: a limit is reached; nothing was recorded.
            LedgerUnavailableError: the database cannot be reached and the policy refuses.
        """
        ticket = str(uuid.uuid4())
        limited = max_open is not None or max_billed is not None
        learnt: list[tuple[float | None, list[LedgerEntry]]] = []

        async def step(conn: Any) -> None:
            async with conn.transaction():
                if limited:
                    await conn.execute(_BUDGET_LOCK, (base_url,))
                lapsed = await _arenew_if_lapsed(conn, self)
                if lapsed is not None:
                    told = await _atold(conn, self.owner_id)
                    learnt.append((lapsed, told))
                if max_open is not None:
                    cur = await conn.execute(
                        f"SELECT count(*), count(*) FILTER (WHERE o.lease_until < now()) FROM streamclient_sessions s "
                        f"JOIN streamclient_owners o USING (owner_id) WHERE s.base_url = %s AND s.state IN {_OPEN} "
                        f"AND {_ENDS_AT} > now()",
                        (base_url,),
                    )
                    open_now, orphaned = await cur.fetchone()
                    if open_now >= max_open:
                        hint = f" ({orphaned} of them by workers whose lease lapsed: a sweeper will close them)"
                        raise BudgetExceededError(
                            f"max_open_sessions={max_open} reached: {open_now} sessions may be open on {base_url} "
                            f"across the fleet{hint if orphaned else ''}; nothing was sent",
                            limit="max_open_sessions",
                            maximum=max_open,
                            requested=open_now + 1,
                        )
                if max_billed is not None:
                    cur = await conn.execute(
                        f"SELECT COALESCE(sum(COALESCE(duration, {LONGEST_SESSION})), 0)::float8 "
                        "FROM streamclient_sessions WHERE base_url = %s AND state <> 'failed' "
                        "AND intent_at > now() - make_interval(secs => %s)",
                        (base_url, billed_window),
                    )
                    (spent,) = await cur.fetchone()
                    check_billed(spent, duration, max_billed, billed_window, base_url, "across the fleet")
                await conn.execute(_INSERT_INTENT, (ticket, base_url, avatar_id, duration, self.owner_id))

        try:
            await self._flush()
            await self._run(step)
        except LedgerUnavailableError as exc:
            if on_unavailable == "refuse" or (on_unavailable is None and limited):
                what = "a session budget is set" if limited else "STREAMCLIENT_LEDGER_UNAVAILABLE=refuse"
                raise LedgerUnavailableError(f"{what} but {exc}; nothing was sent") from exc
            logger.warning("%s: the session is created unrecorded, its intent queued until the ledger is back", exc)
            with self._pending_lock:
                self._pending.append((_INSERT_INTENT, (ticket, base_url, avatar_id, duration, self.owner_id)))
            self._ensure_owner_later()
        for lapsed, told in learnt:
            self._learn(lapsed, told)
        return ticket

    def _ensure_owner_later(self) -> None:
        """A queued intent needs the schema and this process's owner row: the heartbeat writes them when it can."""
        self._start_heartbeat()

    async def record_created(self, ticket: str, session_id: str) -> None:
        """Record the answer: the session exists, with this id, until ``now() + duration`` (the database's now)."""
        await self._write(
            "UPDATE streamclient_sessions SET state = 'open', session_id = %s, created_at = now(), "
            f"expires_at = now() + make_interval(secs => COALESCE(duration, {LONGEST_SESSION})) "
            f"WHERE ticket = %s AND state IN {_OPEN}",
            (session_id, ticket),
        )

    async def record_detached(self, session_id: str, *, base_url: str) -> None:
        """Record that ``session_id`` stays open after its owner exits, on purpose: never swept as an orphan.

        It still counts against the fleet's budget until it ends (closed, or past its end).
        """
        await self._write(
            "UPDATE streamclient_sessions SET state = 'detached' WHERE session_id = %s AND base_url = %s "
            "AND state = 'open'",
            (session_id, base_url),
        )

    async def record_outcome(self, ticket: str, state: str) -> None:
        """Record a create that ended without an id: ``failed`` (nothing was created) or ``unknown``."""
        await self._write(
            "UPDATE streamclient_sessions SET state = %s WHERE ticket = %s AND state = 'creating'", (state, ticket)
        )

    async def record_closed(self, session_id: str, *, base_url: str, state: str = "closed") -> None:
        """Record that ``session_id`` is closed (a record a sweeper already ended keeps the sweeper's reason)."""
        await self._write(
            f"UPDATE streamclient_sessions SET state = %s, closed_at = now() WHERE session_id = %s AND base_url = %s "
            f"AND state IN {_OPEN}",
            (state, session_id, base_url),
        )

    # ------------------------------------------------------------------------------------------ queries

    async def open_entries(self, base_url: str | None = None) -> list[LedgerEntry]:
        """Records that may still be billing (not closed, not past their end), oldest first, with their leases."""
        query, params = _entries_query(f"s.state IN {_OPEN} AND {_ENDS_AT} > now()", base_url)

        async def step(conn: Any) -> list[LedgerEntry]:
            cur = await conn.execute(query, params)
            return [LedgerEntry(*r) for r in await cur.fetchall()]

        return await self._run(step)

    async def entries(self, base_url: str | None = None) -> list[LedgerEntry]:
        """Every record (any state), oldest first."""
        query, params = _entries_query("true", base_url)

        async def step(conn: Any) -> list[LedgerEntry]:
            cur = await conn.execute(query, params)
            return [LedgerEntry(*r) for r in await cur.fetchall()]

        return await self._run(step)

    def orphans(self, base_url: str | None = None) -> list[LedgerEntry]:
        """Open records whose owner's lease has lapsed (a blocking query; an unreachable database gives none)."""
        query, params = _entries_query(
            f"s.state IN {_OPEN} AND s.state <> 'detached' AND {_ENDS_AT} > now() AND o.lease_until < now()", base_url
        )
        try:
            with self._sync_connect() as conn:
                rows = conn.execute(query, params).fetchall()
        except Exception as exc:  # psycopg.Error, or no schema yet
            logger.debug("session ledger unreadable: %s", exc)
            return []
        return [LedgerEntry(*r) for r in rows]

    # ------------------------------------------------------------------------------------------ for sweepers

    async def db_now(self) -> float:
        """The database's clock (Unix time)."""

        async def step(conn: Any) -> float:
            cur = await conn.execute("SELECT extract(epoch FROM now())::float8")
            (now,) = await cur.fetchone()
            return float(now)

        return await self._run(step)

    async def expire_ended(self, base_url: str) -> int:
        """End the records past their end (by the database's clock); how many.

        Records the service no longer lists open are not ended from a listing (a page that shifts while it is read
        could hide an open session, and a live owner's record would stop counting against the budget): an orphan's
        is claimed and closed (the service answers "already closed"), a live owner records its own close.
        """

        async def step(conn: Any) -> int:
            cur = await conn.execute(
                f"UPDATE streamclient_sessions s SET state = 'expired', closed_at = now() "
                f"WHERE s.base_url = %s AND s.state IN {_OPEN} AND {_ENDS_AT} <= now()",
                (base_url,),
            )
            return int(cur.rowcount)

        return await self._run(step)

    async def claim_orphans(self, base_url: str, sweeper: str, *, limit: int, claim_seconds: float) -> list[Claim]:
        """Claim up to ``limit`` open records with an id whose owner's lease lapsed (``SKIP LOCKED``).

        A record claimed by another sweeper (until its claim deadline), or whose owner row is locked (its heartbeat
        renewing now), is skipped.
        """
        return await self._claim(
            base_url,
            sweeper,
            f"s.session_id IS NOT NULL AND s.state IN {_OPEN} AND s.state <> 'detached' AND o.lease_until < now()",
            limit=limit,
            claim_seconds=claim_seconds,
        )

    async def claim_lost(
        self, base_url: str, sweeper: str, *, limit: int, claim_seconds: float, unknown_after: float
    ) -> list[Claim]:
        """Claim creates whose answer was lost.

        Those are ``unknown`` ones older than ``unknown_after`` seconds or of a lapsed owner, and ``creating`` ones
        of a lapsed owner (it died waiting for the answer).
        """
        return await self._claim(
            base_url,
            sweeper,
            "s.session_id IS NULL AND ((s.state = 'unknown' AND (o.lease_until < now() OR "
            f"s.intent_at < now() - make_interval(secs => {float(unknown_after)}))) "
            "OR (s.state = 'creating' AND o.lease_until < now()))",
            limit=limit,
            claim_seconds=claim_seconds,
        )

    async def _claim(
        self, base_url: str, sweeper: str, condition: str, *, limit: int, claim_seconds: float
    ) -> list[Claim]:
        async def step(conn: Any) -> list[Claim]:
            async with conn.transaction():
                cur = await conn.execute(
                    f"SELECT s.ticket FROM streamclient_sessions s JOIN streamclient_owners o USING (owner_id) "
                    f"WHERE s.base_url = %s AND {condition} AND (s.claim_until IS NULL OR s.claim_until < now()) "
                    f"ORDER BY s.row_id LIMIT %s FOR UPDATE OF s, o SKIP LOCKED",
                    (base_url, limit),
                )
                tickets = [r[0] for r in await cur.fetchall()]
                if not tickets:
                    return []
                cur = await conn.execute(
                    f"UPDATE streamclient_sessions s SET claimed_by = %s, "
                    f"claim_until = now() + make_interval(secs => %s) FROM streamclient_owners o "
                    f"WHERE o.owner_id = s.owner_id AND s.ticket = ANY(%s) RETURNING s.ticket::text, {_ENTRY_COLUMNS}",
                    (sweeper, claim_seconds, tickets),
                )
                rows = await cur.fetchall()
            claims = [Claim(r[0], LedgerEntry(*r[1:])) for r in rows]
            claims.sort(key=lambda c: c.entry.row)
            return claims

        return await self._run(step)

    async def finish_claim(
        self, claim: Claim, sweeper: str, *, state: str, reason: str, session_id: str | None = None
    ) -> bool:
        """End a claimed record (``swept``, ``expired``); ``False`` if the claim was lost or the record ended."""

        async def step(conn: Any) -> bool:
            cur = await conn.execute(
                f"UPDATE streamclient_sessions SET state = %s, closed_at = now(), reason = %s, "
                f"session_id = COALESCE(session_id, %s), claim_until = NULL WHERE ticket = %s AND claimed_by = %s "
                f"AND state IN {_OPEN}",
                (state, reason, session_id, claim.ticket, sweeper),
            )
            return bool(cur.rowcount == 1)

        return await self._run(step)

    async def finish_claims(self, ended: list[tuple[Claim, str, str]], sweeper: str) -> set[str]:
        """End many claimed records in one statement: ``(claim, state, reason)`` each; the tickets ended."""
        if not ended:
            return set()

        async def step(conn: Any) -> set[str]:
            cur = await conn.execute(
                f"UPDATE streamclient_sessions s SET state = v.state, closed_at = now(), reason = v.reason, "
                f"claim_until = NULL FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS v(ticket, state, reason) "
                f"WHERE s.ticket = v.ticket AND s.claimed_by = %s AND s.state IN {_OPEN} RETURNING s.ticket::text",
                (
                    [claim.ticket for claim, _, _ in ended],
                    [state for _, state, _ in ended],
                    [reason for _, _, reason in ended],
                    sweeper,
                ),
            )
            return {r[0] for r in await cur.fetchall()}

        return await self._run(step)

    async def release_claim(self, claim: Claim, sweeper: str) -> None:
        """Give a claim back (the close failed: the next pass tries again)."""

        async def step(conn: Any) -> None:
            await conn.execute(
                "UPDATE streamclient_sessions SET claim_until = NULL WHERE ticket = %s AND claimed_by = %s",
                (claim.ticket, sweeper),
            )

        await self._run(step)

    async def live_creating(self, base_url: str) -> int:
        """Creates in flight by live owners (their sessions may be on the service's list without an id here yet)."""

        async def step(conn: Any) -> int:
            cur = await conn.execute(
                "SELECT count(*) FROM streamclient_sessions s JOIN streamclient_owners o USING (owner_id) "
                "WHERE s.base_url = %s AND s.state = 'creating' AND o.lease_until >= now()",
                (base_url,),
            )
            (count,) = await cur.fetchone()
            return int(count)

        return await self._run(step)

    async def known_ids(self, base_url: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` the ledger holds (any state)."""

        async def step(conn: Any) -> set[str]:
            cur = await conn.execute(
                "SELECT session_id FROM streamclient_sessions WHERE base_url = %s AND session_id = ANY(%s)",
                (base_url, ids),
            )
            return {r[0] for r in await cur.fetchall()}

        return await self._run(step)


@dataclass(frozen=True, slots=True)
class Claim:
    """A record a sweeper holds: its ticket, and the record as it was claimed."""

    ticket: str
    entry: LedgerEntry


_INSERT_INTENT = (
    "INSERT INTO streamclient_sessions (ticket, state, base_url, avatar_id, duration, owner_id) "
    "VALUES (%s, 'creating', %s, %s, %s, %s) ON CONFLICT (ticket) DO NOTHING"
)


async def _migrate(conn: Any) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` under an advisory lock (one worker migrates, the others wait)."""
    async with conn.transaction():
        await conn.execute(_SCHEMA_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS streamclient_schema (version integer NOT NULL)")
        cur = await conn.execute("SELECT COALESCE(max(version), 0) FROM streamclient_schema")
        (current,) = await cur.fetchone()
        if current > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the session ledger's schema is version {current}, newer than this streamclient knows "
                f"({SCHEMA_VERSION}): upgrade streamclient"
            )
        for version, sql in _MIGRATIONS:
            if version > current:
                await conn.execute(sql)
                await conn.execute("INSERT INTO streamclient_schema (version) VALUES (%s)", (version,))
                logger.info("session ledger schema migrated to version %d", version)
    return max(int(current), SCHEMA_VERSION)


def _finish(conn: Any) -> None:
    """Close an async connection without its loop (libpq's finish): the loop is gone, or the process is exiting."""
    if not conn.closed:
        conn.pgconn.finish()


def _migrate_sync(conn: Any) -> None:
    """:func:`_migrate` on a blocking connection (the heartbeat's, when the database was never reached before)."""
    with conn.transaction():
        conn.execute(_SCHEMA_LOCK)
        conn.execute("CREATE TABLE IF NOT EXISTS streamclient_schema (version integer NOT NULL)")
        (current,) = conn.execute("SELECT COALESCE(max(version), 0) FROM streamclient_schema").fetchone()
        for version, sql in _MIGRATIONS:
            if version > current:
                conn.execute(sql)
                conn.execute("INSERT INTO streamclient_schema (version) VALUES (%s)", (version,))


async def _arenew_if_lapsed(conn: Any, ledger: PostgresLedger) -> float | None:
    """In the caller's transaction: renew this process's lease if it lapsed; the seconds it had lapsed for."""
    cur = await conn.execute(
        "SELECT extract(epoch FROM now() - lease_until)::float8 FROM streamclient_owners WHERE owner_id = %s "
        "FOR UPDATE",
        (ledger.owner_id,),
    )
    row = await cur.fetchone()
    if row is None:
        await conn.execute(
            "INSERT INTO streamclient_owners (owner_id, host, pid, lease_seconds, lease_until) "
            "VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s))",
            (ledger.owner_id, ledger.host, ledger.pid, ledger.lease_seconds, ledger.lease_seconds),
        )
        return None
    if row[0] <= 0:
        return None
    await conn.execute(
        "UPDATE streamclient_owners SET lease_until = now() + make_interval(secs => lease_seconds), "
        "renewed_at = now(), lapses = lapses + 1 WHERE owner_id = %s",
        (ledger.owner_id,),
    )
    return float(row[0])


async def _atold(conn: Any, owner_id: str) -> list[LedgerEntry]:
    cur = await conn.execute(
        f"UPDATE streamclient_sessions s SET owner_told = true FROM streamclient_owners o "
        f"WHERE s.owner_id = %s AND o.owner_id = s.owner_id AND s.state = 'swept' AND NOT s.owner_told "
        f"RETURNING {_ENTRY_COLUMNS}",
        (owner_id,),
    )
    return [LedgerEntry(*r) for r in await cur.fetchall()]
