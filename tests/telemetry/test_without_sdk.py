"""The library works with the OpenTelemetry API alone, and with no OpenTelemetry installed at all (subprocesses)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCK = """
import sys

class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "{prefix}" or name.startswith("{prefix}."):
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
        return None

sys.meta_path.insert(0, _Blocked())
"""

CONVERSATION = """
import anyio, sys
from streamclient import telemetry
from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.session import SessionOptions, connect

AVATAR = "dvp_Tristan_cloth2_1080P"

async def main():
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0)
    options = SessionOptions(avatar_join_timeout=5, reply_timeout=10, command_timeout=5, close_timeout=5)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=options) as s:
            result = await s.say("Hello there.")
            assert result.reply == "Hello there.", result
            await s.interrupt()
            print("telemetry:", type(s._telemetry).__name__)

anyio.run(main)
print("otel:", sorted(m for m in sys.modules if m.startswith("opentelemetry")) != [])
print("sdk:", any(m.startswith("opentelemetry.sdk") for m in sys.modules))
"""


def _run(prelude: str, epilogue: str = "") -> str:
    code = textwrap.dedent(prelude) + textwrap.dedent(CONVERSATION) + epilogue
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_without_opentelemetry_installed_every_hook_is_a_no_op() -> None:
    out = _run(BLOCK.format(prefix="opentelemetry"))
    assert "telemetry: _NoopTelemetry" in out
    assert "otel: False" in out  # nothing of OpenTelemetry was imported (it could not be)


def test_with_the_api_alone_nothing_is_recorded_and_nothing_breaks() -> None:
    out = _run(BLOCK.format(prefix="opentelemetry.sdk"))
    assert "telemetry: _NoopTelemetry" in out  # no SDK set up: the session pays nothing per turn
    assert "otel: True" in out
    assert "sdk: False" in out


GLOBAL_SDK = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exported = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exported))
trace.set_tracer_provider(provider)  # the global provider, as opentelemetry-instrument or an application sets it
"""


def test_with_a_global_sdk_set_up_sessions_record() -> None:
    out = _run(GLOBAL_SDK, "\nprint('spans:', sorted({s.name for s in exported.get_finished_spans()}))\n")
    assert "telemetry: SessionTelemetry" in out
    assert "'streamclient.session'" in out
    assert "'streamclient.turn say'" in out
