"""The command line's logging setup (streamclient/cli/_logging.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from streamclient.cli._logging import configure_logging, level_for


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """The package logger, restored afterwards."""
    log = logging.getLogger("streamclient")
    saved = (list(log.handlers), log.level, log.propagate)
    yield log
    log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]


@pytest.mark.parametrize(
    ("verbose", "debug", "env", "expected"),
    [
        (0, False, None, None),
        (1, False, None, logging.INFO),
        (2, False, "error", logging.DEBUG),
        (0, True, None, logging.DEBUG),
        (0, False, " Error ", logging.ERROR),
        (1, False, "error", logging.INFO),  # an option beats the environment
    ],
)
def test_level_from_options_and_environment(
    monkeypatch: pytest.MonkeyPatch, verbose: int, debug: bool, env: str | None, expected: int | None
) -> None:
    if env is None:
        monkeypatch.delenv("STREAMCLIENT_LOG", raising=False)
    else:
        monkeypatch.setenv("STREAMCLIENT_LOG", env)
    assert level_for(verbose=verbose, debug=debug) == expected


def test_one_handler_however_often_it_is_configured(logger: logging.Logger) -> None:
    configure_logging(logging.INFO)
    configure_logging(logging.DEBUG)
    ours = [h for h in logger.handlers if h.get_name() == "streamclient-cli"]
    assert len(ours) == 1
    assert logger.level == logging.DEBUG
    assert logger.propagate is False


def test_a_process_that_configured_logging_keeps_its_setup(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger(), "handlers", [logging.NullHandler()])
    before = (list(logger.handlers), logger.level)
    configure_logging(None)
    assert (list(logger.handlers), logger.level) == before
