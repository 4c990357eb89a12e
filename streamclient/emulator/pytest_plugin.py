"""pytest plugin (``pytest11`` entry point): fixtures for testing bots against the local emulator.

Loaded by pytest in every project that installs streamclient, so this module imports nothing heavy: the emulator
(starlette, uvicorn, websockets) is imported inside the fixtures.

Every fixture is a plain (synchronous) fixture, so it works without any configuration: in sync tests, and in async
tests run by pytest-asyncio (``@pytest.mark.asyncio``; no ``asyncio_mode = auto`` needed) or by anyio's own plugin
(``@pytest.mark.anyio``; it comes with anyio, a dependency of streamclient).

Fixtures:

* ``akool_emulator_config`` -> :class:`~streamclient.emulator.EmulatorConfig`: override it in your ``conftest.py``
  to change delays, speeds, responder, faults, quota... (default: fast avatar, 0.05 s join delay). One test can
  change fields of the default with the marker ``@pytest.mark.akool_emulator(**fields)``, e.g. a documented variant:
  ``@pytest.mark.akool_emulator(shapes={"close_with_data": True}, reply_mid="fresh", room_limits="guide")``
  (``shapes`` takes a ``ResponseShapes`` or a dict of its fields).
* ``akool_emulator`` -> :class:`~streamclient.emulator.handles.EmulatorHandle`: a running emulator. It runs in a
  background thread with its own event loop, so it serves sync tests, async tests, and any async plugin.
  ``base_url``, ``api_key``, ``room_url``, ``inspector_url`` (a live page: docs/inspector.md),
  ``room_for(session_id)`` (faults, user speech, counters, avatar),
  ``open_session_count()``, ``billed_seconds()``, ``wait_until(...)`` / ``await await_until(...)``.
* ``akool_client`` -> an ``AsyncAkoolClient`` pointed at the emulator, for async tests. It keeps no connection
  open between requests, so it runs on whichever event loop the test uses and leaves nothing to close.
* ``akool_sync_client`` -> the sync ``AkoolClient`` pointed at the emulator, for sync tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from streamclient.api import AkoolClient, AsyncAkoolClient
    from streamclient.emulator import EmulatorConfig
    from streamclient.emulator.handles import EmulatorHandle

__all__ = ("akool_client", "akool_emulator", "akool_emulator_config", "akool_sync_client")


def _loop_scope_unset(config: pytest.Config) -> bool:
    """pytest-asyncio is active and the project leaves ``asyncio_default_fixture_loop_scope`` unset."""
    try:
        return not config.getini("asyncio_default_fixture_loop_scope")
    except ValueError:  # an unknown option: pytest-asyncio is not installed, or disabled (-p no:asyncio)
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the ``akool_emulator`` marker (so ``--strict-markers`` accepts it); keep a fresh project quiet.

    pytest-asyncio warns (``PytestDeprecationWarning``) at start-up in every project that leaves its
    ``asyncio_default_fixture_loop_scope`` option unset. This plugin's fixtures are plain sync fixtures, so a
    project that only uses them needs no configuration: the warning is silenced while pytest-asyncio starts
    (before its own ``pytest_configure``, which runs after this one), and only when the option is unset. A project
    with async fixtures of its own can still set the option to choose their loop scope.
    """
    if _loop_scope_unset(config):
        warnings.filterwarnings(
            "ignore", message='The configuration option "asyncio_default_fixture_loop_scope" is unset'
        )
    config.addinivalue_line(
        "markers", "akool_emulator(**fields): EmulatorConfig fields of this test's akool_emulator (documented variants)"
    )


@pytest.fixture
def akool_emulator_config(request: pytest.FixtureRequest) -> EmulatorConfig:
    """The configuration of ``akool_emulator``; override this fixture, or mark a test, to change it."""
    from dataclasses import fields, replace

    from streamclient.emulator import EmulatorConfig
    from streamclient.emulator.shapes import ResponseShapes

    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=400.0)
    marker = request.node.get_closest_marker("akool_emulator")
    if marker is None:
        return config
    if marker.args:
        raise pytest.UsageError("@pytest.mark.akool_emulator takes EmulatorConfig fields as keywords only")
    changes = dict(marker.kwargs)
    unknown = sorted(set(changes) - {f.name for f in fields(EmulatorConfig)})
    if unknown:
        raise pytest.UsageError(f"@pytest.mark.akool_emulator: not EmulatorConfig fields: {', '.join(unknown)}")
    if isinstance(changes.get("shapes"), dict):
        unknown = sorted(set(changes["shapes"]) - {f.name for f in fields(ResponseShapes)})
        if unknown:
            raise pytest.UsageError(f"@pytest.mark.akool_emulator: not ResponseShapes fields: {', '.join(unknown)}")
        changes["shapes"] = ResponseShapes(**changes["shapes"])
    return replace(config, **changes)


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


@pytest.fixture
def akool_client(akool_emulator: EmulatorHandle) -> AsyncAkoolClient:
    """An ``AsyncAkoolClient`` pointed at ``akool_emulator``, usable on any event loop.

    A plain fixture, not an async one: it needs no async-fixture support from pytest-asyncio or anyio. HTTP
    keep-alive is off, so no connection outlives its request (a pooled connection would belong to one test's
    event loop), and there is nothing left to close when the test ends.
    """
    import httpx

    from streamclient.api import AsyncAkoolClient

    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
    return AsyncAkoolClient(api_key=akool_emulator.api_key, base_url=akool_emulator.base_url, transport=transport)


@pytest.fixture
def akool_sync_client(akool_emulator: EmulatorHandle) -> Iterator[AkoolClient]:
    """A sync ``AkoolClient`` pointed at ``akool_emulator``."""
    from streamclient.api import AkoolClient

    with AkoolClient(api_key=akool_emulator.api_key, base_url=akool_emulator.base_url) as client:
        yield client
