"""The session ledger: a local record of every session this client creates, so that none is forgotten while it bills.

AKOOL pre-charges a session for its whole ``duration`` the moment it is created, and has no idempotency key. So each
create is recorded in three steps in a small SQLite file (stdlib ``sqlite3``, WAL mode, one short transaction per
step, safe for many processes at once):

1. the *intent*, written **before** the request is sent (state ``creating``);
2. the session id and expiry when the answer arrives (``open``), or ``failed`` when the service refused (nothing was
   created), or ``unknown`` when the answer was lost (the request may have created a session whose id we never
   learnt);
3. the close, when it succeeds (``closed``).

Each record carries the pid, process start time and host of its owner, so :func:`streamclient.api.sweep` (and
``streamclient sessions sweep``) can tell a session whose process is gone (``kill -9``, a crash, a power cut) from
one still in use.

Where: ``STREAMCLIENT_LEDGER`` if set (a path, or ``off`` to turn the ledger off), else
``$XDG_STATE_HOME/streamclient/ledger.sqlite3`` (default ``~/.local/state/streamclient/ledger.sqlite3``). A ledger
that cannot be written never stops a session: the failure is logged once as a warning.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streamclient import telemetry
from streamclient.errors import BudgetExceededError, LedgerUnavailableError

__all__ = (
    "LEDGER_ENV",
    "LONGEST_SESSION",
    "OPEN_STATES",
    "LedgerEntry",
    "SessionLedger",
    "default_ledger_path",
    "owner_alive",
)

logger = logging.getLogger(__name__)

#: The environment variable that moves the ledger (a path) or turns it off (``off``).
LEDGER_ENV = "STREAMCLIENT_LEDGER"
#: States of a record that may still be billing.
OPEN_STATES = ("creating", "open", "unknown", "detached")
#: A session's longest life (AKOOL's maximum ``duration``): a record without a known expiry is assumed to bill so long.
LONGEST_SESSION = 3600.0
#: The default rolling window of a billed-seconds budget: a day.
DEFAULT_BILLED_WINDOW = 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    row INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT,
    state TEXT NOT NULL,
    base_url TEXT NOT NULL,
    avatar_id TEXT,
    duration REAL,
    intent_at REAL NOT NULL,
    created_at REAL,
    expires_at REAL,
    closed_at REAL,
    pid INTEGER NOT NULL,
    pid_started TEXT,
    host TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_open ON sessions (state, base_url);
CREATE INDEX IF NOT EXISTS sessions_id ON sessions (session_id);
"""
_OPEN_ON = f"SELECT * FROM sessions WHERE state IN {OPEN_STATES!r} AND base_url = ? AND host = ?"


def check_billed(
    spent: float, duration: float | None, max_billed: float, window: float, base_url: str, where: str
) -> None:
    """Refuse a create that would pass a billed-seconds budget (a create without a duration counts as 3600 s).

    Raises:
        BudgetExceededError: ``spent`` plus this create's duration passes ``max_billed``.
    """
    wanted = spent + (duration or LONGEST_SESSION)
    if wanted > max_billed:
        raise BudgetExceededError(
            f"max_billed_seconds={max_billed:g} over {window:g} s reached: {spent:g} s already charged on {base_url} "
            f"{where}, this create would make it {wanted:g} s; nothing was sent",
            limit="max_billed_seconds",
            maximum=max_billed,
            requested=wanted,
        )


