"""Inspector benchmark: what watching costs the room. 100 sessions talk; the inspector is off, on with no page,
and on with a page's live stream connected; the room's delivery latency, the garbage collector's work and the page's
responsiveness are compared (issue 25).

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_inspector.py [--sessions N] [--window S]``.

**Part 1, per frame, in process (exact: the machine's load does not change these counts).** 100 rooms, each with a
client and an avatar peer, their tapes full (1,000 frames each: a running emulator's steady state); 5,000 more chat
frames sent through them, with the inspector detached, attached with no page, and attached with a page's stream
following one room. For each: the garbage collector's tracked objects allocated
(net) per frame on the room's path and in the inspector's feed, the objects still alive after a full collection,
the objects found in reference cycles (garbage only a collection frees), frames decoded by the inspector, and CPU
time per frame (``time.process_time``, which a loaded machine inflates less than wall time).

**Part 2, live.** In one process (the emulator's): 100 sessions created over REST, each with a client joined over a
real loopback websocket (``RoomTransport``) that sends a chat frame every ~1 s (jittered) to its avatar, which
retells it (chunks, ``audio_start`` / ``audio_end``). In every room a probe peer (in process) reads its mailbox and
measures, for each client frame, the time from the client's ``send()`` (stamped in the frame) to the frame reaching
the probe: the room's delivery path as a receiver sees it, websocket hop included.

Windows of ``--window`` seconds rotate ``--rounds`` times through three states of the same emulator (in a shuffled
order each round, so neither the machine's background load nor the garbage collector's rhythm favours one):

* **off**: the inspector's tapes are detached from every room (the room's path is what
  ``EmulatorConfig(inspector=False)`` runs);
* **on, page closed**: every room event reaches the inspector (its tape: one tuple appended per frame);
* **on, page open**: as above, plus a page in another process (so its parsing is not charged to the emulator)
  opening one room as the page does (its snapshot, then ``/inspector/api/events`` from there) and reading the
  stream.

Once the sessions are open the process calls ``gc.freeze()``, as docs/performance.md advises a process holding many
sessions to do (``--no-freeze`` to compare): otherwise a full collection of the emulator's own objects (tens of
milliseconds, once a minute or so) lands in one window of one state and decides that state's p99.

Per state: the delivery latency (p50, p99, max), the garbage collections by generation (count, longest, total
pause), the tracked objects allocated per delivered frame that implies (``700`` per generation-0 collection), and
the inspector's own CPU time on the loop's thread (its feed, its publishing, the page stream's work; the in-line
append is in part 1, not metered here, so as not to slow the room's path). For the page: how long after its
``send()`` a frame of the watched room reached the page's stream, and how long a snapshot took.

Target: the added delivery latency p99 (page open minus off) < 1 ms. The p99s are pooled over the rounds; the spread
printed with the difference is its 5th-95th percentile over 200 resamplings of the rounds (what another run could
show on the same machine). On a loaded machine the p99 of every state is the scheduler's: then read part 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
from _common import machine, percentile, print_table
from anyio.streams.buffered import BufferedByteReceiveStream

from streamclient.api import AsyncAkoolClient
from streamclient.codec import ChatFrame, encode_frame
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.emulator.avatar_room import AvatarRoom
from streamclient.emulator.inspector import Inspector
from streamclient.emulator.inspector.live import FRAMES_PER_ROOM, Tape
from streamclient.emulator.room import PeerRole, Room, RoomLimits
from streamclient.session._transport_factory import join_params_for
from streamclient.transport.base import FrameReceived
from streamclient.transport.room import RoomTransport

AVATAR = "dvp_Tristan_cloth2_1080P"
PROBE_UID = "3999999999"
TARGET_MS = 1.0
STATES = ("off", "closed", "open")
LABELS = {"off": "off", "closed": "on, page closed", "open": "on, page open"}
#: The page, in its own process for the whole run (its CPU is not the emulator's): "open EVENTS SNAPSHOT" does what
#: the page does as it opens: fetches the room's snapshot (timed), then reads the event stream from there in a thread
#: (timing each client frame of the room: its text carries its send time, and perf_counter is the system's monotonic
#: clock, the same in both processes); "close" hangs up and answers with the timings as JSON.
SSE_CLIENT = r"""
import http.client, json, socket, sys, threading, time
host, port = sys.argv[1], int(sys.argv[2])
sock = None
lags, snaps = [], []
opened = 0.0
def drain(s):
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return
            buf += chunk
            *lines, buf = buf.split(b"\n")
            now = time.perf_counter()
            for line in lines:
                if not line.startswith(b"data: ["):
                    continue
                for item in json.loads(line[6:]):
                    if item.get("k") == "frame" and item.get("dir") == "out" and "sent:" in item.get("text", ""):
                        sent = float(item["text"].split("sent:", 1)[1].split()[0])
                        if sent >= opened:  # not the room's earlier frames, which the page gets as it connects
                            lags.append(now - sent)
    except (OSError, ValueError):
        pass
