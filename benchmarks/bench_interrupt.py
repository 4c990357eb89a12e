"""Interrupt benchmark: how fast an interrupt leaves, comes back acked, and cuts the turn it interrupts.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_interrupt.py [loopback_trials] [emulator_trials]``.
Not part of CI's pass/fail.

1. **Loopback, 100 KB queued** (the client alone): each trial opens a session over a loopback transport that
   timestamps every frame it accepts, with a peer that acks commands; queues 100 KB of English; after the first chunk
   is out, half the trials interrupt at once (during the burst), half after a random 0-40 ms (during a pacing wait).
   Measured: ``interrupt()`` call -> the interrupt frame at the transport; chunks of the message handed over after it.
2. **Through the emulator** (real loopback sockets, REST + websocket room, strict room limits, the scripted avatar
   in retelling mode): one session; each trial says a 1-3 frame text, waits a random 0-60 ms (so the interrupt lands
   before the first frame, while a frame is inside the transport call, after the last frame, or while the reply
   streams) and calls ``interrupt()``; trials are 0.25 s apart (the avatar's own 30 messages/s). Measured: the call
   -> its ack back at the client (``CommandAcked``); the turn's resolution relative to that ack (negative: it was
   cut before the ack, as a turn not yet sent is); whether it resolved as interrupted; and, at the room, frames of
   the turn accepted after the interrupt frame.

Targets (issue 14): interrupt to the transport p99 < 5 ms; call -> ack through the emulator p99 < 5 ms; the turn
resolved as interrupted no later than 5 ms after the ack (p99), every time; 0 chunks after the interrupt.
"""

from __future__ import annotations

import random
import sys
import time

import anyio
from _common import ENGLISH, FakeClient, RecordingTransport, acking_peer, percentile, print_table, text_of

from streamclient.api import AsyncAkoolClient
from streamclient.codec import ChatFrame, CommandFrame, decode_frame
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.session import CommandAcked, SessionEvent, SessionOptions, connect

LOOPBACK_TRIALS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
EMULATOR_TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 150
TEXT = text_of(ENGLISH, 100 * 1024)
OPTIONS = SessionOptions(avatar_join_timeout=5, command_timeout=5, close_timeout=2)
SENTENCES = (
    "Short one.",
    "First sentence is here. Second sentence follows it. Third one ends the text.",
    "A longer text that takes two frames to send. " * 25,
    "一段需要两个帧才能发送完的较长中文文本。" * 40,
)


async def loopback_trial(rng: random.Random) -> tuple[float, int, int]:
    """One trial: (latency seconds, chunks of the message after the interrupt, chunks before it)."""
    transport, peer = RecordingTransport.recording_pair()
    async with anyio.create_task_group() as tg:
        await tg.start(acking_peer, peer)
        async with connect(FakeClient().typed(), avatar_id="a", transport=transport, options=OPTIONS) as session:
            turn = session.say(TEXT)
            with anyio.fail_after(5):
                while not transport.sent:
                    await transport.changed.wait()
            if rng.random() < 0.5:
                await anyio.sleep(rng.uniform(0.0, 0.04))
            start = time.perf_counter()
            await session.interrupt()
        tg.cancel_scope.cancel()
    stamp: float | None = None
    before = after = 0
    for t, data in transport.sent:
        frame = decode_frame(data)
        if isinstance(frame, CommandFrame) and frame.cmd == "interrupt" and stamp is None:
            stamp = t
        elif isinstance(frame, ChatFrame) and frame.mid == turn.message_id:
            if stamp is None:
                before += 1
            else:
                after += 1
    assert stamp is not None, "the interrupt frame never reached the transport"
    return stamp - start, after, before


