"""Every exception streamclient raises, in one tree.

Nothing raw from httpx, pydantic or the Agora SDK leaves the package: foreign exceptions are translated at the
seam where they happen and chained with ``raise ... from exc``. Messages never contain secrets (API keys,
client secrets, bearer tokens, Agora tokens).

::

    StreamClientError
    ├── ConfigurationError                  bad or missing settings (no credentials, bad base URL); before any I/O
    │   └── LedgerUnavailableError           the session ledger cannot be used and its policy refuses; nothing sent
    ├── InvalidArgumentError (ValueError)    a caller's argument failed validation; nothing was sent
    │   ├── UnknownArgumentError (TypeError)  a misspelt keyword argument (``suggestion``: the closest known one)
    │   └── LocalProtocolError                (also a ProtocolError, below) something illegal to send: empty text
    ├── BudgetExceededError                  a create would pass max_open_sessions / max_duration; nothing sent
    ├── AgoraTokenError (ValueError)         an Agora token is malformed or fails a check (``reason``: Agora's code)
    ├── APIError                             the REST API failed (carries request method + URL, never headers)
    │   ├── APIConnectionError               no HTTP response at all (refused, reset, DNS)
    │   │   └── APITimeoutError
    │   ├── APIStatusError                   non-2xx HTTP status without an AKOOL error body
    │   ├── APIResponseError                 body is not JSON, not the AKOOL envelope, or fails the model
    │   │   └── AvatarStatusUnavailableError an avatar upload's status record has no status
    │   └── AkoolError                       the body carried an AKOOL error ``code`` (!= 1000)
    │       ├── InvalidParameterError        1003   (codes: see ``AKOOL_ERRORS``; unknown ones stay AkoolError)
    │       ├── VerificationRequiredError    1004
    │       ├── FrequentOperationError       1005
    │       ├── InsufficientQuotaError       1006 1104
    │       ├── ContentNotFoundError         1008 1014
    │       ├── PermissionDeniedError        1009
    │       ├── ContentStateError            1010 1011
    │       ├── MediaProcessingError         1007 1013 1015-1017 1105 1108 1110-1112 1201-1212
    │       ├── InvalidTokenError            1101
    │       ├── MissingTokenError            1102
    │       ├── PaymentRequiredError         1103
    │       ├── AccountNotFoundError         1109
    │       ├── AccountBlockedError          1200
    │       ├── SubscriptionRequiredError    1213 1221
    │       ├── SessionBusyError             1214 1215
    │       ├── SessionNotFoundError         1216
    │       ├── LiveAvatarProcessingError    1217 1218
    │       ├── LiveAvatarClosedError        1219
    │       ├── AvatarUploadError            1220 1223
    │       ├── ResourceExistsError          1222
    │       ├── KnowledgeBaseNotFoundError   1232
    │       ├── KnowledgeBaseExistsError     1233
    │       └── KnowledgeBaseError           1234 1235 1236
    ├── ProtocolError                        the v2 data-stream protocol (never instantiated directly)
    │   ├── LocalProtocolError               we were asked to send something illegal (also an InvalidArgumentError)
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
        ├── JoinTokenMissingError            the session's credentials carry no token (detail/list answers)
        ├── AvatarJoinTimeoutError           the avatar never joined the channel
        ├── CommandError                     a command was acked with a code != 1000
        ├── CommandTimeoutError              no ack arrived in time
        ├── ReplyTimeoutError                a turn got no (complete) reply in time
        └── SessionClosedError               the session is closed (``reason`` says why)
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

__all__ = (
    "AKOOL_ERRORS",
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AccountBlockedError",
    "AccountNotFoundError",
    "AgoraTokenError",
    "AkoolError",
    "AvatarJoinTimeoutError",
    "AvatarStatusUnavailableError",
    "AvatarUploadError",
    "BudgetExceededError",
    "CommandError",
    "CommandTimeoutError",
    "ConfigurationError",
    "ContentNotFoundError",
    "ContentStateError",
    "FrameTooLargeError",
    "FrequentOperationError",
    "InsufficientQuotaError",
    "InvalidArgumentError",
    "InvalidParameterError",
    "InvalidTokenError",
    "JoinError",
    "JoinTokenMissingError",
    "KnowledgeBaseError",
    "KnowledgeBaseExistsError",
    "KnowledgeBaseNotFoundError",
    "LedgerUnavailableError",
    "LiveAvatarClosedError",
    "LiveAvatarProcessingError",
    "LocalProtocolError",
    "MediaProcessingError",
    "MissingTokenError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "ProtocolError",
    "RemoteProtocolError",
    "ReplyTimeoutError",
    "ResourceExistsError",
    "SendError",
    "SendRateLimitedError",
    "SessionBusyError",
    "SessionClosedError",
    "SessionError",
    "SessionNotFoundError",
    "StreamClientError",
    "SubscriptionRequiredError",
    "TransportClosedError",
    "TransportError",
    "TransportOverflowError",
    "TransportTimeoutError",
    "TransportUnavailableError",
    "UnknownArgumentError",
    "VerificationRequiredError",
)


class StreamClientError(Exception):
    """Root of every error streamclient raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(StreamClientError):
    """Settings are missing or inconsistent (for example, no credentials are configured)."""


