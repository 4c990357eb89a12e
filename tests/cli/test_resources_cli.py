"""The REST CLI commands against the loopback emulator (served from a background thread; the CLI runs its own loop)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from anyio.from_thread import start_blocking_portal
from starlette.applications import Starlette
from typer.testing import CliRunner

from streamclient.cli.app import app
from streamclient.emulator._serve import serve
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.state import EmulatorState

AVATAR = "dvp_Tristan_cloth2_1080P"
KEY = "cli-SECRET-key"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorState]:
    state = EmulatorState(api_key=KEY)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serve(Starlette(routes=rest_routes(state)))) as url,
    ):
        monkeypatch.setenv("AKOOL_BASE_URL", url)
        monkeypatch.setenv("AKOOL_API_KEY", KEY)
        monkeypatch.delenv("AKOOL_CLIENT_ID", raising=False)
        monkeypatch.delenv("AKOOL_CLIENT_SECRET", raising=False)
        yield state


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_session_lifecycle_as_json(emulator: EmulatorState, runner: CliRunner) -> None:
    created = runner.invoke(app, ["sessions", "create", AVATAR, "--duration", "60", "--mode-type", "2", "--json"])
    assert created.exit_code == 0, created.output
    data = json.loads(created.stdout)
    sid = data["id"]
    token = emulator.sessions[sid].client_token
    assert data["credentials"]["agora_token"] == "**********"
    assert token not in created.output

    got = runner.invoke(app, ["sessions", "get", sid, "--json"])
    assert json.loads(got.stdout)["id"] == sid
    listed = runner.invoke(app, ["sessions", "list", "--json"])
    assert [s["id"] for s in json.loads(listed.stdout)["items"]] == [sid]
    every = runner.invoke(app, ["sessions", "list", "--all", "--size", "1", "--json"])
    assert [s["id"] for s in json.loads(every.stdout)] == [sid]

    closed = runner.invoke(app, ["sessions", "close", sid])
    assert (closed.exit_code, closed.stdout.strip()) == (0, f"closed {sid}")
    again = runner.invoke(app, ["sessions", "close", sid])  # already closed (AKOOL 1219): the goal is reached
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"session {sid} was already closed; nothing to do"
    as_json = runner.invoke(app, ["sessions", "close", sid, "--json"])
    assert json.loads(as_json.stdout) == {"id": sid, "closed": True, "already_closed": True}
    unknown = runner.invoke(app, ["sessions", "close", "0" * 24])
    assert unknown.exit_code == 1
    assert unknown.stderr.strip().startswith("error: ")
    assert "1216" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "Traceback" not in unknown.output


def test_tables_for_people(emulator: EmulatorState, runner: CliRunner) -> None:
    created = runner.invoke(app, ["sessions", "create", AVATAR])
    assert created.exit_code == 0, created.output
    session = next(iter(emulator.sessions.values()))
    assert session.id in created.stdout
    assert session.client_token not in created.stdout
    for args, expected in [
        (["sessions", "list"], session.id),
        (["avatars", "list"], AVATAR),
        (["avatars", "list", "--all", "--size", "2"], AVATAR),
        (["avatars", "get", AVATAR], "Tristan"),
        (["voices", "list"], "emu_voice_tristan"),
        (["voices", "list", "--stream-only"], "emu_voice_tristan"),
        (["languages", "list"], "English"),
        (["knowledge", "list"], "Knowledge bases"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
        assert expected in result.stdout, args
        assert KEY not in result.output


def test_other_json_outputs(emulator: EmulatorState, runner: CliRunner) -> None:
    emulator.create_knowledge({"name": "faq"})
    assert json.loads(runner.invoke(app, ["knowledge", "list", "--json"]).stdout)["items"][0]["name"] == "faq"
    langs = json.loads(runner.invoke(app, ["languages", "list", "--json"]).stdout)
    assert {"lang_code": "af-ZA", "lang_name": "Afrikaans (South Africa)", "url": "", "need_voice_id": True} in langs
    avatar = json.loads(runner.invoke(app, ["avatars", "get", AVATAR, "--json"]).stdout)
    assert avatar["avatar_id"] == AVATAR


@pytest.mark.parametrize(
    "args",
    [
        ["sessions", "create", AVATAR, "--duration", "0"],
        ["sessions", "create", "bad id!"],
        ["sessions", "list", "--status", "9"],
        ["sessions", "list", "--size", "500"],  # typer's own range check
        ["sessions", "get"],  # missing argument
    ],
)
def test_usage_errors_exit_2(emulator: EmulatorState, runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not [p for _, p in emulator.requests if p.endswith("/session/create")]


def test_missing_credentials_exit_2(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AKOOL_API_KEY", "AKOOL_CLIENT_ID", "AKOOL_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, ["languages", "list"])
    assert result.exit_code == 2
    assert "AKOOL_API_KEY" in result.stderr


def test_api_errors_exit_1_and_never_print_the_key(emulator: EmulatorState, runner: CliRunner) -> None:
    result = runner.invoke(app, ["sessions", "get", "0123456789abcdef01234567"])
    assert result.exit_code == 1
    assert "1216" in result.stderr
    emulator.api_key = "rotated"
    denied = runner.invoke(app, ["languages", "list"])
    assert denied.exit_code == 1
    assert KEY not in denied.output


def test_unreachable_service_exits_3(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AKOOL_API_KEY", KEY)
    result = runner.invoke(app, ["languages", "list", "--base-url", f"http://127.0.0.1:{port}", "--timeout", "2"])
    assert result.exit_code == 3
    assert result.stderr.startswith("error: ")
    assert KEY not in result.output


def test_avatar_upload_waits_until_ready(emulator: EmulatorState, runner: CliRunner) -> None:
    args = ["avatars", "upload", "--url", "https://example.com/me.mp4", "--avatar-id", "myavatar1", "--name", "Me"]
    done = runner.invoke(app, [*args, "--interval", "0.02", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == 3
    listed = runner.invoke(app, ["avatars", "get", "myavatar1", "--json"])
    assert json.loads(listed.stdout)["avatar_id"] == "myavatar1"


def test_avatar_upload_without_waiting_and_with_a_bad_id(emulator: EmulatorState, runner: CliRunner) -> None:
    base = ["avatars", "upload", "--url", "https://example.com/me.mp4", "--name", "Me"]
    queued = runner.invoke(app, [*base, "--avatar-id", "myavatar2", "--no-wait", "--json"])
    assert queued.exit_code == 0, queued.output
    assert json.loads(queued.stdout)["status"] == 1
    bad = runner.invoke(app, [*base, "--avatar-id", "not valid!"])
    assert bad.exit_code == 2
