"""RTC transports: the interface the session uses, and the adapters that implement it."""

from __future__ import annotations

from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    MessagesLost,
    PeerJoined,
    PeerLeft,
    SendFailed,
    TokenExpired,
    TokenWillExpire,
    Transport,
    TransportEvent,
    TransportLimits,
)

__all__ = (
    "ConnectionState",
    "ConnectionStateChanged",
    "FrameReceived",
    "JoinParams",
    "MessagesLost",
    "PeerJoined",
    "PeerLeft",
    "SendFailed",
    "TokenExpired",
    "TokenWillExpire",
    "Transport",
    "TransportEvent",
    "TransportLimits",
)