async def loopback_rows() -> list[tuple[str, str, str]]:
    """Part 1."""
    rng = random.Random(7)
    latencies: list[float] = []
    after_total = 0
    before_counts: list[int] = []
    for _ in range(LOOPBACK_TRIALS):
        latency, after, before = await loopback_trial(rng)
        latencies.append(latency)
        after_total += after
        before_counts.append(before)
    ms = [x * 1000 for x in latencies]
    return [
        (
            "loopback: trials (fresh session each, 100 KB queued)",
            f"{LOOPBACK_TRIALS}",
            f"{sum(before_counts) / LOOPBACK_TRIALS:.1f} chunks sent before, on average",
        ),
        ("loopback: interrupt() -> frame at transport, p50", f"{percentile(ms, 50):.3f} ms", ""),
        ("loopback: interrupt() -> frame at transport, p99", f"{percentile(ms, 99):.3f} ms", "target < 5 ms"),
        ("loopback: interrupt() -> frame at transport, max", f"{max(ms):.3f} ms", ""),
        ("loopback: chunks of the cut message sent after it", f"{after_total}", "target 0 (all trials)"),
    ]


async def emulator_rows() -> list[tuple[str, str, str]]:
    """Part 2."""
    rng = random.Random(14)
    config = EmulatorConfig(avatar_join_delay=0.01, speech_chars_per_second=400.0, room_limits="guide")
    call_to_ack: list[float] = []
    resolved_after_ack: list[float] = []
    not_interrupted = 0
    finished_first = 0
    late_chunks = 0
    acks: dict[str, float] = {}

    def on_ack(event: SessionEvent) -> None:
        assert isinstance(event, CommandAcked)
        acks[event.message_id] = time.monotonic()

    async with (
        Emulator(config) as emu,
        AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client,
        connect(client, avatar_id="dvp_Tristan_cloth2_1080P", mode_type=1, duration=600, options=OPTIONS) as session,
    ):
        assert session.session_id is not None
        assert session.transport is not None
        room = emu.room_for(session.session_id)
        assert room is not None
        frames: list[bytes] = []
        original = room.send
        uid = str(session.transport.local_uid)

        def tap(sender: str, data: bytes) -> int:
            code = int(original(sender, data))
            if sender == uid and code == 0:
                frames.append(data)
            return code

        room.send = tap  # type: ignore[method-assign]  # the receiving side: the room's order of acceptance
        session.on(on_ack, CommandAcked)
        for i in range(EMULATOR_TRIALS):
            frames.clear()
            turn = session.say(SENTENCES[i % len(SENTENCES)])
            await anyio.sleep(rng.uniform(0.0, 0.06))
            finished_first += turn.done  # the whole reply came before the interrupt: nothing to cut
            start = time.monotonic()
            ack = await session.interrupt()
            call_to_ack.append(acks[ack.message_id] - start)
            result = await turn.wait(timeout=5)
            if result.timings.done >= start:
                resolved_after_ack.append(result.timings.done - acks[ack.message_id])
            not_interrupted += not result.interrupted and result.timings.done >= start
            kinds = [decode_frame(d) for d in frames]
            at = next(j for j, f in enumerate(kinds) if isinstance(f, CommandFrame) and f.mid == ack.message_id)
            late_chunks += sum(1 for f in kinds[at + 1 :] if isinstance(f, ChatFrame) and f.mid == turn.message_id)
            await anyio.sleep(0.25)
    ms = [x * 1000 for x in call_to_ack]
    res = [x * 1000 for x in resolved_after_ack]
    cut_before = sum(1 for x in res if x < 0)
    return [
        ("emulator: trials (one session, a random 0-60 ms after say)", f"{EMULATOR_TRIALS}", ""),
        ("emulator: interrupt() -> ack at the client, p50", f"{percentile(ms, 50):.2f} ms", ""),
        ("emulator: interrupt() -> ack at the client, p99", f"{percentile(ms, 99):.2f} ms", "target < 5 ms"),
        ("emulator: interrupt() -> ack at the client, max", f"{max(ms):.2f} ms", ""),
        (
            "emulator: turn resolved after the ack, p99",
            f"{percentile(res, 99):.2f} ms",
            f"target <= 5 ms; {cut_before} of {len(res)} cut before the ack (not yet fully sent)",
        ),
        (
            "emulator: turns open at the call not resolved as interrupted",
            f"{not_interrupted}",
            f"target 0; {finished_first} turns had their whole reply before the call",
        ),
        ("emulator: frames of the cut turn at the room after the interrupt", f"{late_chunks}", "target 0"),
    ]


async def main_async() -> None:
    """Run both parts and print the table."""
    rows = await loopback_rows()
    rows += await emulator_rows()
    print_table(rows)


if __name__ == "__main__":
    anyio.run(main_async)
