"""close_on_signals(): a real SIGTERM/SIGHUP to this process closes a live session through the API.

The signal is sent with ``os.kill`` to the test process itself (the helper's handlers replace the defaults for the
duration of the block), against the emulator over loopback sockets.
"""

from __future__ import annotations

import os
import signal
import sys

import anyio
import pytest

from streamclient import _inflight
from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig, FaultPlan
from streamclient.emulator.state import RestFault
from streamclient.session import SessionOptions, SignalStop, close_on_signals, connect
from streamclient.session.signals import describe_open, describe_waiting

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

AVATAR = "dvp_Tristan_cloth2_1080P"
OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=30, command_timeout=5, close_timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["TERM", "HUP", "INT"])
async def test_a_signal_cancels_the_block_and_the_session_is_closed(sig: signal.Signals) -> None:
    lines: list[str] = []
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=20.0)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        reached_the_end = False
        with anyio.fail_after(30):
            async with close_on_signals(report=lines.append) as stop:
                async with connect(client, avatar_id=AVATAR, duration=60, options=OPTIONS) as session:
                    turn = session.say("A long sentence that takes the slow avatar a while to say. " * 5)
                    await turn.wait_reply_started()
                    os.kill(os.getpid(), sig)
                    await turn  # cancelled by the signal
                    reached_the_end = True
        assert not reached_the_end
        assert stop.signal == sig
        assert stop.exit_code == 128 + sig
        assert session.close_reason == "cancelled"
        assert emu.open_session_count() == 0
        assert lines == [f"received {sig.name}: closing (send it again to see what the close waits for)"]
        assert session.session_id not in _inflight.open_here()


async def test_a_second_signal_reports_what_the_close_waits_for() -> None:
    lines: list[str] = []
    config = EmulatorConfig(avatar_join_delay=0.05)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        emu.state.delay_next("session/close", 2.0)  # the close request is held by the emulator
        close_arrived = anyio.Event()
        take_faults = emu.state.take_faults

        def spy(path: str) -> list[RestFault]:
            if path.endswith("session/close"):
                close_arrived.set()
            return take_faults(path)

        emu.state.take_faults = spy  # type: ignore[method-assign]
        joined = anyio.Event()

        async def signal_twice() -> None:  # outside the block that the first signal cancels
            await joined.wait()
            os.kill(os.getpid(), signal.SIGTERM)
            await close_arrived.wait()
            os.kill(os.getpid(), signal.SIGTERM)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(signal_twice)
                async with close_on_signals(report=lines.append) as stop:
                    async with connect(client, avatar_id=AVATAR, duration=60, options=OPTIONS) as session:
                        joined.set()
                        await anyio.sleep_forever()
        assert stop.count == 2
        assert stop.exit_code == 143
        second = lines[-1]
        assert f"waiting for the service to confirm the close of session {session.session_id}" in second
        assert "(at most " in second
        assert "more time to exit at once" in second
        assert emu.open_session_count() == 0
    assert session.close_reason == "cancelled"


def test_descriptions_when_nothing_is_pending() -> None:
    assert describe_waiting() == "still shutting down"
    assert describe_open() == "no session is left open"
    assert SignalStop().exit_code is None


async def test_an_incomplete_reply_is_flagged() -> None:
    plan = FaultPlan(drop=0.3, seed=5)
    options = SessionOptions(avatar_join_timeout=5, reply_timeout=5, message_timeout=0.5, close_timeout=5)
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0, faults_to_client=plan)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        flagged = []
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=options) as session:
            for i in range(6):
                text = f"lossy reply {i} has a few words, " * 20
                try:
                    result = await session.say(text)
                except Exception:  # a lost audio_end ends in a timeout: not this test's subject
                    continue
                if result.reply != text:
                    assert result.incomplete
                    flagged.append(result)
                else:
                    assert not result.incomplete
        assert flagged, "30% loss must leave some reply incomplete"
