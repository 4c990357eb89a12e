"""The room endpoint bounds every send to a joined client: a client that stops reading is dropped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup

from streamclient.emulator import room_endpoint
from streamclient.emulator.room import PeerRole, Room, RoomPeer
from streamclient.emulator.room_endpoint import _RoomConnection
from tests.loop_timers import timers_scheduled


class _StuckWebSocket:
    """Accepts the join, answers it, then never takes another message (its peer stopped reading)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed = anyio.Event()
        self.stuck = anyio.Event()
        self.answered = anyio.Event()
        self._joined = False

    async def accept(self) -> None:
        return None

    async def receive(self) -> dict[str, Any]:
        if not self._joined:
            self._joined = True
            join = {"op": "join", "app_id": "a", "channel": "ch", "uid": "client", "token": ""}
            return {"type": "websocket.receive", "text": json.dumps(join)}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.answered.set()
        if len(self.sent) > 1:  # the join's answer went out; everything after blocks
            self.stuck.set()
            await anyio.sleep_forever()

    async def close(self) -> None:
        self.closed.set()


def _room_with_avatar(ws: _StuckWebSocket) -> tuple[Room, RoomPeer, _RoomConnection]:
    """A room with an avatar in it, and the endpoint's connection over ``ws`` (not yet served)."""
    room = Room("ch")
    avatar = room.join("avatar", role=PeerRole.AVATAR)
    return room, avatar, _RoomConnection(ws, lambda _request: room, None)  # type: ignore[arg-type]


@asynccontextmanager
async def _joined(connection: _RoomConnection, ws: _StuckWebSocket) -> AsyncIterator[TaskGroup]:
    """Serve ``connection`` in a task group (bounded at 10 s) once the client has joined; yield the group."""
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(connection.serve)
            await ws.answered.wait()  # joined
            yield tg


async def test_a_send_that_blocks_past_the_send_timeout_ends_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(room_endpoint, "SEND_TIMEOUT", 0.2)
    ws = _StuckWebSocket()
    room, avatar, connection = _room_with_avatar(ws)
    async with _joined(connection, ws):
        assert avatar.send(b"frame") == 0
        await ws.stuck.wait()
        await ws.closed.wait()  # serve() gave up on the stuck send and closed the socket
    assert "client" not in room.peers
    assert ws.sent[0]["text"] == '{"op":"joined","uid":"client"}'


class _ReadingWebSocket(_StuckWebSocket):
    """Takes every message at once."""

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.answered.set()


async def test_sends_to_a_reading_client_schedule_no_timer_each() -> None:
    ws = _ReadingWebSocket()
    _room, avatar, connection = _room_with_avatar(ws)
    async with _joined(connection, ws) as tg:
        with timers_scheduled() as scheduled:
            for _ in range(20):
                assert avatar.send(b"frame") == 0
                await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    assert sum(1 for m in ws.sent if "bytes" in m) == 20
    # Each send used to move the connection scope's deadline there and back: a timer scheduled and cancelled.
    assert len(scheduled) <= 1, scheduled
