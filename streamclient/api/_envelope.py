"""The AKOOL envelope ``{code, msg, data}``: parse a response or raise the typed error (one place, §1.1 and §4).

Pure: takes the HTTP status, the headers that matter and the body bytes; never touches the network. HTTP status
codes are not documented by AKOOL (errors travel in the body ``code``), so a body code wins over the HTTP status.
"""

from __future__ import annotations

import json
from typing import Any

from streamclient.errors import AKOOL_ERRORS, AkoolError, APIError, APIResponseError, APIStatusError

__all__ = ("SUCCESS", "error_for_code", "parse_envelope")

#: The body ``code`` of a successful call.
SUCCESS = 1000

_MAX_MSG = 300


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MSG else text[:_MAX_MSG] + "..."


def error_for_code(code: int, msg: str, *, method: str, url: str, http_status: int | None) -> AkoolError:
    """Build the most specific ``AkoolError`` for an AKOOL body code.

    Args:
        code: the body ``code`` (not 1000).
        msg: the body ``msg``.
        method: HTTP method of the request.
        url: URL of the request (no credentials: those travel in headers).
        http_status: the HTTP status of the response.

    Returns:
        An instance of ``AKOOL_ERRORS[code]``, or of ``AkoolError`` for unknown codes.
    """
    cls = AKOOL_ERRORS.get(code, AkoolError)
    text = f"{method} {url} failed with AKOOL code {code}: {_clip(msg) or '(no message)'}"
    return cls(text, code=code, msg=msg, method=method, url=url, http_status=http_status)


def parse_envelope(status: int, body: bytes, *, method: str, url: str, require_data: bool = True) -> dict[str, Any]:
    """Check one AKOOL response and return its decoded body.

    Args:
        status: the HTTP status code.
        body: the raw body.
        method: HTTP method of the request (for errors).
        url: URL of the request (for errors).
        require_data: whether a successful body must carry ``data`` (``getToken`` does not).

    Returns:
        The whole decoded body (a dict with ``code`` == 1000).

    Raises:
        AkoolError: the body carried a code other than 1000 (the subclass for that code).
        APIStatusError: non-2xx HTTP status and no AKOOL error body.
        APIResponseError: 2xx but the body is not JSON or not the envelope.
    """
    try:
        decoded: Any = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: hostile nesting depth
        decoded = None
        decode_failed = True
    else:
        decode_failed = False
    code = decoded.get("code") if isinstance(decoded, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and code != SUCCESS:
        msg = decoded.get("msg") if isinstance(decoded, dict) else None
        raise error_for_code(code, msg if isinstance(msg, str) else "", method=method, url=url, http_status=status)
    if not 200 <= status < 300:
        raise APIStatusError(f"{method} {url} failed with HTTP {status}", method=method, url=url, http_status=status)
    if decode_failed or decoded is None:
        raise APIResponseError(
            f"{method} {url} returned a body that is not JSON (HTTP {status})",
            method=method,
            url=url,
            http_status=status,
        )
    if not isinstance(decoded, dict) or code != SUCCESS:
        raise APIResponseError(
            f"{method} {url} returned JSON that is not the AKOOL {{code, msg, data}} envelope",
            method=method,
            url=url,
            http_status=status,
        )
    if require_data and "data" not in decoded:
        raise APIResponseError(
            f"{method} {url} returned code 1000 without 'data'", method=method, url=url, http_status=status
        )
    return decoded


def response_error(message: str, *, method: str, url: str, http_status: int | None, cause: Exception) -> APIError:
    """An ``APIResponseError`` for a body that failed its model (the pydantic error stays chained, not in text).

    Args:
        message: what was expected.
        method: HTTP method of the request.
        url: URL of the request.
        http_status: the HTTP status of the response.
        cause: the validation error (only its error count goes into the message; values could be secret).

    Returns:
        The error to raise ``from cause``.
    """
    count = getattr(cause, "error_count", lambda: 1)()
    return APIResponseError(
        f"{method} {url}: the response did not match {message} ({count} validation error(s))",
        method=method,
        url=url,
        http_status=http_status,
    )
