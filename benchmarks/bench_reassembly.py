"""Reassembly under stress: out-of-order, duplicated frames across interleaved messages, and a never-finished flood.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_reassembly.py``. Not part of CI's pass/fail.

1. Throughput: 200 messages of 20 chunks each (4,000 frames, ~60-byte texts), in groups of 50 messages interleaved
   at once (the default bound is 64 pending messages), each group shuffled with 25% of its frames duplicated, fed
   to ``ProtocolConnection.receive_data`` (decode + reassembly); compared side by side with the same frames in
   order without duplicates, and with bare ``json.loads`` of the same bytes.
   Every message must complete exactly once with the right text.
2. Flood: messages that never finish (chunks 0..k of a 900-byte text, no ``fin``), from one sender; "many small":
   20,000 messages of 1-5 chunks; "few large": 200 messages of 1-200 chunks (more than the 4 MiB bound in total): the
   reassembler's buffered bytes and pending messages are sampled after every frame, and ``tracemalloc`` reports the
   peak Python memory of the whole feed. The bound is ``ReassemblyLimits.max_buffered_bytes`` (default 4 MiB) and
   ``max_pending_messages`` (64): both must hold at every step; the tracemalloc peak is printed against the bound.
"""

from __future__ import annotations

import json
import random
import time
import tracemalloc
from collections.abc import Callable

from _common import print_table

from streamclient.codec import (
    ChatFrame,
    ChatMessage,
    MessageDiscarded,
    ProtocolConnection,
    ReassemblyLimits,
    Role,
    encode_frame,
    new_mid,
)

MESSAGES = 200
GROUP = 50  # messages interleaved at once (under the default max_pending_messages of 64)
CHUNKS = 20
FLOOD = 20_000


def make_frames() -> tuple[list[bytes], dict[str, str]]:
    """In-order frames of MESSAGES interleaved messages, and the expected text by mid."""
    rng = random.Random(3)
    expected: dict[str, str] = {}
    per_message: list[list[bytes]] = []
    for m in range(MESSAGES):
        mid = new_mid()
        texts = [
            f"message {m} chunk {i} " + "".join(rng.choice("abcdefghij ") for _ in range(40)) for i in range(CHUNKS)
        ]
        expected[mid] = "".join(texts)
        per_message.append(
            [
                encode_frame(ChatFrame(mid=mid, idx=i, fin=i == CHUNKS - 1, text=t, source="bot"))
                for i, t in enumerate(texts)
            ]
        )
    groups = [per_message[g : g + GROUP] for g in range(0, MESSAGES, GROUP)]
    frames = [f for group in groups for chunk in zip(*group, strict=True) for f in chunk]  # round-robin per group
    return frames, expected


def feed(frames: list[bytes], expected: dict[str, str]) -> float:
    """Feed ``frames`` to a fresh connection; check every message completed once; return seconds."""
    conn = ProtocolConnection(Role.CLIENT)
    got: dict[str, str] = {}
    start = time.perf_counter()
    for data in frames:
        conn.receive_data(data, sender="avatar", now=0.0)
        for event in conn.events_received():
            if isinstance(event, ChatMessage):
                assert event.mid not in got, "a message completed twice"
                got[event.mid] = event.text
    elapsed = time.perf_counter() - start
    assert got == expected, "a message was lost or garbled"
    return elapsed


def best(fn: Callable[[], float], repeat: int = 5) -> float:
    """Best of ``repeat`` runs of ``fn()`` (seconds)."""
    return min(fn() for _ in range(repeat))


def flood(messages: int, chunks: int) -> tuple[int, int, int, int, int]:
    """Feed never-finished messages; return (frames, peak buffered, peak pending, tracemalloc peak, discards)."""
    limits = ReassemblyLimits()
    conn = ProtocolConnection(Role.CLIENT, reassembly=limits, message_timeout=3600)
    text = "x" * 900
    frames = [
        encode_frame(ChatFrame(mid=f"flood-{m}", idx=i, fin=False, text=text, source="bot"))
        for m in range(messages)
        for i in range(m % chunks + 1)
    ]
    peak_buffered = peak_pending = discards = 0
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    for data in frames:
        conn.receive_data(data, sender="avatar", now=0.0)
        discards += sum(isinstance(e, MessageDiscarded) for e in conn.events_received())
        reassembler = conn.reassembler
        peak_buffered = max(peak_buffered, reassembler.buffered_bytes)
        peak_pending = max(peak_pending, reassembler.pending_messages)
        assert reassembler.buffered_bytes <= limits.max_buffered_bytes
        assert reassembler.pending_messages <= limits.max_pending_messages
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return len(frames), peak_buffered, peak_pending, peak - base, discards


def _loads_all(frames: list[bytes]) -> float:
    start = time.perf_counter()
    for data in frames:
        json.loads(data)
    return time.perf_counter() - start


def main() -> None:
    """Run the measurements and print the table."""
    ordered, expected = make_frames()
    rng = random.Random(5)
    hostile: list[bytes] = []
    per_group = GROUP * CHUNKS
    for g in range(0, len(ordered), per_group):
        group = ordered[g : g + per_group]
        shuffled = group + rng.sample(group, len(group) // 4)
        rng.shuffle(shuffled)
        hostile.extend(shuffled)
    t_ordered = best(lambda: feed(ordered, expected))
    t_hostile = best(lambda: feed(hostile, expected))
    t_loads = best(lambda: _loads_all(hostile))
    limits = ReassemblyLimits()
    rows = [
        (
            f"in order, no duplicates ({len(ordered)} frames)",
            f"{len(ordered) / t_ordered:,.0f} frames/s",
            "decode + reassemble",
        ),
        (
            f"shuffled + 25% duplicated ({len(hostile)} frames)",
            f"{len(hostile) / t_hostile:,.0f} frames/s",
            f"{MESSAGES} interleaved messages, each completed exactly once",
        ),
        (
            "shuffled+duplicated vs in-order, time per frame",
            f"{(t_hostile / len(hostile)) / (t_ordered / len(ordered)):.2f}x",
            "",
        ),
        ("shuffled+duplicated vs bare json.loads, time per frame", f"{t_hostile / t_loads:.1f}x", ""),
    ]
    for name, messages, chunks in (("many small", FLOOD, 5), ("few large", 200, 200)):
        n_frames, peak_buffered, peak_pending, traced, discards = flood(messages, chunks)
        rows += [
            (f"flood ({name}): {n_frames} frames, {messages} unfinished messages", f"{discards} discards", "reported"),
            (
                f"flood ({name}): peak buffered bytes / bound",
                f"{peak_buffered:,} / {limits.max_buffered_bytes:,}",
                "at every frame",
            ),
            (
                f"flood ({name}): peak pending messages / bound",
                f"{peak_pending} / {limits.max_pending_messages}",
                "at every frame",
            ),
            (
                f"flood ({name}): tracemalloc peak of the feed",
                f"{traced / 1024:,.0f} KiB",
                "Python heap growth, all objects",
            ),
        ]
    print_table(rows)


if __name__ == "__main__":
    main()
