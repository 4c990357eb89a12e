"""What the codec reports upward: immutable events, one per thing that happened on the wire.

Wire names (``mid``, ``idx``, ``fin``) stay verbatim; ``source`` is ``pld.from`` (``"bot"``, ``"user"``, or ``None``
for chat sent by a client). :func:`event_to_dict` gives the JSON view used by ``streamclient frames decode`` and by
the golden vectors in ``protocol/vectors/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from streamclient.codec.frames import RawFrame
from streamclient.errors import RemoteProtocolError

__all__ = (
    "AvatarEvent",
    "ChatDelta",
    "ChatMessage",
    "CommandReceived",
    "CommandResult",
    "Event",
    "FrameRejected",
    "MessageDiscarded",
    "MessageExpired",
    "UnknownFrame",
    "event_to_dict",
    "frame_excerpt",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatDelta:
    """The next in-order chunk of a message that is still arriving (for live display); each chunk once."""

    sender: str
    source: str | None
    mid: str
    index: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    """A complete message (every chunk ``0..fin`` arrived); reported exactly once per message.

    ``unpaired_surrogates`` counts halves of surrogate pairs that found no partner (the sender split a pair and a
    half never arrived, or sent a lone one); each became U+FFFD in ``text``. Zero for a well-formed message.
    """

    sender: str
    source: str | None
    mid: str
    text: str
    chunks: int
    unpaired_surrogates: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageExpired:
    """A message stayed incomplete past its timeout (or at the end of input).

    ``received`` lists the chunk indexes that arrived; ``partial_text`` is the contiguous prefix from chunk 0 (what
    :class:`ChatDelta` events already showed). ``text`` is every character that arrived, in chunk order, with one
    ``"…"`` (``reassembly.GAP_MARKER``) wherever chunks are missing (also at the end when the last chunk never
    came); ``gaps`` holds the offsets of those markers in ``text``.
    """

    sender: str
    source: str | None
    mid: str
    received: tuple[int, ...]
    partial_text: str
    text: str = ""
    gaps: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDiscarded:
    """A message was dropped because it broke a reassembly bound or rule; ``reason`` says which (see README §6)."""

    sender: str
    source: str | None
    mid: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult:
    """An ack for a command. ``matched`` is true when it answers a command this endpoint sent."""

    sender: str
    mid: str | None
    cmd: str
    code: int
    msg: str
    matched: bool

    @property
    def ok(self) -> bool:
        """Whether the command succeeded (``code == 1000``)."""
        return self.code == 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandReceived:
    """A command frame without ``code``: a command for the avatar, or (on the client) the server's echo."""

    sender: str
    mid: str | None
    cmd: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class AvatarEvent:
    """An avatar event frame (``audio_start``, ``audio_end``, or any other name); ``payload`` is the whole ``pld``."""

    sender: str
    mid: str | None
    name: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownFrame:
    """A valid version-2 frame of an unknown ``type``, kept rather than dropped."""

    sender: str
    frame: RawFrame


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameRejected:
    """A datagram that could not be decoded; ``error.reason`` says why. ``raw`` is its first 256 bytes at most."""

    sender: str
    raw: bytes
    error: RemoteProtocolError


Event: TypeAlias = (
    ChatDelta
    | ChatMessage
    | MessageExpired
    | MessageDiscarded
    | CommandResult
    | CommandReceived
    | AvatarEvent
    | UnknownFrame
    | FrameRejected
)


def event_to_dict(event: Event) -> dict[str, Any]:
    """Return the JSON view of ``event`` (the ``streamclient frames decode`` output format).

    Args:
        event: any codec event.

    Returns:
        A JSON-ready dict whose ``"event"`` key names the kind: ``message``, ``delta``, ``incomplete``,
        ``discarded``, ``ack``, ``command``, ``avatar_event``, ``unknown`` or ``rejected``.
    """
    if isinstance(event, ChatMessage):
        out: dict[str, Any] = {"event": "message", "from": event.source, "mid": event.mid, "text": event.text}
        if event.unpaired_surrogates:
            out["unpaired_surrogates"] = event.unpaired_surrogates
        return out
    if isinstance(event, ChatDelta):
        return {"event": "delta", "from": event.source, "mid": event.mid, "idx": event.index, "text": event.text}
    if isinstance(event, MessageExpired):
        return {
            "event": "incomplete",
            "from": event.source,
            "mid": event.mid,
            "received": list(event.received),
            "partial_text": event.partial_text,
        }
    if isinstance(event, MessageDiscarded):
        return {"event": "discarded", "from": event.source, "mid": event.mid, "reason": event.reason}
    if isinstance(event, CommandResult):
        return {"event": "ack", "mid": event.mid, "cmd": event.cmd, "code": event.code, "msg": event.msg}
    if isinstance(event, CommandReceived):
        return {"event": "command", "mid": event.mid, "cmd": event.cmd, "data": dict(event.data)}
    if isinstance(event, AvatarEvent):
        return {"event": "avatar_event", "mid": event.mid, "name": event.name}
    if isinstance(event, UnknownFrame):
        return {"event": "unknown", "type": event.frame.type, "mid": event.frame.mid}
    return {"event": "rejected", "reason": event.error.reason}


def frame_excerpt(raw: bytes, limit: int = 80) -> str:
    """A short, printable excerpt of a received datagram, safe to log or show (for refused frames).

    Args:
        raw: the datagram (or its first bytes).
        limit: bytes kept at most.

    Returns:
        The first ``limit`` bytes as text (invalid UTF-8 replaced), control and other unprintable characters
        written as escapes, ``…`` appended when cut.
    """
    text = raw[:limit].decode("utf-8", "replace")
    safe = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return safe + "…" if len(raw) > limit else safe
