"""Suite-wide settings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from streamclient import _inflight

# Property tests assert behaviour, not speed: a loaded CI machine must not turn a slow example into a failure.
settings.register_profile("streamclient", deadline=None)
settings.load_profile("streamclient")

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
