"""Chunking: exact byte budgets, full frames, lossless for any Unicode, efficient, with clear errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamclient.codec import (
    DEFAULT_MAX_FRAME_BYTES,
    ChatFrame,
    chunking,
    decode_frame,
    encode_frame,
    new_mid,
    split_text,
)
from streamclient.errors import LocalProtocolError


def _json_cost(ch: str) -> int:
    return len(json.dumps(ch, ensure_ascii=False).encode()) - 2


def _check(text: str, frames: list[ChatFrame], max_bytes: int, mid: str) -> None:
    assert "".join(f.text for f in frames) == text
    assert [f.idx for f in frames] == list(range(len(frames)))
    assert [f.fin for f in frames] == [False] * (len(frames) - 1) + [True]
    for frame in frames:
        assert frame.mid == mid
        data = encode_frame(frame)
        assert len(data) <= max_bytes
        assert b"\x00" not in data
        assert decode_frame(data) == frame


def test_default_budget_is_documented_and_under_the_hard_cap() -> None:
    assert DEFAULT_MAX_FRAME_BYTES <= 1024
    assert "960" in (chunking.__doc__ or "") + str(chunking.DEFAULT_MAX_FRAME_BYTES)


def test_short_text_is_one_frame() -> None:
    assert split_text("Hello", mid="m") == [ChatFrame(mid="m", idx=0, fin=True, text="Hello")]


@pytest.mark.parametrize(
    "text",
    [
        "The quick brown fox jumps over the lazy dog. " * 100,
        "我能吞下玻璃而不伤身体。" * 200,
        "😀👍🏽👨‍👩‍👧‍👦🇫🇷" * 100,
        "e\u0301a\u0308" * 500,
        '"quotes" and \\backslashes\\ ' * 100,
        "".join(chr(i) for i in range(32)) * 40,
        "\r\n" * 700,
    ],
    ids=["english", "cjk", "emoji", "combining", "escapes", "controls", "crlf"],
)
@pytest.mark.parametrize("max_bytes", [120, 300, 960, 1024])
def test_examples_round_trip_within_budget(text: str, max_bytes: int) -> None:
    frames = split_text(text, mid="mid-1", max_frame_bytes=max_bytes)
    _check(text, frames, max_bytes, "mid-1")


@settings(max_examples=300, deadline=None)
@given(text=st.text(min_size=1, max_size=3000), max_bytes=st.integers(130, 1024), source=st.sampled_from([None, "bot"]))
def test_any_unicode_round_trips_within_budget(text: str, max_bytes: int, source: str | None) -> None:
    frames = split_text(text, mid="m" * 22, max_frame_bytes=max_bytes, source=source)
    _check(text, frames, max_bytes, "m" * 22)
    assert all(f.source == source for f in frames)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(st.characters(exclude_categories=("Mn", "Me", "Mc", "Cf", "Sk", "Cs")), min_size=1, max_size=4000),
    max_bytes=st.integers(100, 1024),
)
def test_frames_are_filled_to_the_budget(text: str, max_bytes: int) -> None:
    frames = split_text(text, mid="abc", max_frame_bytes=max_bytes)
    consumed = 0
    for frame in frames[:-1]:
        consumed += len(frame.text)
        next_char = text[consumed]
        if next_char == "\n" and frame.text.endswith("\r"):
            continue  # the cut moved back to keep \r\n together
        # the next character would not have fitted: the frame is as full as it can be
        assert len(encode_frame(frame)) + _json_cost(next_char) > max_bytes


def test_english_overhead_at_1000_bytes_is_under_12_percent() -> None:
    text = ("Streaming avatars speak whatever text they receive, chunk by chunk. " * 200)[:10_000]
    frames = split_text(text, mid=new_mid(), max_frame_bytes=1000)
    wire = sum(len(encode_frame(f)) for f in frames)
    assert wire / len(text.encode()) <= 1.12
    assert all(len(encode_frame(f)) >= 990 for f in frames[:-1])


def test_encoding_is_linear_not_per_character(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = encode_frame

    def counting(frame: ChatFrame) -> bytes:
        nonlocal calls
        calls += 1
        return real(frame)

    monkeypatch.setattr(chunking, "encode_frame", counting)
    frames = split_text("ü" * 50_000, mid="m")
    assert calls <= len(frames) + 3  # one verification per frame plus the envelope measurements


def test_grapheme_clusters_are_not_split_when_avoidable() -> None:
    text = "e\u0301" * 400 + "👍🏽" * 100
    frames = split_text(text, mid="m", max_frame_bytes=100)
    for frame in frames[1:]:
        assert frame.text[0] not in "\u0301\U0001f3fd"


@pytest.mark.parametrize("text", ["", "\ud800", "ok\udfff"])
def test_empty_or_unencodable_text_is_rejected(text: str) -> None:
    with pytest.raises(LocalProtocolError):
        split_text(text, mid="m")


def test_non_string_text_is_rejected() -> None:
    with pytest.raises(LocalProtocolError):
        split_text(b"bytes", mid="m")  # type: ignore[arg-type]  # wrong type on purpose


def test_empty_mid_is_rejected() -> None:
    with pytest.raises(LocalProtocolError):
        split_text("x", mid="")


def test_a_character_that_can_never_fit_is_rejected() -> None:
    envelope = len(encode_frame(ChatFrame(mid="m", idx=0, fin=False, text="")))
    assert split_text("😀", mid="m", max_frame_bytes=envelope + 4)
    with pytest.raises(LocalProtocolError, match="cannot hold"):
        split_text("😀", mid="m", max_frame_bytes=envelope + 3)
    with pytest.raises(LocalProtocolError):
        split_text("a", mid="m" * 2000, max_frame_bytes=1024)


def test_new_mid_is_unique_and_not_a_timestamp() -> None:
    mids = {new_mid() for _ in range(10_000)}
    assert len(mids) == 10_000
    assert all(len(m) == 22 and not m.isdigit() for m in mids)


def test_a_cluster_longer_than_the_backoff_is_cut_anyway() -> None:
    text = "a" + "\u0301" * 200
    frames = split_text(text, mid="m", max_frame_bytes=120)
    assert "".join(f.text for f in frames) == text
    assert len(frames) > 1
