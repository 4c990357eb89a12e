"""Every example runs to completion from the installed wheel, the way a user runs it: ``python examples/NAME.py``.

The examples are copied into a folder outside the repository; no credentials are set, so each starts its own
embedded emulator.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.installed.conftest import ROOT, InstalledEnv

pytestmark = pytest.mark.timeout(900)  # the first test builds and installs the wheel (session fixture)


@pytest.fixture
def project(installed: InstalledEnv, tmp_path: Path) -> Path:
    """A user's folder holding a copy of ``examples/``."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def run_example(installed: InstalledEnv, project: Path, name: str, *args: str) -> str:
    done = installed.run(["python", f"examples/{name}", *args], cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_the_wheel_is_what_runs(installed: InstalledEnv, project: Path) -> None:
    done = installed.run(["python", "-c", "import streamclient; print(streamclient.__file__)"], cwd=project)
    assert done.returncode == 0, done.stderr
    location = Path(done.stdout.strip())
    assert location.is_relative_to(installed.bin.parent)  # the venv's site-packages, not the repository
    assert not location.is_relative_to(ROOT)


def test_no_example_imports_another_module_of_examples() -> None:
    for path in (ROOT / "examples").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from examples" not in text
        assert "import examples" not in text, path.name


def test_echo_bot(installed: InstalledEnv, project: Path) -> None:
    out = run_example(installed, project, "echo_bot.py")
    assert "running against a local emulator" in out
    assert "avatar said: You said: Hello avatar, can you hear me?" in out


def test_llm_streaming_bot_stops_at_barge_in(installed: InstalledEnv, project: Path) -> None:
    out = run_example(installed, project, "llm_streaming_bot.py")
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
def test_pipecat_bot_answers_and_is_interrupted(installed: InstalledEnv, project: Path) -> None:
    out = run_example(installed, project, "pipecat_bot.py")
    lines = out.splitlines()
    avatar = [line for line in lines if line.startswith("avatar")]
    assert avatar[0].startswith("avatar: A streaming avatar is a digital human that talks in real time.")
    assert avatar[1].startswith("avatar (interrupted): You just start talking.")
    assert "never heard" not in avatar[1]  # cut before the end
    assert avatar[2] == "avatar: Sure, I will keep it short."
    context = lines[lines.index("context:") + 1 : -1]
    said = [line.removeprefix("avatar (interrupted): ").removeprefix("avatar: ") for line in avatar]
    assert context == [  # the whole context, in conversation order: the cut reply before the words that cut it
        "  system: You are a friendly avatar. Answer briefly.",
        "  user: What is a streaming avatar?",
        f"  assistant: {said[0]}",
        "  user: How do I interrupt you?",
        f"  assistant: {said[1]}",
        "  user: Stop, that's enough.",
        f"  assistant: {said[2]}",
    ]
    assert lines[-1] == "open sessions: 0"


def test_shared_room_bot_answers_the_viewer_and_stops_at_barge_in(installed: InstalledEnv, project: Path) -> None:
    out = run_example(installed, project, "shared_room_bot.py")
    lines = out.splitlines()
    assert "viewer said: 'What can a streaming avatar do in my app?'" in lines
    assert "bot answers" in lines
    assert "bot interrupted the avatar (interrupted=True)" in lines
    assert any(line.startswith("participant 3001 joined (not the avatar") for line in lines)
    assert "session closed (closed)" in out
    assert "007eJ" not in out  # no token (zlib-compressed "007" tokens start so) is ever printed


def test_transcript_logger(installed: InstalledEnv, project: Path) -> None:
    out = run_example(installed, project, "transcript_logger.py", "log.jsonl")
    assert "events written" in out
    lines = (project / "log.jsonl").read_text(encoding="utf-8").splitlines()
    assert any('"type": "BotMessage"' in line for line in lines)
    assert lines[-1].startswith('{"t"')
    assert '"SessionClosed"' in lines[-1]


def test_the_installed_command_line(installed: InstalledEnv, project: Path) -> None:
    script = installed.run([str(installed.bin / "streamclient"), "--version"], cwd=project)
    module = installed.run(["python", "-m", "streamclient", "--version"], cwd=project)
    assert script.returncode == module.returncode == 0, script.stderr + module.stderr
    assert script.stdout == module.stdout
    assert script.stdout.startswith("streamclient ")
