"""The command line run as a process, the way people run it: global options, and every bad path without a traceback.

Each run uses ``python -m streamclient`` in a temporary working directory, without AKOOL credentials.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from streamclient import __version__
from streamclient.emulator.handles import EmulatorHandle

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


def clean_env(**extra: str) -> dict[str, str]:
    # Keeps STREAMCLIENT_LEDGER (tests/conftest.py): a subprocess never writes to the user's own session ledger.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKOOL_") and k != "STREAMCLIENT_LOG"}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamclient", *args],
        cwd=cwd,
        env=env or clean_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def assert_clean_failure(done: subprocess.CompletedProcess[str], code: int, *names: str) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    for name in names:
        assert name in done.stderr, done.stderr


# ----------------------------------------------------------------------------------------------- global options


def test_version_help_and_module_entry_point(tmp_path: Path) -> None:
    version = cli("--version", cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, f"streamclient {__version__}")
    short = cli("-h", cwd=tmp_path)
    assert short.returncode == 0
    assert "Usage: streamclient" in short.stdout
    assert "AKOOL_API_KEY" in short.stdout
    assert cli("frames", "-h", cwd=tmp_path).returncode == 0


def test_shell_completion_is_available(tmp_path: Path) -> None:
    # typer guesses the shell from the process tree (shellingham): a test run from `make` under CI may have none.
    done = cli(
        "--show-completion", "bash", cwd=tmp_path, env=clean_env(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    )
    assert done.returncode == 0, done.stderr
    assert "_streamclient_completion" in done.stdout


def test_log_level_from_the_environment_is_checked(tmp_path: Path) -> None:
    done = cli("frames", "command", "interrupt", cwd=tmp_path, env=clean_env(STREAMCLIENT_LOG="chatty"))
    assert_clean_failure(done, 2, "STREAMCLIENT_LOG", "debug, info, warning, error")


def test_verbose_logs_go_to_stderr_and_never_into_the_json(tmp_path: Path) -> None:
    done = cli("-v", "say", "--json", "hello", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert " INFO streamclient.session" in done.stderr  # "session ... created"
    assert all(json.loads(line) for line in done.stdout.splitlines())
    quiet = cli("say", "--json", "hello", cwd=tmp_path)
    assert " INFO " not in quiet.stderr
    debug = cli("say", "--json", "hello", cwd=tmp_path, env=clean_env(STREAMCLIENT_LOG="debug"))
    assert " DEBUG streamclient" in debug.stderr


def test_the_library_installs_only_a_null_handler(tmp_path: Path) -> None:
    code = (
        "import logging, streamclient\n"
        "handlers = logging.getLogger('streamclient').handlers\n"
        "assert [type(h).__name__ for h in handlers] == ['NullHandler'], handlers\n"
        "logging.getLogger('streamclient.session').warning('a library warning')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # Python's last-resort handler stayed out of it


# ---------------------------------------------------------------------------------------------------- bad paths


def test_schemas_go_to_stdout_and_never_into_the_working_directory(tmp_path: Path) -> None:
    done = cli("frames", "schemas", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)) == ["chat.json", "command.json", "command_ack.json", "event.json"]
    assert list(tmp_path.iterdir()) == []


def test_schemas_to_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for out in ("/proc/nope", str(blocker / "schemas")):
        done = cli("frames", "schemas", "--out", out, cwd=tmp_path)
        assert_clean_failure(done, 1, f"--out {out}")
    assert_clean_failure(cli("frames", "schemas", "--check", cwd=tmp_path), 2, "--check", "--out")


def test_decode_of_a_missing_file(tmp_path: Path) -> None:
    assert_clean_failure(cli("frames", "decode", "/nonexistent/frames.jsonl", cwd=tmp_path), 1, "/nonexistent/")


def test_emulator_record_to_a_missing_directory(tmp_path: Path) -> None:
    done = cli("emulator", "--record", "/nonexistent/x.jsonl", cwd=tmp_path)
    assert_clean_failure(done, 2, "--record /nonexistent/x.jsonl")
    assert "listen" not in done.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["demo", "--speech-cps", "0"], "--speech-cps"),
        (["chat", "--speech-cps", "-1"], "--speech-cps"),
        (["say", "--duration", "0", "hi"], "--duration"),
        (["say", "--emulator", "--base-url", "http://127.0.0.1:9", "hi"], "--base-url"),
    ],
)
def test_live_commands_name_the_bad_option(tmp_path: Path, args: list[str], option: str) -> None:
    assert_clean_failure(cli(*args, cwd=tmp_path), 2, option)


@pytest.mark.parametrize(
    "args", [["languages", "list"], ["say", "--real", "hi"], ["say", "--base-url", "http://127.0.0.1:9", "hi"]]
)
def test_missing_credentials_name_the_environment_variables(tmp_path: Path, args: list[str]) -> None:
    done = cli(*args, cwd=tmp_path)
    assert_clean_failure(done, 2, "AKOOL_API_KEY", "AKOOL_CLIENT_ID", "AKOOL_CLIENT_SECRET")
    assert "api_key=" not in done.stderr  # advice for library callers, not for people at a shell


def test_live_commands_say_which_service_they_use(tmp_path: Path) -> None:
    done = cli("demo", "--speech-cps", "2000", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "against the embedded emulator at http://127.0.0.1:" in done.stdout


# ------------------------------------------------------------------------------------------------------ Ctrl-C

# Sends SIGINT to itself while Python imports the command line's dependencies (the first half second).
INTERRUPT_WHILE_IMPORTING = """
import importlib.abc, os, signal, sys

