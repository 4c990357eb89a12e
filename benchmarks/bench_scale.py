"""Scale benchmark: N concurrent sessions in one process, each exchanging a message a second.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_scale.py [--emulator 100] [--emulator-process 1000]
[--loopback 1000] [--seconds 10] [--no-freeze]``. Not part of CI's pass/fail.

Set-ups, reported separately:

* **emulator-process** (the target's set-up): N ``AvatarSession`` objects against the local emulator running in a
  separate process (REST over loopback HTTP, one websocket room per session, a scripted avatar per session).
* **emulator**: the same with the emulator in this process (its work then lands on the client's loop).
* **loopback**: the client side alone: N sessions over in-memory loopback pairs with a minimal echo peer.

Each session says a ~40-character message once a second (random phase) and awaits the reply; one more session (the
probe) instead says a sentence, waits until the reply starts, and interrupts, every 0.5 s. Once all are open the
process calls ``gc.freeze()`` (what a server should do after start-up: see "Garbage collection" in RESULTS.md;
``--no-freeze`` skips it). Measured over ``--seconds``: event-loop lag (a ticker sleeping 10 ms; p50/p99/max, and
stalls over 50 ms), the garbage collections in the window (count and longest per generation, in CPU ms), the probe's
interrupt-to-wire (``interrupt()`` call -> its frame handed to the socket; p50/p99), CPU (cores), turns per second,
failures, and memory per session (``tracemalloc`` growth while the sessions open / N). Also per run (issue 24): the
collections' total CPU per generation, the objects each gen1/gen2 collection walked (``--no-census`` skips counting
them), GC-tracked objects per session, the emulator process's CPU and the whole machine's (busy, steal, load
average), this process's preemptions and page faults, and a "saturated" line when the emulator process used its
core, the machine its cores, or fewer turns were served than asked: such a run measures the machine, not the client.
``--gc-threshold a,b,c`` applies ``gc.set_threshold`` after the freeze (to compare; docs/performance.md says what to
configure).
Targets (issue 14), 1000 sessions, emulator in its own process: lag p99 < 10 ms, worst stall < 50 ms,
interrupt-to-wire p99 < 20 ms; memory < 100 KB a session.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import random
import resource
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import anyio
from _common import FakeClient, emulator_process, machine, percentile, print_table, rss_bytes

from streamclient.api import AsyncAkoolClient
from streamclient.codec import (
    ChatFrame,
    ChatMessage,
    CommandFrame,
    CommandReceived,
    ProtocolConnection,
    Role,
    decode_frame,
    encode_frame,
    new_mid,
)
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.errors import StreamClientError
from streamclient.session import AvatarSession, SessionOptions, connect
from streamclient.transport.base import FrameReceived, JoinParams
from streamclient.transport.loopback import LoopbackTransport

AVATAR_ID = "dvp_Tristan_cloth2_1080P"
OPTIONS = SessionOptions(avatar_join_timeout=60, reply_timeout=20, close_timeout=20, join_timeout=60)
TICK = 0.01
OPEN_CONCURRENCY = 50
STALL = 0.05
FREEZE = True
THRESHOLD: tuple[int, ...] | None = None  # gc.set_threshold() after the freeze (--gc-threshold)
CENSUS = True
PROBE_TEXT = "This sentence is interrupted as soon as the avatar starts to speak it back. " * 2


@dataclass
class Counters:
    """Shared counters of one run."""

    opened: int = 0
    turns: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)


async def echo_peer(
    transport: LoopbackTransport, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """A minimal avatar: replies to each complete chat with one bot frame, acks commands."""
    conn = ProtocolConnection(Role.AVATAR)
    await transport.join(JoinParams(app_id="app", channel="channel", uid="avatar-7", token="t"))
    task_status.started()
    async for event in transport.events():
        if not isinstance(event, FrameReceived):
            continue
        conn.receive_data(event.data, sender=event.sender, now=anyio.current_time())
        for ev in conn.events_received():
            if isinstance(ev, ChatMessage):
                reply = ChatFrame(mid=new_mid(), idx=0, fin=True, text=ev.text, source="bot")
                await transport.send(encode_frame(reply))
            elif isinstance(ev, CommandReceived) and ev.mid is not None:
                conn.send_ack(ev.mid, ev.cmd)
                for datagram in conn.data_to_send(anyio.current_time()):
                    await transport.send(datagram)


async def talk(session: AvatarSession, counters: Counters, stop: anyio.Event, rng: random.Random) -> None:
    """Say a message a second until ``stop``, on the session's own schedule: phase + k seconds.

    The schedule is the user's, not the server's: a turn that starts late (the loop was busy) does not move the next
    one. (Scheduling each turn a second after the previous one *started* did: every session whose turn fell inside a
    stall started at the same instant and stayed in step from then on, so each stall clumped more sessions together
    and made the next burst, and the next stall, larger.) A slot missed entirely (a turn took over a second) is
    skipped, as a user waiting for the reply would.
    """
    due = anyio.current_time() + rng.random()
    n = 0
    while True:
        await anyio.sleep_until(due)
        if stop.is_set():
            return
        try:
            await session.say(f"message {n} from a session under load, hello")
            counters.turns += 1
        except StreamClientError as exc:
            counters.failures += 1
            counters.errors.append(type(exc).__name__)
        n += 1
        now = anyio.current_time()
        due += 1.0
        while due < now:
            due += 1.0


async def probe(session: AvatarSession, stop: anyio.Event, wire: list[float]) -> None:
    """Say, wait for the reply to start, interrupt; record ``interrupt()`` -> its frame handed to the socket."""
    transport = session.transport
    assert transport is not None
    original = transport.send
    called: list[float] = []

    async def send(data: bytes, *, timeout: float = 5.0) -> None:
        frame = decode_frame(data)
        if isinstance(frame, CommandFrame) and frame.cmd == "interrupt" and called:
            wire.append(time.perf_counter() - called.pop())
        await original(data, timeout=timeout)

    transport.send = send  # type: ignore[method-assign]  # stamp the frame as it is handed to the socket
    while not stop.is_set():
        turn = session.say(PROBE_TEXT)
        await turn.wait_reply_started(timeout=10)
        called.append(time.perf_counter())
        try:
            await session.interrupt()
        except StreamClientError:
            called.clear()
        with anyio.move_on_after(0.5):
            await stop.wait()


@dataclass
class Collection:
    """One garbage collection in the window."""

    generation: int
    cpu: float  # CPU seconds
    start: float  # perf_counter
    end: float
    objects: int  # objects in the generations it collected (counted at its start)


def _gc_watch(census: bool) -> tuple[list[Collection], Callable[[str, dict[str, int]], None]]:
    collections: list[Collection] = []
    started = [0.0, 0.0, 0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generation = info["generation"]
            # Counting the generations' objects allocates a list (~0.1 ms for 25,000): done before the clock starts.
            objects = sum(len(gc.get_objects(g)) for g in range(generation + 1)) if census and generation else 0
            started[0], started[1], started[2] = time.process_time(), time.perf_counter(), objects
        else:
            cpu = time.process_time() - started[0]
            collections.append(Collection(info["generation"], cpu, started[1], time.perf_counter(), int(started[2])))

    return collections, callback


def _children_pids() -> list[int]:
    """This process's child processes (Linux)."""
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children", encoding="ascii") as children:
                pids.extend(int(x) for x in children.read().split())
    return pids


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) CPU ticks of the whole machine so far, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(x) for x in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    steal = values[7] if len(values) > 7 else 0
    total = sum(values[:8])
    return total - idle - steal, steal, total


