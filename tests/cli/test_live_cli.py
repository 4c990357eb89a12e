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
        "unpaired_surrogates": 0,
    } in events
    assert names[-2:] == ["session_closed", "result"]
    ready = events[names.index("session_ready")]
    result = events[-1]
    assert result["session_id"] == ready["session_id"]
    assert result["session_id"]
    assert result["reply"] == "Hello from a script."
    assert result["interrupted"] is False
    assert result["incomplete"] is False
    assert result["timings"]["latency"] is not None


def test_say_prints_its_session_id() -> None:
    done = run("say", "Hello.")
    assert done.returncode == 0, done.stderr
    assert re.search(r"session [0-9a-f]{8,} ready", done.stdout), done.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("",), "", "empty"),
        (("   \t ",), "", "only whitespace"),
        (("-",), "  \n", "standard input is only whitespace"),
        ((), "", "give the text"),
    ],
    ids=["empty", "whitespace", "whitespace-stdin", "no-text"],
)
def test_say_refuses_bad_text_before_creating_anything(args: tuple[str, ...], stdin: str, message: str) -> None:
    done = run("say", *args, "--real", stdin=stdin)  # --real without credentials: it would fail later, not now
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "credentials" not in done.stderr  # refused before the client was even built


def test_say_refuses_invalid_utf8_from_argv_stdin_and_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9 \xff")
    argv = subprocess.run(
        [*CLI, b"say", b"\xff", b"--real"],  # bytes in argv that are not UTF-8
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert argv.returncode == 2, argv.stderr
    assert b"not valid UTF-8" in argv.stderr
    piped = subprocess.run(
        [*CLI, "say", "-", "--real"], cwd=ROOT, env=ENV, input=b"\xff\xfe", capture_output=True, check=False, timeout=60
    )
    assert piped.returncode == 2
    assert b"standard input is not valid UTF-8" in piped.stderr
    from_file = run("say", "--file", str(bad), "--real")
    assert from_file.returncode == 2
    assert "is not valid UTF-8 (at byte 4)" in from_file.stderr


def test_say_reads_stdin_and_file(tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("From a file, with [bold]markup[/] that is text.\n", encoding="utf-8")
    from_file = run("say", "--file", str(text), "--json")
    assert from_file.returncode == 0, from_file.stderr
    result = json.loads(from_file.stdout.splitlines()[-1])
    assert result["reply"] == "From a file, with [bold]markup[/] that is text."
    piped = run("say", "-", stdin="From standard input.\n")
    assert piped.returncode == 0, piped.stderr
    assert "From standard input." in piped.stdout


def test_remote_text_with_markup_prints_literally() -> None:
    done = run("say", "Look: [bold red]not bold[/] and [/] and [link=x]y[/link]")
    assert done.returncode == 0, done.stderr
    assert "avatar > Look: [bold red]not bold[/] and [/] and [link=x]y[/link]" in done.stdout


def test_chat_set_with_markup_characters_does_not_crash() -> None:
    done = run("chat", "--speech-cps", "2000", stdin="/set lang=[/]\n/set [bold]=1\n/quit\n")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "[bold]=1" in done.stdout  # the error names the word, printed as itself


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
