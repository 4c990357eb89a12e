"""The session ledger: a record of every session this client creates, so that none is forgotten while it bills.

AKOOL pre-charges a session for its whole ``duration`` the moment it is created, and has no idempotency key. So each
create is recorded in three steps:

1. the *intent*, written **before** the request is sent (state ``creating``);
2. the session id and expiry when the answer arrives (``open``), or ``failed`` when the service refused (nothing was
   created), or ``unknown`` when the answer was lost (the request may have created a session whose id we never
   learnt);
3. the close, when it succeeds (``closed``).

Two stores keep it:

* :class:`SessionLedger`, a SQLite file next to the process (the zero-configuration default): owners are told apart
  by pid, process start time and host, so it is right for one machine;
* :class:`PostgresLedger`, a PostgreSQL database shared by a fleet of workers on many machines (the ``postgres``
  extra): owners hold *leases* renewed by a heartbeat, every liveness decision uses the database's clock, and the
  budget is counted fleet-wide. See ``docs/fleet.md``.

Where: ``STREAMCLIENT_LEDGER`` if set (a path; a ``postgresql://`` URL; or ``off`` to turn the ledger off), else
``$XDG_STATE_HOME/streamclient/ledger.sqlite3`` (default ``~/.local/state/streamclient/ledger.sqlite3``).
"""

from __future__ import annotations

import os
from pathlib import Path

from streamclient.ledger._postgres import (
    FLEET_HOST_ENV,
    LEASE_ENV,
    SCHEMA_VERSION,
    PostgresLedger,
    is_postgres_url,
    postgres_ledger,
)
from streamclient.ledger._sqlite import (
    DEFAULT_BILLED_WINDOW,
    LEDGER_ENV,
    LONGEST_SESSION,
    OPEN_STATES,
    LedgerEntry,
    SessionLedger,
    default_ledger_path,
    owner_alive,
)

__all__ = (
    "DEFAULT_BILLED_WINDOW",
    "FLEET_HOST_ENV",
    "LEASE_ENV",
    "LEDGER_ENV",
    "LONGEST_SESSION",
    "OPEN_STATES",
    "SCHEMA_VERSION",
    "AnyLedger",
    "LedgerEntry",
    "PostgresLedger",
    "SessionLedger",
    "default_ledger_path",
    "owner_alive",
    "resolve_ledger",
)

#: Either store.
AnyLedger = SessionLedger | PostgresLedger

_OFF = frozenset({"off", "0", "false", "no", "none", "disabled"})


def resolve_ledger(
    ledger: SessionLedger | PostgresLedger | str | os.PathLike[str] | bool | None = None,
) -> SessionLedger | PostgresLedger | None:
    """The ledger to use.

    Args:
        ledger: a ledger, a path, a ``postgresql://`` URL, ``False`` (off), or ``None``/``True`` for
            ``STREAMCLIENT_LEDGER`` or the default path (``STREAMCLIENT_LEDGER=off`` turns it off).

    Returns:
        The ledger, or ``None`` when it is off. A PostgreSQL URL gives this process's one ledger for that database
        (one owner lease per process and database).
    """
    if isinstance(ledger, (SessionLedger, PostgresLedger)):
        return ledger
    if ledger is False:
        return None
    if ledger is None or ledger is True:
        configured = os.environ.get(LEDGER_ENV, "").strip()
        if configured.lower() in _OFF and configured:
            return None
        if is_postgres_url(configured):
            return postgres_ledger(configured)
        return SessionLedger(Path(configured).expanduser() if configured else default_ledger_path())
    if isinstance(ledger, str) and is_postgres_url(ledger):
        return postgres_ledger(ledger)
    return SessionLedger(Path(ledger).expanduser())
