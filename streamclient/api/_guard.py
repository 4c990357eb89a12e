"""What surrounds every session create and close: the budget check, the session ledger, the in-flight record.

``Sessions.create`` runs inside :meth:`CreateGuard.creating` and ``Sessions.close`` inside
:meth:`CreateGuard.closing`; nothing here sends a request.

Budget (arguments of ``AsyncAkoolClient``, or the environment):

* ``max_open_sessions`` / ``STREAMCLIENT_MAX_OPEN_SESSIONS``: at most this many sessions that may be open on the
  service from this machine (SQLite ledger) or from the whole fleet (PostgreSQL ledger), counted through the ledger
  across processes (so it needs the ledger);
* ``max_duration`` / ``STREAMCLIENT_MAX_DURATION``: at most this many seconds per session; a create without a
  ``duration`` is sent with ``duration=max_duration`` (the service's own default is undocumented);
* ``max_billed_seconds`` / ``STREAMCLIENT_MAX_BILLED_SECONDS`` over ``billed_window`` /
  ``STREAMCLIENT_BILLED_WINDOW`` (seconds, default a day): the durations of the creates within the rolling window
  (AKOOL charges each whole duration up front) may not pass this many seconds (needs the ledger);
* ``ledger_unavailable`` / ``STREAMCLIENT_LEDGER_UNAVAILABLE``: ``refuse`` or ``allow`` a create when the ledger
  cannot be used (default: refuse when a counted budget is set, else allow with a warning).

A create past any fails with :class:`~streamclient.errors.BudgetExceededError` before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from streamclient import _inflight, telemetry
from streamclient.errors import (
    AkoolError,
    APIConnectionError,
    BudgetExceededError,
    ConfigurationError,
    InvalidArgumentError,
    LiveAvatarClosedError,
    SessionNotFoundError,
)
from streamclient.ledger import DEFAULT_BILLED_WINDOW, PostgresLedger, SessionLedger

__all__ = (
    "BILLED_WINDOW_ENV",
    "LEDGER_UNAVAILABLE_ENV",
    "MAX_BILLED_ENV",
    "MAX_DURATION_ENV",
    "MAX_OPEN_ENV",
    "Budget",
    "CreateGuard",
    "CreateTicket",
)

MAX_OPEN_ENV = "STREAMCLIENT_MAX_OPEN_SESSIONS"
MAX_DURATION_ENV = "STREAMCLIENT_MAX_DURATION"
MAX_BILLED_ENV = "STREAMCLIENT_MAX_BILLED_SECONDS"
BILLED_WINDOW_ENV = "STREAMCLIENT_BILLED_WINDOW"
LEDGER_UNAVAILABLE_ENV = "STREAMCLIENT_LEDGER_UNAVAILABLE"
_POLICIES = ("refuse", "allow")
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


def _policy(value: str | None) -> str | None:
    source = "ledger_unavailable"
    if value is None:
        value = os.environ.get(LEDGER_UNAVAILABLE_ENV, "").strip().lower() or None
        source = LEDGER_UNAVAILABLE_ENV
    if value is not None and value not in _POLICIES:
        raise ConfigurationError(f"{source} must be 'refuse' or 'allow', got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Budget:
    """Spending limits checked before a session create is sent (``None``: no limit).

    Attributes:
        max_open_sessions: sessions that may be billing at once (this machine's on SQLite, the fleet's on
            PostgreSQL).
        max_duration: seconds per session.
        max_billed_seconds: seconds charged (each create's whole duration) within the rolling ``billed_window``.
        billed_window: seconds of that window (default a day).
        ledger_unavailable: ``"refuse"`` or ``"allow"`` a create when the ledger cannot be used; ``None``: refuse
            when ``max_open_sessions`` or ``max_billed_seconds`` is set, else allow with a warning.
    """

    max_open_sessions: int | None = None
    max_duration: int | None = None
    max_billed_seconds: int | None = None
    billed_window: float = DEFAULT_BILLED_WINDOW
    ledger_unavailable: str | None = None

    @classmethod
    def resolve(
        cls,
        max_open_sessions: int | None,
        max_duration: int | None,
        max_billed_seconds: int | None = None,
        billed_window: int | None = None,
        ledger_unavailable: str | None = None,
    ) -> Budget:
        """Arguments first, then the environment.

        ``STREAMCLIENT_MAX_OPEN_SESSIONS``, ``STREAMCLIENT_MAX_DURATION``, ``STREAMCLIENT_MAX_BILLED_SECONDS``,
        ``STREAMCLIENT_BILLED_WINDOW``, ``STREAMCLIENT_LEDGER_UNAVAILABLE``.

        Raises:
            ConfigurationError: a limit is not a positive whole number (``max_duration`` at most 3600), or the
                policy is neither ``refuse`` nor ``allow``.
        """
        window = _limit("billed_window", billed_window, BILLED_WINDOW_ENV)
        return cls(
            max_open_sessions=_limit("max_open_sessions", max_open_sessions, MAX_OPEN_ENV),
            max_duration=_limit("max_duration", max_duration, MAX_DURATION_ENV, maximum=3600),
            max_billed_seconds=_limit("max_billed_seconds", max_billed_seconds, MAX_BILLED_ENV),
            billed_window=DEFAULT_BILLED_WINDOW if window is None else float(window),
            ledger_unavailable=_policy(ledger_unavailable),
        )


def _nothing_created(exc: BaseException) -> bool:
    """Whether a failed create provably created nothing (refused by the service, or never sent)."""
    if isinstance(exc, (AkoolError, InvalidArgumentError, BudgetExceededError, ConfigurationError)):
        return True
    return isinstance(exc, APIConnectionError) and isinstance(exc.__cause__, _NOT_SENT)


class CreateTicket:
    """Handed to the code inside :meth:`CreateGuard.creating`: report the new session's id with :meth:`created`."""

    def __init__(self, ledger: SessionLedger | PostgresLedger | None, row: int | str | None) -> None:
        self._ledger = ledger
        self._row = row
        self.session_id: str | None = None

    def created(self, session_id: str) -> None:
        """The create's answer arrived: the session is recorded on the way out of ``creating`` (even if cancelled)."""
        self.session_id = session_id
        _inflight.record_created(session_id)

    async def record(self) -> None:
        """Write the id to the ledger."""
        if self._ledger is not None and self._row is not None and self.session_id is not None:
            await _record(self._ledger, "record_created", self._row, self.session_id)


class CreateGuard:
    """The budget and the ledger of one client.

    Raises:
        ConfigurationError: ``max_open_sessions`` is set but the ledger is off.
    """

    def __init__(self, ledger: SessionLedger | PostgresLedger | None, budget: Budget, *, timeout: float) -> None:
        if budget.max_open_sessions is not None and ledger is None:
            raise ConfigurationError(
                "max_open_sessions counts sessions through the session ledger, which is off (STREAMCLIENT_LEDGER)"
            )
        if budget.max_billed_seconds is not None and ledger is None:
            raise ConfigurationError(
                "max_billed_seconds counts sessions through the session ledger, which is off (STREAMCLIENT_LEDGER)"
            )
        self.ledger = ledger
        self.budget = budget
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"CreateGuard({self.ledger!r}, {self.budget!r})"

    @telemetry.budget_refusals  # telemetry: refusals counted by limit
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

    @asynccontextmanager
    async def creating(self, base_url: str, body: dict[str, Any]) -> AsyncIterator[CreateTicket]:
        """Check the budget (may fill ``body["duration"]``), record the intent, then run the create.

        On the way out without an id the record becomes ``failed`` (nothing was created) or ``unknown``.

        Raises:
            BudgetExceededError: a limit would be passed; nothing was sent or recorded.
            LedgerUnavailableError: the ledger cannot be used and the unavailable-store policy refuses.
        """
        self._check_duration(body)
        row: int | str | None = None
        budget = self.budget
        if self.ledger is not None:
            intent: dict[str, Any] = {
                "base_url": base_url,
                "avatar_id": body.get("avatar_id"),
                "duration": body.get("duration"),
                "max_open": budget.max_open_sessions,
                "max_billed": budget.max_billed_seconds,
                "billed_window": budget.billed_window,
                "on_unavailable": budget.ledger_unavailable,
            }
            if isinstance(self.ledger, PostgresLedger):
                row = await self.ledger.record_intent(**intent)
            else:
                row = self.ledger.record_intent(**intent)
        ticket = CreateTicket(self.ledger, row)
        with _inflight.waiting_for("the answer to the create request", self._timeout):
            try:
                yield ticket
            except BaseException as exc:
                with anyio.CancelScope(shield=True), anyio.move_on_after(self._timeout):
                    if ticket.session_id is not None:  # created, then something else failed: still recorded
                        await ticket.record()
                    elif self.ledger is not None and row is not None:
                        outcome = "failed" if _nothing_created(exc) else "unknown"
                        await _record(self.ledger, "record_outcome", row, outcome)
                raise
            with anyio.CancelScope(shield=True), anyio.move_on_after(self._timeout):
                await ticket.record()

    @asynccontextmanager
    async def closing(self, base_url: str, session_id: str) -> AsyncIterator[None]:
        """Run a close; record the session closed if it succeeds or the service says it is closed or unknown."""
        with _inflight.waiting_for(f"the service to confirm the close of session {session_id}", self._timeout):
            try:
                yield
            except (LiveAvatarClosedError, SessionNotFoundError):
                await self._closed(base_url, session_id)
                raise
            await self._closed(base_url, session_id)

    async def _closed(self, base_url: str, session_id: str) -> None:
        _inflight.record_closed(session_id)
        if self.ledger is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(self._timeout):
                if isinstance(self.ledger, PostgresLedger):
                    await self.ledger.record_closed(session_id, base_url=base_url)
                else:
                    self.ledger.record_closed(session_id, base_url=base_url)

    async def aclose(self) -> None:
        """Close this event loop's connection to a PostgreSQL ledger (its lease goes on)."""
        if isinstance(self.ledger, PostgresLedger):
            await self.ledger.aclose()


async def _record(ledger: SessionLedger | PostgresLedger, method: str, *args: Any) -> None:
    """Call a ledger step: awaited on PostgreSQL, a short blocking transaction on SQLite."""
    result = getattr(ledger, method)(*args)
    if isinstance(ledger, PostgresLedger):
        await result
