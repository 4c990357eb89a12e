"""Who may call the emulator's REST side, and the failures a test scripts for it.

``getToken`` issues bearer tokens for the configured client id/secret; every other request carries one of them
(``Authorization: Bearer``, checked first, as AKOOL does) or the API key (``x-api-key``). Scripted faults
(``fail_next``/``delay_next``) are consumed by ``rest.py`` before the handler runs. The request log keeps method and
path only (no headers, no bodies).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streamclient.emulator.api_error import EmulatorApiError

__all__ = ("Access", "RestFault")


@dataclass
class RestFault:
    """A scripted REST failure or delay for requests whose path ends with ``path_suffix``."""

    path_suffix: str
    times: int
    code: int | None = None
    http_status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    #: delay the answer after the request was handled (the work is done, the reply is late) instead of before
    delay_after: bool = False


class Access:
    """The REST side's credentials, issued bearer tokens, request log and scripted faults.

    Args:
        api_key: the accepted ``x-api-key`` (generated if ``None``).
        client_id: the accepted ``clientId`` for ``getToken``.
        client_secret: the accepted ``clientSecret`` (generated if ``None``).
    """

    def __init__(self, *, api_key: str | None, client_id: str, client_secret: str | None) -> None:
        self.api_key: str = api_key or secrets.token_urlsafe(24)
        self.client_id = client_id
        self.client_secret: str = client_secret or secrets.token_urlsafe(24)
        self.tokens: set[str] = set()
        #: ``(method, path)`` of every REST request served, in order (no headers, no bodies).
        self.requests: list[tuple[str, str]] = []
        self._faults: list[RestFault] = []

    def __repr__(self) -> str:
        return f"Access(tokens={len(self.tokens)}, requests={len(self.requests)})"

    # ------------------------------------------------------------------------------------------ faults

    def fail_next(
        self,
        path_suffix: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``times`` requests to a path ending in ``path_suffix`` fail.

        Args:
            path_suffix: e.g. ``"session/create"``.
            code: answer this AKOOL code (HTTP ``http_status`` or 200).
            http_status: answer this HTTP status; without ``code`` the body is plain text, not the envelope.
            times: how many requests fail.
            retry_after: send ``Retry-After`` with this many seconds.
        """
        if code is None and http_status is None:
            raise ValueError("fail_next needs a code or an http_status")
        self._faults.append(RestFault(path_suffix, times, code, http_status, retry_after))

    def delay_next(self, path_suffix: str, seconds: float, *, times: int = 1, after: bool = False) -> None:
        """Delay the next ``times`` requests to a path ending in ``path_suffix`` by ``seconds``.

        Args:
            path_suffix: e.g. ``"session/create"``.
            seconds: how long.
            times: how many requests.
            after: handle the request first and delay only the answer (for example: the session is created, but
                the client times out before it learns the id).
        """
        self._faults.append(RestFault(path_suffix, times, delay=seconds, delay_after=after))

    def take_faults(self, path: str) -> list[RestFault]:
        """Consume and return the faults that apply to one request to ``path`` (used by ``rest.py``)."""
        hits = [f for f in self._faults if path.endswith(f.path_suffix) and f.times > 0]
        for fault in hits:
            fault.times -= 1
        self._faults = [f for f in self._faults if f.times > 0]
        return hits

    # ------------------------------------------------------------------------------------------------ auth

    def issue_token(self, client_id: Any, client_secret: Any) -> str:
        """``getToken``: a bearer token for the configured client id/secret, else 1101."""
        if not client_id or not client_secret:
            raise EmulatorApiError(1102, "Authorization cannot be empty")
        if not (
            secrets.compare_digest(str(client_id), self.client_id)
            and secrets.compare_digest(str(client_secret), self.client_secret)
        ):
            raise EmulatorApiError(1101, "Invalid authorization or The request token has expired")
        token = secrets.token_urlsafe(32)
        self.tokens.add(token)
        return token

    def revoke_tokens(self) -> None:
        """Expire every bearer token issued so far (the next use answers 1101)."""
        self.tokens.clear()

    def authenticate(self, headers: Mapping[str, str]) -> None:
        """Check a request's credentials: ``Authorization`` first (as AKOOL does), then ``x-api-key``."""
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and token in self.tokens:
                return
            raise EmulatorApiError(1101, "Invalid authorization or The request token has expired")
        key = headers.get("x-api-key")
        if not key:
            raise EmulatorApiError(1102, "Authorization cannot be empty")
        if not secrets.compare_digest(key, self.api_key):
            raise EmulatorApiError(1101, "Invalid authorization or The request token has expired")
