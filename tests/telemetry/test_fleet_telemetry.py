"""The fleet ledger's metrics, read by the real SDK's InMemoryMetricReader: budget refusals, sweeps, leases.

SQLite for a refusal and a sweep against the emulator; a real PostgreSQL (tests/fleet/pg.py) for the leases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from streamclient.api import AsyncAkoolClient, sweep
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.errors import BudgetExceededError
from tests.fleet.conftest import fleet_db, make_ledger, pg_server, wait_until  # noqa: F401 (fixtures)
from tests.telemetry.conftest import Otel

AVATAR = "dvp_Tristan_cloth2_1080P"
CONFIG = EmulatorConfig(avatar_join_delay=0.05, quota_seconds=10_000_000)


def _points(otel: Otel, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
    return {tuple(sorted(a.items())): v for a, v in otel.metric_points().get(name, [])}


async def test_budget_refusals_are_counted_by_limit(otel: Otel, tmp_path: Path) -> None:
    async with Emulator(CONFIG) as emu:
        async with AsyncAkoolClient(
            api_key=emu.api_key,
            base_url=emu.base_url,
            ledger=tmp_path / "ledger.db",
            max_open_sessions=1,
            max_duration=120,
        ) as client:
            await client.sessions.create(AVATAR, duration=60)
            with pytest.raises(BudgetExceededError):
                await client.sessions.create(AVATAR, duration=60)  # a second open session
            with pytest.raises(BudgetExceededError):
                await client.sessions.create(AVATAR, duration=600)  # longer than max_duration
            assert emu.open_session_count() == 1
    refusals = _points(otel, "streamclient.budget.refusals")
    assert refusals == {
        (("streamclient.budget.limit", "max_open_sessions"),): 1,
        (("streamclient.budget.limit", "max_duration"),): 1,
    }


async def test_a_sweep_is_a_span_and_its_sessions_are_counted(otel: Otel, tmp_path: Path) -> None:
    async with Emulator(CONFIG) as emu:
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url, ledger=False) as unrecorded:
            await unrecorded.sessions.create(AVATAR, duration=60)  # open, in no ledger: all_open finds it
        async with AsyncAkoolClient(
            api_key=emu.api_key, base_url=emu.base_url, ledger=tmp_path / "ledger.db"
        ) as client:
            dry = await sweep(client, all_open=True)
            assert len(dry.items) == 1
            report = await sweep(client, all_open=True, close=True)
            assert len(report.closed) == 1
        assert emu.open_session_count() == 0
    sweeps = _points(otel, "streamclient.sweeps")
    assert sweeps == {(("streamclient.sweep.dry_run", True),): 1, (("streamclient.sweep.dry_run", False),): 1}
    assert _points(otel, "streamclient.sweep.sessions") == {(("streamclient.sweep.outcome", "closed"),): 1}
    spans = [s for s in otel.finished() if s.name == "streamclient.sweep"]
    assert [(s.attributes or {}).get("streamclient.sweep.closed") for s in spans] == [0, 1]
    assert [(s.attributes or {}).get("streamclient.sweep.found") for s in spans] == [1, 1]


async def test_lease_renewals_and_a_lapse_are_counted(otel: Otel, make_ledger: Any, fleet_db: str) -> None:  # noqa: F811
    ledger = make_ledger(host="telemetry", lease=0.6)
    await ledger.migrate()
    ledger._start_heartbeat()  # (what the first record starts)

    def count(name: str) -> int:
        return sum(_points(otel, name).values())

    await wait_until(lambda: count("streamclient.ledger.lease.renewals") >= 2, timeout=20)
    before = count("streamclient.ledger.lease.lapses")  # 0, unless this machine paused the heartbeat past 0.6 s
    lapses = ledger.lapses
    with psycopg.connect(fleet_db, autocommit=True) as conn:  # as if the process had been paused past its lease
        conn.execute(
            "UPDATE streamclient_owners SET lease_until = now() - interval '5 seconds' WHERE owner_id = %s",
            (ledger.owner_id,),
        )
    await wait_until(lambda: count("streamclient.ledger.lease.lapses") > before and ledger.lapses > lapses, timeout=20)
    assert count("streamclient.ledger.lease.renewals") >= 3  # a lapse is found by a renewal
