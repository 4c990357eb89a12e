"""The sans-I/O v2 data-stream codec: frames, chunking, reassembly, pacing, commands and the endpoint object.

Pure: the standard library (a small allow-list) and pydantic only; no I/O, no clock reads, no threads. Time is
always a ``now: float`` argument. The wire protocol it implements is written down in ``protocol/README.md``.
"""

from __future__ import annotations

from streamclient.codec.chunking import DEFAULT_MAX_FRAME_BYTES, HARD_MAX_FRAME_BYTES, new_mid, split_text
from streamclient.codec.commands import Action, Expression, interrupt, set_action, set_params
from streamclient.codec.connection import Interrupted, ProtocolConnection, Role
from streamclient.codec.events import (
    AvatarEvent,
    ChatDelta,
    ChatMessage,
    CommandReceived,
    CommandResult,
    Event,
    FrameRejected,
    MessageDiscarded,
    MessageExpired,
    UnknownFrame,
    event_to_dict,
    frame_excerpt,
)
from streamclient.codec.frames import (
    DECODE_ERROR_REASONS,
    DEFAULT_MAX_DECODE_BYTES,
    ChatFrame,
    CommandAck,
    CommandFrame,
    EventFrame,
    Frame,
    RawFrame,
    decode_frame,
    encode_frame,
)
from streamclient.codec.pacing import Pacer, PacingLimits, tiled_frame_bytes
from streamclient.codec.reassembly import DISCARD_REASONS, Reassembler, ReassemblyLimits

__all__ = (
    "DECODE_ERROR_REASONS",
    "DEFAULT_MAX_DECODE_BYTES",
    "DEFAULT_MAX_FRAME_BYTES",
    "DISCARD_REASONS",
    "HARD_MAX_FRAME_BYTES",
    "Action",
    "AvatarEvent",
    "ChatDelta",
    "ChatFrame",
    "ChatMessage",
    "CommandAck",
    "CommandFrame",
    "CommandReceived",
    "CommandResult",
    "Event",
    "EventFrame",
    "Expression",
    "Frame",
    "FrameRejected",
    "Interrupted",
    "MessageDiscarded",
    "MessageExpired",
    "Pacer",
    "PacingLimits",
    "ProtocolConnection",
    "RawFrame",
    "Reassembler",
    "ReassemblyLimits",
    "Role",
    "UnknownFrame",
    "decode_frame",
    "encode_frame",
    "event_to_dict",
    "frame_excerpt",
    "interrupt",
    "new_mid",
    "set_action",
    "set_params",
    "split_text",
    "tiled_frame_bytes",
)
