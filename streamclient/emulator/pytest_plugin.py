"""pytest plugin (``pytest11`` entry point): fixtures for testing bots against the local emulator.

Loaded by pytest in every project that installs streamclient, so this module imports nothing heavy: the emulator
(starlette, uvicorn, websockets) is imported inside the fixtures.

Fixtures:

* ``akool_emulator_config`` -> :class:`~streamclient.emulator.EmulatorConfig`: override it in your ``conftest.py``
  to change delays, speeds, responder, faults, quota... (default: fast avatar, 0.05 s join delay).
* ``akool_emulator`` -> :class:`~streamclient.emulator.handles.EmulatorHandle`: a running emulator. It runs in a
  background thread with its own event loop, so it works in sync tests, async tests, and with any async plugin.
  ``base_url``, ``api_key``, ``room_url``, ``room_for(session_id)`` (faults, user speech, counters, avatar),
  ``open_session_count()``, ``billed_seconds()``, ``wait_until(...)`` / ``await await_until(...)``.
* ``akool_client`` -> ``AsyncAkoolClient`` pointed at the emulator, for async tests. Needs **pytest-asyncio** (an
  async fixture; it is created and closed on your test's loop).
* ``akool_sync_client`` -> the sync ``AkoolClient`` pointed at the emulator, for sync tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from streamclient.api import AkoolClient, AsyncAkoolClient
    from streamclient.emulator import EmulatorConfig
    from streamclient.emulator.handles import EmulatorHandle

__all__ = ("akool_client", "akool_emulator", "akool_emulator_config", "akool_sync_client")


@pytest.fixture
def akool_emulator_config() -> EmulatorConfig:
    """The configuration of ``akool_emulator``; override this fixture to change it."""
    from streamclient.emulator import EmulatorConfig

    return EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=400.0)


@pytest.fixture
def akool_emulator(akool_emulator_config: EmulatorConfig) -> Iterator[EmulatorHandle]:
    """A running local emulator (in a background thread); see the module docstring."""
    from anyio.from_thread import start_blocking_portal

    from streamclient.emulator import Emulator
    from streamclient.emulator.handles import EmulatorHandle

    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Emulator(akool_emulator_config)) as emulator,
    ):
        yield EmulatorHandle(emulator, portal)


def _async_client_fixture() -> Any:
    try:
        import pytest_asyncio
    except ImportError:

        @pytest.fixture(name="akool_client")
        def unavailable() -> None:
            """Needs pytest-asyncio."""
            pytest.fail("the akool_client fixture needs pytest-asyncio: pip install pytest-asyncio")

        return unavailable

    @pytest_asyncio.fixture(name="akool_client")
    async def client_fixture(akool_emulator: EmulatorHandle) -> AsyncIterator[AsyncAkoolClient]:
        """An ``AsyncAkoolClient`` pointed at ``akool_emulator`` (created and closed on the test's loop)."""
        from streamclient.api import AsyncAkoolClient

        async with AsyncAkoolClient(api_key=akool_emulator.api_key, base_url=akool_emulator.base_url) as client:
            yield client

    return client_fixture


akool_client = _async_client_fixture()


@pytest.fixture
def akool_sync_client(akool_emulator: EmulatorHandle) -> Iterator[AkoolClient]:
    """A sync ``AkoolClient`` pointed at ``akool_emulator``."""
    from streamclient.api import AkoolClient

    with AkoolClient(api_key=akool_emulator.api_key, base_url=akool_emulator.base_url) as client:
        yield client
