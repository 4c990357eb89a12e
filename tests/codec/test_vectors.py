"""The language-neutral golden vectors and JSON Schemas in protocol/ drive the codec, byte for byte."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pydantic
import pytest

from streamclient.codec import (
    ChatFrame,
    CommandAck,
    CommandFrame,
    EventFrame,
    ProtocolConnection,
    RawFrame,
    Role,
    decode_frame,
    encode_frame,
    event_to_dict,
    split_text,
)
from streamclient.codec.schema import render_schemas
from streamclient.codec.wire import WIRE_MODELS
from streamclient.errors import LocalProtocolError, RemoteProtocolError

PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"


def _load(name: str) -> list[dict[str, Any]]:
    lines = (PROTOCOL / "vectors" / name).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    assert records, f"{name} is empty"
    return records


CHUNKING = _load("chunking.jsonl")
EVENTS = _load("events.jsonl")
DECODE = _load("decode.jsonl")
KINDS = {
    ChatFrame: "chat",
    CommandFrame: "command",
    CommandAck: "command_ack",
    EventFrame: "event",
    RawFrame: "unknown",
}


@pytest.mark.parametrize("case", CHUNKING, ids=lambda c: c["name"])
def test_chunking_vectors(case: dict[str, Any]) -> None:
    frames = split_text(case["text"], mid=case["mid"], max_frame_bytes=case["max_frame_bytes"], source=case["source"])
    assert [encode_frame(f) for f in frames] == [f.encode() for f in case["frames"]]
    for wire in case["frames"]:
        assert len(wire.encode()) <= case["max_frame_bytes"]
        WIRE_MODELS["chat"].model_validate_json(wire)


@pytest.mark.parametrize("case", EVENTS, ids=lambda c: c["name"])
def test_event_vectors(case: dict[str, Any]) -> None:
    role = Role(case["role"])
    connection = ProtocolConnection(role, message_timeout=case["message_timeout"])
    events: list[dict[str, Any]] = []
    for item in case["input"]:
        connection.receive_data(item["frame"].encode(), sender=item["sender"], now=item["t"])
        events.extend(event_to_dict(e) for e in connection.events_received())
    connection.expire(math.inf)
    events.extend(event_to_dict(e) for e in connection.events_received())
    assert events == case["events"]


@pytest.mark.parametrize("case", DECODE, ids=lambda c: c["name"])
def test_decode_vectors(case: dict[str, Any]) -> None:
    raw = case["frame"].encode()
    if "error" in case:
        with pytest.raises(RemoteProtocolError) as info:
            decode_frame(raw)
        assert info.value.reason == case["error"]
        for model in WIRE_MODELS.values():  # the schemas' models reject it too
            with pytest.raises(pydantic.ValidationError):
                model.model_validate_json(raw)
        return
    frame = decode_frame(raw)
    assert KINDS[type(frame)] == case["kind"]
    if "text" in case:
        assert isinstance(frame, ChatFrame)
        assert frame.text == case["text"]
    if case["reencoded"] is None:  # half a surrogate pair: accepted, but never sent
        with pytest.raises(LocalProtocolError):
            encode_frame(frame)
        WIRE_MODELS[case["kind"]].model_validate(json.loads(raw))  # JSON Schema cannot express lone surrogates
        return
    assert encode_frame(frame) == case["reencoded"].encode()
    if case["kind"] != "unknown":
        WIRE_MODELS[case["kind"]].model_validate_json(raw)


def test_checked_in_schemas_match_the_models() -> None:
    rendered = render_schemas()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in (PROTOCOL / "schemas").glob("*.json")}
    assert on_disk == rendered, (
        "protocol/schemas/ drifted from streamclient/codec/wire.py; regenerate with: "
        "streamclient frames schemas --out protocol/schemas"
    )


def test_schemas_describe_the_wire_constraints() -> None:
    chat = json.loads(render_schemas()["chat.json"])
    assert chat["required"] == ["v", "type", "mid", "pld"]  # a frame without idx/fin is a one-chunk message
    assert chat["properties"]["idx"]["anyOf"] == [{"minimum": 0, "type": "integer"}, {"type": "null"}]
    assert chat["properties"]["v"]["const"] == 2
