"""Issue 23's doors, seen as a user sees them: real processes, a real pseudo-terminal, closed pipes, signals."""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from streamclient.emulator.handles import EmulatorHandle
from tests.cli.test_cli_process import TIMEOUT, clean_env, cli

HOSTILE = "a \x1b]0;pwned\x1b\\ b \x1b[2J c \x9b31m d \x07 e \x7f f"


def run_in_pty(args: list[str], *, env: dict[str, str], cwd: Path, feed: bytes = b"") -> tuple[int, bytes]:
    """Run ``python -m streamclient ARGS`` with a real pseudo-terminal as stdin, stdout and stderr."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamclient", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env={**env, "TERM": "xterm-256color", "COLUMNS": "200"},
            start_new_session=True,
        )
    finally:
        os.close(slave)
    if feed:
        os.write(master, feed)
    output = b""
    deadline = time.monotonic() + 45
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError as exc:  # EIO: every slave end is closed, the child is gone
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            output += chunk
        code = proc.wait(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:  # pragma: no cover - only when the test failed
            proc.kill()
            proc.wait()
    return code, output


def assert_no_raw_escapes(output: bytes, sent: str = HOSTILE) -> None:
    assert b"\x1b]0;pwned" not in output
    assert b"\x1b[2J" not in output
    assert "\x9b".encode() not in output
    assert b"\x07" not in output
    assert b"\x7f" not in output
    text = output.decode("utf-8", "replace")
    shown = "a \\x1b]0;pwned\\x1b\\ b \\x1b[2J c \\x9b31m d \\x07 e"  # as visible escapes
    assert shown + (" \\x7f f" if sent == HOSTILE else "") in text, text


# --------------------------------------------------------------------------- 1. remote text on a terminal


def test_say_on_a_terminal_shows_remote_control_characters_as_visible_escapes(tmp_path: Path) -> None:
    code, output = run_in_pty(["say", "--emulator", HOSTILE], env=clean_env(), cwd=tmp_path)
    assert code == 0, output
    assert_no_raw_escapes(output)


def test_chat_on_a_terminal_shows_remote_control_characters_as_visible_escapes(tmp_path: Path) -> None:
    # A terminal in canonical mode edits the typed line itself (DEL erases, ^D ends the input) and echoes control
    # characters as ^X: the avatar's answer (retelling mode: the same text) is the only way the raw bytes come back.
    typed = HOSTILE.replace(" \x7f f", "")
    code, output = run_in_pty(
        ["chat", "--emulator", "--mode", "1", "--speech-cps", "2000"],
        env=clean_env(),
        cwd=tmp_path,
        feed=typed.encode() + b"\n\x04",
    )
    assert code == 0, output
    echo, printed = output.split(b"\r\n", 1)  # the terminal echoes the line at once, before the program starts
    assert b"pwned" in echo
    assert_no_raw_escapes(printed, typed)


def test_say_json_keeps_remote_text_exact(tmp_path: Path) -> None:
    done = cli_run(["say", "--emulator", "--json", HOSTILE], tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["reply"] == HOSTILE.strip()


def test_tables_errors_and_log_lines_never_carry_raw_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    from streamclient.cli import resources
    from streamclient.cli._runner import _tell
    from streamclient.cli._visible import VisibleFormatter, visible

    assert visible("tab\tnew\nline") == "tab\tnew\nline"
    assert visible("\x00\x1b\r\x7f\x85\x9f\xa0é") == "\\x00\\x1b\\x0d\\x7f\\x85\\x9f\xa0é"
    resources._emit(False, None, "t", ("name",), [[HOSTILE]])  # piped: tab-separated
    _tell(f"error: the service said {HOSTILE}")
    record = logging.LogRecord("streamclient", logging.WARNING, __file__, 1, "got %s", (HOSTILE,), None)
    line = VisibleFormatter("%(message)s").format(record)
    out, err = capsys.readouterr()
    for text in (out, err, line):
        assert "pwned" in text
        assert not any((ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in text), repr(text)


# --------------------------------------------------------------------------------------- 2. no tracebacks


def start(args: list[str], cwd: Path, **popen: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "streamclient", *args], cwd=cwd, env=clean_env(), **popen
    )


def wait_for_line(stream: IO[bytes] | None, needle: bytes) -> bytes:
    assert stream is not None
    seen = b""
    for line in iter(stream.readline, b""):
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never came; got {seen!r}")


def test_chat_whose_terminal_closes_exits_129_without_a_traceback(tmp_path: Path) -> None:
    master, slave = os.openpty()
    proc = start(["chat", "--emulator"], tmp_path, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 45
        while b"type a line" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 1.0)[0]:
                seen += os.read(master, 65536)
        assert b"type a line" in seen, seen
        os.close(master)  # the terminal is gone: every print now fails with EIO
        master = -1
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=TIMEOUT) == 129
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:  # pragma: no cover - only when the test failed
            proc.kill()
            proc.wait()


LONG = "A sentence the avatar says back, long enough to need several lines of output and chunks. " * 20


@pytest.mark.parametrize(
    "args",
    [
        ["say", "--emulator", LONG],
        ["say", "--emulator", "--json", LONG],
        ["demo", "--emulator", "--speech-cps", "5000"],
    ],
    ids=["say", "say-json", "demo"],
)
def test_a_closed_stdout_ends_the_command_quietly(tmp_path: Path, args: list[str]) -> None:
    """``streamclient say ... | head -1``: the reader goes away after one line."""
    proc = start(args, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.readline()
        proc.stdout.close()  # what `head -1` does after its line
        err = proc.stderr.read().decode()
        proc.stderr.close()
        code = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test failed
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    assert all(line.startswith("streamclient say against") for line in err.splitlines()), err
    assert code == 1


def test_emulator_port_in_use_or_host_unassignable_is_one_line_naming_the_option(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args, option in (
            (["emulator", "--port", str(port)], f"--port {port}"),
            (["emulator", "--host", "192.0.2.1"], "--host 192.0.2.1"),  # TEST-NET-1: never this machine's
        ):
            done = cli_run(args, tmp_path)
            assert done.returncode == 2, done.stderr
            assert done.stderr.startswith("error: " + option), done.stderr
            assert len(done.stderr.splitlines()) == 1, done.stderr


@pytest.mark.parametrize(
    ("first", "second", "delay"),
    [
        (signal.SIGTERM, signal.SIGINT, 0.05),
        (signal.SIGTERM, signal.SIGTERM, 0.05),
        (signal.SIGTERM, signal.SIGINT, 0.3),
        (signal.SIGINT, signal.SIGTERM, 0.3),
    ],
)
def test_a_second_signal_soon_after_the_first_keeps_the_first_exit_code(
    tmp_path: Path, first: signal.Signals, second: signal.Signals, delay: float
) -> None:
    proc = start(
        ["chat", "--emulator"], tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for_line(proc.stdout, b"type a line")
        proc.send_signal(first)
        threading_event_wait(delay)
        proc.send_signal(second)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test failed
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + first, err.decode()
    assert b"Traceback" not in err, err.decode()


def threading_event_wait(seconds: float) -> None:
    import threading

    threading.Event().wait(seconds)


# ---------------------------------------------------------------------------- 3. expiry is a normal end


def cli_run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return cli(*args, cwd=cwd, stdin=stdin)


SLOW = "A sentence the avatar says back, slowly. " * 30  # ~1,200 characters: 6 s at say's 200 characters/s


@pytest.mark.parametrize("json_lines", [False, True], ids=["text", "json"])
def test_a_session_reaching_its_duration_is_a_normal_end(tmp_path: Path, json_lines: bool) -> None:
    done = cli_run(["say", "--emulator", "--duration", "2", *(["--json"] if json_lines else []), SLOW], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr
    assert "failed" not in done.stderr
    assert "error" not in done.stderr
    assert "will probably expire" in done.stderr  # said up front
    if json_lines:
        events = [json.loads(line) for line in done.stdout.splitlines()]
        assert {"event": "session_closed", "reason": "expired"} in events
        assert events[-1]["event"] == "expired"
        assert events[-1]["duration"] == 2
    else:
        assert "session closed (expired)" in done.stdout
        assert "expired: it reached its --duration of 2 s" in done.stdout


def test_a_text_that_cannot_be_sent_within_the_duration_is_refused_up_front(tmp_path: Path) -> None:
    text = "x" * 60_000  # ~11 s of paced sending alone
    done = cli_run(["say", "--emulator", "--duration", "5", "-"], tmp_path, stdin=text)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: --duration 5: sending 60000 bytes"), done.stderr
    assert "takes about 12 s alone" in done.stderr
    assert done.stdout == ""  # nothing was created


# ------------------------------------------------------------------------------- 6. doors that say the right thing


def cli_env_run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, cwd=cwd, env=clean_env(**env))


def test_say_names_the_service_it_talks_to(tmp_path: Path) -> None:
    done = cli_run(["say", "--emulator", "hi"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "streamclient say against the embedded emulator at http://127.0.0.1:" in done.stderr


def test_akool_base_url_without_a_key_is_the_same_door_as_base_url(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9"
    by_variable = cli_env_run(["say", "hi"], tmp_path, AKOOL_BASE_URL=url)
    by_option = cli_env_run(["say", "--base-url", url, "hi"], tmp_path)
    for done in (by_variable, by_option):
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.strip() == (
            f"error: no AKOOL credentials for the service at {url}: set AKOOL_API_KEY (or AKOOL_CLIENT_ID and "
            "AKOOL_CLIENT_SECRET) in the environment"
        ), done.stderr


def test_a_refused_create_names_the_variable_and_reports_no_closed_session(
    tmp_path: Path, akool_emulator: EmulatorHandle
) -> None:
    url = akool_emulator.base_url
    wrong = cli_env_run(["say", "hi"], tmp_path, AKOOL_BASE_URL=url, AKOOL_API_KEY="not-the-key")
    budget = cli_env_run(
        ["say", "--duration", "200", "hi"],
        tmp_path,
        AKOOL_BASE_URL=url,
        AKOOL_API_KEY=akool_emulator.api_key,
        STREAMCLIENT_MAX_DURATION="100",
    )
    for done in (wrong, budget):
        assert done.returncode in (1, 2), done.stderr
        assert "session closed" not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    assert "1101" in wrong.stderr
    assert "check AKOOL_API_KEY" in wrong.stderr
    assert "error: STREAMCLIENT_MAX_DURATION=100 s: a session of 200 s was refused" in budget.stderr
    assert akool_emulator.open_session_count() == 0


def test_options_are_named_in_errors_and_help(tmp_path: Path) -> None:
    voices = cli_env_run(["voices", "list", "--type", "3"], tmp_path, AKOOL_API_KEY="k")
    assert voices.returncode == 2
    assert "--type" in voices.stderr
    assert "voice_type" not in voices.stderr
    say_help = cli_run(["say", "-h"], tmp_path)
    assert "--json" in say_help.stdout
    assert "<bool>" not in say_help.stdout
    assert "sweep" in cli_run(["sessions", "-h"], tmp_path).stdout


def test_logging_options_work_after_the_subcommand(tmp_path: Path) -> None:
    done = cli_run(["say", "--debug", "--emulator", "hi"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert " DEBUG streamclient" in done.stderr
    verbose = cli_run(["say", "--emulator", "-v", "hi"], tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    assert " INFO streamclient" in verbose.stderr
    said = cli_run(["say", "--emulator", "--json", "--", "-v"], tmp_path)  # after --, -v is the text
    assert json.loads(said.stdout.splitlines()[-1])["reply"] == "-v"


def test_a_session_from_sessions_create_is_no_orphan_and_sweep_prints_whole_rows_and_a_summary(
    tmp_path: Path, akool_emulator: EmulatorHandle
) -> None:
    env = {"AKOOL_BASE_URL": akool_emulator.base_url, "AKOOL_API_KEY": akool_emulator.api_key}
    created = cli_env_run(
        ["sessions", "create", "dvp_Tristan_cloth2_1080P", "--duration", "600", "--json"], tmp_path, **env
    )
    assert created.returncode == 0, created.stderr
    session_id = json.loads(created.stdout)["id"]
    said = cli_env_run(["say", "hi"], tmp_path, **env)
    assert said.returncode == 0, said.stderr
    assert "ledger holds" not in said.stderr  # left open on purpose: not reported as an orphan
    shown = cli_env_run(["sessions", "sweep"], tmp_path, **env, COLUMNS="40")
    assert shown.returncode == 0, shown.stderr
    assert "…" not in shown.stdout
    assert f"{session_id}\t" in shown.stdout
    assert "dvp_Tristan_cloth2_1080P" in shown.stdout
    closed = cli_env_run(["sessions", "sweep", "--yes"], tmp_path, **env)
    assert closed.returncode == 0, closed.stderr
    assert f"closed 1 session(s): {session_id}" in closed.stdout
    assert akool_emulator.open_session_count() == 0


def test_similar_mistakes_raise_one_family_with_suggestions() -> None:
    import anyio

    from streamclient.api import AkoolClient, AsyncAkoolClient
    from streamclient.errors import InvalidArgumentError, LocalProtocolError, UnknownArgumentError
    from streamclient.session import connect

    async def mistakes() -> list[BaseException]:
        seen: list[BaseException] = []
        async with AsyncAkoolClient(api_key="k", base_url="http://127.0.0.1:9") as client:
            with pytest.raises(InvalidArgumentError) as typo:
                await client.sessions.create("dvp_Tristan_cloth2_1080P", duraton=600)  # type: ignore[call-arg]
            seen.append(typo.value)
            with pytest.raises(InvalidArgumentError) as connect_typo:
                connect(client, avatar_id="x", mode_typ=1)  # type: ignore[call-arg]
            seen.append(connect_typo.value)
        return seen

    typo, connect_typo = anyio.run(mistakes)
    for error in (typo, connect_typo):
        assert isinstance(error, UnknownArgumentError)
        assert isinstance(error, TypeError)
    assert "did you mean 'duration'?" in str(typo)
    assert "did you mean 'mode_type'?" in str(connect_typo)
    with AkoolClient(api_key="k", base_url="http://127.0.0.1:9") as sync_client:
        with pytest.raises(UnknownArgumentError, match="did you mean 'duration'"):
            sync_client.sessions.create("x", duraton=600)  # type: ignore[call-arg]
    assert issubclass(LocalProtocolError, InvalidArgumentError)
    assert issubclass(LocalProtocolError, ValueError)
