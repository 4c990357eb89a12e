"""A fake API client and a scripted avatar over a LoopbackTransport pair, for unit tests of the session."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import anyio

from streamclient.api import AsyncAkoolClient
from streamclient.api.models import Session
from streamclient.codec import (
    ChatFrame,
    ChatMessage,
    CommandReceived,
    ProtocolConnection,
    Role,
    decode_frame,
    encode_frame,
    new_mid,
)
from streamclient.transport import JoinParams, TransportEvent, TransportLimits
from streamclient.transport.loopback import LoopbackFaults, LoopbackTransport

TOKEN = "agora-token-SECRET-123"


@dataclass
class FakeSessions:
    created: list[dict[str, Any]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    create_error: Exception | None = None
    close_error: Exception | None = None
    create_gate: anyio.Event | None = None
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
                    "agora_token": TOKEN,
                },
            }
        )

    async def create(self, **kwargs: Any) -> Session:
        if self.create_gate is not None:
            await self.create_gate.wait()
        if self.create_error is not None:
            raise self.create_error
        self.created.append(kwargs)
        return self._session(f"s{next(self._ids)}")

    async def get(self, session_id: str) -> Session:
        return self._session(session_id)

    async def close(self, session_id: str) -> None:
        if self.close_error is not None:
            raise self.close_error
        self.closed.append(session_id)

    @property
    def open(self) -> int:
        return len(self.created) - len(self.closed)


class IteratedTransport:
    """Wraps a loopback end and hides its ``push_events``: the session must read it through ``events()``.

    Subclass it to change one call (a send that refuses, say).
    """

    def __init__(self, inner: LoopbackTransport) -> None:
        self.inner = inner

    @property
    def limits(self) -> TransportLimits:
        return self.inner.limits

    @property
    def local_uid(self) -> str | None:
        return self.inner.local_uid

    async def join(self, params: JoinParams, *, timeout: float = 15.0) -> None:
        await self.inner.join(params, timeout=timeout)

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:
        await self.inner.send(data, timeout=timeout)

    def events(self) -> AsyncIterator[TransportEvent]:
        return self.inner.events()

    async def renew_token(self, token: str, *, timeout: float = 5.0) -> None:
        await self.inner.renew_token(token, timeout=timeout)

    async def leave(self, *, timeout: float = 5.0) -> None:
        await self.inner.leave(timeout=timeout)


class FakeClient:
    def __init__(self) -> None:
        self.sessions = FakeSessions()

    def typed(self) -> AsyncAkoolClient:
        return cast(AsyncAkoolClient, self)


class ScriptedAvatar:
    """Speaks back what it receives (mode 1), chunked, with audio events; acks commands.

    ``hold_after_first_chunk`` makes each reply stop after its first chunk until ``release`` is set, so tests can
    interrupt a reply mid-way without timing guesses.
    """

    def __init__(
        self,
        transport: LoopbackTransport,
        *,
        reply_chunk_chars: int = 40,
        audio_events: bool = True,
        hold_after_first_chunk: bool = False,
        ack_code: int = 1000,
        ack_commands: bool = True,
        uid: str = "avatar-7",
    ) -> None:
        self.transport = transport
        self.conn = ProtocolConnection(Role.AVATAR)
        self.reply_chunk_chars = reply_chunk_chars
        self.audio_events = audio_events
        self.hold = hold_after_first_chunk
        self.release = anyio.Event()
        self.first_chunk_sent = anyio.Event()
        self.ack_code = ack_code
        self.ack_commands = ack_commands
        self.uid = uid
        self.received: list[str] = []
        self.commands: list[str] = []
        self.raw_log: list[tuple[str, str | None]] = []  # (kind, mid) in arrival order
        self.interrupted = 0
        self._reply_scope: anyio.CancelScope | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        await self.transport.join(JoinParams(app_id="app", channel="channel", uid=self.uid, token="t"))
        task_status.started()
        send_reply, replies = anyio.create_memory_object_stream[str](100)
        with send_reply, replies:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._speak, replies)
                async for event in self.transport.events():
                    data = getattr(event, "data", None)
                    if data is None:
                        continue
                    now = anyio.current_time()
                    self.conn.receive_data(data, sender=event.sender, now=now)  # type: ignore[union-attr]
                    for ev in self.conn.events_received():
                        if isinstance(ev, ChatMessage):
                            self.received.append(ev.text)
                            send_reply.send_nowait(ev.text)  # one reply at a time, like a real avatar
                        elif isinstance(ev, CommandReceived):
                            self.commands.append(ev.cmd)
                            self.raw_log.append(("command:" + ev.cmd, ev.mid))
                            await self._command(ev)
                    self._log_raw(data)
                tg.cancel_scope.cancel()

    def _log_raw(self, data: bytes) -> None:
        frame = decode_frame(data)
        if isinstance(frame, ChatFrame):
            self.raw_log.append(("chat", frame.mid))

    async def _command(self, ev: CommandReceived) -> None:
        if ev.cmd == "interrupt":
            self.interrupted += 1
            if self._reply_scope is not None:
                self._reply_scope.cancel()
        if self.ack_commands and ev.mid is not None:
            self.conn.send_ack(ev.mid, ev.cmd, code=self.ack_code, msg="OK" if self.ack_code == 1000 else "bad")
            await self.flush()

    async def _speak(self, replies: anyio.abc.ObjectReceiveStream[str]) -> None:
        async for text in replies:
            await self._reply(text)

    async def _reply(self, text: str) -> None:
        with anyio.CancelScope() as scope:
            self._reply_scope = scope
            try:
                if self.audio_events:
                    self.conn.send_event("audio_start")
                await self.flush()
                step = self.reply_chunk_chars
                mid = new_mid()
                # One message, sent chunk by chunk as it is "spoken".
                pieces = [text[i : i + step] for i in range(0, len(text), step)]
                for idx, piece in enumerate(pieces):
                    frame = ChatFrame(mid=mid, idx=idx, fin=idx == len(pieces) - 1, text=piece, source="bot")
                    await self.transport.send(encode_frame(frame))
                    if idx == 0:
                        self.first_chunk_sent.set()
                        if self.hold:
                            await self.release.wait()
                    await anyio.lowlevel.checkpoint()
                await self.flush()
            finally:
                if self.audio_events:
                    with anyio.CancelScope(shield=True):
                        self.conn.send_event("audio_end")
                        await self.flush()
                self._reply_scope = None

    async def flush(self) -> None:
        while True:
            for datagram in self.conn.data_to_send(anyio.current_time()):
                await self.transport.send(datagram)
            delay = self.conn.send_delay(anyio.current_time())
            if delay is None:
                return
            await anyio.sleep(delay)  # pacing, not waiting for a condition


def pair(*, faults: LoopbackFaults | None = None) -> tuple[LoopbackTransport, LoopbackTransport]:
    return LoopbackTransport.pair(faults=faults)
