"""Telemetry overhead: 100 sessions talking with tracing + metrics exported to memory, vs. telemetry off.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_telemetry.py [--sessions 100] [--seconds 8]``.
The emulator runs in its own process; this process holds the sessions. Each session says a short text and awaits
the reply, over and over, for ``--seconds``. Modes, alternated (off, on, off, on) to spread the machine's drift:

* ``off``: OpenTelemetry absent as far as streamclient knows (every hook a no-op, as without ``opentelemetry-api``);
* ``on``: the real SDK, every span exported synchronously (``SimpleSpanProcessor``) to an ``InMemorySpanExporter``,
  metrics to an ``InMemoryMetricReader`` read at the end;
* ``batch``: the same with a ``BatchSpanProcessor`` (the production set-up: spans exported from its own thread);
* ``api``: the API alone, no SDK configured (what an application that installed the extra and set nothing up pays).

Reported: this process's CPU seconds per turn, and event-loop lag (a 10 ms ticker's overshoot, p50/p99/max).
Target (issue 26): under 5 % more CPU, p99 lag unchanged within noise. Not part of CI's pass/fail.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import anyio
from _common import emulator_process, machine, percentile, print_table

from streamclient import telemetry
from streamclient.api import AsyncAkoolClient
from streamclient.session import SessionOptions, connect
from streamclient.telemetry import _runtime

AVATAR_ID = "dvp_Tristan_cloth2_1080P"
OPTIONS = SessionOptions(avatar_join_timeout=60, reply_timeout=60, command_timeout=30, close_timeout=30)
TICK = 0.010


def set_mode(mode: str) -> Any:
    """Switch telemetry; returns the SDK objects (or None)."""
    if mode in ("off", "api"):
        telemetry.configure()
        if mode == "off":
            _runtime._state = None  # as if opentelemetry-api were not installed
        return None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    processor = BatchSpanProcessor(spans) if mode == "batch" else SimpleSpanProcessor(spans)
    tracer_provider.add_span_processor(processor)
    reader = InMemoryMetricReader()
    telemetry.configure(tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader]))
    return spans, reader, tracer_provider


async def run(client: AsyncAkoolClient, n: int, seconds: float) -> dict[str, float]:
    turns = 0
    lags: list[float] = []
    ready = 0
    all_ready = anyio.Event()
    talking = anyio.Event()
    stop = anyio.Event()

    async def one(i: int) -> None:
        nonlocal turns, ready
        async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1, duration=3600) as session:
            ready += 1
            if ready == n:
                all_ready.set()
            await talking.wait()
            while not stop.is_set():
                await session.say(f"Session {i} says a short sentence.")
                turns += 1

    async def ticker() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await anyio.sleep(TICK)
            lags.append(time.perf_counter() - t0 - TICK)

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
        with anyio.fail_after(120):
            await all_ready.wait()
        cpu0, turns0 = time.process_time(), turns
        talking.set()
        tg.start_soon(ticker)
        await anyio.sleep(seconds)
        cpu, done = time.process_time() - cpu0, turns - turns0
        stop.set()
    ms = sorted(x * 1000 for x in lags)
    return {
        "turns": done,
        "cpu_per_turn_ms": 1000 * cpu / max(1, done),
        "lag_p50": percentile(ms, 50),
        "lag_p99": percentile(ms, 99),
        "lag_max": ms[-1],
    }


async def main_async(args: argparse.Namespace) -> None:
    modes = args.modes.split(",")
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    spans_seen = 0
    async with emulator_process() as base_url:
        async with AsyncAkoolClient(api_key="bench-key", base_url=base_url, timeout=120) as client:
            for mode in modes:
                sdk = set_mode(mode)
                results[mode].append(await run(client, args.sessions, args.seconds))
                if sdk is not None:
                    sdk[2].force_flush()
                    spans_seen += len(sdk[0].get_finished_spans())
                    sdk[1].get_metrics_data()

    def mean(mode: str, key: str) -> float:
        return sum(r[key] for r in results[mode]) / len(results[mode])

    print(f"machine: {machine()}; {args.sessions} sessions, {args.seconds:g} s per run, runs: {', '.join(modes)}")
    rows = []
    for mode in results:
        for k, r in enumerate(results[mode]):
            rows.append(
                (
                    f"{mode} #{k + 1}: turns, CPU per turn",
                    f"{r['turns']:.0f} turns, {r['cpu_per_turn_ms']:.2f} ms",
                    f"lag p50/p99/max {r['lag_p50']:.1f} / {r['lag_p99']:.1f} / {r['lag_max']:.0f} ms",
                )
            )
    if "off" in results:
        off_cpu = mean("off", "cpu_per_turn_ms")
        for mode in results:
            if mode != "off":
                overhead = 100 * (mean(mode, "cpu_per_turn_ms") / off_cpu - 1)
                rows.append((f"CPU overhead ({mode} / off, means)", f"{overhead:+.1f} %", "target < 5 %"))
    rows.append(("spans exported (traced runs)", f"{spans_seen}", ""))
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--modes", default="off,on,batch,api,off,on,batch,api", help="runs in order: off|on|batch|api")
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
