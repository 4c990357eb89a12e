"""Every exception streamclient raises, in one tree.

Nothing raw from httpx, pydantic or the Agora SDK leaves the package: foreign exceptions are translated at the
seam where they happen and chained with ``raise ... from exc``. Messages never contain secrets (API keys,
client secrets, bearer tokens, Agora tokens).

::

    StreamClientError
    ├── ConfigurationError                  bad or missing settings (no credentials, bad base URL); before any I/O
    ├── InvalidArgumentError (ValueError)    a caller's argument failed validation; nothing was sent
    ├── APIError                             the REST API failed (carries request method + URL, never headers)
    │   ├── APIConnectionError               no HTTP response at all (refused, reset, DNS)
    │   │   └── APITimeoutError
    │   ├── APIStatusError                   non-2xx HTTP status without an AKOOL error body
    │   ├── APIResponseError                 body is not JSON, not the AKOOL envelope, or fails the model
    │   └── AkoolError                       the body carried an AKOOL error ``code`` (!= 1000)
    │       └── one subclass per documented code family (see ``AKOOL_ERRORS``)
    ├── ProtocolError                        the v2 data-stream protocol (never instantiated directly)
    │   ├── LocalProtocolError               we were asked to send something illegal (empty text, oversize command)
    │   └── RemoteProtocolError              the peer sent something malformed (``reason`` says what)
    ├── TransportError                       joining or using the RTC channel
    │   ├── TransportUnavailableError        the adapter's native SDK/library is missing or unusable
    │   ├── JoinError                        join refused or failed (``reason`` from the SDK)
    │   ├── TransportTimeoutError            join/send/leave did not finish in time
    │   ├── SendError                        the SDK refused a frame (``code`` is the SDK's)
    │   │   ├── FrameTooLargeError           -114: over 1024 bytes
    │   │   └── SendRateLimitedError         -12 / -115: too many messages or bytes per second
    │   ├── TransportOverflowError           the receive buffer overflowed (policy: fail, never drop silently)
    │   └── TransportClosedError             used after leave or after the connection was lost
    └── SessionError                         the high-level avatar session
        ├── AvatarJoinTimeoutError           the avatar never joined the channel
        ├── CommandError                     a command was acked with a code != 1000
        ├── CommandTimeoutError              no ack arrived in time
        └── SessionClosedError               the session is closed (``reason`` says why)
"""

from __future__ import annotations

__all__ = (
    "AKOOL_ERRORS",
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AkoolError",
    "AvatarJoinTimeoutError",
    "CommandError",
    "CommandTimeoutError",
    "ConfigurationError",
    "FrameTooLargeError",
    "InvalidArgumentError",
    "JoinError",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "SendError",
    "SendRateLimitedError",
    "SessionClosedError",
    "SessionError",
    "StreamClientError",
    "TransportClosedError",
    "TransportError",
    "TransportOverflowError",
    "TransportTimeoutError",
    "TransportUnavailableError",
)


class StreamClientError(Exception):
    """Root of every error streamclient raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(StreamClientError):
    """Settings are missing or inconsistent (for example, no credentials are configured)."""


class InvalidArgumentError(StreamClientError, ValueError):
    """A caller's argument failed validation before anything was sent."""


# --------------------------------------------------------------------------------------------- REST API


class APIError(StreamClientError):
    """The REST API call failed.

    Attributes:
        method: HTTP method of the failed request (``None`` if no request was built).
        url: URL of the failed request, without credentials (they travel in headers, never in URLs).
        http_status: the HTTP status code, when a response arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.http_status = http_status


class APIConnectionError(APIError):
    """No HTTP response arrived: the connection was refused, reset or could not be opened."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(APIError):
    """The server answered with a non-2xx HTTP status and no AKOOL error body."""


class APIResponseError(APIError):
    """The body was not JSON, not the ``{code, msg, data}`` envelope, or did not match the model."""


class AkoolError(APIError):
    """The response body carried an AKOOL error code (anything but 1000).

    Attributes:
        code: the AKOOL error code from the body.
        msg: the message the service sent with it.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int,
        msg: str = "",
        method: str | None = None,
        url: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, http_status=http_status)
        self.code = code
        self.msg = msg


#: AKOOL error code -> the most specific ``AkoolError`` subclass. Filled in by ``streamclient.api``'s error
#: section below; unknown codes map to ``AkoolError`` itself.
AKOOL_ERRORS: dict[int, type[AkoolError]] = {}


# ----------------------------------------------------------------------------------------- v2 protocol


class ProtocolError(StreamClientError):
    """A v2 data-stream protocol error. Not raised directly: see the two subclasses."""

    def __init__(self, message: str) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract: raise LocalProtocolError or RemoteProtocolError")
        super().__init__(message)


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow (our side's mistake)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent a frame we cannot accept.

    Attributes:
        reason: a short machine-readable reason (for example ``"not_json"``, ``"bad_version"``).
        raw: the offending bytes (possibly truncated for memory safety).
    """

    def __init__(self, message: str, *, reason: str, raw: bytes = b"") -> None:
        super().__init__(message)
        self.reason = reason
        self.raw = raw


# ------------------------------------------------------------------------------------------- transport


class TransportError(StreamClientError):
    """Joining or using the RTC channel failed."""


class TransportUnavailableError(TransportError):
    """The adapter's native SDK or library is missing or cannot be loaded (the message says how to fix it)."""


class JoinError(TransportError):
    """Joining the channel was refused or failed.

    Attributes:
        reason: the SDK's reason code, when it gave one.
    """

    def __init__(self, message: str, *, reason: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class TransportTimeoutError(TransportError):
    """A join, send or leave did not complete within its timeout."""


class SendError(TransportError):
    """The transport refused to send a frame.

    Attributes:
        code: the SDK's error code (negative for Agora).
    """

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class FrameTooLargeError(SendError):
    """The frame exceeded the per-message size limit (Agora: 1024 bytes, code -114)."""


class SendRateLimitedError(SendError):
    """Too many messages (-12) or bytes (-115) per second: slow down and retry."""


class TransportOverflowError(TransportError):
    """The receive buffer overflowed because events were not consumed fast enough."""


class TransportClosedError(TransportError):
    """The transport was used after leaving, or the connection was lost."""


# --------------------------------------------------------------------------------------------- session


class SessionError(StreamClientError):
    """The high-level avatar session failed."""


class AvatarJoinTimeoutError(SessionError):
    """The avatar did not join the channel in time."""


class CommandError(SessionError):
    """A command was acknowledged with a failure code.

    Attributes:
        cmd: the command name (``set-params``, ``interrupt``, ``set-action``).
        code: the code from the ack (anything but 1000).
        msg: the message from the ack.
    """

    def __init__(self, message: str, *, cmd: str, code: int, msg: str) -> None:
        super().__init__(message)
        self.cmd = cmd
        self.code = code
        self.msg = msg


class CommandTimeoutError(SessionError):
    """No ack arrived for a command within its timeout."""


class SessionClosedError(SessionError):
    """The session is closed; ``reason`` says why (``"closed"``, ``"expired"``, ``"disconnected"``, ...)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
