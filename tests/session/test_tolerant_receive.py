"""What the session does with frames the official receivers tolerate, and with frames it still refuses (issue 10)."""

from __future__ import annotations

import logging

import anyio
import pytest

from streamclient.session import (
    BotMessage,
    FrameDropped,
    SessionEvent,
    SessionOptions,
    SessionStats,
    UserTranscript,
    connect,
)
from streamclient.transport.base import FrameReceived
from streamclient.transport.loopback import LoopbackTransport
from tests.codec.official_client import official_chunks
from tests.session.harness import FakeClient, ScriptedAvatar

OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=5, close_timeout=5)


async def _inject_and_collect(frames: list[bytes]) -> tuple[list[SessionEvent], SessionStats]:
    """Inject ``frames`` as if the avatar sent them, then a sentinel message; return the events up to the sentinel."""
    client = FakeClient()
    ours, theirs = LoopbackTransport.pair()
    avatar = ScriptedAvatar(theirs)
    sentinel = b'{"v":2,"type":"chat","mid":"sentinel","idx":0,"fin":true,"pld":{"from":"user","text":"."}}'
    seen: list[SessionEvent] = []
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(client.typed(), avatar_id="a", transport=ours, options=OPTIONS, mode_type=1) as session:
            events = session.events()
            for data in [*frames, sentinel]:
                ours.inject(FrameReceived(avatar.uid, data))
            with anyio.fail_after(10):
                async for event in events:
                    seen.append(event)
                    if isinstance(event, UserTranscript) and event.message_id == "sentinel" and event.final:
                        break
        tg.cancel_scope.cancel()
    return seen, session.stats


async def test_a_refused_frame_is_an_event_a_counter_and_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="streamclient.session")
    seen, stats = await _inject_and_collect([b'{"v":2,"type":"chat","mid":"m","idx":-1,\x1b[31m"pld":{}}'])
    (dropped,) = [e for e in seen if isinstance(e, FrameDropped)]
    assert dropped.reason == "not_json"
    assert dropped.excerpt.startswith('{"v":2,"type":"chat","mid":"m","idx":-1,')
    assert "\x1b" not in dropped.excerpt  # printable: a terminal escape in a frame does not reach the log
    assert stats.frames_rejected == 1
    assert any("refused a frame" in r.getMessage() and "not_json" in r.getMessage() for r in caplog.records)


async def test_a_long_refused_frame_has_a_short_excerpt() -> None:
    seen, _ = await _inject_and_collect([b"{" + b"x" * 5000])
    (dropped,) = [e for e in seen if isinstance(e, FrameDropped)]
    assert len(dropped.excerpt) <= 81
    assert dropped.excerpt.endswith("…")


async def test_a_reply_chunked_like_the_official_client_arrives_exactly() -> None:
    text = "Sure! " + "x" * 206 + "\U0001f600 and more " + "日本語" * 80
    frames = official_chunks(text, mid="msg-1723629433999", source="bot")
    assert any(f.endswith(b'\\ud83d"}}') for f in frames)  # the emoji really is split
    seen, stats = await _inject_and_collect(frames)
    assert BotMessage("msg-1723629433999", text) in seen
    assert not [e for e in seen if isinstance(e, FrameDropped)]
    assert stats.frames_rejected == 0


async def test_chat_without_idx_fin_and_with_nulls_is_a_message() -> None:
    frames = [
        b'{"v":2,"type":"chat","mid":"r1","pld":{"from":"bot","text":"One frame."}}',
        b'{"v":2,"type":"chat","mid":"r2","idx":null,"fin":null,"pld":{"from":"bot","text":"Nulls."}}',
    ]
    seen, _ = await _inject_and_collect(frames)
    assert BotMessage("r1", "One frame.") in seen
    assert BotMessage("r2", "Nulls.") in seen


async def test_an_unpaired_surrogate_is_flagged_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="streamclient.session")
    frame = b'{"v":2,"type":"chat","mid":"r3","idx":0,"fin":true,"pld":{"from":"bot","text":"cut \\ud83d"}}'
    seen, stats = await _inject_and_collect([frame])
    assert BotMessage("r3", "cut \ufffd", unpaired_surrogates=1) in seen
    assert stats.unpaired_surrogates == 1
    assert any("unpaired surrogate" in r.getMessage() for r in caplog.records)
