"""ThreadBridge: the native-thread -> loop hop, its closed guards and its overflow policy."""

from __future__ import annotations

import gc
import threading

import anyio
import pytest

from streamclient.errors import TransportOverflowError
from streamclient.transport._bridge import ThreadBridge
from streamclient.transport.base import FrameReceived, MessagesLost, PeerJoined


def test_post_after_the_loop_closed_is_dropped_without_raising() -> None:
    bridge = ThreadBridge(capacity=4)

    async def open_bridge() -> None:
        bridge.open()

    anyio.run(open_bridge)  # the loop is closed when this returns
    errors: list[BaseException] = []

    def from_native_thread() -> None:
        try:
            bridge.post(PeerJoined("1"))
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    thread = threading.Thread(target=from_native_thread)
    thread.start()
    thread.join()
    assert errors == []
    bridge.close()


async def test_events_posted_from_threads_arrive_in_order_then_end() -> None:
    bridge = ThreadBridge(capacity=100)
    bridge.open()

    def burst() -> None:
        for n in range(50):
            bridge.post(FrameReceived("u", b"%d" % n))

    thread = threading.Thread(target=burst)
    thread.start()
    thread.join()
    events = bridge.events()
    with anyio.fail_after(5):
        received = [await events.__anext__() for _ in range(50)]
    assert received == [FrameReceived("u", b"%d" % n) for n in range(50)]
    bridge.close()
    with anyio.fail_after(5):
        assert [event async for event in events] == []


async def test_close_keeps_buffered_events_for_the_consumer() -> None:
    bridge = ThreadBridge(capacity=4)
    bridge.open()
    bridge.deliver(PeerJoined("1"))
    bridge.deliver(PeerJoined("2"))
    bridge.close()
    bridge.deliver(PeerJoined("3"))  # after close: dropped
    with anyio.fail_after(5):
        assert [event async for event in bridge.events()] == [PeerJoined("1"), PeerJoined("2")]


async def test_overflow_of_frames_fails_but_telemetry_is_dropped() -> None:
    bridge = ThreadBridge(capacity=2)
    bridge.open()
    bridge.deliver(PeerJoined("1"))
    bridge.deliver(PeerJoined("2"))
    bridge.deliver(MessagesLost("1", 117, 1, 0))
    assert bridge.dropped_telemetry == 1
    assert bridge.failure is None
    bridge.deliver(FrameReceived("1", b"x"))
    failure: object = bridge.failure
    assert isinstance(failure, TransportOverflowError)
    events = bridge.events()
    assert await events.__anext__() == PeerJoined("1")
    assert await events.__anext__() == PeerJoined("2")
    with pytest.raises(TransportOverflowError):
        await events.__anext__()


def test_events_has_a_single_consumer() -> None:
    bridge = ThreadBridge()
    bridge.events()
    with pytest.raises(RuntimeError):
        bridge.events()
    bridge.close()


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ThreadBridge(capacity=0)


async def test_a_waiting_consumer_holds_no_exception_and_its_traceback() -> None:
    # A receive that had to wait used to hold a caught WouldBlock, its traceback and a frame for as long as it waited
    # (about a second per idle session): with a thousand sessions those objects outlived the young generations and
    # made the cyclic collector run full collections every few seconds.
    bridge = ThreadBridge(capacity=16)
    bridge.open()
    received: list[object] = []

    async def consume() -> None:
        async for event in bridge.events():
            received.append(event)

    def would_blocks() -> set[int]:
        return {id(o) for o in gc.get_objects() if isinstance(o, anyio.WouldBlock)}

    gc.collect()
    before = would_blocks()  # leftovers of other code in this process, if any
    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        for i in range(3):
            await anyio.wait_all_tasks_blocked()  # the consumer waits on an empty buffer
            assert would_blocks() <= before
            bridge.deliver(FrameReceived("1", b"x%d" % i))
        await anyio.wait_all_tasks_blocked()
        bridge.close()
    assert len(received) == 3
