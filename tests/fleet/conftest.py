"""Fixtures for the fleet tests: a real PostgreSQL server, a database per test, workers as separate processes.

One server per test process (``pytest-xdist`` workers each start their own, in their own directory and port, so
no lock is needed); ``STREAMCLIENT_TEST_POSTGRES=<url>`` uses an existing server instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.ledger import _postgres

from .pg import PgServer, server_from_env

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-emulator-fleet-tests"
#: Short leases keep the tests fast: a killed worker's sessions become orphans after this many seconds.
LEASE = 1.5


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = server_from_env()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def fleet_db(pg_server: PgServer) -> Iterator[str]:
    """A fresh database; the ledgers this process opened on it are closed (heartbeats stopped) afterwards."""
    url = pg_server.create_database()
    yield url
    for (ledger_url, _pid), ledger in list(_postgres._registry.items()):
        if ledger_url == url:
            ledger.close()
            del _postgres._registry[(ledger_url, _pid)]


@asynccontextmanager
async def fleet_emulator() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(api_key=API_KEY, avatar_join_delay=0.05, quota_seconds=10_000_000)
    async with Emulator(config) as emu:
        yield emu


def worker_env(emu: Emulator, url: str, host: str, *, lease: float = LEASE, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKOOL_", "STREAMCLIENT_"))}
    env.update(
        AKOOL_BASE_URL=emu.base_url,
        AKOOL_API_KEY=emu.api_key,
        STREAMCLIENT_LEDGER=url,
        STREAMCLIENT_LEASE_SECONDS=str(lease),
        STREAMCLIENT_FLEET_HOST=host,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


class Worker:
    """A worker process (``tests/fleet/worker.py``) and its JSON lines."""

    def __init__(self, process: Process, host: str) -> None:
        self.process = process
        self.host = host
        assert process.stdout is not None
        self._out = BufferedByteReceiveStream(process.stdout)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def read(self, timeout: float = 30) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            line = await self._out.receive_until(b"\n", 1 << 20)
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    async def ask(self, command: str, timeout: float = 30) -> dict[str, Any]:
        assert self.process.stdin is not None
        await self.process.stdin.send(command.encode() + b"\n")
        return await self.read(timeout)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signal.Signals(signum))

    async def kill(self) -> None:
        self.process.kill()
        with anyio.fail_after(30):
            await self.process.wait()


@asynccontextmanager
async def start_worker(emu: Emulator, url: str, host: str, **extra: str) -> AsyncIterator[Worker]:
    process = await anyio.open_process(
        [sys.executable, "-m", "tests.fleet.worker", "serve"],
        env={**worker_env(emu, url, host), **extra},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,
        cwd=str(ROOT),
    )
    worker = Worker(process, host)
    try:
        ready = await worker.read(60)
        assert ready["host"] == host
        yield worker
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            with anyio.move_on_after(30):
                await process.wait()
        await process.aclose()


async def wait_until(predicate: Any, *, timeout: float = 30, every: float = 0.05) -> None:
    """Poll ``predicate()`` (sync or async) until true; fail after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while True:
            result = predicate()
            if hasattr(result, "__await__"):
                result = await result
            if result:
                return
            await anyio.sleep(every)


@pytest.fixture
def make_ledger(fleet_db: str) -> Iterator[Any]:
    """Make ``PostgresLedger`` objects on the test's database (each its own lease); all closed afterwards."""
    from streamclient.ledger import PostgresLedger

    made: list[PostgresLedger] = []

    def make(host: str = "tester", lease: float = LEASE, url: str | None = None, **kwargs: Any) -> PostgresLedger:
        ledger = PostgresLedger(url or fleet_db, host=host, lease_seconds=lease, **kwargs)
        made.append(ledger)
        return ledger

    yield make
    for ledger in made:
        ledger.close()
