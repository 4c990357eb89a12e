"""The high-level avatar session: create, join, talk, and always close."""

from __future__ import annotations

from streamclient.session._connect import attach, connect
from streamclient.session._options import CommandParams, CreateOptions, SessionOptions
from streamclient.session._sentences import SentenceSegmenter
from streamclient.session._session import AvatarSession
from streamclient.session._speech import StreamTurn
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
    ReplyToOther,
    SessionClosed,
    SessionEvent,
    SessionExpiring,
    SpeakingStarted,
    SpeakingStopped,
    UserTranscript,
)
from streamclient.session.room import AgoraRoom, ViewerToken
from streamclient.session.signals import SignalStop, close_on_signals
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
    "CommandParams",
    "ConnectionChanged",
    "CreateOptions",
    "EventsDropped",
    "FrameDropped",
    "MessageIncomplete",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantMessage",
    "ReplyToOther",
    "SentenceSegmenter",
    "SessionClosed",
    "SessionEvent",
    "SessionExpiring",
    "SessionOptions",
    "SessionStats",
    "SignalStop",
    "SpeakingStarted",
    "SpeakingStopped",
    "StreamTurn",
    "Turn",
    "TurnResult",
    "TurnTimings",
    "UserTranscript",
    "ViewerToken",
    "attach",
    "close_on_signals",
    "connect",
)