async def measure(
    n: int,
    open_one: Callable[[int], AbstractAsyncContextManager[AvatarSession]],
    seconds: float,
) -> dict[str, float]:
    """Open ``n`` sessions (plus the probe) with ``open_one``, exchange messages for ``seconds``, return the figures."""
    counters = Counters()
    stop = anyio.Event()
    all_open = anyio.Event()
    wire: list[float] = []
    gc.collect()
    objects_before = len(gc.get_objects())
    rss_before = rss_bytes()
    tracemalloc.start()
    traced_before, _ = tracemalloc.get_traced_memory()
    lags: list[tuple[float, float]] = []  # (tick end, lag)
    rng = random.Random(n)

    gate = anyio.Semaphore(OPEN_CONCURRENCY)  # opening and closing in waves: the API client's pool is bounded

    async def one(i: int) -> None:
        stack = contextlib.AsyncExitStack()
        try:
            async with gate:
                session = await stack.enter_async_context(open_one(i))
        except StreamClientError as exc:
            counters.errors.append(f"open: {type(exc).__name__}: {exc}")
            session = None
        counters.opened += 1
        if counters.opened == n + 1:
            all_open.set()
        if session is None:
            return
        try:
            await all_open.wait()
            if i == n:
                await probe(session, stop, wire)
            else:
                await talk(session, counters, stop, rng)
        finally:
            async with gate:  # the session's own close is shielded; its task group must exit in this scope
                await stack.aclose()

    async def ticker() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await anyio.sleep(TICK)
            t1 = time.perf_counter()
            lags.append((t1, t1 - t0 - TICK))

    t_open = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(n + 1):
            tg.start_soon(one, i)
            if i % 50 == 49:
                await anyio.lowlevel.checkpoint()
        with anyio.fail_after(600):
            await all_open.wait()
        open_seconds = time.perf_counter() - t_open
        gc.collect()
        traced_open, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()  # not during the lag window
        objects_open = len(gc.get_objects())
        rss_open = rss_bytes()
        if FREEZE:
            gc.freeze()  # the sessions' long-lived objects leave the collector's generations
        threshold = gc.get_threshold()
        if THRESHOLD is not None:
            gc.set_threshold(*THRESHOLD)
        collections, callback = _gc_watch(CENSUS)
        gc.callbacks.append(callback)
        turns0 = counters.turns
        wire.clear()
        children = _children_pids()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        machine0 = _machine_ticks()
        others0 = sum(_cpu_seconds(pid) for pid in children)
        load0 = os.getloadavg()[0]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        tg.start_soon(ticker)
        await anyio.sleep(seconds)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        others = sum(_cpu_seconds(pid) for pid in children) - others0
        machine1 = _machine_ticks()
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        turns = counters.turns - turns0
        gc.callbacks.remove(callback)
        gc.set_threshold(*threshold)
        stop.set()
    gc.unfreeze()
    ms = [lag * 1000 for _, lag in lags]
    # A tick whose sleep overlapped a collection: the collection is (part of) its lag.
    slow = [(end - TICK - lag, end) for end, lag in lags if lag > 0.01]
    slow_in_gc = sum(1 for a, b in slow if any(c.start < b and c.end > a for c in collections))
    ticks = os.sysconf("SC_CLK_TCK")
    if counters.errors:
        print(f"  ({n} sessions: {len(counters.errors)} errors, first: {counters.errors[0]})")
    wire_ms = [x * 1000 for x in wire] or [float("nan")]
    by_generation = {g: [c.cpu * 1000 for c in collections if c.generation == g] for g in (0, 1, 2)}
    census = {g: [c.objects for c in collections if c.generation == g] for g in (1, 2)}
    return {
        "stalls": float(sum(1 for _, lag in lags if lag > STALL)),
        "wire_p50": percentile(wire_ms, 50),
        "wire_p99": percentile(wire_ms, 99),
        "wire_n": float(len(wire)),
        **{f"gc{g}_n": float(len(v)) for g, v in by_generation.items()},
        **{f"gc{g}_max": max(v, default=0.0) for g, v in by_generation.items()},
        **{f"gc{g}_total": sum(v) for g, v in by_generation.items()},
        **{f"gc{g}_objects": sum(v) / len(v) if v else 0.0 for g, v in census.items()},
        "slow_ticks": float(len(slow)),
        "slow_in_gc": float(slow_in_gc),
        "objects_per_session": (objects_open - objects_before) / n,
        "emulator_cpu": others / wall,
        "machine_busy": (machine1[0] - machine0[0]) / ticks / wall,
        "steal": (machine1[1] - machine0[1]) / ticks / wall,
        "load": max(load0, os.getloadavg()[0]),
        "preempted": float(usage1.ru_nivcsw - usage0.ru_nivcsw),
        "faults": float(usage1.ru_minflt - usage0.ru_minflt),
        "major_faults": float(usage1.ru_majflt - usage0.ru_majflt),
        "open_s": open_seconds,
        "lag_p50": percentile(ms, 50),
        "lag_p99": percentile(ms, 99),
        "lag_max": max(ms),
        "cpu": cpu / wall,
        "turns_per_s": turns / wall,
        "failures": float(counters.failures + len(counters.errors)),
        "kb_per_session": (traced_open - traced_before) / n / 1024,
        "rss_kb_per_session": (rss_open - rss_before) / n / 1024,
    }


