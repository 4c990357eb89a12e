"""The scripted avatar hears what AKOOL's official client sends, and reports what it refuses (issue 10)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from streamclient.emulator import Emulator
from streamclient.emulator.recording import refusals, replay
from tests.codec.official_client import official_chunks

from .emulator_harness import client_peer, fast_config

GRIN = "\U0001f600"


async def test_the_avatar_hears_an_emoji_the_official_client_split() -> None:
    text = "x" * 215 + GRIN + " and then some more words"
    frames = official_chunks(text)
    assert frames[0].endswith(b'\\ud83d"}}')
    async with Emulator(fast_config()) as emu, client_peer(emu, mode_type=1) as peer:
        for frame in frames:
            await peer.transport.send(frame)
        avatar = peer.room.avatar
        assert avatar is not None
        await peer.wait_for(lambda: avatar.received_texts == [text] and len(peer.messages()) == 1)
        assert peer.messages()[0].text == text  # spoken back verbatim (mode 1)
        assert avatar.refused == []


async def test_a_refused_frame_is_logged_and_recorded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="streamclient.emulator")
    path = tmp_path / "rec.jsonl"
    bad = b'{"v":2,"type":"chat","mid":"m","idx":"zero","fin":true,"pld":{"text":"hi"}}'
    async with Emulator(fast_config(record_path=path)) as emu, client_peer(emu, mode_type=1) as peer:
        await peer.transport.send(bad)
        avatar = peer.room.avatar
        assert avatar is not None
        await peer.wait_for(lambda: avatar.rejected_frames == 1)
        channel = peer.room.channel
    assert avatar.refused == [("bad_field", bad.decode())]
    assert any(
        "refused a frame" in r.getMessage() and "bad_field" in r.getMessage() and '"idx":"zero"' in r.getMessage()
        for r in caplog.records
    )
    (refusal,) = refusals(path)
    assert (refusal.reason, refusal.by, refusal.excerpt, refusal.channel) == (
        "bad_field",
        avatar.uid,
        bad.decode(),
        channel,
    )
    assert refusal.sender != avatar.uid
    # the frame itself is still recorded as delivered, and replay() skips the refusal line
    assert [r.frame for r in replay(path) if r.dir == "out"] == [bad.decode()]
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert sum("refused" in line for line in lines) == 1
