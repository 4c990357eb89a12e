"""The PostgreSQL session ledger against a real server: leases, the fleet-wide budget, sweepers, failures.

Workers are separate processes (``tests/fleet/worker.py``) with distinct host identities, against the emulator.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import anyio
import psycopg
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from streamclient.api import AsyncAkoolClient, SweepReport, sweep
from streamclient.emulator import Emulator
from streamclient.errors import APITimeoutError, BudgetExceededError, LedgerUnavailableError
from streamclient.ledger import SCHEMA_VERSION, PostgresLedger, resolve_ledger

from .conftest import ROOT, fleet_emulator, start_worker, wait_until, worker_env
from .pg import PgServer

AVATAR = "dvp_Tristan_cloth2_1080P"


def client_for(emu: Emulator, ledger: PostgresLedger | bool, **kwargs: Any) -> AsyncAkoolClient:
    return AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url, ledger=ledger, timeout=10, **kwargs)


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(sql, params).fetchall())


def states(url: str) -> dict[str | None, str]:
    return dict(rows(url, "SELECT session_id, state FROM streamclient_sessions ORDER BY row_id"))


def lapsed(url: str, host: str) -> bool:
    found = rows(url, "SELECT bool_and(lease_until < now()) FROM streamclient_owners WHERE host = %s", host)
    return bool(found[0][0])


async def sweep_with(emu: Emulator, ledger: PostgresLedger, **kwargs: Any) -> SweepReport:
    async with client_for(emu, ledger) as client:
        return await sweep(client, close=True, **kwargs)


# ------------------------------------------------------------------------------------------ schema and the record


async def test_the_schema_is_created_once_when_many_workers_start_at_once(make_ledger: Any, fleet_db: str) -> None:
    ledgers = [make_ledger(host=f"w{i}") for i in range(8)]
    versions: list[int] = []

    async def migrate(ledger: PostgresLedger) -> None:
        versions.append(await ledger.migrate())
        await ledger.aclose()

    async with anyio.create_task_group() as group:
        for ledger in ledgers:
            group.start_soon(migrate, ledger)
    assert versions == [SCHEMA_VERSION] * 8
    assert rows(fleet_db, "SELECT version FROM streamclient_schema") == [(SCHEMA_VERSION,)]
    assert rows(fleet_db, "SELECT count(*) FROM streamclient_owners") == [(8,)]


async def test_the_environment_selects_postgres_and_hides_the_password(
    monkeypatch: pytest.MonkeyPatch, fleet_db: str
) -> None:
    secret_url = fleet_db.replace("postgres@", "postgres:hunter2@")
    monkeypatch.setenv("STREAMCLIENT_LEDGER", secret_url)
    ledger = resolve_ledger()
    assert isinstance(ledger, PostgresLedger)
    assert resolve_ledger() is ledger  # one lease per process and database
    assert "hunter2" not in repr(ledger)
    assert "hunter2" not in ledger.path


async def test_three_steps_on_postgres_intent_id_unknown_close(make_ledger: Any, fleet_db: str) -> None:
    ledger = make_ledger()
    seen: list[dict[str | None, str]] = []
    async with fleet_emulator() as emu, client_for(emu, ledger) as client:
        original = client._core.request

        async def spy(method: str, path: str, **kwargs: Any) -> Any:
            if path.endswith("session/create"):
                seen.append(states(fleet_db))
            return await original(method, path, **kwargs)

        client._core.request = spy  # type: ignore[method-assign]
        session = await client.sessions.create(AVATAR, duration=60)
        assert seen == [{None: "creating"}]  # the intent is in the database before the request
        (entry,) = await ledger.open_entries(emu.base_url)
        assert entry.session_id == session.id
        assert entry.host == "tester"
        assert entry.lease_alive is True
        assert entry.expires_at is not None
        assert entry.created_at is not None
        assert entry.expires_at - entry.created_at == pytest.approx(60)
        await client.sessions.close(session.id)
        assert states(fleet_db) == {session.id: "closed"}

        emu.state.delay_next("session/create", 3, after=True)  # created on the service, the answer is late
        async with client_for(emu, ledger, retry=None) as impatient:
            impatient._core.timeout = 0.5
            with pytest.raises(APITimeoutError):
                await impatient.sessions.create(AVATAR, duration=60)
        assert states(fleet_db)[None] == "unknown"


# ------------------------------------------------------------------------------------------ the fleet-wide budget


async def test_max_open_sessions_counts_every_worker(make_ledger: Any, fleet_db: str) -> None:
    a, b = make_ledger(host="host-a"), make_ledger(host="host-b")
    async with fleet_emulator() as emu:
        async with client_for(emu, a, max_open_sessions=2) as ca, client_for(emu, b, max_open_sessions=2) as cb:
            first = await ca.sessions.create(AVATAR, duration=60)
            await cb.sessions.create(AVATAR, duration=60)
            with pytest.raises(BudgetExceededError) as refused:
                await cb.sessions.create(AVATAR, duration=60)
            assert refused.value.limit == "max_open_sessions"
            assert "across the fleet" in str(refused.value)
            assert emu.open_session_count() == 2  # refused before the network
            await ca.sessions.close(first.id)
            await cb.sessions.create(AVATAR, duration=60)  # a place is free again
            assert emu.open_session_count() == 2


async def test_billed_seconds_over_a_rolling_window(make_ledger: Any, fleet_db: str) -> None:
    a, b = make_ledger(host="host-a"), make_ledger(host="host-b")
    async with fleet_emulator() as emu:
        async with client_for(emu, a, max_billed_seconds=500) as ca, client_for(emu, b, max_billed_seconds=500) as cb:
            session = await ca.sessions.create(AVATAR, duration=300)
            await ca.sessions.close(session.id)  # closed early: AKOOL charged the whole duration already
            with pytest.raises(BudgetExceededError) as refused:
                await cb.sessions.create(AVATAR, duration=300)
            assert refused.value.limit == "max_billed_seconds"
            assert refused.value.requested == 600
            await cb.sessions.create(AVATAR, duration=200)  # 300 + 200 <= 500
            assert len(emu.state.sessions) == 2


async def test_an_unreachable_store_refuses_when_a_budget_is_set(make_ledger: Any) -> None:
    nowhere = "postgresql://postgres@127.0.0.1:9/nothing"
    async with fleet_emulator() as emu:
        ledger = make_ledger(url=nowhere, connect_timeout=1, timeout=3)
        async with client_for(emu, ledger, max_open_sessions=5) as client:
            with pytest.raises(LedgerUnavailableError, match="nothing was sent"):
                await client.sessions.create(AVATAR, duration=60)
        async with client_for(emu, ledger, max_open_sessions=5, ledger_unavailable="allow") as client:
            allowed = await client.sessions.create(AVATAR, duration=60)
        async with client_for(emu, ledger) as client:  # no budget: allowed by default, with a warning
            await client.sessions.create(AVATAR, duration=60)
        async with client_for(emu, ledger, ledger_unavailable="refuse") as client:
            with pytest.raises(LedgerUnavailableError):
                await client.sessions.create(AVATAR, duration=60)
        assert len(emu.state.sessions) == 2
        assert allowed.id in emu.state.sessions
        assert ledger.pending_writes >= 4  # both records wait for the database, nothing is dropped


# ------------------------------------------------------------------------------------------ workers and sweepers


async def test_kill_9_workers_then_racing_sweepers_close_each_orphan_exactly_once(
    make_ledger: Any, fleet_db: str
) -> None:
    async with fleet_emulator() as emu:
        closes: list[str] = []

        class Listener:
            def session_created(self, session: Any) -> None:
                pass

            def session_closed(self, session: Any, reason: str) -> None:
                closes.append(session.id)

        emu.state.add_listener(Listener())
        async with (
            start_worker(emu, fleet_db, "host-a") as a,
            start_worker(emu, fleet_db, "host-b") as b,
            start_worker(emu, fleet_db, "host-c") as c,
        ):
            ids: dict[str, list[str]] = {}
            for worker in (a, b, c):
                ids[worker.host] = [(await worker.ask("create"))["created"] for _ in range(2)]
            sweeper = make_ledger(host="sweeper")
            early = await sweep_with(emu, sweeper)
            assert early.closed == []  # every lease is live
            await a.kill()
            await b.kill()
            await wait_until(lambda: lapsed(fleet_db, "host-a") and lapsed(fleet_db, "host-b"))
            other = make_ledger(host="sweeper-2")
            reports: list[SweepReport] = []

            async def run(ledger: PostgresLedger) -> None:
                reports.append(await sweep_with(emu, ledger))

            async with anyio.create_task_group() as group:
                group.start_soon(run, sweeper)
                group.start_soon(run, other)
            orphans = sorted(ids["host-a"] + ids["host-b"])
            swept = sorted(reports[0].closed + reports[1].closed)
            assert swept == orphans  # each closed, by one sweeper only
            assert reports[0].already_closed == reports[1].already_closed == []
            assert sorted(closes) == orphans  # the service saw one close each, and none of host-c's
            assert emu.open_session_count() == 2
            reasons = rows(
                fleet_db, "SELECT state, reason FROM streamclient_sessions WHERE session_id = %s", orphans[0]
            )
            assert reasons[0][0] == "swept"
            assert "lease of its owner" in reasons[0][1]
            again = await sweep_with(emu, sweeper, all_open=True)
            assert again.closed == []  # not host-c's, whose lease is live, even with all_open
            assert (await c.ask("close"))["closed"]
        assert states(fleet_db) == {**dict.fromkeys(orphans, "swept"), **dict.fromkeys(ids["host-c"], "closed")}


async def test_a_paused_worker_is_swept_then_renews_and_learns_why(make_ledger: Any, fleet_db: str) -> None:
    async with fleet_emulator() as emu, start_worker(emu, fleet_db, "host-paused") as worker:
        sid = (await worker.ask("create"))["created"]
        worker.signal(signal.SIGSTOP)
        await wait_until(lambda: lapsed(fleet_db, "host-paused"))
        report = await sweep_with(emu, make_ledger(host="sweeper"))
        assert report.closed == [sid]
        worker.signal(signal.SIGCONT)

        async def told() -> bool:
            answer = await worker.ask("swept")
            return bool(answer["swept"])

        await wait_until(told, every=0.2)
        answer = await worker.ask("swept")
        assert answer["lapses"] >= 1
        ((swept_id, reason),) = answer["swept"]
        assert swept_id == sid
        assert "lease of its owner" in reason
        fresh = (await worker.ask("create"))["created"]  # renewed: it creates again, and that one is live
        after = await sweep_with(emu, make_ledger(host="sweeper-2"))
        assert after.closed == []
        assert states(fleet_db)[fresh] == "open"


async def test_skewed_worker_clocks_change_nothing(make_ledger: Any, fleet_db: str) -> None:
    async with (
        fleet_emulator() as emu,
        start_worker(emu, fleet_db, "host-ahead", FLEET_CLOCK_SKEW="7200") as ahead,
        start_worker(emu, fleet_db, "host-behind", FLEET_CLOCK_SKEW="-7200") as behind,
    ):
        one = (await ahead.ask("create"))["created"]
        two = (await behind.ask("create"))["created"]
        report = await sweep_with(emu, make_ledger(host="sweeper"))
        assert report.closed == []  # an hour ahead or behind, both leases are live by the database's clock
        offsets = rows(fleet_db, "SELECT abs(extract(epoch FROM now() - created_at)) FROM streamclient_sessions")
        assert all(offset < 600 for (offset,) in offsets)
        await behind.kill()
        await wait_until(lambda: lapsed(fleet_db, "host-behind"))
        report = await sweep_with(emu, make_ledger(host="sweeper-2"))
        assert report.closed == [two]
        assert states(fleet_db)[one] == "open"


async def test_the_database_restarted_mid_run_loses_no_record(
    make_ledger: Any, fleet_db: str, pg_server: PgServer
) -> None:
    if pg_server.external is not None:
        pytest.skip("STREAMCLIENT_TEST_POSTGRES is set: this test restarts the server it started itself")
    async with fleet_emulator() as emu, start_worker(emu, fleet_db, "host-a", STREAMCLIENT_LEASE_SECONDS="3") as w:
        first = (await w.ask("create"))["created"]
        pg_server.stop()
        try:
            second = (await w.ask("create", timeout=60))["created"]  # no budget: allowed, recorded later
            assert (await w.ask("close", timeout=60))["closed"]  # closes both: recorded later
        finally:
            pg_server.start()
        await wait_until(lambda: states(fleet_db) == {first: "closed", second: "closed"}, timeout=60, every=0.2)
        third = (await w.ask("create"))["created"]  # the worker recovered
        assert states(fleet_db)[third] == "open"
        report = await sweep_with(emu, make_ledger(host="sweeper"))
        assert report.closed == []  # its lease came back with it


async def test_a_lost_answer_of_a_killed_worker_is_resolved_through_the_service_list(
    make_ledger: Any, fleet_db: str
) -> None:
    async with fleet_emulator() as emu, start_worker(emu, fleet_db, "host-a") as worker:
        emu.state.delay_next("session/create", 60, after=True)  # the session exists; the answer never comes
        assert worker.process.stdin is not None
        await worker.process.stdin.send(b"create\n")
        await wait_until(lambda: emu.open_session_count() == 1)
        await worker.kill()
        await wait_until(lambda: lapsed(fleet_db, "host-a"))
        assert list(states(fleet_db).values()) == ["creating"]
        report = await sweep_with(emu, make_ledger(host="sweeper"))
        (sid,) = emu.state.sessions
        assert report.closed == [sid]
        assert report.lost_resolved == 1
        assert emu.open_session_count() == 0
        assert states(fleet_db) == {sid: "swept"}


async def test_sweep_every_runs_passes_until_stopped(make_ledger: Any, fleet_db: str) -> None:
    async with fleet_emulator() as emu:
        async with start_worker(emu, fleet_db, "host-a") as worker:
            sid = (await worker.ask("create"))["created"]
            await worker.kill()
        env = worker_env(emu, fleet_db, "sweeper-cli")
        await wait_until(lambda: lapsed(fleet_db, "host-a"))
        shown = await anyio.run_process(
            [sys.executable, "-c", "from streamclient.cli import main; main()", "sessions", "sweep", "--json"],
            env=env,
            cwd=str(ROOT),
            check=False,
        )
        assert shown.returncode == 0, shown.stderr.decode()
        report = json.loads(shown.stdout)
        assert [(i["session_id"], i["closable"]) for i in report["items"]] == [(sid, True)]
        assert report["dry_run"] is True
        assert emu.open_session_count() == 1  # a dry run closes nothing
        cli = await anyio.open_process(
            [sys.executable, "-c", "from streamclient.cli import main; main()", "sessions", "sweep", "--every", "0.5s"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(ROOT),
        )
        assert cli.stdout is not None
        out = BufferedByteReceiveStream(cli.stdout)
        lines: list[str] = []
        try:
            with anyio.fail_after(60):
                while not any(sid in line and "1 closed" in line for line in lines):
                    lines.append((await out.receive_until(b"\n", 1 << 16)).decode())
                passes = len(lines)
                while len(lines) < passes + 1:  # it keeps going
                    lines.append((await out.receive_until(b"\n", 1 << 16)).decode())
            cli.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                code = await cli.wait()
        finally:
            if cli.returncode is None:
                cli.kill()
            await cli.aclose()
        assert code == 0, lines
        assert emu.open_session_count() == 0
        assert all(line.startswith("sweep pass") for line in lines), lines