async def run_loopback(n: int, seconds: float) -> dict[str, float]:
    """N sessions over loopback pairs with echo peers (the client side alone)."""
    async with anyio.create_task_group() as peers:
        client = FakeClient().typed()

        def open_one(_i: int) -> AbstractAsyncContextManager[AvatarSession]:
            ours, theirs = LoopbackTransport.pair()
            peers.start_soon(echo_peer, theirs)
            return connect(client, avatar_id=AVATAR_ID, transport=ours, options=OPTIONS)

        result = await measure(n, open_one, seconds)
        peers.cancel_scope.cancel()
    return result


async def run_emulator(n: int, seconds: float) -> dict[str, float]:
    """N sessions against the in-process emulator."""
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=4000.0, room_limits="guide")
    async with (
        Emulator(config) as emu,
        AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url, timeout=120) as client,
    ):

        def open_one(_i: int) -> AbstractAsyncContextManager[AvatarSession]:
            return connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1, duration=3600)

        result = await measure(n, open_one, seconds)
        await emu.wait_until(lambda: emu.open_session_count() == 0, timeout=60)
    return result


async def run_emulator_process(n: int, seconds: float) -> dict[str, float]:
    """N sessions in this process against an emulator running in a separate process (its own core)."""
    async with (
        emulator_process() as base_url,
        AsyncAkoolClient(api_key="bench-key", base_url=base_url, timeout=120) as client,
    ):

        def open_one(_i: int) -> AbstractAsyncContextManager[AvatarSession]:
            return connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1, duration=3600)

        result = await measure(n, open_one, seconds)
        # Every session left its `async with` inside measure(), so the emulator must have none open.
        still_open = sum([(await client.sessions.list(status=s, size=1)).count or 0 for s in (1, 2)])
        if still_open:
            print(f"  ({n} sessions: {still_open} still open in the emulator!)")
    return result


