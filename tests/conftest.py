"""Suite-wide settings."""

from __future__ import annotations

import fcntl
import importlib
import os
import pkgutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import coverage
import pytest
from hypothesis import settings

import streamclient
from streamclient import _inflight

# Property tests assert behaviour, not speed: a loaded CI machine must not turn a slow example into a failure.
settings.register_profile("streamclient", deadline=None)
settings.load_profile("streamclient")


#: Seconds a test may take (pytest-timeout). Set here rather than as ``timeout`` in pyproject.toml, so that running
#: ``pytest examples/...`` from the repository root with only pytest and pytest-asyncio installed (as a user who
#: copied the README would) does not fail on an unknown config option.
DEFAULT_TEST_TIMEOUT = 60


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (created if missing) across processes: pytest-xdist workers, or
    other test runs sharing a cache. For setups that are made once and then reused (a built wheel, a download)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary root, shared by all pytest-xdist workers (each has a subfolder of it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test without its own ``timeout`` marker the default one, unless ``--timeout`` was given."""
    if config.getoption("timeout", None) is not None:  # e.g. make soak: --timeout=1800
        return
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TEST_TIMEOUT))


@contextmanager
def _coverage_paused() -> Iterator[None]:
    """Pause every running coverage instance, not only pytest-cov's: in a pytest-xdist worker pytest-cov 7.1 starts
    two, and its own ``no_cover`` marker pauses the newer one only (the older then traces in its place)."""
    paused: list[coverage.Coverage] = []
    while (running := coverage.Coverage.current()) is not None:
        running.stop()
        paused.append(running)
    try:
        yield
    finally:
        for instance in reversed(paused):
            instance.start()


@contextmanager
def _output_captured(config: pytest.Config) -> Iterator[None]:
    """Capture and drop what is printed inside, where pytest captures output (not with ``-s``)."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        yield
        return
    capture.resume_global_capture()
    try:
        yield
    finally:
        capture.suspend_global_capture()
        capture.read_global_capture()


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[None]:
    """Collect without coverage measurement, once every module of the package has been imported under it.

    Collection runs in every pytest-xdist worker and imports every module of the package (but ``__main__``) anyway;
    tracing it (pytest building ~4,000 items, schemathesis and hypothesis building their tests) cost ~2.5 s of CPU
    per worker. Importing the package first, measured, keeps what collection measured of it: the lines that run at
    import (the coverage gates of ``make unit`` hold).
    """
    if coverage.Coverage.current() is None:  # not measured (a run without --cov): nothing to pause
        return (yield)
    with _output_captured(session.config):  # what the imports print (pipecat's banner), as collection would
        for module in pkgutil.walk_packages(streamclient.__path__, "streamclient."):
            if module.name != "streamclient.__main__":
                importlib.import_module(module.name)
    with _coverage_paused():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Run the property tests without coverage measurement.

    A property test runs its body for hundreds of generated examples: tracing each for coverage (which doubles the
    CPU of the code it traces) measured lines the suite's example-based tests already cover, at ~25 s of CPU a run;
    the coverage gates of ``make unit`` hold without them (codec 100 %, the package 85 %).
    """
    if not getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
        return (yield)
    with _coverage_paused():
        return (yield)


# Set at import, before any test module computes an environment for its subprocesses: nothing a test runs may write
# to the user's own session ledger. (The autouse fixture below then gives each test a ledger of its own.)
os.environ["STREAMCLIENT_LEDGER"] = str(Path(tempfile.mkdtemp(prefix="streamclient-test-ledger-")) / "ledger.sqlite3")


@pytest.fixture(autouse=True)
def _private_session_ledger(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and every CLI subprocess it starts) records sessions in a ledger of its own, never the user's.

    The budget variables are cleared so that a developer's own limits cannot change what a test sees.
    """
    path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite3"
    monkeypatch.setenv("STREAMCLIENT_LEDGER", str(path))
    monkeypatch.delenv("STREAMCLIENT_MAX_OPEN_SESSIONS", raising=False)
    monkeypatch.delenv("STREAMCLIENT_MAX_DURATION", raising=False)
    # What "this process" created, as the signal helper reports it, starts empty for each test (as in a CLI run).
    monkeypatch.setattr(_inflight, "_created", [])
    monkeypatch.setattr(_inflight, "_open", {})
    return path
