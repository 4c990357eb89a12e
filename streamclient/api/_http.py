"""The one place that talks HTTP: builds requests, authenticates, retries, and translates every failure.

Invariants:

* nothing raw from httpx escapes: transport failures become ``APIConnectionError``/``APITimeoutError``, bodies are
  checked by ``_envelope.parse_envelope``;
* headers (credentials) are never logged or put into errors; URLs carry no credentials;
* a request marked ``idempotent=False`` is retried only if the failure proves it never left this process
  (``httpx.ConnectError``, ``ConnectTimeout``, ``PoolTimeout``): it may create and bill something (session create);
* a ``1101`` answer to a bearer-token request re-fetches the token once and repeats the request once: AKOOL rejects
  the credentials before doing any work, so the rejected request created nothing (this applies to create too).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from streamclient import telemetry
from streamclient._version import __version__
from streamclient.api._auth import TOKEN_PATH, Auth, TokenAuth
from streamclient.api._envelope import parse_envelope
from streamclient.api._retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after
from streamclient.errors import (
    AkoolError,
    APIConnectionError,
    APIError,
    APIResponseError,
    APITimeoutError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidTokenError,
)

__all__ = ("DEFAULT_BASE_URL", "HttpCore", "normalize_base_url")

logger = logging.getLogger(__name__)

#: The production service (§1.1).
DEFAULT_BASE_URL = "https://openapi.akool.com"

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

#: Seconds an idle pooled connection is kept for reuse (httpx's default is 5). Servers close idle keep-alive
#: connections after their own timeout, commonly 5 s (uvicorn, Node.js, Apache), counted from when they sent the
#: response; reusing a connection near that limit races the server's close, and the request then meets a reset
#: (a create that may have billed, never retried). 2 s leaves a margin for a busy client's late bookkeeping.
KEEPALIVE_EXPIRY = 2.0
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY)


def normalize_base_url(base_url: str) -> str:
    """Check and normalise a base URL (scheme http/https, a host, no trailing slash).

    Args:
        base_url: the configured base URL.

    Returns:
        The URL without a trailing slash.

    Raises:
        ConfigurationError: the URL is not an absolute http(s) URL.
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"base URL must be an absolute http(s) URL, got {base_url!r}")
    if parts.username or parts.password:
        raise ConfigurationError("base URL must not carry credentials")
    return base_url.strip().rstrip("/")


_ILLEGAL_HEADER = re.compile(r"""(Illegal header (?:value|name))\s+b?(['"])(?:\\.|(?!\2).)*\2""", re.IGNORECASE)


