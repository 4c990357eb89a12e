"""``streamclient emulator`` runs in each documented variant: options with choices, a start-up line, real answers."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx
import pytest
from typer.testing import CliRunner

from streamclient.cli import emulator as emulator_cli
from streamclient.cli.app import app
from streamclient.emulator import EmulatorConfig

RUN = "import sys; from streamclient.cli import main; sys.argv[0] = 'streamclient'; main()"
AVATAR = "dvp_Tristan_cloth2_1080P"
VARIANT_OPTIONS = (
    "--close-with-data",
    "--session-list-key",
    "--token-location",
    "--knowledge-list-shape",
    "--tokens-in-detail",
    "--upload-answer",
    "--trtc-names",
    "--reply-mid",
    "--room-limits",
    "--room-bytes-per-second",
    "--room-messages-per-second",
)


def _config_of(monkeypatch: pytest.MonkeyPatch, *args: str) -> EmulatorConfig:
    """The configuration ``streamclient emulator ARGS`` would run with (the server itself is not started)."""
    seen: list[EmulatorConfig] = []

    async def fake_run(config: EmulatorConfig) -> None:
        seen.append(config)

    monkeypatch.setattr(emulator_cli, "_run", fake_run)
    result = CliRunner().invoke(app, ["emulator", *args])
    assert result.exit_code == 0, result.output
    return seen[0]


def test_help_lists_every_variant_with_its_doc_source() -> None:
    result = CliRunner().invoke(app, ["emulator", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0
    for option in VARIANT_OPTIONS:
        assert option in result.output
    for source in ("OpenAPI file", "seed document", "authentication page", "implementation guide", "Agora 4.x SDK"):
        assert source in result.output


def test_defaults_are_the_docs_primary_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config_of(monkeypatch)
    assert config.shapes.describe() == "docs defaults"
    assert config.reply_mid == "request"
    limits = config.limits()  # Agora's own limits; AKOOL's 6 KB/s guidance is reported, not refused
    assert (limits.bytes_per_second, limits.messages_per_second, limits.guide_bytes_per_second) == (30720, 60, 6000)


def test_every_option_reaches_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config_of(
        monkeypatch,
        "--close-with-data",
        "--session-list-key=data",
        "--token-location=data",
        "--knowledge-list-shape=knowledge_list",
        "--tokens-in-detail",
        "--upload-answer=array",
        "--trtc-names=trtc_sdk",
        "--reply-mid=fresh",
        "--room-limits=guide",
    )
    assert config.shapes == config.shapes.variants()[-1]  # every alternative at once
    assert config.reply_mid == "fresh"
    assert config.room_limits == "guide"
    assert (config.limits().bytes_per_second, config.limits().messages_per_second) == (6000, 30)


def test_explicit_room_limits_override_the_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config_of(monkeypatch, "--room-limits=guide", "--room-bytes-per-second", "8000")
    assert (config.limits().bytes_per_second, config.limits().messages_per_second) == (8000, 30)
    agora = _config_of(monkeypatch, "--room-limits=agora-4x").limits()  # the earlier name of agora
    assert (agora.bytes_per_second, agora.messages_per_second) == (30720, 60)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--session-list-key", "items"], "--session-list-key"),
        (["--knowledge-list-shape", "dict"], "--knowledge-list-shape"),
        (["--reply-mid", "random"], "--reply-mid"),
        (["--room-limits", "fast"], "--room-limits"),
        (["--room-bytes-per-second", "0"], "--room-bytes-per-second"),
    ],
)
def test_bad_variant_exits_2_naming_the_option(args: list[str], option: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", RUN, "emulator", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert option in proc.stderr
    assert "Traceback" not in proc.stderr


def test_runs_in_the_chosen_variants_over_http() -> None:
    args = [
        "--api-key=cli-key",
        "--close-with-data",
        "--session-list-key=data",
        "--knowledge-list-shape=knowledge_list",
        "--reply-mid=fresh",
        "--room-limits=guide",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, "emulator", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "AKOOL_API_KEY" in line:
                break
        output = "".join(lines)
        found = re.search(r"base URL: (http://127\.0\.0\.1:\d+)", output)
        assert found, output
        variants = re.search(r"variants: (.*)", output)
        assert variants, output
        for name in ("close_with_data=True", "session_list_key=data", "knowledge_list_shape=knowledge_list"):
            assert name in variants.group(1)
        assert "reply_mid=fresh" in variants.group(1)
        assert "6000 B/s,30 msg/s" in variants.group(1)
        with httpx.Client(base_url=found.group(1), headers={"x-api-key": "cli-key"}, timeout=10) as http:
            created = http.post("/api/open/v4/liveAvatar/session/create", json={"avatar_id": AVATAR}).json()
            sid = created["data"]["_id"]
            listed = http.get("/api/open/v4/liveAvatar/session/list").json()
            knowledge = http.get("/api/open/v4/knowledge/list").json()
            closed = http.post("/api/open/v4/liveAvatar/session/close", json={"id": sid}).json()
        assert [item["_id"] for item in listed["data"]["data"]] == [sid]
        assert "result" not in listed["data"]
        assert isinstance(knowledge["data"], dict)
        assert "knowledge_list" in knowledge["data"]
        assert closed["data"]["session_id"] == sid
        assert closed["data"]["status"] == "closed"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_defaults_print_no_variants_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamclient.cli._emulator_variants import describe_variants

    assert describe_variants("docs defaults", "request", 30720, 60) == ""
    assert describe_variants("docs defaults", "request", 6000, 60) == "room_limits=6000 B/s,60 msg/s"
