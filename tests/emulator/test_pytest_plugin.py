"""The pytest11 plugin, exercised with pytester in a fresh temporary project."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

SYNC_TESTS = """
from streamclient.emulator import FaultPlan


def test_sync_usage(akool_emulator, akool_sync_client):
    assert akool_emulator.base_url.startswith("http://127.0.0.1:")
    session = akool_sync_client.sessions.create("dvp_Tristan_cloth2_1080P", mode_type=1)
    room = akool_emulator.room_for(session.id)
    assert room is not None
    assert akool_emulator.room_for_channel(room.channel).channel == room.channel
    assert akool_emulator.room_for_channel("no-such-channel") is None
    akool_emulator.wait_until(lambda: room.avatar.joined)
    room.set_faults(to_client=FaultPlan(drop=1.0))
    room.inject_user_speech("hi")
    akool_emulator.wait_until(lambda: room.dropped == 1)
    assert akool_emulator.open_session_count() == 1
    akool_sync_client.sessions.close(session.id)
    assert akool_emulator.open_session_count() == 0
    akool_emulator.wait_until(lambda: room.closed)
"""

ASYNC_TESTS = """
import pytest

from streamclient.emulator import EmulatorConfig


@pytest.fixture
def akool_emulator_config():
    return EmulatorConfig(avatar_join_delay=0.0, api_key="overridden-key")


async def test_async_usage(akool_emulator, akool_client):
    assert akool_emulator.api_key == "overridden-key"
    session = await akool_client.sessions.create("dvp_Tristan_cloth2_1080P")
    room = akool_emulator.room_for(session.id)
    await akool_emulator.await_until(lambda: room.avatar.joined)
    assert await room.ainject_user_speech("hello")
    await akool_emulator.await_until(lambda: len(room.avatar.replies) == 1)
    assert room.avatar.replies == ["You said: hello"]
    await akool_client.sessions.close(session.id)
    assert akool_emulator.open_session_count() == 0


def test_leak_check_fails_visibly(akool_emulator):
    assert akool_emulator.open_session_count() == 1  # deliberately wrong: proves the fixture's answers are real
"""


def test_fixtures_work_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sync=SYNC_TESTS, test_async=ASYNC_TESTS)
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", "-q")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_leak_check_fails_visibly*"])


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys; import streamclient.emulator.pytest_plugin; "
        "heavy = [m for m in ('starlette', 'uvicorn', 'websockets', 'httpx') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