class LedgerUnavailableError(ConfigurationError):
    """The session ledger cannot be reached or written, and its policy refuses to create unrecorded sessions.

    The default when a budget is set (``max_open_sessions``, ``max_billed_seconds``): a budget that cannot be
    counted is not enforced by guessing. Nothing was sent.
    """


class InvalidArgumentError(StreamClientError, ValueError):
    """A caller's argument failed validation before anything was sent.

    One family for every such mistake: a bad value (``ValueError``), a misspelt keyword
    (:class:`UnknownArgumentError`, also a ``TypeError``), something the protocol cannot send such as empty text
    (:class:`LocalProtocolError`). ``except InvalidArgumentError`` catches them all.
    """


class UnknownArgumentError(InvalidArgumentError, TypeError):
    """A keyword argument the function does not take (a ``TypeError``, as Python's own, and an invalid argument).

    Attributes:
        name: the unknown keyword.
        suggestion: the closest known keyword, or ``None``.
    """

    def __init__(self, function: str, name: str, known: Iterable[str]) -> None:
        names = sorted(known)
        close = difflib.get_close_matches(name, names, n=1)
        self.name = name
        self.suggestion: str | None = close[0] if close else None
        hint = f"did you mean {self.suggestion!r}?" if self.suggestion else f"expected one of {', '.join(names)}"
        super().__init__(f"{function}() got an unknown argument {name!r}: {hint}")


P = ParamSpec("P")
R = TypeVar("R")


def keywords_checked(func: Callable[P, R]) -> Callable[P, R]:
    """Make a misspelt keyword argument raise :class:`UnknownArgumentError` (naming it, with a suggestion).

    For functions with explicit parameters: type checkers see the same signature.
    """
    parameters = inspect.signature(func).parameters.values()
    names = frozenset(p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))

    @functools.wraps(func)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        for name in kwargs:
            if name not in names:
                raise UnknownArgumentError(func.__name__, name, names - {"self"})
        return func(*args, **kwargs)

    return checked


class BudgetExceededError(StreamClientError):
    """A session create was refused before the network: it would pass a budget limit.

    Attributes:
        limit: the limit's name, ``"max_open_sessions"`` or ``"max_duration"``.
        maximum: the limit's value.
        requested: what the create would have reached (open sessions, or seconds of duration).
    """

    def __init__(self, message: str, *, limit: str, maximum: float, requested: float) -> None:
        super().__init__(message)
        self.limit = limit
        self.maximum = maximum
        self.requested = requested


class AgoraTokenError(StreamClientError, ValueError):
    """An Agora access token is malformed, or fails a check (signature, app id, channel, uid, expiry).

    Attributes:
        reason: Agora's connection-change reason for the refusal: 8 invalid token, 9 expired, 6 invalid app id.
    """

    def __init__(self, message: str, *, reason: int = 8) -> None:
        super().__init__(message)
        self.reason = reason


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


class AvatarStatusUnavailableError(APIResponseError):
    """The documented status source of an avatar upload (``GET /api/open/v3/avatar/detail?id=``) gave no status.

    Raised at once instead of polling until the timeout: waiting cannot make a missing field appear.
    """


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


class InvalidParameterError(AkoolError):
    """A parameter was missing or invalid (1003)."""


class VerificationRequiredError(AkoolError):
    """The account requires verification first (1004)."""


class FrequentOperationError(AkoolError):
    """Too many operations in a short time (1005): slow down."""


class InsufficientQuotaError(AkoolError):
    """The quota or credit balance is insufficient (1006, 1104)."""


class ContentNotFoundError(AkoolError):
    """The requested content or resource does not exist (1008, 1014)."""


class PermissionDeniedError(AkoolError):
    """The account may not perform this operation (1009)."""


class ContentStateError(AkoolError):
    """The content cannot be operated, or was already operated (1010, 1011)."""


class MediaProcessingError(AkoolError):
    """Audio, video, image, voice or avatar media could not be processed.

    Codes 1007, 1013, 1015-1017, 1105, 1108, 1110-1112 and 1201-1212.
    """


class InvalidTokenError(AkoolError):
    """The credentials were rejected: illegal, invalid or expired token or API key (1101)."""


class MissingTokenError(AkoolError):
    """No credentials reached the service (1102)."""