class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, Interrupt())
sys.argv = ["streamclient", "frames", "command", "interrupt"]
from streamclient.cli import main
main()
"""


def test_ctrl_c_while_starting_up(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPT_WHILE_IMPORTING],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert_clean_failure(done, 130, "interrupted")
    assert done.stdout == ""


def decoder(cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "streamclient", "frames", "decode", "-"],
        cwd=cwd,
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def frame_line(mid: str) -> bytes:
    frame = {"v": 2, "type": "chat", "mid": mid, "idx": 0, "fin": True, "pld": {"from": "bot", "text": "hi"}}
    return json.dumps(frame).encode() + b"\n"


def test_ctrl_c_while_decode_waits_for_input(tmp_path: Path) -> None:
    watchdog = None
    with decoder(tmp_path) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        watchdog = threading.Timer(TIMEOUT, process.kill)  # a hang fails the test instead of blocking the suite
        watchdog.start()
        process.stdin.write(frame_line("m"))
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["text"] == "hi"  # running, and blocked reading stdin
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=TIMEOUT)
    watchdog.cancel()
    assert process.returncode == 130
    assert b"Traceback" not in stderr
    assert b"interrupted" in stderr


def test_decode_follows_a_growing_input(tmp_path: Path) -> None:
    """``tail -f frames.jsonl | streamclient frames decode -``: each line is decoded before the pipe closes."""
    with decoder(tmp_path) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        watchdog = threading.Timer(TIMEOUT, process.kill)  # a hang fails the test instead of blocking the suite
        watchdog.start()
        try:
            for n in range(3):
                process.stdin.write(frame_line(f"m{n}"))
                process.stdin.flush()
                decoded = json.loads(process.stdout.readline())  # answered while the pipe is still open
                assert (decoded["event"], decoded["mid"]) == ("message", f"m{n}")
            process.stdin.close()
            assert process.wait(timeout=TIMEOUT) == 0
        finally:
            watchdog.cancel()


def test_live_commands_use_the_service_given_by_base_url(tmp_path: Path, akool_emulator: EmulatorHandle) -> None:
    env = clean_env(AKOOL_API_KEY=akool_emulator.api_key)
    done = cli("demo", "--base-url", akool_emulator.base_url, "--duration", "120", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"against the service at {akool_emulator.base_url}" in done.stdout
    assert "embedded emulator" not in done.stdout
    assert akool_emulator.open_session_count() == 0
    assert akool_emulator.billed_seconds() > 0  # the session ran on this emulator, not on an embedded one


def test_piped_chat_waits_for_the_answers_and_closes_cleanly(tmp_path: Path) -> None:
    # End of input used to quit before the reply: the writer was still sending after we left the channel, which
    # logged "ERROR ... run failed: the channel closed while sending" and lost the answer.
    done = cli("chat", "--emulator", "--speech-cps", "1000", cwd=tmp_path, stdin="hello\nsecond line\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "You said: hello" in done.stdout
    assert "You said: second line" in done.stdout
    assert "ERROR" not in done.stderr
    assert "Traceback" not in done.stderr
    assert "ended (closed)" in done.stdout
