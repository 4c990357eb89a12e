"""``LoopbackTransport``: an in-memory pair of connected transports, for unit tests of the session.

``LoopbackTransport.pair()`` returns two ends. ``join`` marks an end connected (it gets
``ConnectionStateChanged(CONNECTED)``) and, once both ends have joined, each sees ``PeerJoined`` for the other;
``send`` delivers ``FrameReceived`` to the peer (a frame sent while the peer is not in the channel is lost, as in a
real channel); ``leave`` gives the peer ``PeerLeft``. ``max_message_bytes`` is enforced like the Agora adapter does.

Optional seeded faults (:class:`LoopbackFaults`) apply to each direction independently: a frame may be dropped,
duplicated, or held back and delivered after the next frame (reordered). A held frame is flushed before the sender
leaves. Each end buffers events like the Agora adapter (same bounded buffer and overflow policy, see
:mod:`streamclient.transport._bridge`).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

from streamclient.errors import InvalidArgumentError, TransportClosedError
from streamclient.transport._bridge import DEFAULT_EVENT_CAPACITY, ThreadBridge
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    PeerJoined,
    PeerLeft,
    TransportEndHandler,
    TransportEvent,
    TransportEventHandler,
    TransportLimits,
    check_frame,
)

__all__ = ("LoopbackFaults", "LoopbackTransport")

_JOIN_SUCCESS = 1  # Agora's connection-changed reason for a successful join
_LEAVE_CHANNEL = 5  # Agora's connection-changed reason for leaving


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopbackFaults:
    """Per-frame fault probabilities (each in ``[0, 1]``) for both directions, reproducible from ``seed``."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        """Validate the probabilities."""
        for name in ("drop", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidArgumentError(f"LoopbackFaults.{name} must be within [0, 1], got {value!r}")


class _Direction:
    """Fault injection for the frames one end sends to the other."""

    def __init__(self, faults: LoopbackFaults | None, stream: int) -> None:
        self._faults = faults
        self._random = random.Random(f"{faults.seed}:{stream}") if faults is not None else None
        self._held: bytes | None = None

    def route(self, data: bytes) -> list[bytes]:
        """Return the frames to deliver now, in order, for one frame sent."""
        faults, rng = self._faults, self._random
        if faults is None or rng is None:
            return [data]
        if rng.random() < faults.drop:
            return self.flush()
        copies = [data, data] if rng.random() < faults.duplicate else [data]
        if self._held is None and rng.random() < faults.reorder:
            self._held = data
            return copies[1:]
        return copies + self.flush()

    def flush(self) -> list[bytes]:
        """Return the held-back frame, if any."""
        held, self._held = self._held, None
        return [held] if held is not None else []


class LoopbackTransport:
    """One end of an in-memory channel; implements :class:`~streamclient.transport.base.Transport`."""

    def __init__(
        self,
        *,
        limits: TransportLimits | None = None,
        faults: LoopbackFaults | None = None,
        direction: int = 0,
        event_capacity: int = DEFAULT_EVENT_CAPACITY,
    ) -> None:
        """Create an unconnected end; use :meth:`pair` to get two linked ends."""
        self._limits = limits if limits is not None else TransportLimits()
        self._bridge = ThreadBridge(capacity=event_capacity)
        self._outbound = _Direction(faults, direction)
        self._peer: LoopbackTransport | None = None
        self._uid: str | None = None
        self._joined = False
        self._left = False
        self.token_renewals = 0

    @classmethod
    def pair(
        cls,
        *,
        limits: TransportLimits | None = None,
        faults: LoopbackFaults | None = None,
        event_capacity: int = DEFAULT_EVENT_CAPACITY,
    ) -> tuple[LoopbackTransport, LoopbackTransport]:
        """Return two ends linked to each other (faults, if any, apply to each direction independently)."""
        first = cls(limits=limits, faults=faults, direction=0, event_capacity=event_capacity)
        second = cls(limits=limits, faults=faults, direction=1, event_capacity=event_capacity)
        first._peer, second._peer = second, first
        return first, second

    @property
    def limits(self) -> TransportLimits:
        """The data-stream limits this end enforces."""
        return self._limits

    @property
    def local_uid(self) -> str | None:
        """The uid this end joined with, else ``None``."""
        return self._uid if self._joined else None

    @property
    def connected(self) -> bool:
        """Whether this end has joined and not left."""
        return self._joined and not self._left

    def events(self) -> AsyncIterator[TransportEvent]:
        """This end's events, for one consumer; ends after ``leave``."""
        return self._bridge.events()

    def push_events(self, on_event: TransportEventHandler, on_end: TransportEndHandler) -> None:
        """Hand this end's events to callbacks instead (see :class:`~streamclient.transport.base.PushTransport`)."""
        self._bridge.push_to(on_event, on_end)

    def inject(self, event: TransportEvent) -> None:
        """Deliver ``event`` to this end's consumer as if the channel produced it (for tests)."""
        self._bridge.deliver(event)

    async def join(self, params: JoinParams, *, timeout: float = 15.0) -> None:  # noqa: ARG002
        """Join the in-memory channel (immediate).

        Raises:
            TransportClosedError: this end already joined or left.
        """
        if self._joined or self._left:
            raise TransportClosedError("a LoopbackTransport joins once")
        self._uid = params.uid
        self._joined = True
        self._bridge.deliver(ConnectionStateChanged(ConnectionState.CONNECTED, _JOIN_SUCCESS))
        peer = self._peer
        if peer is not None and peer.connected and peer._uid is not None:
            self._bridge.deliver(PeerJoined(peer._uid))
            peer._bridge.deliver(PeerJoined(params.uid))

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:  # noqa: ARG002
        """Send one frame to the peer (lost if the peer is not in the channel).

        Raises:
            InvalidArgumentError: ``data`` is not bytes-like, or is empty.
            FrameTooLargeError: ``data`` is over ``limits.max_message_bytes``.
            TransportClosedError: not joined, or already left.
        """
        payload = check_frame(data, max_bytes=self._limits.max_message_bytes)
        if not self.connected or self._bridge.closed:
            raise TransportClosedError("the transport is not joined (or has left)")
        self._deliver_to_peer(self._outbound.route(payload))

    def _deliver_to_peer(self, frames: list[bytes]) -> None:
        peer, uid = self._peer, self._uid
        if peer is None or uid is None or not peer.connected:
            return
        for frame in frames:
            peer._bridge.deliver(FrameReceived(uid, frame))

    async def renew_token(self, token: str, *, timeout: float = 5.0) -> None:  # noqa: ARG002
        """Accept a new token (counted in :attr:`token_renewals`).

        Raises:
            TransportClosedError: not joined.
        """
        if not self.connected:
            raise TransportClosedError("the transport is not joined (or has left)")
        self.token_renewals += 1

    async def leave(self, *, timeout: float = 5.0) -> None:  # noqa: ARG002
        """Leave: flush a held-back frame, tell the peer, end this end's events. Idempotent."""
        if self._left:
            return
        was_connected = self.connected
        self._left = True
        if was_connected and self._uid is not None:
            peer = self._peer
            if peer is not None and peer.connected:
                for frame in self._outbound.flush():
                    peer._bridge.deliver(FrameReceived(self._uid, frame))
                peer._bridge.deliver(PeerLeft(self._uid, 0))
            self._bridge.deliver(ConnectionStateChanged(ConnectionState.DISCONNECTED, _LEAVE_CHANNEL))
        self._bridge.close()
