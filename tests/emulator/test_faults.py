"""Fault injection: the pure injector, and the room applying it per direction."""

from __future__ import annotations

import json

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamclient.emulator.faults import Fault, FaultInjector, FaultPlan, corrupt
from streamclient.emulator.room import PeerRole, Room, RoomLimits
from streamclient.errors import InvalidArgumentError
from streamclient.transport.base import ConnectionState, ConnectionStateChanged, FrameReceived, PeerLeft

FRAMES = [json.dumps({"v": 2, "type": "chat", "mid": "m", "idx": i, "fin": False}).encode() for i in range(40)]


def run(plan: FaultPlan, *, seed: int = 0, frames: list[bytes] = FRAMES) -> list[bytes]:
    injector = FaultInjector(plan, seed=seed, direction="to_client")
    out: list[bytes] = []
    for frame in frames:
        outcome = injector.process(frame)
        out.extend(d.data for d in outcome.deliveries)
    held = injector.flush()
    if held is not None:
        out.append(held)
    return out


def test_default_plan_is_a_noop() -> None:
    assert FaultPlan().is_noop
    assert run(FaultPlan()) == FRAMES


def test_same_seed_same_outcome_and_different_seed_differs() -> None:
    plan = FaultPlan(drop=0.2, duplicate=0.2, reorder=0.2, corrupt=0.2)
    assert run(plan, seed=7) == run(plan, seed=7)
    assert run(plan, seed=7) != run(plan, seed=8)
    assert run(FaultPlan(drop=0.2, seed=3), seed=1) == run(FaultPlan(drop=0.2, seed=3), seed=2)  # plan seed wins


def test_directions_draw_independently() -> None:
    plan = FaultPlan(drop=0.5)
    a = FaultInjector(plan, seed=1, direction="to_client")
    b = FaultInjector(plan, seed=1, direction="to_avatar")
    assert [a.process(f).faults for f in FRAMES] != [b.process(f).faults for f in FRAMES]


def test_probabilities_roughly_hold() -> None:
    frames = FRAMES * 25
    delivered = run(FaultPlan(drop=0.3), frames=frames)
    assert 0.6 * len(frames) < len(delivered) < 0.8 * len(frames)
    assert len(run(FaultPlan(duplicate=1.0))) == 2 * len(FRAMES)
    assert run(FaultPlan(drop=1.0)) == []


def test_script_drop_duplicate_reorder() -> None:
    plan = FaultPlan(script={1: Fault.DROP, 2: [Fault.DUPLICATE], 4: Fault.REORDER})
    out = run(plan, frames=FRAMES[:7])
    assert out == [FRAMES[0], FRAMES[2], FRAMES[2], FRAMES[3], FRAMES[5], FRAMES[4], FRAMES[6]]


def test_reordered_last_frame_is_released_by_flush() -> None:
    injector = FaultInjector(FaultPlan(script={0: Fault.REORDER}))
    assert injector.process(b"a").deliveries == ()
    assert injector.holding
    assert injector.flush() == b"a"
    assert not injector.holding


def test_delay_and_disconnect_outcomes() -> None:
    injector = FaultInjector(FaultPlan(script={0: Fault.DELAY}, delay_seconds=0.3, disconnect_after=1))
    first = injector.process(b"a")
    assert [(d.data, d.delay) for d in first.deliveries] == [(b"a", 0.3)]
    second = injector.process(b"b")
    assert second.disconnect
    assert second.deliveries == ()


@given(st.binary(min_size=1, max_size=200), st.floats(0, 0.999), st.integers(0x21, 0x7E))
def test_corrupt_changes_exactly_one_ascii_byte(data: bytes, position: float, replacement: int) -> None:
    out = corrupt(data, position=position, replacement=replacement)
    if any(b < 0x80 for b in data):
        assert len(out) == len(data)
        diffs = [i for i, (x, y) in enumerate(zip(data, out, strict=True)) if x != y]
        assert len(diffs) == 1
        assert out[diffs[0]] < 0x80
    else:
        assert out == data[:-1]


@given(st.text(min_size=1, max_size=100), st.floats(0, 0.999), st.integers(0x21, 0x7E))
def test_corrupt_keeps_utf8_valid(text: str, position: float, replacement: int) -> None:
    data = text.encode("utf-8", errors="surrogatepass")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return
    if any(b < 0x80 for b in data):
        corrupt(data, position=position, replacement=replacement).decode("utf-8")


@pytest.mark.parametrize(
    "kwargs",
    [{"drop": 1.5}, {"corrupt": -0.1}, {"delay_seconds": -1.0}, {"disconnect_after": -1}],
)
def test_bad_plans_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        FaultPlan(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- in a room

UNLIMITED = RoomLimits(bytes_per_second=10**9, messages_per_second=10**9)  # these tests send unpaced bursts


async def _delivered(room: Room, peer_uid: str, frames: list[bytes], count: int) -> list[bytes]:
    client = room.peers[peer_uid]
    sender = next(p for uid, p in room.peers.items() if uid != peer_uid)
    for frame in frames:
        assert sender.send(frame) == 0
    got: list[bytes] = []
    with anyio.fail_after(5):
        while len(got) < count:
            event = await client.mailbox.get()
            if isinstance(event, FrameReceived):
                got.append(event.data)
    return got


async def test_room_applies_faults_per_direction_reproducibly() -> None:
    plan = FaultPlan(drop=0.25, duplicate=0.25, corrupt=0.1)
    expected = run(plan, seed=5)
    results = []
    for _ in range(2):
        room = Room("ch", seed=5, limits=UNLIMITED)
        room.join("client", role=PeerRole.CLIENT)
        room.join("avatar", role=PeerRole.AVATAR)
        room.set_faults(to_client=plan)
        results.append(await _delivered(room, "client", FRAMES, len(expected)))
        assert room.dropped > 0
        # the other direction is untouched
        assert await _delivered(room, "avatar", FRAMES[:3], 3) == FRAMES[:3]
    assert results[0] == results[1] == expected


async def test_room_delays_and_flushes_held_frames() -> None:
    room = Room("ch", limits=UNLIMITED)
    room.join("client", role=PeerRole.CLIENT)
    room.join("avatar", role=PeerRole.AVATAR)
    room.set_faults(
        to_client=FaultPlan(script={0: Fault.DELAY, 2: Fault.REORDER}, delay_seconds=0.1, reorder_hold_seconds=0.05)
    )
    async with anyio.create_task_group() as tg:
        await tg.start(room.run)
        got = await _delivered(room, "client", FRAMES[:3], 3)
        room.close()
    assert got == [FRAMES[1], FRAMES[2], FRAMES[0]] or got == [FRAMES[1], FRAMES[0], FRAMES[2]]
    assert sorted(got) == sorted(FRAMES[:3])


async def test_disconnect_fault_fails_the_client() -> None:
    room = Room("ch", limits=UNLIMITED)
    client = room.join("client", role=PeerRole.CLIENT)
    avatar = room.join("avatar", role=PeerRole.AVATAR)
    room.set_faults(to_client=FaultPlan(disconnect_after=1))
    assert avatar.send(b"one") == 0
    assert avatar.send(b"two") == 0
    with anyio.fail_after(5):
        events = [e async for e in client.mailbox]
    assert events[-2:] == [FrameReceived("avatar", b"one"), ConnectionStateChanged(ConnectionState.FAILED, 14)]
    assert "client" not in room.peers
    with anyio.fail_after(5):
        seen = [await avatar.mailbox.get(), await avatar.mailbox.get()]
    assert seen[-1] == PeerLeft("client", 1)
