"""The command line and the emulator export when the standard OTEL_* variables ask for it (real SDK, subprocesses).

The SDK's console exporters print to standard output; without the variables nothing of it appears.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-emulator-telemetry-cli"
CLI = [sys.executable, "-c", "from streamclient.cli import main; main()"]


def _env(**otel: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AKOOL_", "STREAMCLIENT_"))}
    env.update(PYTHONPATH=str(ROOT), AKOOL_API_KEY=KEY, STREAMCLIENT_LEDGER="off", **otel)
    return env


async def _say(base_url: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    env = {**env, "AKOOL_BASE_URL": base_url}
    with anyio.fail_after(60):
        return await anyio.run_process([*CLI, "say", "Hello there.", "--real"], env=env, check=False)


CONFIG = EmulatorConfig(api_key=KEY, avatar_join_delay=0.05, speech_chars_per_second=3000.0)


async def test_say_exports_its_spans_and_metrics_when_the_otel_variables_ask() -> None:
    async with Emulator(CONFIG) as emu:
        done = await _say(emu.base_url, _env(OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="console"))
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    names = re.findall(r'"name": "(streamclient\.[^"]+)"', done.stdout.decode())
    assert "streamclient.session" in names
    assert "streamclient.turn say" in names
    assert "streamclient.sessions.created" in names  # the metrics' final collection, at exit
    assert "Traceback" not in done.stderr.decode()


async def test_without_the_otel_variables_say_prints_nothing_of_telemetry() -> None:
    async with Emulator(CONFIG) as emu:
        done = await _say(emu.base_url, _env())
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    for text in (done.stdout.decode(), done.stderr.decode()):
        assert "trace_id" not in text
        assert "streamclient.session" not in text
        assert "resource_metrics" not in text


def _reports(text: str) -> list[dict[str, Any]]:
    """The JSON documents the console metric exporter printed, one per export."""
    decoder, found, at = json.JSONDecoder(), [], text.find("{")
    while at >= 0:
        report, end = decoder.raw_decode(text, at)
        found.append(report)
        at = text.find("{", end)
    return found


def _values(report: dict[str, Any]) -> dict[str, Any]:
    return {
        metric["name"]: metric["data"]["data_points"][0]["value"]
        for resource in report["resource_metrics"]
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
        if metric["data"]["data_points"]
    }


@pytest.mark.timeout(60)
def test_the_emulator_exports_its_own_view() -> None:
    env = _env(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="console", OTEL_METRIC_EXPORT_INTERVAL="200")
    command = [*CLI, "emulator", "--port", "0", "--api-key", KEY, "--join-delay", "0.05", "--speech-cps", "3000"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: list[dict[str, Any]] = []
    try:
        assert process.stdout is not None
        base_url, text = "", ""
        for line in process.stdout:
            found = re.search(rb"base URL: (http://\S+)", line)
            if found:
                base_url = found.group(1).decode()
                break

        async def one_session() -> None:
            async with AsyncAkoolClient(api_key=KEY, base_url=base_url, ledger=False) as client:
                await client.sessions.create("dvp_Tristan_cloth2_1080P", duration=60)

        anyio.run(one_session)
        for raw in process.stdout:  # an export every 200 ms: until one shows the session's room
            text += raw.decode()
            if raw.startswith(b"}"):
                seen = [_values(r) for r in _reports(text[text.find("{") :])]
                if any(v.get("streamclient.emulator.rooms.open") == 1 for v in seen):
                    break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err.decode()[-2000:]
    live = next(v for v in seen if v.get("streamclient.emulator.rooms.open") == 1)
    assert live["streamclient.emulator.sessions.open"] == 1
    assert live["streamclient.emulator.billed_duration"] > 0
    last = _values(_reports(out.decode())[-1])  # the final export, at exit: the rooms are closed by then
    assert last["streamclient.emulator.rooms.open"] == 0


def test_which_variables_ask_for_export() -> None:
    from streamclient.cli._telemetry import _wanted

    assert not _wanted({})
    assert not _wanted({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"})
    assert not _wanted({"OTEL_SERVICE_NAME": "bot"})
    assert _wanted({"OTEL_TRACES_EXPORTER": "console"})
    assert _wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert not _wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_SDK_DISABLED": "true"})


def test_an_exporter_that_is_not_installed_is_said_once_and_nothing_is_set_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry import trace

    from streamclient.cli._telemetry import from_environment

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "no-such-exporter")
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)  # as in a fresh process (another test may have set one)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, trace.ProxyTracerProvider)
    with caplog.at_level("WARNING"):
        assert from_environment() == []
    assert trace.get_tracer_provider() is provider
    assert [r.getMessage() for r in caplog.records if "OTEL_" in r.getMessage()] != []
