"""The live commands (demo, say, chat) run whole sessions against the embedded emulator, as subprocesses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("AKOOL_")} | {"COLUMNS": "200"}
CLI = [sys.executable, "-c", "from streamclient.cli import main; main()"]


def run(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, env=ENV, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.timeout(90)
def test_demo_runs_a_whole_session_and_leaks_nothing() -> None:
    done = run("demo", "--speech-cps", "2000")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "avatar > Hello! I am a streaming avatar" in out
    assert "set-params acknowledged: 1000 OK" in out
    assert "interrupt acknowledged: 1000 OK" in out
    assert "session closed (closed)" in out
    assert "emulator: 0 sessions left open" in out


def test_say_json_prints_events_as_json_lines() -> None:
    done = run("say", "Hello from a script.", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    names = [e["event"] for e in events]
    assert "avatar_joined" in names
    assert {
        "event": "bot_message",
        "message_id": events[names.index("bot_message")]["message_id"],
        "text": "Hello from a script.",
    } in events
    assert names[-1] == "session_closed"


def test_chat_handles_commands_bad_input_and_quit() -> None:
    script = "hello avatar\n/set lang=es\n/set bogus=1\n/action nod\n/frob\n/interrupt\n/quit\n"
    done = run("chat", "--speech-cps", "2000", stdin=script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "avatar > You said: hello avatar" in out
    assert "set-params acknowledged: 1000 OK" in out
    assert "got 'bogus=1'" in out
    assert "set-action acknowledged: 1000 OK" in out
    assert "unknown command" in out
    assert "session closed (closed)" in out


def test_chat_ends_cleanly_at_end_of_input() -> None:
    done = run("chat", stdin="")
    assert done.returncode == 0, done.stderr
    assert "session closed (closed)" in done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_in_chat_closes_the_session_and_exits_130() -> None:
    with subprocess.Popen(
        [*CLI, "chat"],
        cwd=ROOT,
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdin is not None
        while "ready; type a line" not in proc.stdout.readline():  # wait until the session is up (no sleeping)
            assert proc.poll() is None, proc.stderr.read()
        proc.stdin.write("hello\n")
        proc.stdin.flush()
        # Once the reply shows, chat is back waiting for input: Ctrl-C must not wait for that read.
        while "You said: hello" not in proc.stdout.readline():
            assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.read()  # until the process closes it
        err = proc.stderr.read()
        proc.wait(timeout=30)
    assert proc.returncode == 130, err
    assert "ended (cancelled)" in out
    assert re.search(r"interrupted \(SIGINT\): session \w+ was closed", err), err


def test_errors_are_one_line_with_a_usage_exit_code() -> None:
    done = run("say", "hello", "--real", "--avatar-id", "x")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
