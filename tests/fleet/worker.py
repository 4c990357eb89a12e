"""A fleet worker for the tests and the benchmark: a separate process with its own host identity and lease.

Run as ``python -m tests.fleet.worker MODE``, configured by the environment (``AKOOL_BASE_URL``, ``AKOOL_API_KEY``,
``STREAMCLIENT_LEDGER=postgresql://...``, ``STREAMCLIENT_LEASE_SECONDS``, ``STREAMCLIENT_FLEET_HOST``;
``FLEET_CLOCK_SKEW`` shifts this process's ``time.time()`` by that many seconds). It prints one JSON object per line.

* ``serve``: reads commands from stdin, one per line: ``create`` (one session of ``FLEET_DURATION`` s; prints
  ``{"created": id}`` or ``{"error": kind, "message": ...}``), ``close`` (closes every session it created),
  ``swept`` (prints what its ledger learnt: ``{"swept": [[id, reason], ...], "lapses": n}``), ``exit``.
* ``race N``: N times: create under ``STREAMCLIENT_MAX_OPEN_SESSIONS`` (retrying a refusal after a short pause),
  then close; prints ``{"created": n, "refused": n, "guard": [seconds per create's ledger step ...]}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import anyio

from streamclient.api import AsyncAkoolClient
from streamclient.errors import BudgetExceededError, StreamClientError
from streamclient.ledger import PostgresLedger

AVATAR = "dvp_Tristan_cloth2_1080P"


def say(**payload: Any) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def _skew_clock() -> None:
    skew = float(os.environ.get("FLEET_CLOCK_SKEW", "0") or 0)
    if skew:
        real = time.time
        time.time = lambda: real() + skew


async def serve() -> None:
    duration = int(os.environ.get("FLEET_DURATION", "600"))
    created: list[str] = []
    async with AsyncAkoolClient() as client:
        ledger = client.ledger
        assert isinstance(ledger, PostgresLedger)
        say(ready=ledger.owner_id, host=ledger.host)
        stdin = anyio.wrap_file(sys.stdin)
        async for line in stdin:
            command = line.strip()
            if command == "create":
                try:
                    session = await client.sessions.create(AVATAR, duration=duration)
                except StreamClientError as exc:
                    say(error=type(exc).__name__, message=str(exc))
                    continue
                created.append(session.id)
                say(created=session.id)
            elif command == "close":
                for sid in created:
                    try:
                        await client.sessions.close(sid)
                    except StreamClientError as exc:
                        say(close_error=type(exc).__name__, session_id=sid)
                created.clear()
                say(closed=True)
            elif command == "swept":
                say(swept=[[e.session_id, e.reason] for e in ledger.swept], lapses=ledger.lapses)
            elif command == "exit":
                break
        say(bye=True)


async def race(count: int) -> None:
    created = refused = 0
    guard: list[float] = []
    async with AsyncAkoolClient() as client:
        ledger = client.ledger
        assert isinstance(ledger, PostgresLedger)
        original = ledger.record_intent

        async def timed(**kwargs: Any) -> str | None:
            start = time.perf_counter()
            try:
                return await original(**kwargs)
            finally:
                guard.append(time.perf_counter() - start)

        ledger.record_intent = timed  # type: ignore[method-assign]
        while created < count:
            try:
                session = await client.sessions.create(AVATAR, duration=300)
            except BudgetExceededError:
                refused += 1
                await anyio.sleep(0.01)
                continue
            created += 1
            await client.sessions.close(session.id)
    say(created=created, refused=refused, guard=guard)


def main() -> None:
    _skew_clock()
    mode = sys.argv[1]
    if mode == "serve":
        anyio.run(serve)
    elif mode == "race":
        anyio.run(race, int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
