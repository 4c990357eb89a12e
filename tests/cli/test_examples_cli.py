"""``streamclient examples`` in a source checkout (tests/installed/test_doors.py runs it from the wheel)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from streamclient.cli.app import app

ROOT = Path(__file__).resolve().parents[2]


def test_examples_are_written_listed_and_never_overwritten_by_default(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["examples", "--list"])
    assert listed.exit_code == 0, listed.output
    assert "echo_bot.py" in listed.output.split()
    done = runner.invoke(app, ["examples", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "echo_bot.py").read_bytes() == (ROOT / "examples" / "echo_bot.py").read_bytes()
    assert not (tmp_path / "__init__.py").exists()
    refused = runner.invoke(app, ["examples", str(tmp_path)])
    assert refused.exit_code == 2
    assert runner.invoke(app, ["examples", str(tmp_path), "--force"]).exit_code == 0
