"""The decoder is as liberal as the official receivers: split surrogate pairs, frames without idx/fin, nulls.

Each case here was refused before (``not_json`` / ``missing_field`` / ``bad_field``) although AKOOL's own client
sends it or its receivers accept it (issue 10, item 8).
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamclient.codec import (
    ChatDelta,
    ChatFrame,
    ChatMessage,
    CommandAck,
    CommandFrame,
    Event,
    EventFrame,
    MessageExpired,
    ProtocolConnection,
    Reassembler,
    Role,
    decode_frame,
    encode_frame,
    frame_excerpt,
    split_text,
)
from streamclient.codec import frames as frames_module
from streamclient.errors import LocalProtocolError, RemoteProtocolError
from tests.codec.official_client import js_string, official_chunks

GRIN = "\U0001f600"


def _receive(frames: list[bytes], role: Role = Role.AVATAR) -> list[Event]:
    conn = ProtocolConnection(role, strict=True)
    for frame in frames:
        conn.receive_data(frame, sender="peer", now=0.0)
    return conn.events_received()


def _messages(events: list[Event]) -> list[ChatMessage]:
    return [e for e in events if isinstance(e, ChatMessage)]


# ------------------------------------------------------------------------------------------ split surrogates


def test_official_client_splits_an_emoji_and_the_message_comes_out_exactly() -> None:
    text = "x" * 215 + GRIN + " done"
    frames = official_chunks(text)
    assert frames[0].endswith(b'\\ud83d"}}')
    assert b'"text":"\\ude00' in frames[1]
    (message,) = _messages(_receive(frames))
    assert message.text == text
    assert message.unpaired_surrogates == 0


def test_the_halves_decode_as_lone_surrogates_and_cannot_be_sent_back() -> None:
    first, second = official_chunks("x" * 215 + GRIN + " done")
    head, tail = decode_frame(first), decode_frame(second)
    assert isinstance(head, ChatFrame)
    assert isinstance(tail, ChatFrame)
    assert head.text.endswith("\ud83d")
    assert tail.text.startswith("\ude00")
    with pytest.raises(LocalProtocolError):  # what we send stays strict
        encode_frame(head)


def _refusing_jiter(raw: bytes, *, allow_inf_nan: bool) -> object:
    raise AssertionError(f"jiter was asked to parse {raw!r}")


@pytest.mark.parametrize("escape", ["\\ude00", "\\uDE00"])
def test_an_ascii_half_at_the_start_of_the_text_skips_jiter(monkeypatch: pytest.MonkeyPatch, escape: str) -> None:
    # jiter refuses lone surrogates and its refusal costs about a parse: such frames go to the canonical path first
    frame = b'{"v":2,"type":"chat","mid":"m","idx":1,"fin":true,"pld":{"text":"%s done"}}' % escape.encode()
    monkeypatch.setattr(frames_module, "_from_json", _refusing_jiter)
    decoded = decode_frame(frame)
    assert isinstance(decoded, ChatFrame)
    assert decoded.text == "\ude00 done"


def test_an_ascii_half_after_another_escape_still_decodes() -> None:
    # not the official client's layout (its halves open or close a chunk): jiter refuses it, the fallback keeps it
    frame = b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":false,"pld":{"text":"a\\"b\\ud83dc"}}'
    decoded = decode_frame(frame)
    assert isinstance(decoded, ChatFrame)
    assert decoded.text == 'a"b\ud83dc'


def test_ascii_frames_with_other_escapes_still_go_through_jiter(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    original = frames_module._from_json

    def spy(raw: bytes, *, allow_inf_nan: bool) -> object:
        seen.append(raw)
        return original(raw, allow_inf_nan=allow_inf_nan)

    monkeypatch.setattr(frames_module, "_from_json", spy)
    frame = b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":"say \\"hi\\"\\n"}}'
    decoded = decode_frame(frame)
    assert isinstance(decoded, ChatFrame)
    assert decoded.text == 'say "hi"\n'
    assert seen == [frame]


@pytest.mark.parametrize("letter", ["x", "日"], ids=["ascii", "cjk"])
@pytest.mark.parametrize("layout", ["canonical", "extra_field", "with_from"])
def test_every_decode_path_keeps_the_halves(letter: str, layout: str) -> None:
    source = "bot" if layout == "with_from" else None
    units = len(json.loads(official_chunks("a" * 1000, source=source)[0])["pld"]["text"])  # 216, or 213 with from
    prefix = letter * (units - 1)
    frames = official_chunks(prefix + GRIN + "y", source=source)
    if layout == "extra_field":
        frames = [f[:-1] + b',"trace":"t"}' for f in frames]
    events = _receive(frames, Role.CLIENT)
    (message,) = _messages(events)
    assert message.text == prefix + GRIN + "y"
    deltas = [e.text for e in events if isinstance(e, ChatDelta)]
    assert deltas == [prefix, GRIN + "y"]  # the high half waits for its partner; no delta holds half a pair


def test_reordered_halves_pair_when_the_neighbour_arrives() -> None:
    frames = official_chunks("a" * 215 + GRIN + "b" * 215 + GRIN + "c")
    events = _receive([frames[2], frames[1], frames[0]])
    (message,) = _messages(events)
    assert message.text == "a" * 215 + GRIN + "b" * 215 + GRIN + "c"


def test_an_unpaired_half_becomes_u_fffd_and_is_counted() -> None:
    frame = b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"from":"bot","text":"a\\ud83d"}}'
    (message,) = _messages(_receive([frame], Role.CLIENT))
    assert message.text == "a\ufffd"
    assert message.unpaired_surrogates == 1


def test_a_half_whose_partner_is_not_a_low_surrogate_is_replaced() -> None:
    frames = [
        b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":false,"pld":{"text":"a\\ud83d"}}',
        b'{"v":2,"type":"chat","mid":"m","idx":1,"fin":false,"pld":{"text":"b"}}',
        b'{"v":2,"type":"chat","mid":"m","idx":2,"fin":true,"pld":{"text":"\\ude00c"}}',
    ]
    (message,) = _messages(_receive(frames))
    assert message.text == "a\ufffdb\ufffdc"
    assert message.unpaired_surrogates == 2


def test_a_held_half_is_not_shown_when_the_message_expires() -> None:
    reassembler = Reassembler(message_timeout=1.0)
    frame = decode_frame(b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":false,"pld":{"text":"ab\\ud83d"}}')
    assert isinstance(frame, ChatFrame)
    (delta,) = reassembler.feed(frame, sender="s", now=0.0)
    assert isinstance(delta, ChatDelta)
    assert delta.text == "ab"
    (expired,) = reassembler.expire(5.0)
    assert isinstance(expired, MessageExpired)
    assert expired.partial_text == "ab"
    assert reassembler.buffered_bytes == 0


unicode_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]) | st.sampled_from([GRIN, "\U0001f3fd", "日", "é", "\U0010ffff"]),
    min_size=1,
    max_size=700,
)


@settings(max_examples=150, deadline=None)
@given(text=unicode_text, seed=st.integers(0, 2**32 - 1), cap=st.sampled_from([950, 300, 120]))
def test_official_chunks_round_trip_through_shuffle_and_duplication(text: str, seed: int, cap: int) -> None:
    frames = official_chunks(text, max_bytes=cap, source="bot")
    rng = random.Random(seed)
    received = frames + rng.sample(frames, k=min(len(frames), 3))  # duplicates
    rng.shuffle(received)
    events = _receive(received, Role.CLIENT)
    (message,) = _messages(events)
    assert message.text == text
    assert message.unpaired_surrogates == 0
    deltas = [e.text for e in events if isinstance(e, ChatDelta)]
    assert "".join(deltas) == text
    for delta in deltas:
        delta.encode("utf-8")  # every delta is well-formed text, printable as is


# ------------------------------------------------------------------------------ missing idx/fin, nulls


def test_chat_without_idx_and_fin_is_a_complete_one_chunk_message() -> None:
    frame = b'{"v":2,"type":"chat","mid":"r1","pld":{"from":"bot","text":"Hello!"}}'
    assert decode_frame(frame) == ChatFrame(mid="r1", idx=0, fin=True, text="Hello!", source="bot")
    (message,) = _messages(_receive([frame], Role.CLIENT))
    assert (message.text, message.chunks) == ("Hello!", 1)


def test_chat_without_fin_waits_for_its_end() -> None:
    frame = decode_frame(b'{"v":2,"type":"chat","mid":"r1","idx":1,"pld":{"text":"b"}}')
    assert frame == ChatFrame(mid="r1", idx=1, fin=False, text="b")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"from":null,"text":null}}',
            ChatFrame(mid="m", idx=0, fin=True, text=""),
        ),
        (
            b'{"v":2,"type":"chat","mid":"m","idx":null,"fin":null,"pld":{"text":"a"}}',
            ChatFrame(mid="m", idx=0, fin=True, text="a"),
        ),
        (
            b'{"v":2,"type":"chat","mid":"m","idx":3,"fin":true,"pld":{"from":"bot"}}',
            ChatFrame(mid="m", idx=3, fin=True, text="", source="bot"),
        ),
        (
            b'{"v":2,"type":"command","mid":"c","pld":{"cmd":"interrupt","code":1000,"msg":null}}',
            CommandAck(mid="c", cmd="interrupt", code=1000),
        ),
        (
            b'{"v":2,"type":"command","mid":null,"pld":{"cmd":"interrupt","data":null,"code":null}}',
            CommandFrame(mid=None, cmd="interrupt"),
        ),
        (b'{"v":2,"type":"event","mid":null,"pld":{"event":"audio_end"}}', EventFrame(mid=None, name="audio_end")),
    ],
)
def test_null_counts_as_absent(raw: bytes, expected: object) -> None:
    assert decode_frame(raw) == expected
    assert decode_frame(raw.decode()) == expected


# ------------------------------------------------------------------------------ the parsers agree


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
any_text = st.text(max_size=30) | st.sampled_from(["\ud83d", "\ude00x", "a\ud800b"])


@settings(max_examples=300, deadline=None)
@given(
    mid=st.text(min_size=1, max_size=12) | st.sampled_from(["msg-1723629433573", "m\\n"]),
    idx=st.integers(0, 10**6),
    fin=st.booleans(),
    source=st.none() | st.sampled_from(["bot", "user", ""]) | st.text(max_size=4),
    text=any_text,
)
def test_the_canonical_chat_path_agrees_with_the_reference_parser(
    mid: str, idx: int, fin: bool, source: str | None, text: str
) -> None:
    pld = f'{{"from":{js_string(source)},' if source is not None else "{"
    raw = (
        f'{{"v":2,"type":"chat","mid":{js_string(mid)},"idx":{idx},'
        f'"fin":{str(fin).lower()},"pld":{pld}"text":{js_string(text)}}}}}'
    ).encode()
    reference: ChatFrame | None
    try:
        reference = frames_module._decode_chat_checked(json.loads(raw.decode("utf-8")), raw)
        if frames_module._lone_surrogate_outside_chat_text(json.loads(raw.decode("utf-8"))) is not None:
            reference = None
    except (UnicodeDecodeError, RemoteProtocolError):
        reference = None
    try:
        decoded: object = decode_frame(raw)
    except RemoteProtocolError:
        decoded = None
    assert decoded == reference


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        json_scalars | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=10,
    )
)
def test_jiter_agrees_with_the_reference_grammar(value: object) -> None:
    raw = json.dumps(value, ensure_ascii=False).encode()
    assert frames_module._from_json(raw, allow_inf_nan=False) == frames_module._parse_bytes(raw)


# ------------------------------------------------------------------------------ what we send stays strict


@settings(max_examples=100, deadline=None)
@given(text=unicode_text, budget=st.sampled_from([120, 300, 960]))
def test_we_never_split_a_surrogate_pair_when_sending(text: str, budget: int) -> None:
    frames = split_text(text, mid="m", max_frame_bytes=budget)
    for frame in frames:
        wire = encode_frame(frame)
        assert b"\\ud" not in wire.lower()  # no surrogate escape, no lone half
        assert decode_frame(wire) == frame
    assert "".join(f.text for f in frames) == text


def test_we_never_split_an_emoji_sequence_when_sending() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    text = "a" * 40 + family + "b" * 40
    for budget in range(100, 160):  # room for the 18-byte sequence in one frame
        frames = split_text(text, mid="m", max_frame_bytes=budget)
        assert any(family in f.text for f in frames), budget


def test_a_non_canonical_non_ascii_chat_takes_the_general_path() -> None:
    raw = '{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":"日","meta":"x"}}'.encode()
    frame = decode_frame(raw)
    assert frame == ChatFrame(mid="m", idx=0, fin=True, text="日", pld_extra={"meta": "x"})
    assert encode_frame(frame) == raw


def test_an_escape_at_the_end_of_a_frame_that_is_not_chat() -> None:
    assert decode_frame(b'{"v":2,"type":"event","mid":"e","pld":{"event":"x\\u0041"}}') == EventFrame(
        mid="e", name="xA"
    )


def test_frame_excerpt_is_short_and_printable() -> None:
    assert frame_excerpt(b'{"v":2}') == '{"v":2}'
    assert frame_excerpt(b"a\x1b[31mb\xffc\n") == "a\\x1b[31mb\ufffdc\\n"
    long = frame_excerpt("日".encode() * 100, limit=10)
    assert long == "日日日\ufffd…"
