"""The fuzz tests' emulator; schemathesis needs Python >= 3.11 (on 3.10 the dev extra leaves it out: not collected)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from streamclient.emulator import Emulator
from streamclient.emulator.handles import EmulatorHandle
from tests.emulator.emulator_harness import fast_config

collect_ignore_glob = ["test_*.py"] if sys.version_info < (3, 11) else []

#: The module of the soak run, and the mark expression of ``make test`` (pyproject's addopts), which deselects it.
_SOAK_MODULE = "test_openapi_soak.py"
_DEFAULT_MARKS = "not soak"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Collect the soak fuzz module only when the mark expression is not the default one that deselects it."""
    if collection_path.name == _SOAK_MODULE and config.getoption("markexpr") == _DEFAULT_MARKS:
        return True
    return None


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    config = fast_config()  # no Agora project: fuzzed bring-your-own sessions really join (and collide in) rooms
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Emulator(config)) as running:
        yield EmulatorHandle(running, portal)
