"""The session ledger, the budget guard and sweep(), through the REST client (mock transports and the emulator)."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from streamclient.api import sweep
from streamclient.errors import (
    APITimeoutError,
    BudgetExceededError,
    ConfigurationError,
    InsufficientQuotaError,
    LiveAvatarClosedError,
)
from streamclient.ledger import PostgresLedger, SessionLedger, default_ledger_path, owner_alive, resolve_ledger

from .conftest import SESSION, Emulator, MakeClient, Recorder, envelope

AVATAR = "dvp_Tristan_cloth2_1080P"


def states(ledger: SessionLedger | PostgresLedger) -> list[tuple[str | None, str]]:
    assert isinstance(ledger, SessionLedger)
    with sqlite3.connect(ledger.path) as conn:
        return list(conn.execute("SELECT session_id, state FROM sessions ORDER BY row"))


def test_where_the_ledger_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STREAMCLIENT_LEDGER")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_ledger_path() == tmp_path / "state" / "streamclient" / "ledger.sqlite3"
    ledger = resolve_ledger()
    assert ledger is not None
    assert ledger.path == default_ledger_path()
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_ledger_path() == Path.home() / ".local" / "state" / "streamclient" / "ledger.sqlite3"
    monkeypatch.setenv("STREAMCLIENT_LEDGER", "off")
    assert resolve_ledger() is None
    assert resolve_ledger(False) is None
    explicit = resolve_ledger(str(tmp_path / "mine.sqlite3"))
    assert explicit is not None
    assert explicit.path == tmp_path / "mine.sqlite3"


def test_the_test_suite_never_uses_the_users_ledger() -> None:
    ledger = resolve_ledger()
    assert ledger is not None
    assert ledger.path == Path(os.environ["STREAMCLIENT_LEDGER"])
    assert not str(ledger.path).startswith(str(Path.home() / ".local" / "state"))


async def test_intent_is_written_before_the_request_then_the_id(make_client: MakeClient) -> None:
    seen: list[list[tuple[str | None, str]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(states(client.ledger))  # type: ignore[arg-type]
        return envelope(SESSION)

    async with make_client(Recorder([answer])) as client:
        assert client.ledger is not None
        await client.sessions.create(AVATAR, duration=60)
        assert seen == [[(None, "creating")]]
        assert states(client.ledger) == [(SESSION["_id"], "open")]
        assert isinstance(client.ledger, SessionLedger)
        (entry,) = client.ledger.open_entries(client.base_url)
        assert entry.pid == os.getpid()
        assert entry.host == socket.gethostname()
        assert entry.avatar_id == AVATAR
        assert entry.expires_at is not None
        assert entry.created_at is not None
        assert entry.expires_at - entry.created_at == 60
        await client.sessions.close(SESSION["_id"])
        assert states(client.ledger) == [(SESSION["_id"], "closed")]


async def test_a_lost_answer_is_unknown_and_a_refusal_is_failed(make_client: MakeClient) -> None:
    handler = Recorder([httpx.ReadTimeout("lost"), envelope(code=1006, msg="quota")])
    async with make_client(handler) as client:
        assert client.ledger is not None
        with pytest.raises(APITimeoutError):
            await client.sessions.create(AVATAR)
        with pytest.raises(InsufficientQuotaError):
            await client.sessions.create(AVATAR)
        assert states(client.ledger) == [(None, "unknown"), (None, "failed")]
        assert len(handler.requests) == 2  # the lost create was not retried


async def test_a_closed_session_is_recorded_closed_when_the_service_says_so(make_client: MakeClient) -> None:
    async with make_client(Recorder([envelope(SESSION), envelope(code=1219, msg="closed")])) as client:
        assert client.ledger is not None
        await client.sessions.create(AVATAR)
        with pytest.raises(LiveAvatarClosedError):
            await client.sessions.close(SESSION["_id"])
        assert states(client.ledger) == [(SESSION["_id"], "closed")]


async def test_the_ledger_can_be_turned_off(make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMCLIENT_LEDGER", "off")
    async with make_client(Recorder([envelope(SESSION)])) as client:
        assert client.ledger is None
        await client.sessions.create(AVATAR)
    async with make_client(Recorder([envelope(SESSION)]), ledger=False) as client:
        assert client.ledger is None


async def test_an_unwritable_ledger_never_stops_a_session(make_client: MakeClient, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    async with make_client(Recorder([envelope(SESSION)]), ledger=blocker / "ledger.sqlite3") as client:
        session = await client.sessions.create(AVATAR)
        assert session.id == SESSION["_id"]


def _create_in_a_process(path: str, count: int) -> None:  # pragma: no cover - runs in a child process
    ledger = SessionLedger(path)
    for i in range(count):
        row = ledger.record_intent(base_url="https://x.test", avatar_id=AVATAR, duration=60)
        assert row is not None
        ledger.record_created(row, f"{os.getpid()}-{i}")


def test_many_processes_write_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.sqlite3")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_create_in_a_process, args=(path, 20)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT COUNT(*) FROM sessions WHERE state = 'open'").fetchone() == (80,)


def test_owner_alive_tells_a_dead_process_and_another_host() -> None:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    dead_pid = int(child.stdout)
    host = socket.gethostname()
    assert owner_alive(os.getpid(), None, host) is True
    assert owner_alive(dead_pid, None, host) is False
    assert owner_alive(os.getpid(), None, host + ".elsewhere") is None
    assert owner_alive(os.getppid(), "not-its-start-time", host) is False  # a reused pid is not the owner


# ------------------------------------------------------------------------------------------------ budget


async def test_max_duration_refuses_before_the_network_and_fills_a_missing_duration(make_client: MakeClient) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler, max_duration=600) as client:
        with pytest.raises(BudgetExceededError, match="max_duration=600") as caught:
            await client.sessions.create(AVATAR, duration=601)
        assert caught.value.limit == "max_duration"
        assert handler.requests == []
        await client.sessions.create(AVATAR)
        assert handler.bodies() == [{"avatar_id": AVATAR, "duration": 600}]


async def test_max_open_sessions_counts_every_process_of_this_machine(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = resolve_ledger()
    assert isinstance(other, SessionLedger)
    row = other.record_intent(base_url="https://akool.test", avatar_id=AVATAR, duration=600)  # "another process"
    assert row is not None
    other.record_created(row, "other-process-session")
    monkeypatch.setenv("STREAMCLIENT_MAX_OPEN_SESSIONS", "2")
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        await client.sessions.create(AVATAR, duration=60)
        with pytest.raises(BudgetExceededError, match="max_open_sessions=2") as caught:
            await client.sessions.create(AVATAR, duration=60)
        assert caught.value.limit == "max_open_sessions"
        assert caught.value.requested == 3
        assert len(handler.requests) == 1
        await client.sessions.close(SESSION["_id"])
        await client.sessions.create(AVATAR, duration=60)  # room again
        assert len(handler.requests) == 3


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("STREAMCLIENT_MAX_OPEN_SESSIONS", "two", "STREAMCLIENT_MAX_OPEN_SESSIONS must be a whole number"),
        ("STREAMCLIENT_MAX_OPEN_SESSIONS", "0", "STREAMCLIENT_MAX_OPEN_SESSIONS must be a whole number at least 1"),
        ("STREAMCLIENT_MAX_DURATION", "7200", "STREAMCLIENT_MAX_DURATION must be a whole number 1..3600"),
    ],
)
def test_bad_budget_settings_are_refused(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigurationError, match=message):
        make_client(Recorder([envelope(SESSION)]))


def test_max_open_sessions_needs_the_ledger(make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="ledger"):
        make_client(Recorder([envelope(SESSION)]), ledger=False, max_open_sessions=1)
    # From the environment it applies to every process: a client without a ledger (the embedded emulator) ignores it.
    monkeypatch.setenv("STREAMCLIENT_MAX_OPEN_SESSIONS", "1")
    client = make_client(Recorder([envelope(SESSION)]), ledger=False, max_duration=60)
    assert client.sessions.guard.budget.max_open_sessions is None
    assert client.sessions.guard.budget.max_duration == 60


# ------------------------------------------------------------------------------------------------ sweep


async def test_sweep_closes_orphans_only(emulator: Emulator) -> None:
    async with emulator.client() as client:
        ledger = client.ledger
        assert ledger is not None
        mine = await client.sessions.create(AVATAR, duration=300)  # owner: this (live) process
        orphan = await client.sessions.create(AVATAR, duration=300)
        stranger = await client.sessions.create(AVATAR, duration=300)
        dead = await anyio.run_process([sys.executable, "-c", "import os; print(os.getpid())"])
        with sqlite3.connect(ledger.path) as conn:
            conn.execute("UPDATE sessions SET pid = ? WHERE session_id = ?", (int(dead.stdout), orphan.id))
            conn.execute("DELETE FROM sessions WHERE session_id = ?", (stranger.id,))

        dry = await sweep(client)
        assert [i.session_id for i in dry.items] == [orphan.id, stranger.id]
        assert [i.closable for i in dry.items] == [True, False]
        assert dry.closed == []
        assert emulator.state.sessions[orphan.id].is_open

        done = await sweep(client, close=True)
        assert done.closed == [orphan.id]
        assert not emulator.state.sessions[orphan.id].is_open
        assert emulator.state.sessions[stranger.id].is_open

        everything = await sweep(client, close=True, all_open=True)
        assert everything.closed == [stranger.id]
        assert emulator.state.sessions[mine.id].is_open  # its owner runs: never swept
        assert ledger.orphans(client.base_url) == []


async def test_sweep_without_a_ledger_needs_all_open(emulator: Emulator) -> None:
    async with emulator.client(ledger=False) as client:
        with pytest.raises(ConfigurationError, match="all_open"):
            await sweep(client)
        report = await sweep(client, all_open=True)
        assert report.items == []


async def test_a_lost_create_is_reported_and_all_open_resolves_it(emulator: Emulator) -> None:
    emulator.state.delay_next("session/create", 0.5, after=True)  # created on the service, answer too late
    async with emulator.client(timeout=0.1) as client:
        ledger = client.ledger
        assert ledger is not None
        with pytest.raises(APITimeoutError):
            await client.sessions.create(AVATAR, duration=300)
        assert states(ledger) == [(None, "unknown")]
    async with emulator.client() as client:
        (lost,) = emulator.state.sessions.values()
        report = await sweep(client)
        assert report.lost_creates == 1
        assert [(i.session_id, i.closable) for i in report.items] == [(lost.id, False)]  # not in the ledger
        everything = await sweep(client, all_open=True, close=True)
        assert everything.closed == [lost.id]
        assert emulator.state.open_sessions() == []
        assert states(ledger) == [(None, "swept")]
        assert (await sweep(client)).lost_creates == 0
