"""SIGINT to the ``streamclient`` CLI at every stage of a session, against an in-process emulator.

The CLI runs as a subprocess (with DEBUG logging on) pointed at the emulator through AKOOL_BASE_URL and AKOOL_API_KEY
(``--real``: the emulator's credentials carry ``emulator_room_url``, so the room transport is used). The test waits
for a line of output (or for the create request to reach the server), sends SIGINT, and checks: the process exits
with 130 within a bounded time, the emulator has zero open sessions, and no secret appears in stdout or stderr.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.emulator.state import RestFault

LAUNCH = (
    "import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr); "
    "sys.argv[0] = 'streamclient'; from streamclient.cli import main; main()"
)
TEXT = "This is a long text for the avatar, which speaks slowly, so that there is time to interrupt it. " * 3
API_KEY = "sk-emulator-SECRET-key-for-sigint-tests"


@dataclass
class CliRun:
    process: Process
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    line_seen: anyio.Event = field(default_factory=anyio.Event)
    marker: str = ""

    async def read_stdout(self) -> None:
        assert self.process.stdout is not None
        buffer = ""
        async for chunk in TextReceiveStream(self.process.stdout):
            buffer += chunk
            *lines, buffer = buffer.split("\n")
            for line in lines:
                self.stdout.append(line)
                if self.marker and self.marker in line:
                    self.line_seen.set()
        if buffer:
            self.stdout.append(buffer)

    async def read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for chunk in TextReceiveStream(self.process.stderr):
            self.stderr.append(chunk)


@asynccontextmanager
async def emulator() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(api_key=API_KEY, avatar_join_delay=0.05, speech_chars_per_second=25.0)
    async with Emulator(config) as emu:
        yield emu


def env_for(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKOOL_")}
    env.update(AKOOL_BASE_URL=emu.base_url, AKOOL_API_KEY=emu.api_key, PYTHONUNBUFFERED="1", COLUMNS="200")
    return env


def leaked(output: str, secret: str, window: int = 12) -> str | None:
    """The first ``window``-character piece of ``secret`` found in ``output`` (truncated logs leak pieces)."""
    for i in range(max(1, len(secret) - window + 1)):
        piece = secret[i : i + window]
        if piece in output:
            return piece
    return None


def secrets_of(emu: Emulator) -> list[str]:
    tokens = [s.client_token for s in emu.state.sessions.values() if s.client_token]
    return [API_KEY, *tokens]


async def run_cli(
    emu: Emulator, *, marker: str, then: Callable[[CliRun], object] | None = None, sigints: int = 1
) -> CliRun:
    """Start ``streamclient say --real --json``, wait for ``marker`` on stdout, send SIGINT, wait for exit."""
    args = [sys.executable, "-c", LAUNCH, "say", TEXT, "--real", "--json"]
    with anyio.fail_after(30):
        async with await anyio.open_process(args, env=env_for(emu)) as process:
            run = CliRun(process, marker=marker)
            async with anyio.create_task_group() as tg:
                tg.start_soon(run.read_stdout)
                tg.start_soon(run.read_stderr)
                if then is not None:
                    await then(run)  # type: ignore[misc]
                else:
                    await run.line_seen.wait()
                for _ in range(sigints):
                    process.send_signal(signal.SIGINT)
                await process.wait()
    return run


@pytest.mark.parametrize(
    "marker",
    ["avatar_joined", "speaking_started", "bot_text_delta"],
    ids=["after-join", "speaking", "streaming-reply"],
)
async def test_sigint_at_each_stage_closes_the_session(marker: str) -> None:
    async with emulator() as emu:
        run = await run_cli(emu, marker=marker)
        assert run.process.returncode == 130, "".join(run.stderr)[-2000:]
        await emu.wait_until(lambda: emu.open_session_count() == 0, timeout=5)
        assert len(emu.state.sessions) == 1
        output = "\n".join(run.stdout) + "".join(run.stderr)
        for secret in secrets_of(emu):
            assert secret not in output  # pieces: see test_cli_full_run_with_debug_logging_leaks_no_secret


async def test_double_sigint_during_close_still_closes() -> None:
    async with emulator() as emu:
        emu.state.delay_next("session/close", 0.5)
        run = await run_cli(emu, marker="speaking_started", sigints=2)
        assert run.process.returncode == 130
        await emu.wait_until(lambda: emu.open_session_count() == 0, timeout=5)


async def test_sigint_while_create_is_in_flight() -> None:
    async with emulator() as emu:
        arrived = anyio.Event()
        take_faults = emu.state.take_faults

        def spy(path: str) -> list[RestFault]:
            if path.endswith("session/create"):
                arrived.set()
            return take_faults(path)

        emu.state.take_faults = spy  # type: ignore[method-assign]
        emu.state.delay_next("session/create", 0.5)

        async def wait_for_create(_run: CliRun) -> None:
            await arrived.wait()

        run = await run_cli(emu, marker="", then=wait_for_create)
        assert run.process.returncode == 130
        await emu.wait_until(lambda: emu.open_session_count() == 0, timeout=5)
        output = "\n".join(run.stdout) + "".join(run.stderr)
        for secret in secrets_of(emu):
            assert secret not in output  # pieces: see test_cli_full_run_with_debug_logging_leaks_no_secret


async def test_cli_full_run_with_debug_logging_leaks_no_secret() -> None:
    async with emulator() as emu:
        args = [sys.executable, "-c", LAUNCH, "say", "hi there", "--real"]
        with anyio.fail_after(30):
            result = await anyio.run_process(args, env=env_for(emu), check=False)
        assert result.returncode == 0, result.stderr.decode()[-2000:]
        output = result.stdout.decode() + result.stderr.decode()
        assert "DEBUG" in output  # the logging really was on
        assert emu.open_session_count() == 0
        for secret in secrets_of(emu):
            assert leaked(output, secret) is None, f"a piece of a secret is in the output: {leaked(output, secret)}"
