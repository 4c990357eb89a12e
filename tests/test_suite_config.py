"""The suite's own settings (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import DEFAULT_TEST_TIMEOUT


def test_every_test_gets_the_default_timeout(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None
    assert marker.args == (DEFAULT_TEST_TIMEOUT,)


@pytest.mark.timeout(123)
def test_a_test_keeps_its_own_timeout(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None
    assert marker.args == (123,)
