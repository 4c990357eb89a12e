"""Telemetry overhead: 100 sessions talking with tracing + metrics exported to memory, vs. telemetry off.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_telemetry.py`` (about 7 minutes; ``--help``). The
emulator runs in its own process; this process holds the sessions. Each session says a text and awaits the reply,
over and over. Two workloads, each with its own emulator:

* ``talking`` (the issue's workload, and the verdict's): sentences of 60-170 characters, an emulator that speaks at
  its default 40 characters a second (real speech is slower, about 15): each reply comes back in chunks over
  seconds, as a real one is paced by speech. Runs alternate off and on (``off, on, off, on, off, on, off``), each
  long enough for thousands of turns and seconds of this process's CPU; the sessions start their turns spread over
  one turn's length (not all at once, which would make turns end in waves and the count in a window jump by 100),
  and the window opens after a warm-up.
* ``short`` (the worst case, one run per mode): a short text, an emulator that speaks instantly (4000 characters a
  second). A turn is then the cheapest it can be (one frame out, three back), so the fixed cost of a span per turn
  weighs most.

Modes:

* ``off``: OpenTelemetry absent as far as streamclient knows (every hook a no-op, as without ``opentelemetry-api``);
* ``on``: the real SDK as set up by default (``TracerProvider()``: every turn traced), every span exported
  synchronously (``SimpleSpanProcessor``) to an ``InMemorySpanExporter``, metrics to an ``InMemoryMetricReader``
  read at the end;
* ``batch``: the same with a ``BatchSpanProcessor`` (the production set-up: spans exported from its own thread);
* ``api``: the API alone, no SDK configured (what an application that installed the extra and set nothing up pays);
* ``sampled``: as ``batch``, with one session in ten traced (``ParentBased(TraceIdRatioBased(0.1))``, what
  ``OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1`` sets up, as docs/observability.md,
  Overhead, tells users to); metrics are complete.

No other setting is applied. The in-memory exporter is emptied every second (as an exporter ships spans and forgets
them; kept, 100 sessions' spans pile up and every garbage collection walks them, a cost no real exporter has).

Reported, per run: turns, this process's CPU seconds (``time.process_time``: every thread, so the batch processor's
export thread counts too) and CPU a turn, event-loop lag (a 10 ms ticker's overshoot, p50/p99/max), the 1-minute load
average at the run's start and end. The verdict (talking): the **median of the CPU ratios of adjacent off/on runs**
(each on run against the off run before it and the one after it: drift of the machine cancels, one disturbed run
moves the median little), next to the same ratios of off runs against each other (the noise); the p99 lag's median
on - off difference next to the spread of the off runs' p99s. Then **the hooks alone**: the same hooks on synthetic
turns of 100 un-networked session objects, every mode back to back, CPU a turn, min of 3 rounds: the figure the
machine's load moves least. Target (issue 26): under 5 % more CPU, p99 lag unchanged within noise. Not part of CI's
pass/fail.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import statistics
import time
from types import SimpleNamespace
from typing import Any, cast

import anyio
from _common import emulator_process, machine, percentile, print_table

from streamclient import telemetry
from streamclient.api import AsyncAkoolClient
from streamclient.codec import DEFAULT_MAX_FRAME_BYTES
from streamclient.session import SessionOptions, connect
from streamclient.telemetry import _runtime

AVATAR_ID = "dvp_Tristan_cloth2_1080P"
OPTIONS = SessionOptions(avatar_join_timeout=60, reply_timeout=60, command_timeout=30, close_timeout=30)
TICK = 0.010
#: What a talking bot says: sentences of 60-170 characters (the talking workload cycles through them).
SENTENCES = (
    "Welcome back! I have your order here, and it looks like everything shipped this morning.",
    "The weather in Lisbon tomorrow is sunny, with a high of twenty-four degrees and a light breeze from the west.",
    "Sure, I can help with that.",
    "Your appointment is on Thursday at half past three; would you like me to send a reminder the day before?",
    "There are three ways to reset your password: through the app, on the website, or by calling our support line, "
    "which is open every day.",
    "Great question. The short answer is yes, and the long answer depends on your plan.",
)
WORKLOADS = {"short": 4000.0, "talking": 40.0}  # the emulator's speech speed, characters a second


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
    sampler = None
    if mode == "sampled":  # docs/observability.md, Overhead: OTEL_TRACES_SAMPLER=parentbased_traceidratio, arg 0.1
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        sampler = ParentBased(TraceIdRatioBased(0.1))
    tracer_provider = TracerProvider(sampler=sampler)
    processor = SimpleSpanProcessor(spans) if mode == "on" else BatchSpanProcessor(spans)
    tracer_provider.add_span_processor(processor)
    reader = InMemoryMetricReader()
    telemetry.configure(tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader]))
    return spans, reader, tracer_provider


def text_for(workload: str, i: int, k: int) -> str:
    """Session ``i``'s ``k``-th text."""
    if workload == "short":
        return f"Session {i} says a short sentence."
    return SENTENCES[(i + k) % len(SENTENCES)]


