"""Suite-wide settings."""

from __future__ import annotations

import pytest
from hypothesis import settings

# Property tests assert behaviour, not speed: a loaded CI machine must not turn a slow example into a failure.
settings.register_profile("streamclient", deadline=None)
settings.load_profile("streamclient")


#: Seconds a test may take (pytest-timeout). Set here rather than as ``timeout`` in pyproject.toml, so that running
#: ``pytest examples/...`` from the repository root with only pytest and pytest-asyncio installed (as a user who
#: copied the README would) does not fail on an unknown config option.
DEFAULT_TEST_TIMEOUT = 60


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test without its own ``timeout`` marker the default one, unless ``--timeout`` was given."""
    if config.getoption("timeout", None) is not None:  # e.g. make soak: --timeout=1800
        return
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TEST_TIMEOUT))
