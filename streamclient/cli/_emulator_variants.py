"""The documented variants ``streamclient emulator`` can run in: choices and help texts naming their doc source.

Each choice maps onto a field of :class:`~streamclient.emulator.EmulatorConfig` or of its
:class:`~streamclient.emulator.shapes.ResponseShapes`; the first member of every enum is the default.
"""

from __future__ import annotations

from enum import Enum

__all__ = (
    "HELP",
    "ROOM_LIMITS",
    "KnowledgeListShape",
    "ReplyMid",
    "RoomLimits",
    "SessionListKey",
    "TokenLocation",
    "TrtcNames",
    "UploadAnswer",
    "describe_variants",
)


class SessionListKey(str, Enum):
    """Item key of the session list answer."""

    result = "result"  # OpenAPI file
    data = "data"  # seed document


class TokenLocation(str, Enum):
    """Where ``getToken`` puts the token."""

    top = "top"  # authentication page
    data = "data"  # SDK best-practice snippet


class KnowledgeListShape(str, Enum):
    """The knowledge list's ``data``."""

    array = "array"  # knowledge-base page
    knowledge_list = "knowledge_list"  # official demo reads data.knowledge_list


class UploadAnswer(str, Enum):
    """Avatar upload ``data``."""

    object = "object"  # OpenAPI file
    array = "array"  # avatar page


class TrtcNames(str, Enum):
    """TRTC credential names in session answers."""

    trtc = "trtc"  # implementation guide, demo
    trtc_sdk = "trtc_sdk"  # OpenAPI Credentials


class ReplyMid(str, Enum):
    """The mid of the avatar's reply."""

    request = "request"  # the docs' examples: the reply reuses the chat's mid
    fresh = "fresh"  # undocumented alternative: a new mid per reply


class RoomLimits(str, Enum):
    """Per-sender data-stream limits of every room."""

    agora = "agora"  # what Agora enforces: 30 KB/s (30720 B/s), 60 messages/s; over 6 KB/s is reported
    guide = "guide"  # AKOOL's implementation guide, enforced: 6 KB/s (6000 B/s), 30 messages/s
    agora_4x = "agora-4x"  # the earlier name of "agora"


#: bytes per second and messages per second of each room-limit preset.
ROOM_LIMITS: dict[RoomLimits, tuple[int, int]] = {
    RoomLimits.agora: (30720, 60),
    RoomLimits.guide: (6000, 30),
    RoomLimits.agora_4x: (30720, 60),
}

HELP = {
    "close_with_data": "Close answers carry data {session_id, status, closed_at} (close-session page sample) "
    "instead of a bare {code, msg} (OpenAPI file).",
    "session_list_key": "Item key of the session list: result (OpenAPI file) or data (seed document).",
    "token_location": "Where getToken puts the token: top (authentication page) or data (SDK best-practice snippet).",
    "knowledge_list_shape": "Knowledge list data: a bare array (knowledge-base page) or an object "
    "{count, knowledge_list} (official demo).",
    "tokens_in_detail": "Session detail and list answers carry the RTC token too (older docs' examples omit it).",
    "upload_answer": "Avatar upload data: object (OpenAPI file) or a one-element array (avatar page).",
    "trtc_names": "TRTC credential names: trtc_* (implementation guide, demo) or trtc_sdk_* (OpenAPI Credentials).",
    "reply_mid": "Mid of the avatar's reply: request (reuses the chat's mid, as the docs' examples) or fresh "
    "(a new mid; whether AKOOL reuses it is undocumented).",
    "room_limits": "Per-sender room limits: agora (what the Agora 4.x SDK refuses: 30720 B/s, 60 msg/s; traffic "
    "over the implementation guide's 6 KB/s is logged and counted) or guide (the implementation guide enforced: "
    "6000 B/s, 30 msg/s); agora-4x is another name of agora.",
    "room_bytes_per_second": "Per-sender bytes per second of a room (overrides --room-limits).",
    "room_messages_per_second": "Per-sender messages per second of a room (overrides --room-limits).",
}


def describe_variants(shapes_description: str, reply_mid: str, bytes_per_second: int, messages_per_second: int) -> str:
    """The active non-default variants, comma-separated (``""`` when every variant is the default).

    Args:
        shapes_description: ``ResponseShapes.describe()`` of the active shapes.
        reply_mid: the active ``reply_mid``.
        bytes_per_second: the rooms' per-sender byte limit.
        messages_per_second: the rooms' per-sender message limit.
    """
    parts = [] if shapes_description == "docs defaults" else [shapes_description]
    if reply_mid != ReplyMid.request.value:
        parts.append(f"reply_mid={reply_mid}")
    if (bytes_per_second, messages_per_second) != ROOM_LIMITS[RoomLimits.agora]:
        parts.append(f"room_limits={bytes_per_second} B/s,{messages_per_second} msg/s")
    return ",".join(parts)
