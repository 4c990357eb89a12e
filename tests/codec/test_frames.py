"""Frames: exact encoding, precise decode errors, preserved unknowns, and the decode fuzz contract."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamclient.codec import (
    DECODE_ERROR_REASONS,
    ChatFrame,
    CommandAck,
    CommandFrame,
    EventFrame,
    RawFrame,
    decode_frame,
    encode_frame,
)
from streamclient.errors import LocalProtocolError, RemoteProtocolError

CHAT = b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":false,"pld":{"from":"bot","text":"Hel"}}'
ACK = b'{"v":2,"type":"command","mid":"c0ffee-2","pld":{"cmd":"set-params","code":1000,"msg":"OK"}}'
EVENT = b'{"v":2,"type":"event","mid":"e","pld":{"event":"audio_start"}}'
COMMAND = b'{"v":2,"type":"command","mid":"c0ffee-3","pld":{"cmd":"interrupt"}}'
SET_PARAMS = b'{"v":2,"type":"command","mid":"c","pld":{"cmd":"set-params","data":{"lang":"en","mode":1}}}'
VALID = [CHAT, ACK, EVENT, COMMAND, SET_PARAMS]


def test_chat_encodes_compact_in_official_key_order() -> None:
    frame = ChatFrame(mid="c0ffee-1", idx=0, fin=True, text="Hello")
    assert encode_frame(frame) == b'{"v":2,"type":"chat","mid":"c0ffee-1","idx":0,"fin":true,"pld":{"text":"Hello"}}'


def test_non_ascii_is_not_escaped_and_nul_is() -> None:
    data = encode_frame(ChatFrame(mid="m", idx=0, fin=True, text="日本\x00😀"))
    assert "日本".encode() in data
    assert b"\x00" not in data
    assert b"\\u0000" in data


@pytest.mark.parametrize("raw", VALID)
def test_valid_frames_round_trip_byte_for_byte(raw: bytes) -> None:
    assert encode_frame(decode_frame(raw)) == raw


def test_decoded_types() -> None:
    assert decode_frame(CHAT) == ChatFrame(mid="m", idx=0, fin=False, text="Hel", source="bot")
    ack = decode_frame(ACK)
    assert isinstance(ack, CommandAck)
    assert (ack.cmd, ack.code, ack.msg, ack.ok) == ("set-params", 1000, "OK", True)
    assert decode_frame(EVENT) == EventFrame(mid="e", name="audio_start")
    assert decode_frame(COMMAND) == CommandFrame(mid="c0ffee-3", cmd="interrupt")
    assert decode_frame(CHAT.decode()) == decode_frame(CHAT)  # str input too


def test_cmd_type_ack_and_failure_code() -> None:
    ack = decode_frame(b'{"v":2,"type":"cmd","mid":"x","pld":{"cmd":"interrupt","code":1003}}')
    assert isinstance(ack, CommandAck)
    assert ack.type == "cmd"
    assert not ack.ok
    assert ack.msg is None
    assert encode_frame(ack) == b'{"v":2,"type":"cmd","mid":"x","pld":{"cmd":"interrupt","code":1003}}'


def test_unknown_fields_survive_re_encoding() -> None:
    raw = b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":"a","meta":{"k":[1,2]}},"trace":"t-1"}'
    frame = decode_frame(raw)
    assert isinstance(frame, ChatFrame)
    assert frame.extra == {"trace": "t-1"}
    assert frame.pld_extra == {"meta": {"k": [1, 2]}}
    assert encode_frame(frame) == raw


def test_unknown_type_is_kept_as_raw_frame() -> None:
    raw = b'{"v":2,"type":"sticker","mid":"s","pld":{"id":7},"x":null}'
    frame = decode_frame(raw)
    assert isinstance(frame, RawFrame)
    assert (frame.type, frame.mid) == ("sticker", "s")
    assert encode_frame(frame) == raw


def test_command_without_mid_is_accepted_and_re_encoded_without_one() -> None:
    raw = b'{"v":2,"type":"command","pld":{"cmd":"set-action","data":{"action":"nod"}}}'
    frame = decode_frame(raw)
    assert isinstance(frame, CommandFrame)
    assert frame.mid is None
    assert encode_frame(frame) == raw


BAD: list[tuple[bytes | str, str]] = [
    (b"x" * 20000, "too_large"),
    (b"\xff\xfe{}", "not_utf8"),
    ('{"v":2,"text":"\ud800"}', "not_utf8"),
    (b"", "not_json"),
    (b"{", "not_json"),
    (b'{"v":2,"type":"chat"', "not_json"),
    (b"NaN", "not_json"),
    (b'{"v":2,"type":"x","n":1e400}', "not_json"),
    (b'{"v":2,"type":"x","n":' + b"9" * 5000 + b"}", "not_json"),
    (b"[" * 3000, "not_json"),
    ('{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":"日\x01"}}'.encode(), "not_json"),
    ('{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":"日"},"pld":5}'.encode(), "bad_field"),
    (b'{"v":2,"type":"chat","mid":"\\ud800","idx":0,"fin":true,"pld":{"text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"from":"\\udc00","text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":"a","\\ud83d":1}}', "bad_field"),
    (b'{"v":2,"type":"command","mid":"c","pld":{"cmd":"x","data":{"k":["\\ud83d"]}}}', "bad_field"),
    ('{"v":2,"type":"chat","mid":"\\ud800","pld":{"text":"日"}}'.encode(), "bad_field"),
    (b'{"v":2,"type":"chat","mid":null,"idx":0,"fin":true,"pld":{"text":"a"}}', "missing_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":null}', "missing_field"),
    (b'{"v":null,"type":"chat"}', "missing_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":null,"pld":{"text":"a","from":1}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","fin":"no","pld":{"text":"a"}}', "bad_field"),
    (b"[1,2]", "not_object"),
    (b'"chat"', "not_object"),
    (b"null", "not_object"),
    (b'{"type":"chat"}', "missing_field"),
    (b'{"v":3,"type":"chat"}', "bad_version"),
    (b'{"v":"2","type":"chat"}', "bad_version"),
    (b'{"v":2.0,"type":"chat"}', "bad_version"),
    (b'{"v":true,"type":"chat"}', "bad_version"),
    (b'{"v":2}', "missing_field"),
    (b'{"v":2,"type":5}', "bad_field"),
    (b'{"v":2,"type":"chat","idx":0,"fin":true,"pld":{"text":"a"}}', "missing_field"),
    (b'{"v":2,"type":"chat","mid":"","idx":0,"fin":true,"pld":{"text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":7,"idx":0,"fin":true,"pld":{"text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":-1,"fin":true,"pld":{"text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":1.0,"fin":true,"pld":{"text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":1.5,"fin":true,"pld":{"text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":true,"fin":true,"pld":{"text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":"0","fin":true,"pld":{"text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":1,"pld":{"text":"a"}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true}', "missing_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":"a"}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":5}}', "bad_field"),
    (b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":"a","from":1}}', "bad_field"),
    (b'{"v":2,"type":"command","mid":"c","pld":{"cmd":"x","code":"1000"}}', "bad_field"),
    (b'{"v":2,"type":"command","mid":"c","pld":{"cmd":"x","code":true}}', "bad_field"),
    (b'{"v":2,"type":"command","mid":"c","pld":{"cmd":"x","code":1000,"msg":3}}', "bad_field"),
    (b'{"v":2,"type":"command","mid":"c","pld":{"code":1000}}', "missing_field"),
    (b'{"v":2,"type":"command","mid":"c","pld":{"cmd":"x","data":[1]}}', "bad_field"),
    (b'{"v":2,"type":"command","mid":5,"pld":{"cmd":"x"}}', "bad_field"),
    (b'{"v":2,"type":"command","mid":"c"}', "missing_field"),
    (b'{"v":2,"type":"command","mid":"c","pld":[]}', "bad_field"),
    (b'{"v":2,"type":"event","mid":"e","pld":{}}', "missing_field"),
    (b'{"v":2,"type":"event","mid":"e","pld":{"event":1}}', "bad_field"),
]


@pytest.mark.parametrize(("raw", "reason"), BAD)
def test_precise_decode_errors(raw: bytes | str, reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_frame(raw)
    assert info.value.reason == reason
    assert reason in DECODE_ERROR_REASONS
    assert len(info.value.raw) <= 256


def test_every_documented_reason_is_reachable() -> None:
    assert {reason for _, reason in BAD} == set(DECODE_ERROR_REASONS)


#: A command whose data nests deeper (250) than the fast parser's limit (200) and well within the standard library's.
DEEP = '{"v":2,"type":"command","mid":"c","pld":{"cmd":"x","data":{"k":' + "[" * 250 + "]" * 250 + "}}}"


@pytest.mark.parametrize("data", [DEEP, DEEP.encode()], ids=["text", "bytes"])
def test_a_frame_too_deep_for_the_fast_parser_is_parsed_by_the_standard_one(data: str | bytes) -> None:
    frame = decode_frame(data)
    assert isinstance(frame, CommandFrame)
    assert frame.data is not None
    depth, value = 0, frame.data["k"]
    while value:
        depth, value = depth + 1, value[0]
    assert depth == 249


def test_max_bytes_is_configurable() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_frame(CHAT, max_bytes=len(CHAT) - 1)
    assert info.value.reason == "too_large"
    assert isinstance(decode_frame(CHAT, max_bytes=len(CHAT)), ChatFrame)


def test_encode_rejects_what_json_cannot_carry() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(ChatFrame(mid="m", idx=0, fin=True, text="\ud800"))
    with pytest.raises(LocalProtocolError):
        encode_frame(CommandFrame(mid="m", cmd="x", data={"n": float("nan")}))
    with pytest.raises(LocalProtocolError):
        encode_frame(CommandFrame(mid="m", cmd="x", data={"o": object()}))


def _check_decode(data: bytes | str) -> None:
    reason = None
    try:
        frame = decode_frame(data)
    except RemoteProtocolError as exc:
        reason = exc.reason
    else:
        try:
            encode_frame(frame)  # anything decoded can be re-encoded ...
        except LocalProtocolError:  # ... except chat text holding half a surrogate pair (we never send one)
            assert isinstance(frame, ChatFrame)
            assert frame.text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") != frame.text
    assert reason is None or reason in DECODE_ERROR_REASONS


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _check_decode(data)


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text(data: str) -> None:
    _check_decode(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _mutations(obj: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = sorted(obj)
    pld_keys = sorted(obj["pld"])
    replace_top = st.tuples(st.sampled_from(keys), json_values).map(lambda kv: {**obj, kv[0]: kv[1]})
    delete_top = st.sampled_from(keys).map(lambda k: {key: v for key, v in obj.items() if key != k})
    replace_pld = st.tuples(st.sampled_from(pld_keys), json_values).map(
        lambda kv: {**obj, "pld": {**obj["pld"], kv[0]: kv[1]}}
    )
    delete_pld = st.sampled_from(pld_keys).map(
        lambda k: {**obj, "pld": {key: v for key, v in obj["pld"].items() if key != k}}
    )
    add_field = st.tuples(st.text(max_size=5), json_values).map(lambda kv: {**obj, kv[0]: kv[1]})
    return replace_top | delete_top | replace_pld | delete_pld | add_field


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    original = draw(st.sampled_from(VALID))
    mutated = draw(_mutations(json.loads(original)))
    data = json.dumps(mutated, ensure_ascii=False, separators=(",", ":")).encode()
    if draw(st.booleans()):  # and some byte-level damage on top
        position = draw(st.integers(0, max(0, len(data) - 1)))
        data = data[:position] + draw(st.binary(max_size=3)) + data[position + 1 :]
    return data


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_frames())
def test_fuzz_mutated_valid_frames(data: bytes) -> None:
    _check_decode(data)


@settings(max_examples=200)
@given(mutated_frames())
def test_fast_paths_agree_with_the_checked_path(data: bytes) -> None:
    from streamclient.codec import frames as frames_module

    try:
        fast = decode_frame(data)
    except RemoteProtocolError as exc:
        fast_reason: str | None = exc.reason
    else:
        fast_reason = None
    if fast_reason is None and isinstance(fast, ChatFrame):
        assert frames_module._decode_chat_checked(json.loads(data), data) == fast
    if fast_reason is None and isinstance(fast, (EventFrame, CommandAck)):
        assert decode_frame(data.decode()) == fast  # str input skips the fast paths for events and acks