class PaymentRequiredError(AkoolError):
    """The account has not paid or payment is overdue (1103)."""


class AccountNotFoundError(AkoolError):
    """The account does not exist (1109)."""


class AccountBlockedError(AkoolError):
    """The account has been blocked (1200)."""


class SubscriptionRequiredError(AkoolError):
    """The operation needs a subscription (1213, 1221)."""


class SessionBusyError(AkoolError):
    """The live avatar is still processing or busy (1214, 1215): try again later."""


class SessionNotFoundError(AkoolError):
    """The live avatar session does not exist (1216)."""


class LiveAvatarProcessingError(AkoolError):
    """The live avatar failed on the service side (1217 callback error, 1218 processing error)."""


class LiveAvatarClosedError(AkoolError):
    """The live avatar session is already closed (1219)."""


class AvatarUploadError(AkoolError):
    """Uploading a streaming avatar failed or exceeded the limit (1220, 1223)."""


class ResourceExistsError(AkoolError):
    """The resource already exists (1222)."""


class KnowledgeBaseNotFoundError(AkoolError):
    """The knowledge base does not exist (1232)."""


class KnowledgeBaseExistsError(AkoolError):
    """A knowledge base with that name already exists (1233)."""


class KnowledgeBaseError(AkoolError):
    """Creating, updating or reading a knowledge base failed (1234, 1235, 1236)."""


#: AKOOL error code -> the most specific ``AkoolError`` subclass (akool-api-and-protocol.md §4). Unknown codes map
#: to ``AkoolError`` itself (see ``streamclient.api``'s envelope parser).
AKOOL_ERRORS: dict[int, type[AkoolError]] = {
    1003: InvalidParameterError,
    1004: VerificationRequiredError,
    1005: FrequentOperationError,
    1006: InsufficientQuotaError,
    1104: InsufficientQuotaError,
    1008: ContentNotFoundError,
    1014: ContentNotFoundError,
    1009: PermissionDeniedError,
    1010: ContentStateError,
    1011: ContentStateError,
    1007: MediaProcessingError,
    1013: MediaProcessingError,
    1015: MediaProcessingError,
    1016: MediaProcessingError,
    1017: MediaProcessingError,
    1105: MediaProcessingError,
    1108: MediaProcessingError,
    1110: MediaProcessingError,
    1111: MediaProcessingError,
    1112: MediaProcessingError,
    1201: MediaProcessingError,
    1202: MediaProcessingError,
    1203: MediaProcessingError,
    1204: MediaProcessingError,
    1205: MediaProcessingError,
    1206: MediaProcessingError,
    1207: MediaProcessingError,
    1208: MediaProcessingError,
    1209: MediaProcessingError,
    1210: MediaProcessingError,
    1211: MediaProcessingError,
    1212: MediaProcessingError,
    1101: InvalidTokenError,
    1102: MissingTokenError,
    1103: PaymentRequiredError,
    1109: AccountNotFoundError,
    1200: AccountBlockedError,
    1213: SubscriptionRequiredError,
    1221: SubscriptionRequiredError,
    1214: SessionBusyError,
    1215: SessionBusyError,
    1216: SessionNotFoundError,
    1217: LiveAvatarProcessingError,
    1218: LiveAvatarProcessingError,
    1219: LiveAvatarClosedError,
    1220: AvatarUploadError,
    1223: AvatarUploadError,
    1222: ResourceExistsError,
    1232: KnowledgeBaseNotFoundError,
    1233: KnowledgeBaseExistsError,
    1234: KnowledgeBaseError,
    1235: KnowledgeBaseError,
    1236: KnowledgeBaseError,
}


# ----------------------------------------------------------------------------------------- v2 protocol


class ProtocolError(StreamClientError):
    """A v2 data-stream protocol error. Not raised directly: see the two subclasses."""

    def __init__(self, message: str) -> None:
        if type(self) is ProtocolError:
            raise TypeError("ProtocolError is abstract: raise LocalProtocolError or RemoteProtocolError")
        super().__init__(message)


class LocalProtocolError(ProtocolError, InvalidArgumentError):
    """We were asked to send something the protocol does not allow (our side's mistake; an invalid argument)."""


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


class JoinTokenMissingError(SessionError):
    """The session's credentials carry no token to join its channel with.

    Session detail and list answers may leave the token out (the older docs' examples do): only the create answer
    carries it. Join with the ``Session`` that ``sessions.create`` returned (``connect()`` does).
    """


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


class ReplyTimeoutError(SessionError):
    """A turn did not get its reply within the timeout."""


class SessionClosedError(SessionError):
    """The session is closed; ``reason`` says why (``"closed"``, ``"expired"``, ``"disconnected"``, ...)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
