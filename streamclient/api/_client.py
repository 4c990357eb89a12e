"""``AsyncAkoolClient``: the REST client (configuration, resource namespaces, lifetime).

All request logic lives in ``_http.HttpCore``; the synchronous ``AkoolClient`` (``_sync.py``) runs this class in a
private event-loop thread instead of copying it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from functools import cached_property
from pathlib import Path
from types import TracebackType

import httpx

from streamclient.api._auth import resolve_auth
from streamclient.api._guard import MAX_OPEN_ENV, Budget, CreateGuard
from streamclient.api._http import DEFAULT_BASE_URL, HttpCore
from streamclient.api._retry import RetryPolicy
from streamclient.api.avatars import Avatars
from streamclient.api.knowledge import Knowledge
from streamclient.api.languages import Languages
from streamclient.api.sessions import Sessions
from streamclient.api.voices import Voices
from streamclient.errors import ConfigurationError
from streamclient.ledger import PostgresLedger, SessionLedger, resolve_ledger

__all__ = ("AsyncAkoolClient",)

logger = logging.getLogger(__name__)


class AsyncAkoolClient:
    """Asynchronous client of the AKOOL REST API.

    Use it as ``async with AsyncAkoolClient() as client: ...`` (or call ``aclose()``). Credentials come from the
    arguments or the environment (``AKOOL_API_KEY``, or ``AKOOL_CLIENT_ID`` + ``AKOOL_CLIENT_SECRET``); the base URL
    from ``base_url`` or ``AKOOL_BASE_URL`` (default ``https://openapi.akool.com``).

    Args:
        api_key: the API key (sent as ``x-api-key``).
        client_id: a client id, exchanged with ``client_secret`` for a bearer token (legacy scheme).
        client_secret: the client secret.
        base_url: the service's base URL.
        timeout: seconds for each HTTP request (connect, read, write, pool).
        retry: the retry policy (``RetryPolicy()`` by default).
        http_client: an ``httpx.AsyncClient`` to use (not closed by ``aclose``).
        transport: an ``httpx`` transport for the client this object creates (e.g. ``httpx.MockTransport``).
        ledger: where sessions are recorded (see ``streamclient.ledger``): a ``SessionLedger`` or a path; ``False``
            turns it off; ``None`` uses ``STREAMCLIENT_LEDGER`` or the user's state directory.
        max_open_sessions: refuse a create when this machine already has this many sessions that may be open on
            the service (default ``STREAMCLIENT_MAX_OPEN_SESSIONS``; needs the ledger).
        max_duration: refuse a create longer than this many seconds; a create without ``duration`` gets this one
            (default ``STREAMCLIENT_MAX_DURATION``).
        max_billed_seconds: refuse a create when the durations created within ``billed_window`` would pass this
            many seconds (default ``STREAMCLIENT_MAX_BILLED_SECONDS``; needs the ledger; fleet-wide on PostgreSQL).
        billed_window: that rolling window in seconds (default ``STREAMCLIENT_BILLED_WINDOW`` or a day).
        ledger_unavailable: ``"refuse"`` or ``"allow"`` a create when the ledger cannot be used (default
            ``STREAMCLIENT_LEDGER_UNAVAILABLE``, else refuse when a counted budget is set; see ``docs/fleet.md``).

    Raises:
        ConfigurationError: no credentials, a bad base URL, a non-positive timeout, or a bad budget limit.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ledger: SessionLedger | PostgresLedger | str | Path | bool | None = None,
        max_open_sessions: int | None = None,
        max_duration: int | None = None,
        max_billed_seconds: int | None = None,
        billed_window: int | None = None,
        ledger_unavailable: str | None = None,
    ) -> None:
        if http_client is not None and transport is not None:
            raise ConfigurationError("pass http_client or transport, not both")
        if not timeout > 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout!r}")
        auth = resolve_auth(api_key, client_id, client_secret)
        book = resolve_ledger(ledger)
        budget = Budget.resolve(max_open_sessions, max_duration, max_billed_seconds, billed_window, ledger_unavailable)
        if book is None and max_open_sessions is None and budget.max_open_sessions is not None:
            # From the environment, for every process; this client has no ledger to count with (the CLI's embedded
            # emulator, for one). Passed in code, the same contradiction is an error (CreateGuard).
            logger.info("%s is ignored by a client whose session ledger is off", MAX_OPEN_ENV)
            budget = dataclasses.replace(budget, max_open_sessions=None)
        if book is None and max_billed_seconds is None and budget.max_billed_seconds is not None:
            logger.info("STREAMCLIENT_MAX_BILLED_SECONDS is ignored by a client whose session ledger is off")
            budget = dataclasses.replace(budget, max_billed_seconds=None)
        self._guard = CreateGuard(book, budget, timeout=timeout)
        url = base_url or os.environ.get("AKOOL_BASE_URL") or DEFAULT_BASE_URL
        self._core = HttpCore(
            base_url=url,
            auth=auth,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            http_client=http_client,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"AsyncAkoolClient(base_url={self._core.base_url!r})"

    @property
    def base_url(self) -> str:
        """The base URL in use (no trailing slash)."""
        return self._core.base_url

    @property
    def ledger(self) -> SessionLedger | PostgresLedger | None:
        """The session ledger in use (``None``: off)."""
        return self._guard.ledger

    @cached_property
    def sessions(self) -> Sessions:
        """Live-avatar sessions: create, get, list, iter, close."""
        return Sessions(self._core, self._guard)

    @cached_property
    def avatars(self) -> Avatars:
        """Streaming avatars: list, iter, get, upload, wait_until_ready."""
        return Avatars(self._core)

    @cached_property
    def voices(self) -> Voices:
        """Voices: list."""
        return Voices(self._core)

    @cached_property
    def languages(self) -> Languages:
        """Languages: list."""
        return Languages(self._core)

    @cached_property
    def knowledge(self) -> Knowledge:
        """Knowledge bases: list, iter, create, get, update, delete."""
        return Knowledge(self._core)

    async def aclose(self) -> None:
        """Release the HTTP connections (an injected ``http_client`` stays open)."""
        await self._guard.aclose()
        await self._core.aclose()

    async def __aenter__(self) -> AsyncAkoolClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
