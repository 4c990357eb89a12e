"""Delivery benchmark: time to hand 1/10/100 KB of text to the transport, vs the floor and vs the official rule.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_delivery.py``. Not part of CI's pass/fail.

* ours: ``AvatarSession.say(text)`` over a loopback transport that accepts every frame at once and timestamps it
  (the real writer loop, pacer and chunker; 6000 B/s, 30 messages/s, 1024-byte frames, as on Agora).
* floor: text bytes / 6000 B/s (what an ideal sender with zero framing overhead would need).
* official: the official clients' rule (akool-api-and-protocol.md §3) run over the same transport: 216 characters
  per frame at a 950-byte cap, and after each frame but the last a sleep of ``ceil(1000 * len / 6000)`` ms.

Delivery time is from ``say()`` to the last frame (``fin``) handed to the transport. Every case runs concurrently in
one event loop (each on its own transport and pacer), so the whole run takes as long as the slowest case (~25 s).
Targets (issue 7): ours <= 1.15x the floor and faster than the official rule; no rolling one-second window over the
budget and no frame over 1024 bytes.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import anyio
from _common import CJK, ENGLISH, FakeClient, RecordingTransport, max_window_bytes, print_table, text_of

from streamclient.codec import ChatFrame, encode_frame
from streamclient.session import SessionOptions, connect
from streamclient.transport.base import TransportLimits

BUDGET = 6000
SIZES = (1024, 10 * 1024, 100 * 1024)
#: A frame budget that tiles the chat lane's share of the window: 6 frames of 957 B = 5742 B <= 6000 - 256.
TILED_FRAME = (BUDGET - 256) // math.ceil((BUDGET - 256) / 1024)
OPTIONS = SessionOptions(wait_for_avatar=False, close_timeout=2.0)


async def ours(text: str, *, max_frame_bytes: int | None = None) -> tuple[float, list[tuple[float, int]]]:
    """Deliver ``text`` through a session; return (seconds, [(time, frame bytes)])."""
    transport, _peer = RecordingTransport.recording_pair(limits=TransportLimits(bytes_per_second=BUDGET))
    options = replace(OPTIONS, max_frame_bytes=max_frame_bytes)
    async with connect(FakeClient().typed(), avatar_id="a", transport=transport, options=options) as session:
        start = time.perf_counter()
        turn = session.say(text)
        with anyio.fail_after(120):
            while not turn.fully_sent:
                await transport.changed.wait()
        end = transport.sent[-1][0]
    return end - start, [(t, len(d)) for t, d in transport.sent]


def official_frames(text: str, mid: str, cap: int = 950) -> list[bytes]:
    """The official split: ``floor((cap - base) / 4)`` characters per frame, halved while over the cap."""

    def enc(chunk: str, idx: int, fin: bool) -> bytes:
        return encode_frame(ChatFrame(mid=mid, idx=idx, fin=fin, text=chunk))

    max_len = (cap - len(enc("", 0, False))) // 4
    chunks: list[str] = []
    rest = text
    while rest:
        chunk = rest[:max_len]
        while len(enc(chunk, len(chunks), False)) > cap and len(chunk) > 1:
            chunk = chunk[: math.ceil(len(chunk) / 2)]
        chunks.append(chunk)
        rest = rest[len(chunk) :]
    return [enc(c, i, i == len(chunks) - 1) for i, c in enumerate(chunks)]


async def official(text: str) -> tuple[float, list[tuple[float, int]]]:
    """Deliver ``text`` with the official rule over the same kind of transport."""
    from streamclient.transport.base import JoinParams

    transport, _peer = RecordingTransport.recording_pair(limits=TransportLimits(bytes_per_second=BUDGET))
    await transport.join(JoinParams(app_id="app", channel="c", uid="1", token="t"))
    frames = official_frames(text, f"msg-{int(time.time() * 1000)}")
    start = time.perf_counter()
    for i, data in enumerate(frames):
        min_ms = math.ceil(1000 * len(data) / BUDGET)
        t0 = time.perf_counter()
        await transport.send(data)
        if i < len(frames) - 1:
            await anyio.sleep(max(0.0, min_ms / 1000 - (time.perf_counter() - t0)))
    end = transport.sent[-1][0]
    await transport.leave()
    return end - start, [(t, len(d)) for t, d in transport.sent]


async def main_async() -> None:
    """Run every case concurrently and print the table."""
    cases = [
        (label, size, text_of(sample, size)) for label, sample in (("English", ENGLISH), ("CJK", CJK)) for size in SIZES
    ]
    results: dict[tuple[str, str], tuple[float, list[tuple[float, int]]]] = {}

    async def run(kind: str, label: str, text: str) -> None:
        if kind == "ours":
            results[(kind, label)] = await ours(text)
        elif kind == "tiled":
            results[(kind, label)] = await ours(text, max_frame_bytes=TILED_FRAME)
        else:
            results[(kind, label)] = await official(text)

    async with anyio.create_task_group() as tg:
        for label, size, text in cases:
            tg.start_soon(run, "ours", f"{label} {size // 1024} KB", text)
            tg.start_soon(run, "official", f"{label} {size // 1024} KB", text)
            tg.start_soon(run, "tiled", f"{label} {size // 1024} KB", text)

    rows: list[tuple[str, str, str]] = []
    failures: list[str] = []
    for label, size, text in cases:
        key = f"{label} {size // 1024} KB"
        nbytes = len(text.encode())
        floor = nbytes / BUDGET
        t_ours, sends = results[("ours", key)]
        t_off, off_sends = results[("official", key)]
        peak = max_window_bytes(sends)
        biggest = max(n for _, n in sends)
        off_peak = max_window_bytes(off_sends)
        rows.append(
            (f"{key}: ours / floor ({floor:.2f} s)", f"{t_ours / floor:.3f}x", f"{t_ours:.2f} s, target <= 1.15x")
        )
        rows.append((f"{key}: official / floor", f"{t_off / floor:.3f}x", f"{t_off:.2f} s"))
        rows.append((f"{key}: ours / official", f"{t_ours / t_off:.3f}x", "target < 1"))
        t_tiled, tiled_sends = results[("tiled", key)]
        rows.append(
            (
                f"{key}: ours @ {TILED_FRAME} B frames / floor",
                f"{t_tiled / floor:.3f}x",
                f"{t_tiled:.2f} s, peak window {max_window_bytes(tiled_sends)} B (frames that tile the chat budget)",
            )
        )
        rows.append(
            (
                f"{key}: ours peak 1 s window / largest frame",
                f"{peak} B / {biggest} B",
                f"{len(sends)} frames; official peak {off_peak} B in {len(off_sends)} frames",
            )
        )
        if peak > BUDGET:
            failures.append(f"{key}: a one-second window carried {peak} B > {BUDGET}")
        if biggest > 1024:
            failures.append(f"{key}: a frame of {biggest} B > 1024")
    print(
        f"budget {BUDGET} B/s, 30 msg/s; ours = AvatarSession writer (default frame budget = the transport limit,"
        " 1024 B); official = 216 chars @ 950 B"
    )
    print_table(rows)
    for failure in failures:
        print("FAIL:", failure)
    if failures:
        raise SystemExit(1)
    print("OK: no rolling one-second window over the budget, no frame over 1024 bytes")


if __name__ == "__main__":
    anyio.run(main_async)
