"""RTC transports: the interface the session uses, and the adapters that implement it."""

from __future__ import annotations

from streamclient.transport.agora import AgoraTransport
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    MessagesLost,
    PeerJoined,
    PeerLeft,
    PushTransport,
    SendFailed,
    TokenExpired,
    TokenWillExpire,
    Transport,
    TransportEndHandler,
    TransportEvent,
    TransportEventHandler,
    TransportLimits,
    check_frame,
)
from streamclient.transport.loopback import LoopbackFaults, LoopbackTransport

__all__ = (
    "AgoraTransport",
    "ConnectionState",
    "ConnectionStateChanged",
    "FrameReceived",
    "JoinParams",
    "LoopbackFaults",
    "LoopbackTransport",
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
