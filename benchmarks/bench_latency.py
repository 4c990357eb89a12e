"""Added-latency benchmark: from a frame arriving at the transport to the matching event reaching the application.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_latency.py``. Not part of CI's pass/fail.

An ``AvatarSession`` runs over a loopback transport; the benchmark injects ``FrameReceived`` (a one-chunk bot reply,
fresh ``mid`` each time) into the session's end of the transport, stamped with ``perf_counter``, and an application
task iterating ``session.events()`` stamps the first event for that ``mid`` (``BotTextDelta``) and the complete
``BotMessage``. Frames are injected one at a time (each waits for its event), 10,000 of them after a 500-frame warm-up.
The ``json.loads`` of the same bytes is timed too, as a yardstick.
Target (issue 7): p99 under 1 ms.
"""

from __future__ import annotations

import json
import sys
import time

import anyio
from _common import ENGLISH, FakeClient, percentile, print_table

from streamclient.codec import ChatFrame, encode_frame, new_mid
from streamclient.session import BotMessage, BotTextDelta, SessionOptions, connect
from streamclient.transport.base import FrameReceived
from streamclient.transport.loopback import LoopbackTransport

FRAMES = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
WARMUP = 500
OPTIONS = SessionOptions(wait_for_avatar=False, close_timeout=2, event_buffer=100_000)


async def main_async() -> None:
    """Inject frames, measure, print the table."""
    ours, _theirs = LoopbackTransport.pair()
    frames = [
        encode_frame(ChatFrame(mid=new_mid(), idx=0, fin=True, text=ENGLISH[: 20 + i % 60], source="bot"))
        for i in range(FRAMES + WARMUP)
    ]
    delta_lat: list[float] = []
    message_lat: list[float] = []
    async with connect(FakeClient().typed(), avatar_id="a", transport=ours, options=OPTIONS) as session:
        events = session.events()
        for i, data in enumerate(frames):
            start = time.perf_counter()
            ours.inject(FrameReceived("avatar-7", data))
            got_delta: float | None = None
            with anyio.fail_after(5):
                async for event in events:
                    if isinstance(event, BotTextDelta) and got_delta is None:
                        got_delta = time.perf_counter()
                    elif isinstance(event, BotMessage):
                        done = time.perf_counter()
                        break
            if i >= WARMUP and got_delta is not None:
                delta_lat.append(got_delta - start)
                message_lat.append(done - start)
    loads = []
    for data in frames[WARMUP:]:
        t0 = time.perf_counter()
        json.loads(data)
        loads.append(time.perf_counter() - t0)
    us = [x * 1e6 for x in delta_lat]
    us_msg = [x * 1e6 for x in message_lat]
    rows = [
        ("frames measured (one at a time)", f"{len(us)}", f"after {WARMUP} warm-up frames"),
        ("frame -> BotTextDelta at the app, p50", f"{percentile(us, 50):.1f} us", ""),
        ("frame -> BotTextDelta at the app, p99", f"{percentile(us, 99):.1f} us", "target < 1000 us"),
        ("frame -> BotMessage at the app, p50", f"{percentile(us_msg, 50):.1f} us", ""),
        ("frame -> BotMessage at the app, p99", f"{percentile(us_msg, 99):.1f} us", "target < 1000 us"),
        ("frame -> BotMessage at the app, max", f"{max(us_msg):.1f} us", "(GC pauses, scheduler)"),
        ("json.loads of the same bytes, p50", f"{percentile([x * 1e6 for x in loads], 50):.1f} us", "yardstick"),
    ]
    print_table(rows)
    if percentile(us_msg, 99) >= 1000:
        print("MISSED the target")


if __name__ == "__main__":
    anyio.run(main_async)
