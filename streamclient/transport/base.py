"""The transport interface: what the session needs from an RTC channel, and nothing about the REST API.

Every adapter (Agora, the emulator's room, the in-memory loopback pair) implements :class:`Transport`. A transport
moves opaque frames (``bytes``) and reports what happens in the channel as :data:`TransportEvent` values. It does
not parse frames: the codec does.

Contract for implementations:

* ``join``, ``send``, ``renew_token`` and ``leave`` take a ``timeout`` and raise
  :class:`~streamclient.errors.TransportTimeoutError` when it runs out.
* ``send`` takes exactly one frame of at most ``limits.max_message_bytes`` bytes; it never splits or merges.
* ``events()`` is a single-consumer async iterator; it ends (``StopAsyncIteration``) after ``leave`` or when the
  connection is lost for good. Buffering is bounded; the adapter documents its overflow policy.
* ``leave`` is idempotent, safe after a failed join, and safe to call while being cancelled.

A transport may also implement :class:`PushTransport`: the consumer then hands it two callbacks instead of
iterating ``events()``, and no task of the consumer's waits between events. With a thousand sessions in one
process this matters: a task parked in ``events()`` holds a chain of coroutines, an event, a future and its waiter
for as long as the channel is quiet (about a second), exactly the lifetime that survives the young garbage
collections and makes every older one traverse all of them (see "Garbage collection" in
``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias, runtime_checkable

from streamclient.errors import FrameTooLargeError, InvalidArgumentError

__all__ = (
    "ConnectionState",
    "ConnectionStateChanged",
    "FrameReceived",
    "JoinParams",
    "MessagesLost",
    "PeerJoined",
    "PeerLeft",
    "PushTransport",
    "SendFailed",
    "TokenExpired",
    "TokenWillExpire",
    "Transport",
    "TransportEndHandler",
    "TransportEvent",
    "TransportEventHandler",
    "TransportLimits",
    "check_frame",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinParams:
    """Where and as whom to join. The token is a secret: it is kept out of ``repr``."""

    app_id: str
    channel: str
    uid: str
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportLimits:
    """The channel's data-stream limits, which the session's pacer must respect.

    Defaults are Agora's conservative, documented figures: 1024 bytes per message, 6000 bytes/s and 30 messages/s
    (the official clients pace at 6000 B/s).
    """

    max_message_bytes: int = 1024
    bytes_per_second: int = 6000
    messages_per_second: int = 30


class ConnectionState(enum.IntEnum):
    """Connection states, numbered as Agora numbers them."""

    DISCONNECTED = 1  #: not connected (initial state, or after leave)
    CONNECTING = 2  #: join in progress
    CONNECTED = 3  #: in the channel
    RECONNECTING = 4  #: connection interrupted; the SDK is retrying
    FAILED = 5  #: gave up; the transport must be left


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """One data-stream message arrived from ``sender`` (the peer's uid)."""

    sender: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PeerJoined:
    """A remote participant (for AKOOL sessions: the avatar) joined the channel."""

    uid: str


@dataclass(frozen=True, slots=True)
class PeerLeft:
    """A remote participant left. ``reason``: 0 quit, 1 dropped, 2 became audience (Agora's numbering)."""

    uid: str
    reason: int = 0


@dataclass(frozen=True, slots=True)
class ConnectionStateChanged:
    """The connection moved to ``state``; ``reason`` is the SDK's reason code."""

    state: ConnectionState
    reason: int = 0


@dataclass(frozen=True, slots=True)
class TokenWillExpire:
    """The channel token expires soon (Agora: about 30 s); call ``renew_token``."""


@dataclass(frozen=True, slots=True)
class TokenExpired:
    """The channel token has expired; the connection will be dropped."""


@dataclass(frozen=True, slots=True)
class SendFailed:
    """A send that was accepted locally failed later (``code`` is the SDK's error code)."""

    code: int
    message: str = ""


@dataclass(frozen=True, slots=True)
class MessagesLost:
    """The SDK reported lost or late messages from ``sender`` (reliable streams only)."""

    sender: str
    code: int
    missed: int
    cached: int


TransportEvent: TypeAlias = (
    FrameReceived
    | PeerJoined
    | PeerLeft
    | ConnectionStateChanged
    | TokenWillExpire
    | TokenExpired
    | SendFailed
    | MessagesLost
)


def check_frame(data: object, *, max_bytes: int) -> bytes:
    """The checks every adapter's ``send`` makes before anything goes out; returns the frame as ``bytes``.

    Raises:
        InvalidArgumentError: ``data`` is not bytes-like, or is empty (Agora's SDK would silently send nothing).
        FrameTooLargeError: ``data`` is over ``max_bytes`` (code -114, as Agora reports it).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(f"a frame must be bytes, not {type(data).__name__}")
    payload = bytes(data)
    if not payload:
        raise InvalidArgumentError("refusing to send an empty frame (Agora's SDK would silently send nothing)")
    if len(payload) > max_bytes:
        raise FrameTooLargeError(f"the frame is {len(payload)} bytes; the limit is {max_bytes}", code=-114)
    return payload


@runtime_checkable
class Transport(Protocol):
    """An RTC channel that carries data-stream frames. See the module docstring for the contract."""

    @property
    def limits(self) -> TransportLimits:
        """The data-stream limits of this channel."""
        ...

    @property
    def local_uid(self) -> str | None:
        """Our uid in the channel once joined, else ``None``."""
        ...

    async def join(self, params: JoinParams, *, timeout: float = 15.0) -> None:
        """Join the channel and wait until connected.

        Raises:
            JoinError: the channel refused us (bad token, bad app id, ...).
            TransportTimeoutError: not connected within ``timeout`` seconds.
            TransportUnavailableError: the adapter's SDK cannot be loaded.
        """
        ...

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:
        """Send one frame.

        Raises:
            InvalidArgumentError: ``data`` is not bytes-like, or is empty.
            FrameTooLargeError: ``data`` is over ``limits.max_message_bytes``.
            SendRateLimitedError: the channel's rate limit was hit.
            SendError: any other refusal.
            TransportClosedError: not joined, or already left.
            TransportTimeoutError: the send did not complete in time.
        """
        ...

    def events(self) -> AsyncIterator[TransportEvent]:
        """The channel's events, for one consumer; ends after ``leave`` or a lost connection."""
        ...

    async def renew_token(self, token: str, *, timeout: float = 5.0) -> None:
        """Replace the channel token before it expires.

        Raises:
            TransportClosedError: not joined.
            TransportTimeoutError: not done in time.
        """
        ...

    async def leave(self, *, timeout: float = 5.0) -> None:
        """Leave the channel and free its resources. Idempotent; never raises on a second call."""
        ...


#: Called with each event of a :class:`PushTransport`.
TransportEventHandler: TypeAlias = Callable[[TransportEvent], None]
#: Called once when a :class:`PushTransport`'s events end: ``None`` where ``events()`` would stop, the error where it
#: would raise (:class:`~streamclient.errors.TransportOverflowError`).
TransportEndHandler: TypeAlias = Callable[["BaseException | None"], None]


@runtime_checkable
class PushTransport(Protocol):
    """A transport that can hand its events to callbacks instead of through ``events()``."""

    def push_events(self, on_event: TransportEventHandler, on_end: TransportEndHandler) -> None:
        """Deliver every event to ``on_event`` from now on, instead of through ``events()`` (use one or the other).

        Events already buffered are handed over first, in order. ``on_event`` is called on the event loop's thread,
        outside the consumer's tasks and never from inside one of its calls into the transport, one event at a
        time; it must not block and should not raise (an exception is logged and the event is lost). ``on_end`` is
        called once, after the last event, where ``events()`` would end (with ``None``) or raise (with the error).

        Raises:
            RuntimeError: ``events()`` or ``push_events`` was already called.
        """
        ...