def snapshot(path):
    start = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("GET", path)
    body = connection.getresponse().read()
    connection.close()
    snaps.append(time.perf_counter() - start)
    return json.loads(body)["seq"]
for line in sys.stdin:
    command, *paths = line.split()
    if command == "open":
        lags.clear(); snaps.clear(); opened = time.perf_counter()
        seq = snapshot(paths[1])  # as the page does: the snapshot, then the stream from there
        sock = socket.create_connection((host, port))
        request = f"GET {paths[0]}&after={seq} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
        sock.sendall(request.encode())
        threading.Thread(target=drain, args=(sock,), daemon=True).start()
        print("ok", flush=True)
    elif command == "close" and sock is not None:
        sock.close()
        print("ok " + json.dumps({"lags": lags, "snapshots": snaps}), flush=True)
"""


# ------------------------------------------------------------------------------------------ part 1: per frame


def per_frame(frames: int = 5000, rooms: int = 100) -> list[tuple[str, str, str]]:
    """Part 1 (see the module docstring): counts per frame, in process, for the three states."""
    rows = [row for state in STATES for row in anyio.run(_per_frame_case, state, frames, rooms)]
    return [*rows, _inline_cost()]


def _inline_cost(calls: int = 100_000, repeats: int = 5) -> tuple[str, str, str]:
    """CPU time of the tape's in-line write alone (the best of ``repeats``: the least disturbed by other work)."""
    inspector = Inspector()
    room = Room("c")
    tape = inspector.attach(room)
    data = encode_frame(ChatFrame(mid="m", idx=0, fin=True, text="Hello avatar, message 1 of a friendly chat."))
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            tape.room_event(room, "frame", "7", role="client", data=data)
        best = min(best, time.process_time() - start)
    return (
        "per frame, the tape's in-line write",
        f"{best / calls * 1e9:.0f} ns",
        f"CPU, best of {repeats} x {calls:,} calls of Tape.room_event (a ring already full)",
    )


def _net_tracked(work: Callable[[], object]) -> int:
    """Tracked objects allocated (net) by ``work``, the collector off (see below for the ballast)."""
    gc.collect()
    gc.disable()
    ballast: list[list[int]] = [[] for _ in range(100_000)]
    try:
        gc.get_count()  # (its first call allocates its answer)
        before = gc.get_count()[0]
        work()
        return gc.get_count()[0] - before
    finally:
        gc.enable()
        del ballast


def _still() -> float:
    return 0.0


