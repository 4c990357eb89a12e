"""Pydantic models of the wire shapes: the source of the JSON Schemas in ``protocol/schemas/``.

These describe exactly what :func:`~streamclient.codec.frames.decode_frame` accepts for each known frame type
(strict types: no bool for int, no float for int, non-negative ``idx``, ``v`` exactly 2; unknown fields allowed;
``null`` counts as absent in every optional field; chat ``idx``/``fin``/``pld.text`` may be absent). Lone surrogate
escapes, which the decoder accepts in chat text only, are outside JSON Schema's reach (tests use the Python mode).
The codec itself decodes with a faster hand-written path; tests check that both agree on the golden vectors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

__all__ = ("WIRE_MODELS", "ChatPayload", "ChatWire", "CommandAckWire", "CommandWire", "EventWire")

_OPEN = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
_OptionalStr = StrictStr | None


class ChatPayload(BaseModel):
    """``pld`` of a chat frame."""

    model_config = _OPEN

    source: _OptionalStr = Field(
        default=None,
        alias="from",
        description="Who produced the text: 'bot' (the avatar's reply) or 'user' (speech recognition); absent on "
        "client chat. Other strings are kept, not rejected.",
        examples=["bot", "user"],
    )
    text: StrictStr | None = Field(
        default=None,
        description="This chunk's text; joining all chunks in idx order gives the message. Absent or null: empty.",
    )


class ChatWire(BaseModel):
    """A chat frame: one chunk of a message."""

    model_config = ConfigDict(extra="allow", frozen=True, title="ChatFrame")

    v: Literal[2]
    type: Literal["chat"]
    mid: Annotated[StrictStr, Field(min_length=1, description="Message id shared by all chunks.")]
    idx: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None, description="Chunk index, from 0. Absent or null: 0."
    )
    fin: StrictBool | None = Field(
        default=None,
        description="True on the last chunk only. Absent or null: true when idx is absent too (a complete one-chunk "
        "message), else false.",
    )
    pld: ChatPayload


class CommandPayload(BaseModel):
    """``pld`` of a command (no ``code``: a ``pld`` with ``code`` is an ack)."""

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"not": {"required": ["code"], "properties": {"code": {"not": {"type": "null"}}}}},
    )

    @model_validator(mode="before")
    @classmethod
    def _no_code(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("code") is not None:
            raise ValueError("a pld with code is a command ack")
        return value

    cmd: StrictStr = Field(description="set-params, interrupt, set-action, ...")
    data: dict[str, Any] | None = Field(default=None, description="Command arguments.")


class CommandWire(BaseModel):
    """A command sent to the avatar (or echoed back without ``code``)."""

    model_config = ConfigDict(extra="allow", frozen=True, title="CommandFrame")

    v: Literal[2]
    type: Literal["command", "cmd"]
    mid: _OptionalStr = Field(default=None, description="Command id that the ack refers to.")
    pld: CommandPayload


class AckPayload(BaseModel):
    """``pld`` of a command ack."""

    model_config = _OPEN

    cmd: StrictStr
    code: StrictInt = Field(description="1000 = success; anything else is a failure described by msg.")
    msg: _OptionalStr = None


class CommandAckWire(BaseModel):
    """The avatar's ack of a command."""

    model_config = ConfigDict(extra="allow", frozen=True, title="CommandAck")

    v: Literal[2]
    type: Literal["command", "cmd"]
    mid: _OptionalStr = Field(default=None, description="The mid of the acknowledged command.")
    pld: AckPayload


class EventPayload(BaseModel):
    """``pld`` of an event frame."""

    model_config = _OPEN

    event: StrictStr = Field(description="audio_start, audio_end, or another (kept) name.")


class EventWire(BaseModel):
    """An avatar event."""

    model_config = ConfigDict(extra="allow", frozen=True, title="EventFrame")

    v: Literal[2]
    type: Literal["event"]
    mid: _OptionalStr = None
    pld: EventPayload


#: Schema file stem -> model.
WIRE_MODELS: dict[str, type[BaseModel]] = {
    "chat": ChatWire,
    "command": CommandWire,
    "command_ack": CommandAckWire,
    "event": EventWire,
}