async def run(
    client: AsyncAkoolClient, n: int, seconds: float, workload: str, sdk: Any, *, stagger: float, warmup: float
) -> dict[str, float]:
    """``n`` sessions talking for ``seconds`` (after ``warmup``); session ``i`` starts ``i / n * stagger`` late."""
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
            await anyio.sleep(stagger * i / n)
            k = 0
            while not stop.is_set():
                await session.say(text_for(workload, i, k))
                turns += 1
                k += 1

    async def drain() -> None:  # an exporter ships the spans and forgets them
        while not stop.is_set():
            await anyio.sleep(1.0)
            if sdk is not None:
                sdk[0].clear()

    async def ticker() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await anyio.sleep(TICK)
            lags.append(time.perf_counter() - t0 - TICK)

    load0 = os.getloadavg()[0]
    gc_counts = [0, 0, 0]
    gc_cpu = [0.0, 0.0, 0.0]
    gc_started = [0.0]
    measuring = [False]

    def on_gc(phase: str, info: dict[str, int]) -> None:  # the collections in the window, and their CPU
        if not measuring[0]:
            return
        if phase == "start":
            gc_started[0] = time.process_time()
        else:
            gc_counts[info["generation"]] += 1
            gc_cpu[info["generation"]] += time.process_time() - gc_started[0]

    gc.callbacks.append(on_gc)
    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
        with anyio.fail_after(120):
            await all_ready.wait()
        talking.set()
        tg.start_soon(drain)
        await anyio.sleep(warmup)
        tg.start_soon(ticker)
        measuring[0] = True
        cpu0, turns0 = time.process_time(), turns
        await anyio.sleep(seconds)
        cpu, done = time.process_time() - cpu0, turns - turns0
        measuring[0] = False
        stop.set()
    gc.callbacks.remove(on_gc)
    ms = sorted(x * 1000 for x in lags)
    return {
        "turns": done,
        "cpu_s": cpu,
        "cpu_per_turn_ms": 1000 * cpu / max(1, done),
        "lag_p50": percentile(ms, 50),
        "lag_p99": percentile(ms, 99),
        "lag_max": ms[-1],
        "gc": gc_counts,  # type: ignore[dict-item]
        "gc_cpu_per_turn_us": [1e6 * x / max(1, done) for x in gc_cpu],  # type: ignore[dict-item]
        "load0": load0,
        "load1": os.getloadavg()[0],
    }


def adjacent_ratios(runs: list[tuple[str, dict[str, float]]], mode: str, field: str) -> list[tuple[float, float]]:
    """(``mode`` run's figure, the adjacent ``off`` run's figure) for every off run next to a ``mode`` run."""
    pairs = []
    for k in range(len(runs) - 1):
        (a, ra), (b, rb) = runs[k], runs[k + 1]
        if {a, b} == {mode, "off"}:
            traced, off = (ra, rb) if a == mode else (rb, ra)
            pairs.append((traced[field], off[field]))
    return pairs