async def _per_frame_case(state: str, count: int, nrooms: int) -> list[tuple[str, str, str]]:
    inspector = Inspector()
    limits = RoomLimits(messages_per_second=10**9, bytes_per_second=10**12)
    rooms: list[Room] = []
    for k in range(nrooms):
        room = Room(f"c{k}", limits=limits, clock=_still)  # a still clock: the room's own rate window is the
        # same in every state (its entries never expire during the measure, however fast the machine runs it)
        if state != "off":
            inspector.attach(room)
        room.join("7", role=PeerRole.CLIENT)
        room.join("1000007", role=PeerRole.AVATAR)
        rooms.append(room)
    data = [
        encode_frame(ChatFrame(mid=f"m{i}", idx=0, fin=True, text=f"Hello avatar, message {i} of a friendly chat."))
        for i in range(count)
    ]
    filling = _net_tracked(lambda: [rooms[i % nrooms].send("7", frame) for i, frame in enumerate(data[:2000])])
    for room in rooms:  # a running emulator's steady state: every tape full (the avatars' mailboxes hold 4096)
        for frame in data[:FRAMES_PER_ROOM]:
            room.send("7", frame)
    inspector.drain_now()
    if state == "open":
        inspector.page_opened("c0")
        await inspector.watch("c0")
    fed_before = inspector.frames_fed
    gc.collect()
    objects_before = len(gc.get_objects())
    gc.disable()
    # the collector's generation-0 count is allocations minus deallocations, but it never goes below 0: start it
    # well above, so that frees of older objects during the measure are counted too
    ballast: list[list[int]] = [[] for _ in range(100_000)]
    try:
        gc.get_count()  # (its first call allocates its answer)
        count0 = gc.get_count()[0]
        cpu0 = time.process_time()
        for i, frame in enumerate(data):
            rooms[i % nrooms].send("7", frame)
        cpu1 = time.process_time()
        count1 = gc.get_count()[0]
        await inspector._tick()  # the inspector's task: what it does at its next tick
        cpu2 = time.process_time()
        count2 = gc.get_count()[0]
    finally:
        gc.enable()
    del ballast
    cycles = gc.collect()
    alive = len(gc.get_objects()) - objects_before
    mailboxes = 1.0  # the avatar's mailbox holds each frame's FrameReceived (a tracked object), in every state
    label = LABELS[state]
    return [
        (
            f"per frame, inspector {label}: room's path, tapes filling",
            f"{filling / 2000:.2f} objects",
            "tracked allocations (net) in Room.send, the first 20 frames of each room",
        ),
        (
            f"per frame, inspector {label}: room's path",
            f"{(count1 - count0) / count:.2f} objects",
            f"tracked allocations (net) in Room.send; CPU {(cpu1 - cpu0) / count * 1e6:.2f} us",
        ),
        (
            f"per frame, inspector {label}: inspector's tick",
            f"{(count2 - count1) / count:.2f} objects",
            f"{(inspector.frames_fed - fed_before) / count:.2f} frames decoded; "
            f"CPU {(cpu2 - cpu1) / count * 1e6:.2f} us",
        ),
        (
            f"per frame, inspector {label}: kept",
            f"{alive / count - mailboxes:.2f} objects",
            f"tracked objects alive after a full collection, beyond the mailbox's event; in cycles: "
            f"{cycles / count:.2f}",
        ),
    ]


# ------------------------------------------------------------------------------------------ part 2: live