def default_ledger_path() -> Path:
    """``$XDG_STATE_HOME/streamclient/ledger.sqlite3``, or ``~/.local/state/streamclient/ledger.sqlite3``."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "streamclient" / "ledger.sqlite3"


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) < 20:
        return None
    return "zombie" if fields[0] in ("Z", "X") else fields[19]


def owner_alive(pid: int, pid_started: str | None, host: str) -> bool | None:
    """Whether the process that owns a record still runs: ``None`` if it ran on another host (cannot tell)."""
    if host != socket.gethostname():
        return None
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        pass
    except OSError:
        return None
    started = _process_start(pid)
    if started == "zombie":
        return False
    return not (pid_started is not None and started is not None and started != pid_started)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One recorded create. Times are Unix timestamps (seconds).

    Attributes:
        row: the record's number.
        session_id: the session id, ``None`` until the answer arrived (or if it never did).
        state: ``creating``, ``open``, ``unknown``, ``detached`` (left open on purpose by its creator, such as
            ``streamclient sessions create``: never reported as an orphan), ``failed``, ``closed``, ``expired`` or
            ``swept``.
        base_url: the service the session was created on.
        avatar_id: the avatar.
        duration: the requested duration in seconds (``None``: the service's default).
        intent_at: when the create was about to be sent.
        created_at: when the answer arrived.
        expires_at: when the session ends by itself (``created_at + duration``).
        closed_at: when it was closed.
        pid: the owner's process id.
        pid_started: the owner's start time (Linux), to tell a reused pid apart.
        host: the owner's host name.
        owner_id: the owner's lease (PostgreSQL ledger only; ``None`` in SQLite, where the pid decides).
        lease_alive: whether that lease was live by the database's clock when the record was read.
        reason: why the record ended, when a sweeper ended it (PostgreSQL ledger).
    """

    row: int
    session_id: str | None
    state: str
    base_url: str
    avatar_id: str | None
    duration: float | None
    intent_at: float
    created_at: float | None
    expires_at: float | None
    closed_at: float | None
    pid: int
    pid_started: str | None
    host: str
    owner_id: str | None = None
    lease_alive: bool | None = None
    reason: str | None = None

    def owner_alive(self) -> bool | None:
        """Whether the owner still runs: its lease (PostgreSQL), else its pid (``None``: another host, cannot tell)."""
        if self.owner_id is not None:
            return self.lease_alive
        return owner_alive(self.pid, self.pid_started, self.host)

    def ends_at(self) -> float:
        """When the session ends by itself at the latest (a missing duration counts as the maximum, 3600 s)."""
        if self.expires_at is not None:
            return self.expires_at
        return (self.created_at or self.intent_at) + (self.duration or LONGEST_SESSION)

    def billed(self, now: float | None = None) -> float | None:
        """Seconds of the session used so far (``None`` if it was never confirmed created)."""
        if self.created_at is None:
            return None
        now = time.time() if now is None else now
        return max(0.0, min(now, self.ends_at()) - self.created_at)

    def remaining(self, now: float | None = None) -> float:
        """Seconds until the session ends by itself."""
        return max(0.0, self.ends_at() - (time.time() if now is None else now))

    def owner(self) -> str:
        """``pid 123 on host`` (with the lease's state in a fleet), for people."""
        if self.owner_id is not None:
            return f"pid {self.pid} on {self.host} (lease {'live' if self.lease_alive else 'lapsed'})"
        return f"pid {self.pid} on {self.host}"