def verdict_rows(workload: str, runs: list[tuple[str, dict[str, float]]]) -> list[tuple[str, str, str]]:
    """The verdict of one workload's alternated runs: medians of adjacent off/mode pairs, and the off runs' noise."""
    rows: list[tuple[str, str, str]] = []
    offs = [r for m, r in runs if m == "off"]
    off_ratios = [b["cpu_per_turn_ms"] / a["cpu_per_turn_ms"] for a, b in itertools.pairwise(offs)]
    off_p99 = [r["lag_p99"] for r in offs]
    if off_ratios:
        rows.append(
            (
                f"{workload}: noise, CPU a turn of each off run / the off run before",
                f"{', '.join(f'{100 * (x - 1):+.1f} %' for x in off_ratios)}",
                f"off runs' p99 lag {', '.join(f'{x:.1f}' for x in off_p99)} ms",
            )
        )
    for mode in dict.fromkeys(m for m, _ in runs if m != "off"):
        pairs = adjacent_ratios(runs, mode, "cpu_per_turn_ms")
        if not pairs:
            continue
        ratios = [t / o for t, o in pairs]
        median = statistics.median(ratios)
        added = 1000 * statistics.median(t - o for t, o in pairs)
        met = "met" if median < 1.05 else "MISSED"
        rows.append(
            (
                f"{workload}: CPU {mode} / off, median of {len(ratios)} adjacent pairs",
                f"{100 * (median - 1):+.1f} %",
                f"{added:+.0f} us a turn; pairs {', '.join(f'{100 * (x - 1):+.1f}' for x in ratios)} %; "
                f"target < 5 %: {met}",
            )
        )
        lag = [(t, o) for t, o in adjacent_ratios(runs, mode, "lag_p99")]
        diff = statistics.median(t - o for t, o in lag)
        spread = max(off_p99) - min(off_p99) if len(off_p99) > 1 else 0.0
        within = "unchanged within noise" if diff <= spread else "ABOVE the off runs' spread"
        rows.append(
            (
                f"{workload}: p99 lag {mode} - off, median of {len(lag)} adjacent pairs",
                f"{diff:+.1f} ms",
                f"off runs' p99 spread {spread:.1f} ms: {within}",
            )
        )
    return rows


async def hooks_alone(modes: list[str], turns: int) -> dict[str, list[float]]:
    """The telemetry work of a turn with nothing else: a session object (never started on the network) and synthetic
    turns through the same hooks (``turn`` when queued, the observer when resolved). CPU microseconds a turn, each
    mode measured back to back, three rounds: a figure the machine's load changes far less than the runs' ratios."""
    from streamclient.session import AvatarSession
    from streamclient.session.turns import Turn

    found: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(3):
        for mode in dict.fromkeys(modes):
            sdk = set_mode(mode)
            sessions = []
            for i in range(100):  # turns go round 100 sessions (each its own trace: sampling decides per session)
                session = AvatarSession(
                    cast(Any, None), create={"avatar_id": AVATAR_ID, "duration": 60, "mode_type": 1}
                )
                session._session_id = f"bench-{i}"
                session._conn = cast(Any, SimpleNamespace(max_frame_bytes=DEFAULT_MAX_FRAME_BYTES))  # frames counted
                session._telemetry.start()
                sessions.append(session)
            text = "Session 12 says a short sentence."
            cpu = 0.0
            for k in range(-200, turns):  # 200 to warm up
                if k == 0:
                    cpu = time.process_time()
                now = anyio.current_time()
                turn = Turn(message_id=f"m{k}", text=text, queued=now, default_timeout=10)
                turn = sessions[k % 100]._telemetry.turn(turn)
                turn.sent_at, turn.first_chunk_at, turn.audio_start_at = now + 0.001, now + 0.002, now + 0.002
                turn.audio_end_at, turn.reply_complete = now + 0.003, True
                turn.reply_parts.append(text)
                turn.resolve(now + 0.004)
                if sdk is not None and k % 1000 == 0:
                    sdk[0].clear()  # as the runs' drain: an exporter forgets what it shipped
            found[mode].append(1e6 * (time.process_time() - cpu) / turns)
            if sdk is not None:
                sdk[2].shutdown()
    set_mode("api")
    return found


