"""What an :class:`~streamclient.session.AvatarSession` reports to the application.

Every event is a frozen dataclass; consume them with ``match``::

    async for event in session.events():
        match event:
            case BotTextDelta(text=text):
                print(text, end="", flush=True)
            case SpeakingStopped():
                print()

Events carry Python names (``message_id``), not wire names (``mid``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = (
    "AvatarJoined",
    "AvatarLeft",
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
    "ReplyToOther",
    "SessionClosed",
    "SessionEvent",
    "SessionExpiring",
    "SpeakingStarted",
    "SpeakingStopped",
    "UserTranscript",
)


@dataclass(frozen=True, slots=True)
class BotTextDelta:
    """More of the avatar's reply text, in order (for live display)."""

    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class BotMessage:
    """A complete reply from the avatar (what it speaks).

    ``unpaired_surrogates``: halves of surrogate pairs that found no partner and became U+FFFD (0 normally).
    """

    message_id: str
    text: str
    unpaired_surrogates: int = 0


@dataclass(frozen=True, slots=True)
class UserTranscript:
    """Speech recognised from the user's audio (``from: "user"`` frames); ``final`` once the message completed.

    ``unpaired_surrogates`` as on :class:`BotMessage` (final transcripts only).
    """

    message_id: str
    text: str
    final: bool
    unpaired_surrogates: int = 0


@dataclass(frozen=True, slots=True)
class SpeakingStarted:
    """The avatar started speaking (``audio_start``)."""


@dataclass(frozen=True, slots=True)
class SpeakingStopped:
    """The avatar stopped speaking (``audio_end``)."""


@dataclass(frozen=True, slots=True)
class CommandAcked:
    """A command was acknowledged; ``code`` 1000 means success."""

    message_id: str
    command: str
    code: int
    message: str

    @property
    def ok(self) -> bool:
        """Whether the command succeeded."""
        return self.code == 1000


@dataclass(frozen=True, slots=True)
class AvatarJoined:
    """The avatar joined the channel."""

    uid: str


@dataclass(frozen=True, slots=True)
class AvatarLeft:
    """The avatar left the channel (``reason`` as the transport reports it)."""

    uid: str
    reason: int


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    """Someone other than the avatar and us joined the channel (a viewer, another bot)."""

    uid: str


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    """A participant other than the avatar left (``reason`` as the transport reports it)."""

    uid: str
    reason: int


@dataclass(frozen=True, slots=True)
class ParticipantMessage:
    """A chat message from a participant other than the avatar: kept apart, never taken for the avatar's reply.

    ``source`` is the frame's ``from`` (``"user"``, ``"bot"`` or ``None``); ``final`` once the message completed
    (earlier events carry its chunks as they arrive).
    """

    uid: str
    message_id: str
    text: str
    source: str | None
    final: bool


@dataclass(frozen=True, slots=True)
class ReplyToOther:
    """The avatar started a reply that is not ours: it answers someone else, so no turn of ours takes it.

    ``asked_by`` is the participant's uid whose chat message it answers, or ``"user"`` (the user's voice);
    ``request_mid`` that request's mid; ``reply_mid`` the reply's own (``None`` when the reply was seen by its
    ``audio_start`` only); ``rule`` the attribution rule that decided (docs/reply-attribution.md).
    """

    reply_mid: str | None
    asked_by: str | None
    request_mid: str | None
    rule: str


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The channel connection changed state (``state`` is a ConnectionState name, ``reason`` the SDK's code)."""

    state: str
    reason: int


@dataclass(frozen=True, slots=True)
class MessageIncomplete:
    """A chunked message never completed (chunks lost, or cut by an interrupt).

    ``partial_text`` is what arrived in order from the first chunk; ``text`` is every character that arrived, with
    ``"…"`` wherever chunks are missing, at the offsets in ``gaps``.
    """

    message_id: str
    source: str | None
    received: tuple[int, ...]
    partial_text: str
    text: str = ""
    gaps: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class FrameDropped:
    """A received frame was refused, or a message discarded; nothing is dropped silently.

    ``reason`` is the codec's reason string (``not_json``, ``bad_field``, ... or ``message <id> discarded: <why>``);
    ``excerpt`` the start of the refused frame, printable and at most 80 bytes (empty for a discarded message).
    Each one is also counted in ``SessionStats.frames_rejected`` (or ``messages_incomplete``) and logged.
    """

    reason: str
    excerpt: str = ""


@dataclass(frozen=True, slots=True)
class SessionExpiring:
    """The session's ``duration`` runs out in ``remaining`` seconds; it will then be closed."""

    remaining: float


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The session ended, for ``reason``.

    ``"closed"`` (by us), ``"cancelled"``, ``"error"`` (an exception left the ``async with`` block), ``"expired"``
    or ``"disconnected"``.
    """

    reason: str


@dataclass(frozen=True, slots=True)
class EventsDropped:
    """This consumer was too slow: ``count`` older events were discarded from its buffer (see ``events()``)."""

    count: int


SessionEvent: TypeAlias = (
    BotTextDelta
    | BotMessage
    | UserTranscript
    | SpeakingStarted
    | SpeakingStopped
    | CommandAcked
    | AvatarJoined
    | AvatarLeft
    | ParticipantJoined
    | ParticipantLeft
    | ParticipantMessage
    | ReplyToOther
    | ConnectionChanged
    | MessageIncomplete
    | FrameDropped
    | SessionExpiring
    | SessionClosed
    | EventsDropped
)