class _NoHeaderValues(logging.Filter):
    """Rewrites httpcore's DEBUG trace of a refused header ("Illegal header value b'...'"), which quotes the value."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        scrubbed = _ILLEGAL_HEADER.sub(r"\1 (not shown)", text)
        if scrubbed != text:
            record.msg, record.args = scrubbed, ()
        return True


for _name in ("httpcore.http11", "httpcore.http2", "httpcore.connection", "httpx"):
    logging.getLogger(_name).addFilter(_NoHeaderValues())


def _without_headers(text: str, request: httpx.Request) -> str:
    """``text`` with every request header value (credentials) replaced by ``***``, however it was quoted.

    httpx and h11 put the offending value into "Illegal header value b'...'" errors.
    """
    text = _ILLEGAL_HEADER.sub(r"\1 (not shown)", text)
    for value in request.headers.values():
        for form in {value, repr(value.encode("utf-8", "replace")), repr(value)[1:-1], value.strip()}:
            if len(form) >= 4 and form in text:
                text = text.replace(form, "***")
    if "header" in text.lower() and ("illegal" in text.lower() or "invalid" in text.lower()):
        return "a request header value is not allowed (not shown)"
    return text


class HttpCore:
    """Sends AKOOL requests: auth headers, the retry loop, error translation. Shared by every resource."""

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth,
        timeout: float,
        retry: RetryPolicy,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.auth = auth
        self.retry = retry
        self.timeout = timeout
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(transport=transport, timeout=timeout, limits=_LIMITS)

    def __repr__(self) -> str:
        return f"HttpCore(base_url={self.base_url!r}, auth={type(self.auth).__name__})"

    async def aclose(self) -> None:
        """Close the underlying httpx client if this object created it."""
        if self._owns_client:
            await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool,
        require_data: bool = True,
    ) -> Any:
        """Send one API call and return the envelope's ``data``.

        Args:
            method: HTTP method.
            path: path under the base URL.
            params: query parameters (``None`` values are dropped).
            json: JSON body.
            idempotent: whether repeating the call is harmless (see the module docstring).
            require_data: whether a successful body must carry ``data``; ``False`` for the calls whose documented
                success answer is a bare ``{"code": 1000, "msg": "OK"}`` (session close, knowledge delete).

        Returns:
            The ``data`` member of a successful envelope (``None`` when it is absent and not required).

        Raises:
            AkoolError: the service answered with an AKOOL error code.
            APIStatusError: non-2xx status without an AKOOL body.
            APIResponseError: the body is not the envelope.
            APIConnectionError: no response (``APITimeoutError`` for timeouts).
        """
        body = await self._call(
            method, path, params=params, json=json, idempotent=idempotent, authenticate=True, require_data=require_data
        )
        return body.get("data")

    async def _token_headers(self, auth: TokenAuth) -> tuple[dict[str, str], SecretStr]:
        async with auth.lock:
            if auth.token is None:
                body = await self._call(
                    "POST",
                    TOKEN_PATH,
                    params=None,
                    json=auth.token_body(),
                    idempotent=True,
                    authenticate=False,
                    require_data=False,
                )
                token = body.get("token")
                data = body.get("data")
                if not token and isinstance(data, dict):
                    token = data.get("token")
                if not isinstance(token, str) or not token:
                    raise APIResponseError(
                        f"POST {self.base_url}{TOKEN_PATH} returned no token",
                        method="POST",
                        url=self.base_url + TOKEN_PATH,
                    )
                if not re.fullmatch(r"[!-~]+", token):
                    raise APIResponseError(
                        f"POST {self.base_url}{TOKEN_PATH} returned a token that cannot be sent in a header "
                        "(a space, control or non-ASCII character; not shown)",
                        method="POST",
                        url=self.base_url + TOKEN_PATH,
                    )
                auth.token = SecretStr(token)
                logger.debug("fetched a bearer token")
            return {"Authorization": f"Bearer {auth.token.get_secret_value()}"}, auth.token

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        json: Any,
        idempotent: bool,
        authenticate: bool,
        require_data: bool,
    ) -> dict[str, Any]:
        policy = self.retry
        started = policy.clock()
        retries = 0
        refreshed = False
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.base_url + path
        while True:
            headers = {"User-Agent": f"streamclient/{__version__}", "Accept": "application/json"}
            used_token: SecretStr | None = None
            if authenticate:
                if isinstance(self.auth, TokenAuth):
                    auth_headers, used_token = await self._token_headers(self.auth)
                else:
                    auth_headers = self.auth.headers()
                headers.update(auth_headers)
            try:
                request = self._client.build_request(
                    method, url, params=query or None, json=json, headers=headers, timeout=self.timeout
                )
            except (TypeError, ValueError, httpx.InvalidURL) as encode_error:  # e.g. a datetime or NaN in extra_body
                unencodable = InvalidArgumentError(
                    f"{method} {url}: the request could not be encoded ({type(encode_error).__name__}); not sent"
                )
                if not isinstance(encode_error, UnicodeError):  # its args may hold a header value
                    raise unencodable from encode_error
                raise unencodable from None
            shown = str(request.url)
            retry_after: float | None = None
            try:
                error = await self._send_once(request, shown, idempotent=idempotent, require_data=require_data)
                if isinstance(error, dict):
                    return error
                exc, retryable, retry_after = error
            except InvalidTokenError:
                if isinstance(self.auth, TokenAuth) and authenticate and not refreshed:
                    refreshed = True
                    self.auth.invalidate(used_token)
                    logger.info("%s %s: token rejected (1101); fetching a new token and retrying once", method, shown)
                    continue
                raise
            if not retryable or retries >= policy.max_retries:
                raise exc
            delay = policy.delay(retries, retry_after)
            if policy.clock() - started + delay > policy.total_timeout:
                logger.info(
                    "%s %s: not retrying, the retry budget of %.1fs is spent", method, shown, policy.total_timeout
                )
                raise exc
            retries += 1
            telemetry.api_retry(method, exc)  # telemetry
            logger.info(
                "%s %s failed (%s); retry %d/%d in %.2fs",
                method,
                shown,
                type(exc).__name__,
                retries,
                policy.max_retries,
                delay,
            )
            await policy.sleep(delay)

    async def _send_once(
        self, request: httpx.Request, shown: str, *, idempotent: bool, require_data: bool
    ) -> dict[str, Any] | tuple[APIError, bool, float | None]:
        """Send once; return the body, or ``(error, retryable, retry_after)``; raise ``InvalidTokenError``.

        ``require_data`` is false for ``getToken`` (its token sits at the top level, §1.2) and for the calls whose
        documented success answer has no ``data`` (session close, knowledge delete).
        """
        method = request.method
        try:
            response = await self._client.send(request)
            content = await response.aread()
        except httpx.TimeoutException as exc:
            logger.debug("%s %s: timeout (%s)", method, shown, type(exc).__name__)
            error: APIError = APITimeoutError(
                f"{method} {shown} timed out ({type(exc).__name__})", method=method, url=shown
            )
            error.__cause__ = exc
            return error, idempotent or isinstance(exc, _NOT_SENT), None
        except httpx.LocalProtocolError as exc:  # refused by httpx/h11 before sending, e.g. an illegal header
            logger.debug("%s %s: not sent (%s)", method, shown, type(exc).__name__)
            detail = _without_headers(str(exc), request)
            refused = ConfigurationError(f"{method} {shown} was not sent: {detail}")
            raise refused from (exc if detail == str(exc) else None)
        except httpx.TransportError as exc:
            logger.debug("%s %s: connection failed (%s)", method, shown, type(exc).__name__)
            detail = _without_headers(str(exc), request)
            error = APIConnectionError(
                f"{method} {shown} failed: no response ({type(exc).__name__}: {detail})", method=method, url=shown
            )
            if detail == str(exc):  # else the cause's text holds a header value: do not chain it
                error.__cause__ = exc
            return error, idempotent or isinstance(exc, _NOT_SENT), None
        except httpx.HTTPError as exc:  # e.g. decoding errors: a response came, but not a usable one
            error = APIResponseError(
                f"{method} {shown}: unreadable response ({type(exc).__name__})", method=method, url=shown
            )
            error.__cause__ = exc
            return error, False, None
        status = response.status_code
        try:
            body = parse_envelope(status, content, method=method, url=shown, require_data=require_data)
        except InvalidTokenError:
            logger.debug("%s %s -> HTTP %d, AKOOL code 1101", method, shown, status)
            raise
        except APIError as exc:
            code = exc.code if isinstance(exc, AkoolError) else None
            logger.debug("%s %s -> HTTP %d, %s (code %s)", method, shown, status, type(exc).__name__, code)
            retryable = idempotent and (status in RETRYABLE_STATUSES or code in self.retry.retry_codes)
            return exc, retryable, parse_retry_after(response.headers.get("Retry-After"))
        logger.debug("%s %s -> HTTP %d, code 1000", method, shown, status)
        return body