@dataclass
class Meter:
    """By state: the inspector's CPU on the loop (total, longest hold) and the garbage collections."""

    state: str = "warm-up"
    busy: dict[str, float] = field(default_factory=dict)
    longest: dict[str, tuple[float, str]] = field(default_factory=dict)
    #: collections by state and generation: (count, total seconds, longest seconds)
    collections: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    gc_seconds: float = 0.0
    _gc_start: float = 0.0

    def hold(self, seconds: float, what: str, gc_before: float) -> None:
        collected = self.gc_seconds - gc_before
        if collected > 0:
            what += f", of which {collected * 1000:.3f} ms a garbage collection"
        self.busy[self.state] = self.busy.get(self.state, 0.0) + seconds
        self.longest[self.state] = max(self.longest.get(self.state, (0.0, "")), (seconds, what))

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
            return
        seconds = time.perf_counter() - self._gc_start
        self.gc_seconds += seconds
        entry = self.collections.setdefault((self.state, info["generation"]), [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += seconds
        entry[2] = max(entry[2], seconds)

    def install(self, inspector: Inspector) -> None:
        """Time the inspector's work on the loop (this instance only; not its in-line append)."""
        from streamclient.emulator.inspector import web

        gc.callbacks.append(self._gc)
        meter = self

        def timed(owner: Any, name: str, what: str) -> None:
            original = getattr(owner, name)

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                start, gc_before = time.thread_time(), meter.gc_seconds
                out = original(*args, **kwargs)
                meter.hold(time.thread_time() - start, what, gc_before)
                return out

            setattr(owner, name, wrapper)

        timed(inspector, "_feed_slice", "decoding a slice of frames")
        timed(inspector, "_apply", "applying a room event")
        timed(inspector, "_sync_tapes", "copying the rooms' counters")
        timed(inspector.model, "flush", "a flush of the model")
        timed(inspector.model, "items_after", "reading the log for the stream")
        timed(web, "_json", "encoding a batch for the stream")


@dataclass
class Samples:
    """Delivery latencies (seconds) by state and round."""

    state: str = "warm-up"
    round: int = 0
    by_state: dict[str, list[list[float]]] = field(default_factory=lambda: {s: [] for s in STATES})

    def add(self, value: float) -> None:
        rounds = self.by_state.get(self.state)
        if rounds is not None:
            rounds[self.round].append(value)


async def probe(room: AvatarRoom, samples: Samples) -> None:
    """Read the room as a peer; time every client frame (it carries its send time)."""
    peer = room.join(PROBE_UID, role=PeerRole.CLIENT)
    async for event in peer.events():
        if isinstance(event, FrameReceived) and b'"sent:' in event.data:
            now = time.perf_counter()
            text = json.loads(event.data)["pld"]["text"]
            samples.add(now - float(text.split("sent:", 1)[1].split()[0]))


async def talker(transport: RoomTransport, stop: anyio.Event, rng: random.Random) -> None:
    """Send one chat frame every ~1 s, stamped with its send time."""
    n = 0
    await anyio.sleep(rng.uniform(0, 1.0))
    while not stop.is_set():
        n += 1
        text = f"sent:{time.perf_counter():.6f} Hello avatar, this is message {n} of a long and friendly chat."
        await transport.send(encode_frame(ChatFrame(mid=f"m{n}", idx=0, fin=True, text=text)))
        await anyio.sleep(rng.uniform(0.75, 1.25))


async def drain(transport: RoomTransport) -> None:
    """The client reads what the avatar says (and drops it)."""
    async for _ in transport.events():
        pass


def _pooled_p99(rounds: list[list[float]], picks: list[int]) -> float:
    """The p99 (ms) of the latencies (s) of the rounds ``picks``."""
    return percentile([v for i in picks for v in rounds[i]], 99) * 1000


async def main_async(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """Part 2: run the windows; returns the table's rows."""
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=400.0, default_mode=1)
    samples = Samples()
    meter = Meter()
    stop = anyio.Event()
    rng = random.Random(7)
    page_lags: list[float] = []
    page_snapshots: list[float] = []
    delivered = dict.fromkeys(STATES, 0)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        inspector = emu.inspector
        assert inspector is not None
        meter.install(inspector)
        transports: list[RoomTransport] = []
        rooms: list[AvatarRoom] = []
        async with anyio.create_task_group() as tg:
            for _ in range(args.sessions):
                info = await client.sessions.create(AVATAR, mode_type=1, duration=600)
                creds: Any = info.credentials
                transport = RoomTransport(creds.emulator_room_url)
                await transport.join(join_params_for(info))
                room = emu.room_for(info.id)
                assert room is not None
                transports.append(transport)
                rooms.append(room)
                tg.start_soon(probe, room, samples)
                tg.start_soon(drain, transport)
            await emu.wait_until(
                lambda: all(r.avatar is not None and r.avatar.joined.is_set() for r in rooms), timeout=60
            )
            if args.freeze:  # what docs/performance.md tells a process holding many sessions to do once they are open
                gc.collect()
                gc.freeze()
            tapes: dict[str, Tape] = {}
            for room in rooms:
                tape = inspector.tape(room.channel)
                assert tape is not None
                tapes[room.channel] = tape
            for transport in transports:
                tg.start_soon(talker, transport, stop, random.Random(rng.random()))
            await anyio.sleep(2.0)  # warm up
            host, port = emu.base_url.removeprefix("http://").split(":")
            watched = rooms[0].channel
            events_path = f"/inspector/api/events?room={watched}"
            snapshot_path = f"/inspector/api/snapshot?room={watched}"
            page = await anyio.open_process([sys.executable, "-c", SSE_CLIENT, host, port])
            assert page.stdin is not None
            assert page.stdout is not None
            page_in, page_out = page.stdin, BufferedByteReceiveStream(page.stdout)  # whole lines, not chunks

            async def tell(command: str) -> str:
                await page_in.send(command.encode() + b"\n")
                with anyio.fail_after(30):
                    answer = (await page_out.receive_until(b"\n", 1 << 24)).decode().strip()
                assert answer.startswith("ok"), answer
                return answer.removeprefix("ok").strip()

            def frames_delivered() -> int:
                return sum(r.frames_to_avatar + r.frames_to_client for r in rooms)

            for _ in range(args.rounds):
                order = list(STATES)
                rng.shuffle(order)
                for state in order:
                    for room in rooms:
                        tape = tapes[room.channel]
                        if state == "off" and tape in room.observers:
                            room.observers.remove(tape)
                        elif state != "off" and tape not in room.observers:
                            room.observers.append(tape)
                    if state == "open":
                        await tell(f"open {events_path} {snapshot_path}")
                        await anyio.sleep(0.5)  # the stream is connected and has caught up
                        assert watched in inspector._followed, "the page's stream did not reach the emulator"
                    samples.by_state[state].append([])
                    samples.round = len(samples.by_state[state]) - 1
                    before = frames_delivered()
                    samples.state = meter.state = state
                    await anyio.sleep(args.window)
                    samples.state = meter.state = "between"
                    delivered[state] += frames_delivered() - before
                    if state == "open":
                        timings = json.loads(await tell("close"))
                        page_lags.extend(timings["lags"])
                        page_snapshots.extend(timings["snapshots"])
                        for _ in range(200):  # the server sees the page hang up before the next window
                            if not inspector.pages:
                                break
                            await anyio.sleep(0.05)
            await page_in.aclose()
            with anyio.fail_after(10):
                await page.wait()
            stop.set()
            for transport in transports:
                await transport.leave()
            tg.cancel_scope.cancel()
    gc.callbacks.remove(meter._gc)
    rows = []
    p99 = {}
    seconds = args.rounds * args.window
    threshold = gc.get_threshold()[0]
    for state in STATES:
        values = [v * 1000 for r in samples.by_state[state] for v in r]
        p99[state] = percentile(values, 99)
        rows.append(
            (
                f"delivery latency, inspector {LABELS[state]}",
                f"p99 {p99[state]:.3f} ms",
                f"p50 {percentile(values, 50):.3f} ms, max {max(values):.2f} ms, {len(values)} frames",
            )
        )
    for state in STATES:
        gens = [meter.collections.get((state, g), [0, 0.0, 0.0]) for g in range(3)]
        young = int(gens[0][0])
        rows.append(
            (
                f"garbage collections, inspector {LABELS[state]}",
                "/".join(str(int(g[0])) for g in gens),
                f"gen 0/1/2; longest {'/'.join(f'{g[2] * 1000:.2f}' for g in gens)} ms; "
                f"{sum(g[1] for g in gens) / seconds * 1000:.2f} ms a second; "
                f"~{young * threshold / max(1, delivered[state]):.1f} tracked objects per delivered frame "
                f"({delivered[state]} frames)",
            )
        )
    for state in ("closed", "open"):
        longest = meter.longest.get(state, (0.0, "nothing"))
        rows.append(
            (
                f"inspector CPU on the loop, {LABELS[state].removeprefix('on, ')}",
                f"{meter.busy.get(state, 0.0) / seconds * 100:.3f} %",
                f"longest hold {longest[0] * 1000:.3f} ms ({longest[1]})",
            )
        )
    lags = [v * 1000 for v in page_lags]
    snaps = [v * 1000 for v in page_snapshots]
    if lags:
        rows.append(
            (
                "page: a frame's send to the page's stream",
                f"p99 {percentile(lags, 99):.0f} ms",
                f"p50 {percentile(lags, 50):.0f} ms, max {max(lags):.0f} ms, {len(lags)} frames of the watched room",
            )
        )
    if snaps:
        rows.append(
            (
                "page: opening the room (its snapshot)",
                f"p99 {percentile(snaps, 99):.1f} ms",
                f"p50 {percentile(snaps, 50):.1f} ms, max {max(snaps):.1f} ms, {len(snaps)} requests",
            )
        )
    spread = random.Random(11)
    n = args.rounds
    medians = {}
    for state in STATES:
        windows = sorted(percentile(r, 99) * 1000 for r in samples.by_state[state] if r)
        medians[state] = windows[len(windows) // 2]
    for state in ("closed", "open"):
        diffs = []
        for _ in range(200):
            picks = [spread.randrange(n) for _ in range(n)]
            diffs.append(_pooled_p99(samples.by_state[state], picks) - _pooled_p99(samples.by_state["off"], picks))
        diffs.sort()
        rows.append(
            (
                f"added p99, {LABELS[state].removeprefix('on, ')} - off",
                f"{p99[state] - p99['off']:+.3f} ms",
                f"resampled rounds: {diffs[10]:+.3f} to {diffs[189]:+.3f} ms; median window p99 "
                f"{medians[state] - medians['off']:+.3f} ms"
                + (f"; target < {TARGET_MS} ms" if state == "open" else ""),
            )
        )
    for state in STATES:  # how much the p99 of one window varies, with the same code and state
        windows = sorted(percentile(r, 99) * 1000 for r in samples.by_state[state] if r)
        rows.append(
            (
                f"p99 of one window, inspector {LABELS[state]}",
                f"{windows[len(windows) // 2]:.2f} ms median",
                "range " + " ".join(f"{w:.1f}" for w in windows),
            )
        )
    hold_ms = max(meter.longest.get(s, (0.0, ""))[0] for s in ("closed", "open")) * 1000
    rows.append(
        (
            "bound: the inspector's longest hold on the loop",
            f"{hold_ms:.3f} ms",
            "the most a delivery can wait behind the inspector's own work (plus its in-line write, part 1)",
        )
    )
    added = p99["open"] - p99["off"]
    rows.append(
        (
            "verdict",
            "OK" if added < TARGET_MS else "MISSED",
            f"added p99 {added:.3f} ms {'<' if added < TARGET_MS else '>='} {TARGET_MS} ms"
            + (f"; inspector events lost: {inspector.lost}" if inspector.lost else ""),
        )
    )
    return rows


def main() -> None:
    """Parse the options, run both parts and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-frame-only", action="store_true", help="part 1 only")
    parser.add_argument(
        "--no-freeze",
        dest="freeze",
        action="store_false",
        help="do not call gc.freeze() once the sessions are open (docs/performance.md advises it)",
    )
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()
    rows = per_frame()
    if not args.per_frame_only:
        rows += anyio.run(main_async, args)
    print(f"{started}; {machine()}")
    print(
        f"part 2: {args.sessions} sessions, {args.rounds} rounds of 3 x {args.window:g} s windows, "
        f"{'gc.freeze() once they are open' if args.freeze else 'no gc.freeze()'}; load average "
        f"(1/5/15 min) {'/'.join(f'{v:.2f}' for v in load_before)} before, "
        f"{'/'.join(f'{v:.2f}' for v in os.getloadavg())} after"
    )
    print_table(rows)
    if os.getloadavg()[0] > (os.cpu_count() or 1) / 2:
        print(
            "note: the machine was busy (load average over half its cores): the p99s are the scheduler's as much as "
            "the emulator's; the per-frame counts and the garbage collections above are what the inspector adds"
        )


if __name__ == "__main__":
    main()
