"""RoomTransport's send deadline: one watchdog timer per transport, not a timer (or cancel scope) per send."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from streamclient.emulator._serve import serve
from streamclient.errors import TransportTimeoutError
from streamclient.transport.base import JoinParams
from streamclient.transport.room import RoomTransport
from tests.loop_timers import timers_scheduled

PARAMS = JoinParams(app_id="emulator", channel="ch", uid="100", token="t")


async def _accept_join(websocket: WebSocket) -> None:
    """Accept the connection and its join request."""
    await websocket.accept()
    await websocket.receive_text()
    await websocket.send_text(json.dumps({"op": "joined", "uid": "100"}))


async def _silent_room(websocket: WebSocket) -> None:
    """Accepts the join, then never gives a verdict."""
    await _accept_join(websocket)
    try:
        while True:
            await websocket.receive()
    except WebSocketDisconnect:
        pass


async def _answering_room(websocket: WebSocket) -> None:
    """Accepts the join and accepts every send at once (no timers of its own, unlike the emulator's room)."""
    await _accept_join(websocket)
    try:
        while True:
            message = (await websocket.receive()).get("bytes")
            if message is None:  # leave (or the close)
                return
            seq = int.from_bytes(message[:4], "big")
            await websocket.send_text(json.dumps({"op": "result", "seq": seq, "code": 0}))
    except WebSocketDisconnect:
        pass


@pytest.fixture
async def silent_url() -> AsyncIterator[str]:
    async with serve(Starlette(routes=[WebSocketRoute("/room", _silent_room)])) as base_url:
        yield base_url.replace("http://", "ws://") + "/room"


@pytest.fixture
async def room_url() -> AsyncIterator[str]:
    async with serve(Starlette(routes=[WebSocketRoute("/room", _answering_room)])) as base_url:
        yield base_url.replace("http://", "ws://") + "/room"


async def test_a_send_without_a_verdict_times_out_and_the_watchdog_rearms(silent_url: str) -> None:
    transport = RoomTransport(silent_url)
    await transport.join(PARAMS)
    try:
        with anyio.fail_after(5):
            with pytest.raises(TransportTimeoutError):
                await transport.send(b"first", timeout=0.05)
            with pytest.raises(TransportTimeoutError):  # a second deadline after the first fired
                await transport.send(b"second", timeout=0.05)
            outcome: list[BaseException] = []

            async def long_send() -> None:
                try:
                    await transport.send(b"long", timeout=1.0)
                except TransportTimeoutError as exc:
                    outcome.append(exc)

            async with anyio.create_task_group() as tg:
                tg.start_soon(long_send)
                await anyio.wait_all_tasks_blocked()  # the long send waits for its verdict
                started = anyio.current_time()
                with pytest.raises(TransportTimeoutError):  # an earlier deadline than the pending one: re-armed
                    await transport.send(b"short", timeout=0.05)
                assert anyio.current_time() - started < 0.8  # not at the long send's deadline
                assert not outcome  # the longer deadline has not passed yet
            assert len(outcome) == 1  # ... and then it did
    finally:
        await transport.leave()


async def test_sends_schedule_no_timer_each(room_url: str) -> None:
    transport = RoomTransport(room_url)
    await transport.join(PARAMS)
    try:
        with anyio.fail_after(10), timers_scheduled() as scheduled:
            for i in range(20):
                await transport.send(b"frame %d" % i)
        # Each send used to enter a fail_after: a timer per send, cancelled, left in the loop's heap until pruned.
        assert len(scheduled) <= 1, scheduled
    finally:
        await transport.leave()
