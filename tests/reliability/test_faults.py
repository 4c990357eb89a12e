"""Sessions through the emulator with loss, duplication, reordering, delay, corruption and disconnects.

Each run says a few messages in retelling mode (the avatar speaks each text back as one multi-chunk reply) and
checks: every reply that arrives complete is delivered exactly once, in the avatar's order and with the right text;
every reply that does not is reported (MessageIncomplete / FrameDropped) or its turn times out; no wait is unbounded;
the session is closed in the emulator afterwards. Counts go into the test report (``record_property``).
A small matrix runs in ``make test``; the full ramp of rates is marked ``soak``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig, FaultPlan
from streamclient.errors import ReplyTimeoutError, SessionClosedError, TransportTimeoutError
from streamclient.session import (
    BotMessage,
    FrameDropped,
    MessageIncomplete,
    SessionClosed,
    SessionEvent,
    SessionOptions,
    connect,
)

AVATAR_ID = "dvp_Tristan_cloth2_1080P"
TEXTS = [f"Message number {i}: " + "the quick brown fox jumps over the lazy dog. " * 6 for i in range(5)]
OPTIONS = SessionOptions(
    avatar_join_timeout=5, reply_timeout=3, command_timeout=3, close_timeout=5, message_timeout=0.5
)


@dataclass
class Outcome:
    replies: list[str] = field(default_factory=list)  # reply mids the avatar started, in order
    reply_texts: dict[str, str] = field(default_factory=dict)  # mid -> text, for replies spoken to the end
    messages: list[BotMessage] = field(default_factory=list)
    incomplete: list[MessageIncomplete] = field(default_factory=list)
    dropped: list[FrameDropped] = field(default_factory=list)
    turns_ok: int = 0
    turns_timed_out: int = 0
    turns_closed: int = 0
    close_reason: str | None = None
    open_after: int = -1
    avatar_received: list[str] = field(default_factory=list)


def config(to_client: FaultPlan, to_avatar: FaultPlan, seed: int) -> EmulatorConfig:
    return EmulatorConfig(
        avatar_join_delay=0.02,
        speech_chars_per_second=5000.0,
        reply_chunk_chars=60,
        seed=seed,
        faults_to_client=to_client,
        faults_to_avatar=to_avatar,
    )


async def run_session(to_client: FaultPlan, to_avatar: FaultPlan = FaultPlan(), *, seed: int = 1) -> Outcome:  # noqa: B008
    out = Outcome()
    with anyio.fail_after(60):
        async with Emulator(config(to_client, to_avatar, seed)) as emu:
            async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url, timeout=10) as client:
                async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1, duration=600) as session:
                    events = session.events()
                    seen: list[SessionEvent] = []

                    async def collect() -> None:
                        async for event in events:
                            seen.append(event)

                    async with anyio.create_task_group() as tg:
                        tg.start_soon(collect)
                        turns = [session.say(text) for text in TEXTS]
                        for turn in turns:
                            try:
                                await turn
                                out.turns_ok += 1
                            except ReplyTimeoutError:
                                out.turns_timed_out += 1
                            except SessionClosedError:
                                out.turns_closed += 1
                        room = emu.room_for(session.session_id or "")
                        assert room is not None
                        avatar = room.avatar
                        assert avatar is not None
                        if not session.closed:
                            # Every reply the avatar started must be accounted for within a bounded time.
                            def settled() -> bool:
                                accounted = {
                                    e.message_id for e in seen if isinstance(e, BotMessage | MessageIncomplete)
                                }
                                return avatar.speaking is False and all(m in accounted for m in avatar.reply_mids)

                            with contextlib.suppress(TransportTimeoutError):  # bounded; the checks below judge
                                await emu.wait_until(settled, timeout=OPTIONS.message_timeout * 4)
                        await session.aclose()
                        tg.cancel_scope.cancel()
                    assert avatar is not None
                    out.replies = list(avatar.reply_mids)
                    out.reply_texts = dict(zip(avatar.reply_mids, avatar.replies, strict=False))
                    out.avatar_received = list(avatar.received_texts)
                out.close_reason = session.close_reason
                out.messages = [e for e in seen if isinstance(e, BotMessage)]
                out.incomplete = [e for e in seen if isinstance(e, MessageIncomplete)]
                out.dropped = [e for e in seen if isinstance(e, FrameDropped)]
                assert isinstance(seen[-1], SessionClosed)
                await emu.wait_until(lambda: emu.open_session_count() == 0, timeout=5)
                out.open_after = emu.open_session_count()
    return out


def check(out: Outcome, *, exact_text: bool, record: Callable[[str, Any], None]) -> None:
    record("replies_started", len(out.replies))
    record("delivered", len(out.messages))
    record("incomplete", len(out.incomplete))
    record("frames_dropped", len(out.dropped))
    record("turns_ok/timed_out/closed", f"{out.turns_ok}/{out.turns_timed_out}/{out.turns_closed}")
    assert out.open_after == 0, "a session was left open in the emulator"
    mids = [m.message_id for m in out.messages]
    assert len(mids) == len(set(mids)), "a message was delivered twice"
    known = [m for m in mids if m in out.replies]
    assert known == [m for m in out.replies if m in known], "messages delivered out of order"
    if exact_text:
        assert set(mids) <= set(out.replies), "a message that the avatar never sent was delivered"
        for message in out.messages:
            if message.message_id in out.reply_texts:
                assert message.text == out.reply_texts[message.message_id]
    # Every client text reached the avatar at most once (duplicated frames never repeat a message).
    assert len(out.avatar_received) == len(set(out.avatar_received))
    assert out.turns_ok + out.turns_timed_out + out.turns_closed == len(TEXTS)


async def test_no_faults_delivers_everything(record_property: Callable[[str, Any], None]) -> None:
    out = await run_session(FaultPlan())
    check(out, exact_text=True, record=record_property)
    assert len(out.messages) == len(TEXTS)
    assert [m.text for m in out.messages] == TEXTS
    assert out.turns_ok == len(TEXTS)


FAST_MATRIX = [
    ("drop", FaultPlan(drop=0.15)),
    ("duplicate", FaultPlan(duplicate=0.3)),
    ("reorder", FaultPlan(reorder=0.3, reorder_hold_seconds=0.05)),
    ("delay", FaultPlan(delay=0.3, delay_seconds=0.03)),
    ("corrupt", FaultPlan(corrupt=0.1)),
    ("mixed", FaultPlan(drop=0.05, duplicate=0.1, reorder=0.1, delay=0.1, corrupt=0.03)),
]


@pytest.mark.parametrize(("name", "plan"), FAST_MATRIX, ids=[n for n, _ in FAST_MATRIX])
async def test_faults_to_client(name: str, plan: FaultPlan, record_property: Callable[[str, Any], None]) -> None:
    out = await run_session(plan, seed=11)
    check(out, exact_text=name != "corrupt" and name != "mixed", record=record_property)
    if name in ("duplicate", "reorder", "delay"):  # nothing is lost: everything arrives complete, once
        assert [m.text for m in out.messages] == TEXTS
    if name == "drop":
        assert out.incomplete or len(out.messages) < len(TEXTS) or out.turns_timed_out


@pytest.mark.parametrize(
    "plan", [FaultPlan(drop=0.2), FaultPlan(duplicate=0.3, reorder=0.3)], ids=["drop", "dup+reorder"]
)
async def test_faults_to_avatar(plan: FaultPlan, record_property: Callable[[str, Any], None]) -> None:
    out = await run_session(FaultPlan(), plan, seed=5)
    check(out, exact_text=True, record=record_property)


async def test_disconnect_closes_the_session_and_fails_pending_turns(
    record_property: Callable[[str, Any], None],
) -> None:
    out = await run_session(FaultPlan(disconnect_after=8), seed=3)
    check(out, exact_text=True, record=record_property)
    assert out.close_reason == "disconnected"
    assert out.turns_closed >= 1


def plan_for(kind: str, rate: float, seed: int) -> FaultPlan:
    plans = {
        "drop": FaultPlan(drop=rate, seed=seed),
        "duplicate": FaultPlan(duplicate=rate, seed=seed),
        "reorder": FaultPlan(reorder=rate, seed=seed),
        "delay": FaultPlan(delay=rate, seed=seed),
        "corrupt": FaultPlan(corrupt=rate, seed=seed),
        "disconnect": FaultPlan(disconnect=rate / 10, seed=seed),
    }
    return plans[kind]


RAMP = [0.02, 0.05, 0.1, 0.2, 0.35, 0.5]


@pytest.mark.soak
@pytest.mark.parametrize("rate", RAMP)
@pytest.mark.parametrize("kind", ["drop", "duplicate", "reorder", "delay", "corrupt", "disconnect"])
async def test_soak_fault_ramp(kind: str, rate: float, record_property: Callable[[str, Any], None]) -> None:
    for seed in range(5):
        plan = plan_for(kind, rate, seed)
        out = await run_session(plan, plan if kind in ("drop", "duplicate") else FaultPlan(), seed=seed)
        check(out, exact_text=kind != "corrupt", record=record_property)
