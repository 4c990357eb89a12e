"""After a live command's async run, the signal handlers it found are back (not Python's defaults)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType

import pytest

from streamclient.cli._runner import run_async
from streamclient.session.signals import DEFAULT_SIGNALS


def _cli_handler(signum: int, frame: FrameType | None) -> None:
    """Stands for the CLI's own Ctrl-C handler (``streamclient.cli._interrupted``: exit 130)."""
    del signum, frame


@pytest.fixture
def cli_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in DEFAULT_SIGNALS}
    for s in DEFAULT_SIGNALS:
        signal.signal(s, _cli_handler)
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


@pytest.mark.usefixtures("cli_handlers")
def test_the_previous_handlers_are_back_after_the_run() -> None:
    async def command() -> int:
        return 7

    assert run_async(command) == 7
    for s in DEFAULT_SIGNALS:
        assert signal.getsignal(s) is _cli_handler, signal.Signals(s).name


@pytest.mark.usefixtures("cli_handlers")
def test_the_signals_are_still_handled_during_the_run() -> None:
    seen: dict[str, object] = {}

    async def command() -> None:
        for s in DEFAULT_SIGNALS:
            seen[signal.Signals(s).name] = signal.getsignal(s)

    run_async(command)
    assert seen
    assert all(handler is not _cli_handler for handler in seen.values()), seen
