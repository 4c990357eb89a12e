"""The pytest11 plugin, exercised with pytester in a fresh temporary project that has no pytest configuration.

(``tests/installed/`` runs the README's snippet and the example test the same way, from the built wheel.)
"""

from __future__ import annotations

import subprocess
import sys

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.emulator.handles import EmulatorHandle

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


@pytest.mark.asyncio
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


ANYIO_TESTS = """
import pytest

from streamclient.session import connect


@pytest.mark.anyio
async def test_anyio_usage(akool_emulator, akool_client):
    async with connect(akool_client, avatar_id="dvp_Tristan_cloth2_1080P", mode_type=1) as session:
        assert (await session.say("hi there")).reply == "hi there"
    await akool_emulator.await_until(lambda: akool_emulator.open_session_count() == 0)


@pytest.mark.anyio
async def test_the_client_works_on_a_second_event_loop(akool_emulator, akool_client):
    assert (await akool_client.avatars.list()).items
"""

# No ini file: pytest-asyncio runs in its default (strict) mode. Its own nag about an unset fixture loop scope is
# a deprecation warning about the user's configuration, not ours; every other warning fails the run.
# The fuzzing plugins of this project's dev environment (hypothesis, schemathesis) are no part of a user's project
# and cost ~3 s of CPU at each start-up: the fresh projects run without them.
NOT_OURS = ("-p", "no:schemathesis", "-p", "no:hypothesispytest")
STRICT = ("-p", "no:cacheprovider", *NOT_OURS, "-W", "error", "-W", "ignore::pytest.PytestDeprecationWarning", "-q")


def test_fixtures_work_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sync=SYNC_TESTS, test_async=ASYNC_TESTS)
    result = pytester.runpytest_subprocess(*STRICT)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_leak_check_fails_visibly*"])


def test_async_fixtures_work_with_anyio_plugin_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_anyio=ANYIO_TESTS)
    result = pytester.runpytest_subprocess(*STRICT, "-p", "no:asyncio")  # pytest-asyncio disabled
    result.assert_outcomes(passed=2)


def test_akool_client_keeps_no_connection_between_requests(
    akool_emulator: EmulatorHandle, akool_client: AsyncAkoolClient
) -> None:
    async def two_requests() -> None:
        await akool_client.avatars.list()
        await akool_client.languages.list()

    anyio.run(two_requests)
    anyio.run(two_requests)  # a second loop: a pooled connection from the first would be unusable here
    pool = akool_client._core._client._transport._pool  # type: ignore[attr-defined]
    assert pool.connections == []


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys; import streamclient.emulator.pytest_plugin; "
        "heavy = [m for m in ('starlette', 'uvicorn', 'websockets', 'httpx') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_fresh_project_with_pytest_asyncio_prints_no_warning(pytester: pytest.Pytester) -> None:
    """Zero configuration, every warning shown: pytest-asyncio's start-up warning about its unset option is not."""
    pytester.makepyfile(test_async=ASYNC_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *NOT_OURS, "-W", "error::pytest.PytestDeprecationWarning"
    )
    result.assert_outcomes(passed=1, failed=1)
    output = "\n".join(result.outlines + result.errlines)
    assert '"asyncio_default_fixture_loop_scope" is unset' not in output
    assert "PytestDeprecationWarning" not in output
    assert "warnings summary" not in output