async def main_async(args: argparse.Namespace) -> None:
    plans = [("short", args.short_modes.split(","), args.seconds), ("talking", args.talking_modes.split(","), 0.0)]
    plans = [(w, [m for m in modes if m], secs) for w, modes, secs in plans]
    alone_modes = (
        args.hook_modes.split(",") if args.hook_modes else list(dict.fromkeys(m for _, ms, _ in plans for m in ms))
    )
    print(
        f"machine: {machine()}; {args.sessions} sessions; short {args.seconds:g} s, talking {args.talking_seconds:g} s"
        f" a run (after {args.talking_warmup:g} s of warm-up); load average at the start "
        f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    alone = await hooks_alone(alone_modes, args.hook_turns) if args.hook_turns else {}
    rows: list[tuple[str, str, str]] = []
    spans_seen = 0
    for workload, modes, _ in plans:
        if not modes:
            continue
        seconds = args.seconds if workload == "short" else args.talking_seconds
        stagger, warmup = (0.0, 1.0) if workload == "short" else (args.talking_stagger, args.talking_warmup)
        runs: list[tuple[str, dict[str, float]]] = []
        async with emulator_process(speech_cps=WORKLOADS[workload]) as base_url:
            async with AsyncAkoolClient(api_key="bench-key", base_url=base_url, timeout=120) as client:
                for k, mode in enumerate(modes):
                    sdk = set_mode(mode)
                    r = await run(client, args.sessions, seconds, workload, sdk, stagger=stagger, warmup=warmup)
                    runs.append((mode, r))
                    row = (
                        f"{workload} #{k + 1} {mode}: turns, CPU, CPU a turn",
                        f"{r['turns']:.0f}, {r['cpu_s']:.2f} s, {r['cpu_per_turn_ms']:.3f} ms",
                        f"lag p50/p99/max {r['lag_p50']:.1f} / {r['lag_p99']:.1f} / {r['lag_max']:.0f} ms; "
                        f"load {r['load0']:.2f}-{r['load1']:.2f}; collections gen0/1/2 "
                        f"{'/'.join(str(x) for x in cast(list[int], r['gc']))}, their CPU a turn "
                        f"{' / '.join(f'{x:.0f}' for x in cast(list[float], r['gc_cpu_per_turn_us']))} us",
                    )
                    rows.append(row)
                    print("  " + " | ".join(row), flush=True)
                    if sdk is not None:
                        sdk[2].force_flush()
                        spans_seen += len(sdk[0].get_finished_spans())
                        sdk[1].get_metrics_data()
                        sdk[2].shutdown()
        set_mode("api")
        rows.extend(verdict_rows(workload, runs))
    for mode, figures in alone.items():
        extra = ""
        if mode != "off" and "off" in alone:
            extra = f"added {min(figures) - min(alone['off']):.1f} us a turn"
        rows.append(
            (
                f"hooks alone, {mode}: CPU a turn (min of 3)",
                f"{min(figures):.1f} us",
                f"rounds {', '.join(f'{x:.1f}' for x in figures)}; {extra}".rstrip("; "),
            )
        )
    rows.append(("spans exported (traced runs, after the last drain)", f"{spans_seen}", ""))
    rows.append(("load average at the end", " / ".join(f"{x:.2f}" for x in os.getloadavg()), ""))
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0, help="a short (worst-case) run's window")
    parser.add_argument("--talking-seconds", type=float, default=40.0, help="a talking run's window")
    parser.add_argument("--talking-warmup", type=float, default=5.0, help="talking before a run's window opens")
    parser.add_argument(
        "--talking-stagger", type=float, default=3.0, help="the sessions' first turns spread over this many seconds"
    )
    parser.add_argument("--hook-turns", type=int, default=20000, help="synthetic turns per mode (0: skip)")
    parser.add_argument("--hook-modes", default="", help="the hooks alone's modes (default: every mode of the runs)")
    parser.add_argument(
        "--short-modes", default="off,on,batch,sampled,api,off", help="short runs in order: off|on|batch|sampled|api"
    )
    parser.add_argument(
        "--talking-modes", default="off,on,off,on,off,on,off", help="talking runs in order (the verdict's)"
    )
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
