"""``streamclient emulator``: runs in the foreground, prints where to connect, stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from typer.testing import CliRunner

from streamclient.cli.app import app
from streamclient.tokens.agora import build_rtc_token
from streamclient.transport.base import JoinParams
from streamclient.transport.room import RoomTransport

RUN = "import sys; from streamclient.cli import main; sys.argv[0] = 'streamclient'; main()"


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["emulator", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--record", "--api-key", "--join-delay", "--speech-cps", "--seed", "--drop"):
        assert option in result.output


def test_bad_probability_is_refused() -> None:
    result = CliRunner().invoke(app, ["emulator", "--drop", "1.5"])
    assert result.exit_code != 0


def test_runs_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    record = tmp_path / "frames.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, "emulator", "--api-key", "cli-key", "--record", str(record), "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "AKOOL_API_KEY" in line:
                break
        output = "".join(lines)
        base_url = re.search(r"base URL: (http://127\.0\.0\.1:\d+)", output)
        assert base_url, output
        assert "API key:  cli-key" in output
        assert "room URL: ws://127.0.0.1:" in output
        response = httpx.get(
            base_url.group(1) + "/api/open/v3/language/list", headers={"x-api-key": "cli-key"}, timeout=10
        )
        assert response.json()["code"] == 1000
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "emulator stopped" in out
    assert "Traceback" not in err
    assert record.exists()
    assert all(json.loads(line) for line in record.read_text().splitlines())


def test_agora_project_needs_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGORA_APP_ID", raising=False)
    monkeypatch.delenv("AGORA_APP_CERTIFICATE", raising=False)
    result = CliRunner().invoke(app, ["emulator", "--agora-project"])
    assert result.exit_code == 2
    assert "AGORA_APP_CERTIFICATE" in result.output


def test_agora_project_refuses_a_broken_certificate_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_APP_ID", "0" * 32)
    monkeypatch.setenv("AGORA_APP_CERTIFICATE", "abcd1234 efgh5678")
    result = CliRunner().invoke(app, ["emulator", "--agora-project"])
    assert result.exit_code == 2
    assert "AGORA_APP_CERTIFICATE contains a space" in result.output
    assert "efgh5678" not in result.output


def test_agora_project_hosts_shared_rooms_and_never_prints_the_certificate() -> None:
    app_id, certificate = secrets.token_hex(16), secrets.token_hex(16)
    env = {**os.environ, "AGORA_APP_ID": app_id, "AGORA_APP_CERTIFICATE": certificate}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, "emulator", "--agora-project"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "AKOOL_API_KEY" in line:
                break
        output = "".join(lines)
        assert f"Agora project: {app_id}" in output
        room_url = re.search(r"room URL: (ws://127\.0\.0\.1:\d+/room)", output)
        assert room_url, output
        token = build_rtc_token(app_id, certificate, channel="demo", uid=3001)
        anyio.run(
            _join_and_leave, room_url.group(1), JoinParams(app_id=app_id, channel="demo", uid="3001", token=token)
        )
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert certificate not in output + out + err


async def _join_and_leave(url: str, params: JoinParams) -> None:
    transport = RoomTransport(url)
    await transport.join(params, timeout=10)
    await transport.leave()
