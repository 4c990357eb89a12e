"""Doors of the installed wheel: its metadata links somewhere, and its users can get the examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.installed.conftest import ROOT, InstalledEnv

pytestmark = pytest.mark.timeout(900)  # the first test of a session builds and installs the wheel


def test_the_wheel_writes_out_its_examples(installed: InstalledEnv, tmp_path: Path) -> None:
    done = installed.run(["streamclient", "examples", str(tmp_path / "ex")], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    written = sorted(p.name for p in (tmp_path / "ex").iterdir())
    expected = sorted(p.name for p in (ROOT / "examples").glob("*.py") if p.name != "__init__.py")
    assert written == expected
    for name in written:
        assert (tmp_path / "ex" / name).read_bytes() == (ROOT / "examples" / name).read_bytes()
    again = installed.run(["streamclient", "examples", str(tmp_path / "ex")], cwd=tmp_path)
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert "Traceback" not in again.stderr
    echo = installed.run(["python", "echo_bot.py"], cwd=tmp_path / "ex", timeout=120)
    assert echo.returncode == 0, echo.stdout + echo.stderr


def test_the_wheel_metadata_has_project_urls(installed: InstalledEnv, tmp_path: Path) -> None:
    code = "from importlib.metadata import metadata; print(metadata('streamclient').get_all('Project-URL'))"
    done = installed.run(["python", "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "https://docs.akool.com/" in done.stdout