def _saturation(r: dict[str, float], n: int) -> str:
    """Why the run measured a machine out of CPU rather than the client ('' when it did not)."""
    cores = os.cpu_count() or 1
    reasons = []
    if r["emulator_cpu"] >= 0.9:
        reasons.append(f"the emulator process used {r['emulator_cpu']:.2f} of its one core")
    if r["machine_busy"] + r["steal"] >= 0.9 * cores:
        reasons.append(f"the machine was {r['machine_busy'] + r['steal']:.2f} of {cores} cores busy")
    if r["turns_per_s"] < 0.97 * n:
        reasons.append(f"{r['turns_per_s']:.0f} of {n} turns/s were served")
    return "; ".join(reasons)


def _settings() -> str:
    """The collector settings the run applied once the sessions were open."""
    applied = ["gc.freeze() after open"] if FREEZE else []
    if THRESHOLD is not None:
        applied.append(f"gc.set_threshold{THRESHOLD}")
    return ", ".join(applied)


def _versions() -> str:
    """The versions of the dependencies the benchmark runs through."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("anyio", "websockets", "uvicorn", "starlette", "httpx", "pydantic"):
        with contextlib.suppress(PackageNotFoundError):
            found.append(f"{name} {version(name)}")
    return ", ".join(found)


def _counts(value: str) -> list[int]:
    return [int(x) for x in value.split(",") if x]


async def main_async(args: argparse.Namespace) -> None:
    """Run every configuration and print the table."""
    rows: list[tuple[str, str, str]] = []
    plans: list[tuple[str, int, Callable[[int, float], Awaitable[dict[str, float]]]]] = [
        *(("loopback", n, run_loopback) for n in _counts(args.loopback)),
        *(("emulator", n, run_emulator) for n in _counts(args.emulator)),
        *(("emulator-process", n, run_emulator_process) for n in _counts(args.emulator_process)),
    ]
    for kind, n, runner in plans:
        r = await runner(n, args.seconds)
        target = "target p99 < 10 ms, max < 50 ms" if n >= 1000 else ""
        rows.append((f"{kind} {n}: opened in", f"{r['open_s']:.1f} s", _settings()))
        rows.append(
            (
                f"{kind} {n}: loop lag p50 / p99 / max",
                f"{r['lag_p50']:.1f} / {r['lag_p99']:.1f} / {r['lag_max']:.0f} ms",
                f"{target}; {r['stalls']:.0f} stalls > {STALL * 1000:.0f} ms",
            )
        )
        rows.append(
            (
                f"{kind} {n}: GC collections gen0 / gen1 / gen2 (longest, CPU)",
                f"{r['gc0_n']:.0f} / {r['gc1_n']:.0f} / {r['gc2_n']:.0f}",
                f"{r['gc0_max']:.1f} / {r['gc1_max']:.1f} / {r['gc2_max']:.1f} ms",
            )
        )
        rows.append(
            (
                f"{kind} {n}: GC CPU in the window gen0 / gen1 / gen2",
                f"{r['gc0_total']:.0f} / {r['gc1_total']:.0f} / {r['gc2_total']:.0f} ms",
                f"{r['slow_in_gc']:.0f} of {r['slow_ticks']:.0f} ticks late > 10 ms overlapped a collection",
            )
        )
        if CENSUS:
            rows.append(
                (
                    f"{kind} {n}: objects walked by a gen1 / gen2 collection (mean)",
                    f"{r['gc1_objects']:.0f} / {r['gc2_objects']:.0f}",
                    f"{r['gc1_objects'] / n:.1f} / {r['gc2_objects'] / n:.1f} per session",
                )
            )
        rows.append(
            (
                f"{kind} {n}: GC-tracked objects per session (open)",
                f"{r['objects_per_session']:.0f}",
                "gc.get_objects() growth while the sessions open / N",
            )
        )
        rows.append(
            (
                f"{kind} {n}: probe interrupt() -> frame to the socket p50 / p99",
                f"{r['wire_p50']:.2f} / {r['wire_p99']:.2f} ms",
                f"{r['wire_n']:.0f} interrupts" + ("; target p99 < 20 ms" if n >= 1000 else ""),
            )
        )
        rows.append(
            (f"{kind} {n}: CPU", f"{r['cpu']:.2f} cores", f"{r['turns_per_s']:.0f} turns/s, {r['failures']:.0f} failed")
        )
        rows.append(
            (
                f"{kind} {n}: CPU of the emulator process / whole machine",
                f"{r['emulator_cpu']:.2f} / {r['machine_busy']:.2f} cores",
                f"steal {r['steal']:.2f} cores; load average {r['load']:.2f}; {os.cpu_count()} cores",
            )
        )
        if kind == "emulator-process" and r["turns_per_s"] > 0:
            per_turn = r["emulator_cpu"] / r["turns_per_s"] * 1000
            rows.append(
                (f"{kind} {n}: emulator CPU per turn", f"{per_turn:.2f} ms", "its process's CPU / turns served")
            )
        rows.append(
            (
                f"{kind} {n}: this process preempted / page faults (major)",
                f"{r['preempted']:.0f} / {r['faults']:.0f} ({r['major_faults']:.0f})",
                "involuntary context switches, minor faults in the window",
            )
        )
        saturated = _saturation(r, n)
        if saturated:
            rows.append((f"{kind} {n}: NOT A MEASURE OF THE CLIENT", "saturated", saturated))
        note = "target < 100 KB" + (" (includes the emulator's per-session state)" if kind == "emulator" else "")
        rows.append((f"{kind} {n}: memory per session (tracemalloc / N)", f"{r['kb_per_session']:.1f} KB", note))
        rows.append(
            (
                f"{kind} {n}: RSS growth / N",
                f"{r['rss_kb_per_session']:.1f} KB",
                "(allocator reuse across runs: indicative)",
            )
        )
    print(f"{args.seconds:g} s per run; a message a second per session; 'emulator' shares the client's process")
    print(f"{machine()}; {platform.platform()}; gc thresholds {gc.get_threshold()}; {_versions()}")
    print_table(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--emulator", default="", help="session counts against an in-process emulator")
    parser.add_argument("--loopback", default="1000", help="session counts over loopback (client alone)")
    parser.add_argument(
        "--emulator-process", default="1000", help="session counts against an emulator in another process"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement window per run")
    parser.add_argument("--no-freeze", action="store_true", help="do not gc.freeze() once the sessions are open")
    parser.add_argument(
        "--gc-threshold", default="", help="gc.set_threshold(...) once the sessions are open, e.g. 700,10,10"
    )
    parser.add_argument(
        "--no-census", action="store_true", help="do not count the objects of each gen1/gen2 collection"
    )
    arguments = parser.parse_args()
    FREEZE = not arguments.no_freeze
    if arguments.gc_threshold:
        THRESHOLD = tuple(int(x) for x in arguments.gc_threshold.split(","))
    CENSUS = not arguments.no_census
    anyio.run(main_async, arguments)
