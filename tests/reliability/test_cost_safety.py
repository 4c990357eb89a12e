"""Never leak a billed session: real signals and ``kill -9`` sent to real CLI processes, against the emulator.

Each test starts ``streamclient`` as a subprocess (see ``test_cli_signals``), pointed at an in-process emulator with
``--real`` (the emulator's credentials name its room) and its own session ledger (``STREAMCLIENT_LEDGER``, set by
the suite's autouse fixture), then counts open sessions through the emulator's REST state.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from streamclient.emulator import Emulator
from streamclient.emulator.state import RestFault
from streamclient.ledger import resolve_ledger
from tests.reliability.test_cli_signals import LAUNCH, TEXT, emulator, env_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@dataclass
class Cli:
    """A running CLI process whose output can be awaited piece by piece."""

    process: Process
    out: str = ""
    err: str = ""
    changed: anyio.Event = field(default_factory=anyio.Event)

    async def _pump(self, stream: object, attr: str) -> None:
        async for chunk in TextReceiveStream(stream):  # type: ignore[arg-type]
            setattr(self, attr, getattr(self, attr) + chunk)
            self.changed.set()
            self.changed = anyio.Event()

    async def wait_for(self, text: str, *, where: str = "out") -> None:
        """Wait until ``text`` shows on stdout (``where="out"``) or stderr (``"err"``)."""
        while text not in getattr(self, where):
            assert self.process.returncode is None, f"exited {self.process.returncode}: {self.err[-2000:]}"
            await self.changed.wait()


async def run(emu: Emulator, args: list[str], script: Callable[[Cli], Awaitable[None]], *, timeout: float = 60) -> Cli:
    """Start ``streamclient *args``, run ``script`` against it, wait for the process to end."""
    with anyio.fail_after(timeout):
        async with await anyio.open_process([sys.executable, "-c", LAUNCH, *args], env=env_for(emu)) as process:
            cli = Cli(process)
            async with anyio.create_task_group() as tg:
                tg.start_soon(cli._pump, process.stdout, "out")
                tg.start_soon(cli._pump, process.stderr, "err")
                await script(cli)
                await process.wait()
    return cli


async def cli_once(emu: Emulator, *args: str) -> subprocess.CompletedProcess[bytes]:
    with anyio.fail_after(60):
        return await anyio.run_process([sys.executable, "-c", LAUNCH, *args], env=env_for(emu), check=False)


def request_arrives(emu: Emulator, path_suffix: str) -> anyio.Event:
    """An event set when a request to a path ending in ``path_suffix`` reaches the emulator."""
    arrived = anyio.Event()
    take_faults = emu.state.take_faults

    def spy(path: str) -> list[RestFault]:
        if path.endswith(path_suffix):
            arrived.set()
        return take_faults(path)

    emu.state.take_faults = spy  # type: ignore[method-assign]
    return arrived


def say(*extra: str) -> list[str]:
    return ["say", TEXT, "--real", "--json", *extra]


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)], ids=["TERM", "HUP", "INT"]
)
async def test_a_signal_mid_reply_closes_the_session_and_exits_128_plus_signal(sig: signal.Signals, code: int) -> None:
    async with emulator() as emu:

        async def script(cli: Cli) -> None:
            await cli.wait_for("bot_text_delta")
            cli.process.send_signal(sig)

        cli = await run(emu, say(), script)
        assert cli.process.returncode == code, cli.err[-2000:]
        await emu.wait_until(lambda: emu.open_session_count() == 0, timeout=5)
        (session_id,) = emu.state.sessions
        assert f"interrupted ({signal.Signals(sig).name}): session {session_id} was closed" in cli.err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
async def test_sigterm_and_sighup_in_chat_close_the_session(sig: signal.Signals) -> None:
    async with emulator() as emu:

        async def script(cli: Cli) -> None:
            await cli.wait_for("ready; type a line")
            cli.process.send_signal(sig)

        cli = await run(emu, ["chat", "--real"], script)
        assert cli.process.returncode == 128 + sig, cli.err[-2000:]
        assert emu.open_session_count() == 0
        assert "ended (cancelled)" in cli.out


async def test_second_signal_says_what_the_close_waits_for_and_the_close_completes() -> None:
    async with emulator() as emu:
        emu.state.delay_next("session/close", 2.0)

        async def script(cli: Cli) -> None:
            await cli.wait_for("speaking_started")
            cli.process.send_signal(signal.SIGTERM)
            await cli.wait_for("received SIGTERM: closing", where="err")
            cli.process.send_signal(signal.SIGTERM)
            await cli.wait_for("more time to exit at once", where="err")

        cli = await run(emu, say(), script)
        assert cli.process.returncode == 143, cli.err[-2000:]
        assert emu.open_session_count() == 0
        (session_id,) = emu.state.sessions
        second = re.search(r"received SIGTERM: waiting for (.+) \(at most (\d+) s more\)", cli.err)
        assert second is not None, cli.err
        assert session_id in second[1]
        assert int(second[2]) <= 30
        assert f"session {session_id} was closed" in cli.err


async def test_third_signal_exits_at_once_naming_the_open_session_then_sweep_closes_it() -> None:
    async with emulator() as emu:
        emu.state.delay_next("session/close", 20.0)  # a close that hangs
        close_arrived = request_arrives(emu, "session/close")

        async def script(cli: Cli) -> None:
            await cli.wait_for("speaking_started")
            for expected in ("closing", "more time to exit at once", "exiting now"):
                cli.process.send_signal(signal.SIGTERM)
                await cli.wait_for(expected, where="err")
                # The close is under way (and hangs) before the next signal: else the process may exit before it
                # sends the close, and the hanging close would be the sweep's.
                await close_arrived.wait()

        cli = await run(emu, say(), script)
        assert cli.process.returncode == 143, cli.err[-2000:]
        (session_id,) = emu.state.sessions
        assert f"session {session_id} may still be open" in cli.err
        assert f"streamclient sessions close {session_id}" in cli.err
        assert emu.open_session_count() == 1  # the process really left without closing

        swept = await cli_once(emu, "sessions", "sweep", "--yes", "--json")
        assert swept.returncode == 0, swept.stderr.decode()
        assert json.loads(swept.stdout)["closed"] == [session_id]
        assert emu.open_session_count() == 0


async def test_kill_9_then_warning_then_sweep_leaves_no_session_open() -> None:
    async with emulator() as emu:

        async def script(cli: Cli) -> None:
            await cli.wait_for("speaking_started")
            cli.process.kill()  # SIGKILL: nothing runs, nothing is closed

        await run(emu, say(), script)
        assert emu.open_session_count() == 1
        (session_id,) = emu.state.sessions
        ledger = resolve_ledger()
        assert ledger is not None
        (orphan,) = ledger.orphans(emu.base_url)
        assert orphan.session_id == session_id

        # A live command warns at start and names the command.
        again = await cli_once(emu, "say", "hello", "--real")
        assert again.returncode == 0, again.stderr.decode()
        assert "run `streamclient sessions sweep`" in again.stderr.decode()

        # A dry run shows it and closes nothing.
        shown = await cli_once(emu, "sessions", "sweep", "--json")
        report = json.loads(shown.stdout)
        assert [i["session_id"] for i in report["items"]] == [session_id]
        (item,) = report["items"]
        assert item["closable"] is True
        assert item["avatar_id"] == "dvp_Tristan_cloth2_1080P"
        assert item["billed"] >= 0
        assert 0 < item["remaining"] <= 300
        assert report["dry_run"] is True
        assert emu.open_session_count() == 1

        table = await cli_once(emu, "sessions", "sweep", "--yes")
        assert table.returncode == 0, table.stderr.decode()
        assert session_id in table.stdout.decode()
        assert emu.open_session_count() == 0
        assert ledger.orphans(emu.base_url) == []


async def test_sweep_never_closes_a_session_whose_process_still_runs() -> None:
    async with emulator() as emu:

        async def script(cli: Cli) -> None:
            await cli.wait_for("speaking_started")
            swept = await cli_once(emu, "sessions", "sweep", "--yes", "--all-open", "--json")
            assert json.loads(swept.stdout)["items"] == []
            assert emu.open_session_count() == 1
            cli.process.send_signal(signal.SIGINT)

        cli = await run(emu, say(), script)
        assert cli.process.returncode == 130
        assert emu.open_session_count() == 0


async def test_ctrl_c_during_a_slow_create_waits_for_it_and_closes_what_it_made() -> None:
    async with emulator() as emu:
        emu.state.delay_next("session/create", 2.0)
        arrived = request_arrives(emu, "session/create")

        async def script(cli: Cli) -> None:
            await arrived.wait()
            cli.process.send_signal(signal.SIGINT)
            await cli.wait_for("received SIGINT: closing", where="err")
            cli.process.send_signal(signal.SIGINT)
            await cli.wait_for("the answer to the create request", where="err")

        cli = await run(emu, say(), script)
        assert cli.process.returncode == 130, cli.err[-2000:]
        assert emu.open_session_count() == 0
        (session_id,) = emu.state.sessions
        assert f"session {session_id} was closed" in cli.err


async def test_ctrl_c_during_a_slow_sessions_create_closes_the_session() -> None:
    async with emulator() as emu:
        emu.state.delay_next("session/create", 1.0)
        arrived = request_arrives(emu, "session/create")

        async def script(cli: Cli) -> None:
            await arrived.wait()
            cli.process.send_signal(signal.SIGTERM)

        cli = await run(emu, ["sessions", "create", "dvp_Tristan_cloth2_1080P"], script)
        assert cli.process.returncode == 143, cli.err[-2000:]
        assert emu.open_session_count() == 0
        (session_id,) = emu.state.sessions
        assert f"session {session_id} was closed" in cli.err


async def test_closing_a_closed_session_exits_0_with_a_note() -> None:
    async with emulator() as emu:
        created = await cli_once(emu, "sessions", "create", "dvp_Tristan_cloth2_1080P", "--json")
        session_id = json.loads(created.stdout)["id"]
        first = await cli_once(emu, "sessions", "close", session_id)
        second = await cli_once(emu, "sessions", "close", session_id)
        assert first.returncode == 0
        assert second.returncode == 0, second.stderr.decode()
        assert "already closed" in second.stdout.decode()
