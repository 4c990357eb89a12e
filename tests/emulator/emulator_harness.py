"""Helpers for the emulator tests: a client peer (REST session + RoomTransport + ProtocolConnection(CLIENT))."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from streamclient.api import AsyncAkoolClient
from streamclient.codec.connection import ProtocolConnection, Role
from streamclient.codec.events import AvatarEvent, ChatMessage, CommandResult, Event
from streamclient.codec.frames import CommandFrame
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.emulator.avatar_room import AvatarRoom
from streamclient.session._transport_factory import join_params_for
from streamclient.transport.base import FrameReceived, PeerJoined, TransportEvent
from streamclient.transport.room import RoomTransport

AVATAR_ID = "dvp_Tristan_cloth2_1080P"


def fast_config(**overrides: Any) -> EmulatorConfig:
    values: dict[str, Any] = {"avatar_join_delay": 0.02, "speech_chars_per_second": 2000.0, "reply_chunk_chars": 20}
    values.update(overrides)
    return EmulatorConfig(**values)


@dataclass
class ClientPeer:
    """The test's side of one session."""

    emu: Emulator
    session_id: str
    transport: RoomTransport
    conn: ProtocolConnection = field(default_factory=lambda: ProtocolConnection(Role.CLIENT))
    events: list[Event] = field(default_factory=list)
    transport_events: list[TransportEvent] = field(default_factory=list)
    ended: anyio.Event = field(default_factory=anyio.Event)

    @property
    def room(self) -> AvatarRoom:
        room = self.emu.room_for(self.session_id)
        assert room is not None
        return room

    async def pump(self) -> None:
        try:
            async for event in self.transport.events():
                self.transport_events.append(event)
                if isinstance(event, FrameReceived):
                    self.conn.receive_data(event.data, sender=event.sender, now=time.monotonic())
                    self.events.extend(self.conn.events_received())
        finally:
            self.ended.set()

    async def flush(self) -> None:
        with anyio.fail_after(10):
            while (delay := self.conn.send_delay(time.monotonic())) is not None:
                await anyio.sleep(delay)
                for data in self.conn.data_to_send(time.monotonic()):
                    await self.transport.send(data)

    async def say(self, text: str) -> str:
        mid = self.conn.send_chat(text)
        await self.flush()
        return mid

    async def command(self, frame: CommandFrame) -> str:
        mid = self.conn.send_command(frame)
        await self.flush()
        return mid

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        await self.emu.wait_until(condition, timeout=timeout)

    def messages(self, source: str = "bot") -> list[ChatMessage]:
        return [e for e in self.events if isinstance(e, ChatMessage) and e.source == source]

    def avatar_events(self) -> list[str]:
        return [e.name for e in self.events if isinstance(e, AvatarEvent)]

    def result(self, mid: str) -> CommandResult | None:
        return next((e for e in self.events if isinstance(e, CommandResult) and e.mid == mid), None)

    async def ack(self, mid: str) -> CommandResult:
        await self.wait_for(lambda: self.result(mid) is not None)
        result = self.result(mid)
        assert result is not None
        return result


@contextlib.asynccontextmanager
async def client_peer(emu: Emulator, *, wait_avatar: bool = True, **create: Any) -> AsyncIterator[ClientPeer]:
    """Create a session over REST, join its room with RoomTransport, pump events; close everything on exit."""
    async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        session = await client.sessions.create(AVATAR_ID, **create)
        creds: Any = session.credentials
        transport = RoomTransport(creds.emulator_room_url)
        await transport.join(join_params_for(session))
        peer = ClientPeer(emu, session.id, transport)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(peer.pump)
                if wait_avatar:
                    await peer.wait_for(lambda: any(isinstance(e, PeerJoined) for e in peer.transport_events))
                yield peer
                await transport.leave()
        finally:
            await transport.leave()
            if emu.state.sessions[session.id].is_open:
                await client.sessions.close(session.id)
