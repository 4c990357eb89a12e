"""The CLI's doors: credentials from the environment, the transport check before a billed create, ``make demo``."""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal
from starlette.applications import Starlette
from typer.testing import CliRunner

from streamclient.cli import demo
from streamclient.cli.app import app
from streamclient.emulator import Emulator, EmulatorConfig, FaultPlan
from streamclient.emulator._serve import serve
from streamclient.emulator.faults import Fault
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.state import EmulatorState
from streamclient.ledger import resolve_ledger
from streamclient.session import SessionOptions

ROOT = Path(__file__).resolve().parents[2]
KEY = "cli-PRIVATE-key-123"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorState]:
    state = EmulatorState(api_key=KEY)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serve(Starlette(routes=rest_routes(state)))) as url,
    ):
        monkeypatch.setenv("AKOOL_BASE_URL", url)
        monkeypatch.delenv("AKOOL_CLIENT_ID", raising=False)
        monkeypatch.delenv("AKOOL_CLIENT_SECRET", raising=False)
        yield state


@pytest.mark.parametrize("key", [KEY + "\n", f"  {KEY}\r\n", KEY + " "])
def test_a_pasted_key_with_surrounding_whitespace_works(
    emulator: EmulatorState, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("AKOOL_API_KEY", key)
    done = CliRunner().invoke(app, ["languages", "list", "--json"])
    assert done.exit_code == 0, done.output
    assert KEY not in done.output


@pytest.mark.parametrize(("key", "kind"), [("cli-PRIVATE key", "a space"), ("cli-PRIVATE\nkey", "a control character")])
def test_an_inner_space_or_newline_in_the_key_exits_2_naming_the_variable_only(
    emulator: EmulatorState, monkeypatch: pytest.MonkeyPatch, key: str, kind: str
) -> None:
    monkeypatch.setenv("AKOOL_API_KEY", key)
    for args in (["languages", "list"], ["say", "hello", "--real"]):
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 2, done.output
        assert f"AKOOL_API_KEY contains {kind}" in done.output
        assert "PRIVATE" not in done.output
        assert "Traceback" not in done.output
    assert emulator.sessions == {}


def test_real_without_the_agora_extra_fails_before_creating_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    if _agora_installed():  # pragma: no cover - this suite's venv has no agora extra; elsewhere, pretend
        from streamclient.errors import TransportUnavailableError
        from streamclient.transport import _agora_sdk

        def missing() -> None:
            raise TransportUnavailableError("The Agora SDK cannot be used: x. pip install 'streamclient[agora]'")

        monkeypatch.setattr(_agora_sdk, "load_agora", missing)
    monkeypatch.setenv("AKOOL_API_KEY", KEY)
    monkeypatch.setenv("AKOOL_BASE_URL", "https://openapi.akool.invalid")  # not loopback: needs Agora
    done = CliRunner().invoke(app, ["say", "hello", "--real"])
    assert done.exit_code == 2, done.output
    assert "pip install 'streamclient[agora]'" in done.output
    ledger = resolve_ledger()
    assert ledger is not None
    assert ledger.open_entries() == []  # no create was even attempted


def _agora_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("agora") is not None


def test_make_demo_always_uses_the_embedded_emulator() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")  # pragma: no cover
    plan = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "streamclient demo --emulator" in plan.stdout


@pytest.mark.timeout(120)
def test_demo_with_emulator_ignores_real_credentials() -> None:
    env = {**os.environ, "AKOOL_API_KEY": "sk-real-key", "AKOOL_BASE_URL": "https://openapi.akool.invalid"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from streamclient.cli import main; main()",
            "demo",
            "--emulator",
            "--speech-cps",
            "3000",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the embedded emulator" in done.stdout
    assert "0 sessions left open" in done.stdout


def test_say_exits_1_with_a_clear_line_when_the_reply_comes_back_incomplete(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Every reply is chunked by the avatar and some chunks may get lost on the way. " * 12
    plan = FaultPlan(script={3: Fault.DROP})  # one chunk in the middle of the reply never arrives
    config = EmulatorConfig(api_key=KEY, avatar_join_delay=0.05, speech_chars_per_second=5000.0, faults_to_client=plan)
    # Give up on the missing chunk after 0.5 s instead of the default 30 s.
    monkeypatch.setattr(demo, "SessionOptions", functools.partial(SessionOptions, message_timeout=0.5))
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Emulator(config)) as emu:
        monkeypatch.setenv("AKOOL_BASE_URL", emu.base_url)
        monkeypatch.setenv("AKOOL_API_KEY", KEY)
        done = CliRunner().invoke(app, ["say", text, "--real", "--json"])
        assert emu.open_session_count() == 0
    assert done.exit_code == 1, done.output
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["event"] == "result"
    assert result["incomplete"] is True
    assert 0 < len(result["reply"]) < len(text.strip())
    received = len(result["reply"].replace("\u2026", ""))  # every character that arrived; a gap is marked "…"
    assert f"the reply came back incomplete: {received} characters arrived, 1 gap(s)" in done.stderr


def test_sweep_table_dry_run_and_yes(emulator: EmulatorState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKOOL_API_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    created = runner.invoke(app, ["sessions", "create", "dvp_Tristan_cloth2_1080P", "--duration", "120", "--json"])
    session_id = json.loads(created.stdout)["id"]
    nothing = runner.invoke(app, ["sessions", "sweep"])
    assert nothing.exit_code == 0, nothing.output
    assert "no open session to sweep" in nothing.stdout  # its owner (this process) still runs
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    ledger = resolve_ledger()
    assert ledger is not None
    with sqlite3.connect(ledger.path) as conn:
        conn.execute("UPDATE sessions SET pid = ? WHERE session_id = ?", (int(dead.stdout), session_id))

    shown = runner.invoke(app, ["sessions", "sweep"])
    assert shown.exit_code == 0, shown.output
    assert session_id in shown.stdout
    assert "would close: owner process is gone" in shown.stdout
    assert "run again with --yes" in shown.stdout
    dry = runner.invoke(app, ["sessions", "sweep", "--yes", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert emulator.sessions[session_id].is_open
    swept = runner.invoke(app, ["sessions", "sweep", "--yes"])
    assert swept.exit_code == 0, swept.output
    assert "closed" in swept.stdout
    assert not emulator.sessions[session_id].is_open
