"""Without its extras, the pipecat integration and its example say what to install (simulated by hiding modules)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.installed.conftest import ROOT

EXAMPLE = ROOT / "examples" / "pipecat_bot.py"


def run_example_without(*missing: str) -> subprocess.CompletedProcess[str]:
    hide = "; ".join(f"sys.modules[{name!r}] = None" for name in missing)
    code = f"import runpy, sys; {hide}; runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )


@pytest.mark.parametrize("missing", ["pipecat", "loguru", "starlette"])
def test_the_example_without_an_extra_names_the_pip_command(missing: str) -> None:
    done = run_example_without(missing)
    assert done.returncode == 1
    assert 'pip install "streamclient[pipecat,emulator]"' in done.stderr
    assert "Traceback" not in done.stderr
    assert missing in done.stderr


def test_the_integration_without_pipecat_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "pipecat" or name.startswith(("pipecat.", "streamclient.integrations.pipecat")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pipecat", None)
    with pytest.raises(ModuleNotFoundError) as caught:
        import streamclient.integrations.pipecat  # noqa: F401
    message = str(caught.value)
    assert caught.value.name == "pipecat"
    assert 'pip install "streamclient[pipecat,agora]"' in message
    assert 'pip install "streamclient[pipecat,emulator]"' in message
    assert caught.value.__suppress_context__  # no chained traceback of the original error
