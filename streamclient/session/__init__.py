"""The high-level avatar session: create, join, talk, and always close."""

from __future__ import annotations

from streamclient.session._options import SessionOptions
from streamclient.session._session import AvatarSession, attach, connect
from streamclient.session.events import (
    AvatarJoined,
    AvatarLeft,
    BotMessage,
    BotTextDelta,
    CommandAcked,
    ConnectionChanged,
    EventsDropped,
    FrameDropped,
    MessageIncomplete,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMessage,
    SessionClosed,
    SessionEvent,
    SessionExpiring,
    SpeakingStarted,
    SpeakingStopped,
    UserTranscript,
)
from streamclient.session.room import AgoraRoom, ViewerToken
from streamclient.session.stats import SessionStats
from streamclient.session.turns import Turn, TurnResult, TurnTimings

__all__ = (
    "AgoraRoom",
    "AvatarJoined",
    "AvatarLeft",
    "AvatarSession",
    "BotMessage",
    "BotTextDelta",
    "CommandAcked",
    "ConnectionChanged",
    "EventsDropped",
    "FrameDropped",
    "MessageIncomplete",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantMessage",
    "SessionClosed",
    "SessionEvent",
    "SessionExpiring",
    "SessionOptions",
    "SessionStats",
    "SpeakingStarted",
    "SpeakingStopped",
    "Turn",
    "TurnResult",
    "TurnTimings",
    "UserTranscript",
    "ViewerToken",
    "attach",
    "connect",
)
