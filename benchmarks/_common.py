"""Shared helpers of the benchmarks: a recording loopback transport, an acking peer, a fake API client, stats."""

from __future__ import annotations

import itertools
import math
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Any, cast

import anyio

from streamclient.api import AsyncAkoolClient
from streamclient.api.models import Session
from streamclient.codec import CommandFrame, ProtocolConnection, Role, decode_frame
from streamclient.errors import RemoteProtocolError
from streamclient.transport.base import FrameReceived, JoinParams, TransportLimits
from streamclient.transport.loopback import LoopbackTransport

ENGLISH = "Streaming avatars speak whatever text they receive, one chunk at a time, and keep talking. "
CJK = "流媒体虚拟人会逐段朗读收到的文字。并持续说下去。我能吞下玻璃而不伤身体。"


def text_of(sample: str, nbytes: int) -> str:
    """``sample`` repeated and cut to at most ``nbytes`` UTF-8 bytes (whole characters)."""
    text = sample * (nbytes // len(sample.encode()) + 1)
    return text.encode()[:nbytes].decode(errors="ignore")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, nearest-rank."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def machine() -> str:
    """One line describing this machine."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def rss_bytes() -> int:
    """Resident set size of this process, in bytes (Linux)."""
    with open("/proc/self/statm", encoding="utf-8") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def print_table(rows: list[tuple[str, str, str]]) -> None:
    """Print ``(measurement, result, note)`` rows aligned."""
    width = max(len(r[0]) for r in rows)
    rwidth = max(14, *(len(r[1]) for r in rows))
    print(f"{'measurement':<{width}}  {'result':>{rwidth}}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{rwidth}}  {note}")


def max_window_bytes(sends: list[tuple[float, int]], window: float = 1.0) -> int:
    """The largest byte total of any rolling window ``(t - window, t]`` over ``(time, size)`` sends."""
    best = 0
    total = 0
    start = 0
    for t, n in sends:
        total += n
        while sends[start][0] <= t - window:
            total -= sends[start][1]
            start += 1
        best = max(best, total)
    return best


class RecordingTransport(LoopbackTransport):
    """A loopback end that accepts every frame at once and records ``(perf_counter, frame)`` for each send."""

    def __init__(self, *, limits: TransportLimits | None = None, direction: int = 0) -> None:
        super().__init__(limits=limits, direction=direction)
        self.sent: list[tuple[float, bytes]] = []
        self.changed = anyio.Event()

    @classmethod
    def recording_pair(cls, *, limits: TransportLimits | None = None) -> tuple[RecordingTransport, LoopbackTransport]:
        """Our recording end and a plain peer end, linked."""
        ours = cls(limits=limits, direction=0)
        theirs = LoopbackTransport(limits=limits, direction=1)
        ours._peer, theirs._peer = theirs, ours  # same construction as LoopbackTransport.pair
        return ours, theirs

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:
        """Record the frame, then deliver it like the loopback does."""
        self.sent.append((time.perf_counter(), data))
        self.changed.set()
        self.changed = anyio.Event()
        await super().send(data, timeout=timeout)


async def acking_peer(
    transport: LoopbackTransport, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Join as the avatar and ack every command at once (nothing else)."""
    conn = ProtocolConnection(Role.AVATAR)
    await transport.join(JoinParams(app_id="app", channel="channel", uid="avatar-7", token="t"))
    task_status.started()
    async for event in transport.events():
        if not isinstance(event, FrameReceived):
            continue
        try:
            frame = decode_frame(event.data)
        except RemoteProtocolError:
            continue
        if isinstance(frame, CommandFrame) and frame.mid is not None:
            conn.send_ack(frame.mid, frame.cmd)
            for datagram in conn.data_to_send(anyio.current_time()):
                await transport.send(datagram)


@dataclass
class _FakeSessions:
    closed: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _session(self, session_id: str) -> Session:
        return Session.model_validate(
            {
                "_id": session_id,
                "status": 2,
                "stream_type": "agora",
                "credentials": {
                    "agora_uid": 100,
                    "agora_app_id": "app",
                    "agora_channel": "channel",
                    "agora_token": "token",
                },
            }
        )

    async def create(self, **_kwargs: Any) -> Session:
        return self._session(f"s{next(self._ids)}")

    async def get(self, session_id: str) -> Session:
        return self._session(session_id)

    async def close(self, session_id: str) -> None:
        self.closed.append(session_id)


class FakeClient:
    """Just enough of ``AsyncAkoolClient`` for a session over a loopback transport (no network)."""

    def __init__(self) -> None:
        self.sessions = _FakeSessions()

    def typed(self) -> AsyncAkoolClient:
        """This object, typed as the real client."""
        return cast(AsyncAkoolClient, self)
