"""What surrounds every session create and close: the budget check, the session ledger, the in-flight record.

``Sessions.create`` runs inside :meth:`CreateGuard.creating` and ``Sessions.close`` inside
:meth:`CreateGuard.closing`; nothing here sends a request.

Budget (arguments of ``AsyncAkoolClient``, or the environment):

* ``max_open_sessions`` / ``STREAMCLIENT_MAX_OPEN_SESSIONS``: at most this many sessions that may be open on the
  service from this machine, counted through the ledger across processes (so it needs the ledger);
* ``max_duration`` / ``STREAMCLIENT_MAX_DURATION``: at most this many seconds per session; a create without a
  ``duration`` is sent with ``duration=max_duration`` (the service's own default is undocumented).

A create past either fails with :class:`~streamclient.errors.BudgetExceededError` before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from streamclient import _inflight
from streamclient.errors import (
    AkoolError,
    APIConnectionError,
    BudgetExceededError,
    ConfigurationError,
    InvalidArgumentError,
    LiveAvatarClosedError,
    SessionNotFoundError,
)
from streamclient.ledger import SessionLedger

__all__ = ("MAX_DURATION_ENV", "MAX_OPEN_ENV", "Budget", "CreateGuard", "CreateTicket")

MAX_OPEN_ENV = "STREAMCLIENT_MAX_OPEN_SESSIONS"
MAX_DURATION_ENV = "STREAMCLIENT_MAX_DURATION"
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _limit(name: str, value: int | None, env: str, maximum: int | None = None) -> int | None:
    source = name
    if value is None:
        raw = os.environ.get(env, "").strip()
        if not raw or raw.lower() in ("off", "none"):
            return None
        source = env
        try:
            value = int(raw)
        except ValueError:
            raise ConfigurationError(f"{env} must be a whole number, got {raw!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (maximum and value > maximum):
        bound = f"1..{maximum}" if maximum else "at least 1"
        raise ConfigurationError(f"{source} must be a whole number {bound}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Budget:
    """Spending limits checked before a session create is sent (``None``: no limit)."""

    max_open_sessions: int | None = None
    max_duration: int | None = None

    @classmethod
    def resolve(cls, max_open_sessions: int | None, max_duration: int | None) -> Budget:
        """Arguments first, then ``STREAMCLIENT_MAX_OPEN_SESSIONS`` / ``STREAMCLIENT_MAX_DURATION``.

        Raises:
            ConfigurationError: a limit is not a positive whole number (``max_duration`` at most 3600).
        """
        return cls(
            max_open_sessions=_limit("max_open_sessions", max_open_sessions, MAX_OPEN_ENV),
            max_duration=_limit("max_duration", max_duration, MAX_DURATION_ENV, maximum=3600),
        )


def _nothing_created(exc: BaseException) -> bool:
    """Whether a failed create provably created nothing (refused by the service, or never sent)."""
    if isinstance(exc, (AkoolError, InvalidArgumentError, BudgetExceededError, ConfigurationError)):
        return True
    return isinstance(exc, APIConnectionError) and isinstance(exc.__cause__, _NOT_SENT)


class CreateTicket:
    """Handed to the code inside :meth:`CreateGuard.creating`: report the new session's id with :meth:`created`."""

    def __init__(self, ledger: SessionLedger | None, row: int | None) -> None:
        self._ledger = ledger
        self._row = row
        self.session_id: str | None = None

    def created(self, session_id: str) -> None:
        """The create's answer arrived: record the session."""
        self.session_id = session_id
        _inflight.record_created(session_id)
        if self._ledger is not None and self._row is not None:
            self._ledger.record_created(self._row, session_id)


class CreateGuard:
    """The budget and the ledger of one client.

    Raises:
        ConfigurationError: ``max_open_sessions`` is set but the ledger is off.
    """

    def __init__(self, ledger: SessionLedger | None, budget: Budget, *, timeout: float) -> None:
        if budget.max_open_sessions is not None and ledger is None:
            raise ConfigurationError(
                "max_open_sessions counts sessions through the session ledger, which is off (STREAMCLIENT_LEDGER)"
            )
        self.ledger = ledger
        self.budget = budget
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"CreateGuard({self.ledger!r}, {self.budget!r})"

    def _check_duration(self, body: dict[str, Any]) -> None:
        limit = self.budget.max_duration
        if limit is None:
            return
        duration = body.get("duration")
        if duration is None:
            body["duration"] = limit
        elif duration > limit:
            raise BudgetExceededError(
                f"max_duration={limit} s: a session of {duration} s was refused; nothing was sent",
                limit="max_duration",
                maximum=limit,
                requested=float(duration),
            )

    @contextmanager
    def creating(self, base_url: str, body: dict[str, Any]) -> Iterator[CreateTicket]:
        """Check the budget (may fill ``body["duration"]``), record the intent, then run the create.

        On the way out without an id the record becomes ``failed`` (nothing was created) or ``unknown``.

        Raises:
            BudgetExceededError: a limit would be passed; nothing was sent or recorded.
        """
        self._check_duration(body)
        row = None
        if self.ledger is not None:
            row = self.ledger.record_intent(
                base_url=base_url,
                avatar_id=body.get("avatar_id"),
                duration=body.get("duration"),
                max_open=self.budget.max_open_sessions,
            )
        ticket = CreateTicket(self.ledger, row)
        with _inflight.waiting_for("the answer to the create request", self._timeout):
            try:
                yield ticket
            except BaseException as exc:
                if self.ledger is not None and row is not None and ticket.session_id is None:
                    self.ledger.record_outcome(row, "failed" if _nothing_created(exc) else "unknown")
                raise

    @contextmanager
    def closing(self, base_url: str, session_id: str) -> Iterator[None]:
        """Run a close; record the session closed if it succeeds or the service says it is closed or unknown."""
        with _inflight.waiting_for(f"the service to confirm the close of session {session_id}", self._timeout):
            try:
                yield
            except (LiveAvatarClosedError, SessionNotFoundError):
                self._closed(base_url, session_id)
                raise
            self._closed(base_url, session_id)

    def _closed(self, base_url: str, session_id: str) -> None:
        _inflight.record_closed(session_id)
        if self.ledger is not None:
            self.ledger.record_closed(session_id, base_url=base_url)