class SessionLedger:
    """The SQLite file of recorded sessions (see the module docstring). Every method is one short transaction.

    Writes never raise: a ledger that cannot be written logs a warning (once) and the session goes ahead.

    Args:
        path: the SQLite file (created with its directory, mode 0700, on first use).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._ready = False
        self._warned = False

    def __repr__(self) -> str:
        return f"SessionLedger({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            if not self._ready:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                self._ready = True
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _write(self, sql: str, params: tuple[object, ...]) -> int | None:
        try:
            with self._connect() as conn:
                return conn.execute(sql, params).lastrowid
        except (sqlite3.Error, OSError) as exc:
            self._warn(exc)
            return None

    def _warn(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("the session ledger %s cannot be written (%s): sessions are not recorded", self, exc)
        else:
            logger.debug("session ledger write failed: %s", exc)

    # ------------------------------------------------------------------------------------------ the three steps

    @telemetry.budget_refusals  # telemetry: refusals counted by limit
    def record_intent(
        self,
        *,
        base_url: str,
        avatar_id: str | None,
        duration: float | None,
        max_open: int | None = None,
        max_billed: float | None = None,
        billed_window: float = DEFAULT_BILLED_WINDOW,
        on_unavailable: str | None = None,
    ) -> int | None:
        """Record that a create is about to be sent; returns the record's number (``None``: not recorded).

        Args:
            base_url: the service.
            avatar_id: the avatar.
            duration: the requested duration (``None``: the service's default).
            max_open: refuse, in the same transaction, if this host already has this many sessions that may be
                open on ``base_url`` (whatever process owns them: a crashed process's session still bills).
            max_billed: refuse if the durations of this host's creates on ``base_url`` within the last
                ``billed_window`` seconds, plus this one, would pass this many seconds (AKOOL charges the duration
                up front; a create without one counts as 3600 s).
            billed_window: the rolling window of ``max_billed``, in seconds.
            on_unavailable: ``"refuse"`` or ``"allow"`` when the ledger cannot be used; ``None``: refuse when a
                limit is set, else allow (with a warning).

        Raises:
            BudgetExceededError: a limit is reached; nothing was recorded.
            LedgerUnavailableError: the ledger cannot be used and the policy refuses.
        """
        pid, host, now = os.getpid(), socket.gethostname(), time.time()
        try:
            with self._connect() as conn:
                if max_open is not None:
                    open_here, gone = 0, 0
                    for entry in (LedgerEntry(*row) for row in conn.execute(_OPEN_ON, (base_url, host))):
                        if entry.ends_at() > now:
                            open_here += 1
                            gone += entry.owner_alive() is False
                    if open_here >= max_open:
                        hint = f" ({gone} of them by processes that are gone: run `streamclient sessions sweep`)"
                        raise BudgetExceededError(
                            f"max_open_sessions={max_open} reached: {open_here} sessions may be open on {base_url} "
                            f"from this machine{hint if gone else ''}; nothing was sent",
                            limit="max_open_sessions",
                            maximum=max_open,
                            requested=open_here + 1,
                        )
                if max_billed is not None:
                    (spent,) = conn.execute(
                        f"SELECT COALESCE(SUM(COALESCE(duration, {LONGEST_SESSION})), 0) FROM sessions "
                        "WHERE base_url = ? AND host = ? AND state != 'failed' AND intent_at > ?",
                        (base_url, host, now - billed_window),
                    ).fetchone()
                    check_billed(float(spent), duration, max_billed, billed_window, base_url, "from this machine")
                return conn.execute(
                    "INSERT INTO sessions (state, base_url, avatar_id, duration, intent_at, pid, pid_started, host) "
                    "VALUES ('creating', ?, ?, ?, ?, ?, ?, ?)",
                    (base_url, avatar_id, duration, now, pid, _process_start(pid), host),
                ).lastrowid
        except (sqlite3.Error, OSError) as exc:
            limited = max_open is not None or max_billed is not None
            if on_unavailable == "refuse" or (on_unavailable is None and limited):
                what = "a session budget is set" if limited else "STREAMCLIENT_LEDGER_UNAVAILABLE=refuse"
                raise LedgerUnavailableError(
                    f"{what} but the session ledger {self.path} cannot be used ({exc}); nothing was sent"
                ) from None
            self._warn(exc)
            return None

    def record_created(self, row: int, session_id: str) -> None:
        """Record the answer: the session exists, with this id."""
        now = time.time()
        self._write(
            "UPDATE sessions SET state = 'open', session_id = ?, created_at = ?, "
            f"expires_at = ? + COALESCE(duration, {LONGEST_SESSION}) WHERE row = ?",
            (session_id, now, now, row),
        )

    def record_detached(self, session_id: str, *, base_url: str) -> None:
        """Record that ``session_id`` stays open after its creator exits, on purpose (not an orphan to warn about)."""
        self._write(
            "UPDATE sessions SET state = 'detached' WHERE session_id = ? AND base_url = ? AND state = 'open'",
            (session_id, base_url),
        )

    def record_outcome(self, row: int, state: str) -> None:
        """Record a create that ended without an id: ``failed`` (nothing was created) or ``unknown``."""
        self._write("UPDATE sessions SET state = ? WHERE row = ? AND state = 'creating'", (state, row))

    def record_closed(self, session_id: str, *, base_url: str, state: str = "closed") -> None:
        """Record that ``session_id`` is closed (or ended: ``expired``, ``swept``)."""
        self._write(
            f"UPDATE sessions SET state = ?, closed_at = ? WHERE session_id = ? AND base_url = ? AND state IN "
            f"{OPEN_STATES!r}",
            (state, time.time(), session_id, base_url),
        )

    def resolve_unknown(self, *, base_url: str, before: float) -> None:
        """Mark the creates on ``base_url`` whose answer was lost before ``before`` as resolved (``swept``)."""
        self._write(
            "UPDATE sessions SET state = 'swept', closed_at = ? WHERE base_url = ? AND session_id IS NULL "
            "AND state IN ('creating', 'unknown') AND intent_at < ?",
            (time.time(), base_url, before),
        )

    # ------------------------------------------------------------------------------------------ queries

    def open_entries(self, base_url: str | None = None) -> list[LedgerEntry]:
        """Records that may still be billing (not closed, not past their end), oldest first.

        Args:
            base_url: only those on this service.

        Raises:
            sqlite3.Error: the ledger cannot be read.
            OSError: the ledger's directory cannot be created.
        """
        now = time.time()
        sql = f"SELECT * FROM sessions WHERE state IN {OPEN_STATES!r}"
        params: tuple[object, ...] = ()
        if base_url is not None:
            sql += " AND base_url = ?"
            params = (base_url,)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY row", params).fetchall()
            entries = [LedgerEntry(*row) for row in rows]
            ended = [e.row for e in entries if e.ends_at() <= now]
            conn.executemany(
                "UPDATE sessions SET state = 'expired', closed_at = ? WHERE row = ?", [(now, r) for r in ended]
            )
        return [e for e in entries if e.row not in ended]

    def orphans(self, base_url: str | None = None) -> list[LedgerEntry]:
        """Open records whose owner process is gone (on this host), except detached ones; unreadable: none."""
        try:
            entries = self.open_entries(base_url)
        except (sqlite3.Error, OSError) as exc:
            logger.debug("session ledger unreadable: %s", exc)
            return []
        return [e for e in entries if e.state != "detached" and e.owner_alive() is False]
