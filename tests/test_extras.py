"""A missing optional extra gives a message that says what to install (simulated by hiding its modules)."""

from __future__ import annotations

import signal
import sys

import pytest

import streamclient.emulator as emulator_package
from streamclient.cli import main


def hide(monkeypatch: pytest.MonkeyPatch, missing: str, *reimport: str) -> None:
    """Make ``import missing`` fail as if it were not installed; forget the modules named ``reimport*``."""
    for name in list(sys.modules):
        if name == missing or name.startswith(missing + "."):
            monkeypatch.delitem(sys.modules, name)
        elif name.startswith(reimport):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` raises ModuleNotFoundError


@pytest.mark.parametrize("missing", ["starlette", "uvicorn"])  # websockets: RoomTransport says it at join
def test_the_emulator_without_its_extra(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    hide(monkeypatch, missing, "streamclient.emulator.", "streamclient.transport.room")
    monkeypatch.delitem(vars(emulator_package), "Emulator", raising=False)  # cached by the lazy __getattr__
    with pytest.raises(ImportError, match=r'pip install "streamclient\[emulator\]"') as caught:
        from streamclient.emulator import Emulator  # noqa: F401
    assert isinstance(caught.value, ModuleNotFoundError)
    assert caught.value.name == missing
    assert f"{missing} is not installed" in str(caught.value)


def test_other_import_errors_of_the_emulator_are_not_disguised(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "streamclient.emulator.server")
    monkeypatch.delitem(vars(emulator_package), "Emulator", raising=False)
    with pytest.raises(ModuleNotFoundError) as caught:
        from streamclient.emulator import Emulator  # noqa: F401
    assert "extra" not in str(caught.value)


def test_the_command_line_without_its_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hide(monkeypatch, "typer", "streamclient.cli.")
    previous = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as caught:
            main()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "typer is missing" in err
    assert 'pip install "streamclient[cli]"' in err
