"""Shared helpers of the benchmarks: a recording loopback transport, an acking peer, a fake API client, stats."""

from __future__ import annotations

import itertools
import math
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


# --------------------------------------------------------------------------- measuring at a strict room

#: The limits the strict room enforces (the implementation guide's), per sender and sliding second, on its clock.
STRICT_BYTES = 6000
STRICT_MESSAGES = 30


class RoomTap:
    """Stamps, at the room, every frame one sender offers: accepted ``(room time, bytes)``, and refusal codes.

    The room's clock is the emulator's (``time.monotonic``); this is the receiving side of the data stream.
    """

    def __init__(self, room: Any, sender: str) -> None:
        self.accepted: list[tuple[float, int]] = []
        self.refused: list[int] = []
        self.changed = anyio.Event()
        original = room.send
        clock = room._clock  # the room's own clock, the one its limits are enforced on

        def send(uid: str, data: bytes) -> int:
            code = int(original(uid, data))
            if uid == sender:
                if code == 0:
                    self.accepted.append((clock(), len(data)))
                else:
                    self.refused.append(code)
                self.changed.set()
                self.changed = anyio.Event()
            return code

        room.send = send


def strict_refusals(sends: list[tuple[float, int]], bytes_per_second: int = STRICT_BYTES) -> int:
    """How many of ``sends`` (``(time, bytes)`` at the receiver) a room enforcing the limits would have refused."""
    window: list[tuple[float, int]] = []
    refused = 0
    for t, n in sorted(sends):
        window = [(s, m) for s, m in window if t - s < 1.0]
        if len(window) + 1 > STRICT_MESSAGES or sum(m for _, m in window) + n > bytes_per_second:
            refused += 1
            continue
        window.append((t, n))
    return refused


def official_frames(text: str, mid: str, cap: int = 950, units: int = 216) -> list[bytes]:
    """The official split: ``units`` UTF-16 code units a frame, halved while over ``cap`` (agoraHelpers.ts)."""
    from streamclient.codec import ChatFrame, encode_frame

    def enc(chunk: str, idx: int, fin: bool) -> bytes:
        return encode_frame(ChatFrame(mid=mid, idx=idx, fin=fin, text=chunk))

    def utf16_end(start: int) -> int:
        # JS slices UTF-16 code units; Python cannot carry a lone surrogate, so a pair that would be split stays whole
        end, count = start, 0
        while end < len(text):
            width = 2 if ord(text[end]) > 0xFFFF else 1
            if count + width > units and end > start:
                break
            count += width
            end += 1
        return end

    chunks: list[str] = []
    start = 0
    while start < len(text):
        chunk = text[start : utf16_end(start)]
        while len(enc(chunk, len(chunks), False)) > cap and len(chunk) > 1:
            chunk = chunk[: math.ceil(len(chunk) / 2)]
        chunks.append(chunk)
        start += len(chunk)
    return [enc(c, i, i == len(chunks) - 1) for i, c in enumerate(chunks)]


def official_wait(frame: bytes, bytes_per_second: int = STRICT_BYTES) -> float:
    """The official clients' wait after a frame: ``ceil(1000 * len / bytes_per_second)`` ms (measured on fin=false)."""
    return math.ceil(1000 * len(frame) / bytes_per_second) / 1000


@asynccontextmanager
async def emulator_process(api_key: str = "bench-key", speech_cps: float = 4000.0) -> AsyncIterator[str]:
    """The local emulator in its own process (its own core), fast avatar and speech; yields its base URL.

    ``speech_cps``: the avatar's speaking speed (characters a second; 4000 is instant, 40 the emulator's default).

    Stopped with SIGINT on exit (killed if it does not end within 10 s).
    """
    command = [
        sys.executable, "-c", "from streamclient.cli import main; main()", "emulator",
        "--port", "0", "--api-key", api_key, "--join-delay", "0.05", "--speech-cps", f"{speech_cps:g}",
    ]  # fmt: skip
    process = await anyio.open_process(command, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        base_url, buffer = "", b""
        with anyio.fail_after(30):
            async for chunk in process.stdout:
                buffer += chunk
                found = re.search(rb"base URL: (http://\S+)", buffer)
                if found:
                    base_url = found.group(1).decode()
                    break
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        with anyio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
        await process.aclose()
