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
    lines = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
    assert lines["interrupted"] == "True"
    said = lines["avatar said"]
    assert said.startswith("Streaming avatars turn text into speech and video in real time.")  # the first sentence
    assert "This last sentence" not in said  # cut before the end
    generated, _, total = lines["tokens generated"].partition(" of ")
    assert int(generated) < int(total)  # the token stream stopped being consumed at the barge-in
    assert int(lines["sentences sent"]) >= 2


@pytest.mark.skipif(sys.version_info < (3, 11), reason="pipecat-ai needs Python >= 3.11 (no extra to install)")
def test_pipecat_bot_answers_and_is_interrupted() -> None:
    out = run("examples/pipecat_bot.py")
    lines = out.splitlines()
    avatar = [line for line in lines if line.startswith("avatar")]
    assert avatar[0].startswith("avatar: A streaming avatar is a digital human that talks in real time.")
    assert avatar[1].startswith("avatar (interrupted): You just start talking.")
    assert "never heard" not in avatar[1]  # cut before the end
    assert avatar[2] == "avatar: Sure, I will keep it short."
    context = lines[lines.index("context:") + 1 :]
    assert "  user: Stop, that's enough." in context
    assert any(line == "  assistant: " + avatar[1].removeprefix("avatar (interrupted): ") for line in context)
    assert lines[-1] == "open sessions: 0"


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
