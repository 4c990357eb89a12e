"""Every example runs to completion against the embedded emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("AKOOL_")}  # always the emulator


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_echo_bot() -> None:
    out = run("-m", "examples.echo_bot")
    assert "avatar said: You said: Hello avatar, can you hear me?" in out


def test_llm_streaming_bot_stops_at_barge_in() -> None:
    out = run("-m", "examples.llm_streaming_bot")
    assert "user barged in" in out
    turns = [line.strip() for line in out.splitlines() if "spoken:" in line or "interrupted:" in line]
    assert turns[0].startswith("spoken: Streaming avatars")  # the first sentence was said before the barge-in
    assert all(turn.startswith("interrupted:") for turn in turns[1:])  # everything after it was cut
    assert len(turns) == 4


def test_shared_room_bot_answers_the_viewer_and_stops_at_barge_in() -> None:
    out = run("-m", "examples.shared_room_bot")
    lines = out.splitlines()
    assert "viewer said: 'What can a streaming avatar do in my app?'" in lines
    assert "bot answers" in lines
    assert "bot interrupted the avatar (interrupted=True)" in lines
    assert any(line.startswith("participant 3001 joined (not the avatar") for line in lines)
    assert "session closed (closed)" in out
    assert "007eJ" not in out  # no token (zlib-compressed "007" tokens start so) is ever printed


def test_transcript_logger(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    out = run("-m", "examples.transcript_logger", str(target))
    assert "events written" in out
    lines = target.read_text(encoding="utf-8").splitlines()
    assert any('"type": "BotMessage"' in line for line in lines)
    assert lines[-1].startswith('{"t"')
    assert '"SessionClosed"' in lines[-1]


@pytest.mark.timeout(90)
def test_the_pytest_example_passes() -> None:
    out = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_bot_with_emulator.py")
    assert "1 passed" in out
