"""Issue 21: the adapter where native threads race our own calls, over the SDK's real wrapper and both stand-ins.

One test (or more) per item of the issue; each failed on the code before the fix (see the issue's numbering).
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import ssl
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from streamclient.errors import JoinError, TransportClosedError, TransportTimeoutError
from streamclient.transport import AgoraTransport, _agora_sdk
from streamclient.transport._agora_service import LOG_DIR_ENV, SHARED_SERVICE
from streamclient.transport.agora import LOST_CALLBACK_CODE
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    MessagesLost,
    TransportEvent,
)
from tests.transport.fake_agora import purge_agora_modules
from tests.transport.real_agora.harness import PythonStandIn, StandIn

APP_ID = "0123456789abcdef0123456789abcdef"
PARAMS = JoinParams(app_id=APP_ID, channel="room-1", uid="42", token="007token")
REPO = Path(__file__).resolve().parents[3]


async def joined(tmp_path: Path) -> AgoraTransport:
    transport = AgoraTransport(log_dir=tmp_path / "logs")
    await transport.join(PARAMS, timeout=10)
    return transport


async def drain(events: AsyncIterator[TransportEvent]) -> list[TransportEvent]:
    with anyio.fail_after(5):
        return [event async for event in events]


async def wait_for_call(stand_in: StandIn, name: str, count: int = 1) -> None:
    await anyio.to_thread.run_sync(stand_in.wait_for_call, name, count)


# ------------------------------------------------------------- 1. a terminal state right after on_connected


TERMINAL_AFTER_CONNECTED = pytest.mark.parametrize(
    ("kind", "reason", "state"),
    [
        (1, 3, ConnectionState.DISCONNECTED),  # banned by the server
        (2, 14, ConnectionState.FAILED),
        (3, 19, ConnectionState.RECONNECTING),  # the same uid joined elsewhere: terminal whatever the state
    ],
)


async def _join_expecting_the_end(
    stand_in: StandIn, transport: AgoraTransport, events: AsyncIterator[TransportEvent], reason: int, state: Any
) -> bool:
    """Drive a join whose connection ends right after on_connected; return whether join() itself failed."""
    join_error: JoinError | None = None
    try:
        await transport.join(PARAMS, timeout=10)
    except JoinError as exc:  # the terminal state reached the loop before join() resumed
        join_error = exc
    join_failed = join_error is not None
    if join_error is not None:
        assert join_error.reason == reason
    rest = await drain(events)  # before the fix: the events never ended
    assert rest[-1] == ConnectionStateChanged(state, reason)
    if not join_failed:  # join() returned first: the events ended instead, and the transport is closed
        with pytest.raises(TransportClosedError):
            await transport.send(b"{}")
    await transport.leave()
    assert stand_in.calls().count("agora_rtc_conn_destroy") == 1
    return join_failed


@TERMINAL_AFTER_CONNECTED
async def test_a_terminal_state_back_to_back_with_on_connected_fails_the_join_or_ends_the_events(
    stand_in: StandIn, tmp_path: Path, kind: int, reason: int, state: ConnectionState
) -> None:
    stand_in.set("connect_outcome", 4)  # on_connecting, on_connected, then the terminal state: one native thread
    stand_in.set("then_kind", kind)
    stand_in.set("then_reason", reason)
    transport = AgoraTransport(log_dir=tmp_path)
    await _join_expecting_the_end(stand_in, transport, transport.events(), reason, state)


@TERMINAL_AFTER_CONNECTED
async def test_a_terminal_state_queued_behind_on_connected_fails_the_join(
    stand_in: StandIn, tmp_path: Path, kind: int, reason: int, state: ConnectionState
) -> None:
    """The ordering that lost the state: the loop runs on_connected and the terminal state before join() resumes."""
    stand_in.set("connect_outcome", 4)
    stand_in.set("then_kind", kind)
    stand_in.set("then_reason", reason)
    stand_in.set("connect_gate", 1)
    transport = AgoraTransport(log_dir=tmp_path)
    events = transport.events()
    failed: list[bool] = []

    async def join() -> None:
        failed.append(await _join_expecting_the_end(stand_in, transport, events, reason, state))

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(join)
            await wait_for_call(stand_in, "connect_gated")
            stand_in.set("connect_gate", 0)
            stand_in.wait_idle()  # on the loop thread, on purpose: all three callbacks are queued before any runs
    finally:
        stand_in.set("connect_gate", 0)
    assert failed == [True]


# ------------------------------------------- 2. a callback read before release() and called after it


async def test_a_callback_read_before_release_finds_its_structure_after_release_and_gc(
    python_stand_in: PythonStandIn, tmp_path: Path
) -> None:
    transport = await joined(tmp_path)
    events = transport.events()
    python_stand_in.arm_late_message("77", b'{"late":1}')  # a native thread has read the callback pointer
    await transport.leave()
    assert "agora_rtc_conn_destroy" in python_stand_in.calls()
    gc.collect()
    assert python_stand_in.fire_late() == "called"  # before the fix: "freed" (with the native library, a crash)
    assert transport.lost_callbacks == 0
    assert not any(isinstance(event, FrameReceived) for event in await drain(events))


_LATE_CALLBACK_SCRIPT = """
import asyncio, ctypes, gc, sys, urllib.request
from pathlib import Path

site, logs = Path(sys.argv[1]), Path(sys.argv[2])
sys.path.insert(0, str(site))
urllib.request.urlretrieve = None  # never download
from tests.transport.real_agora.harness import NativeStandIn
from streamclient.transport import AgoraTransport
from streamclient.transport._agora_sdk import load_agora
from streamclient.transport.base import JoinParams

stand_in = NativeStandIn(site)
load_agora()
stand_in.configure()

async def main():
    transport = AgoraTransport(log_dir=logs)
    await transport.join(JoinParams(app_id="0123456789abcdef0123456789abcdef", channel="c", uid="42", token="t"))
    stand_in.arm_late_message("77", b'{"late":1}')  # a pthread reads the callback pointer now
    await transport.leave()
    del transport
    for _ in range(3):
        gc.collect()
    # New callbacks reuse whatever closures were freed: a late call into a freed one lands in one of these.
    landed = []
    churn = [ctypes.CFUNCTYPE(None, ctypes.c_int)(landed.append) for _ in range(2000)]
    stand_in.fire_late()  # the pthread calls what it read, after release and collection
    del churn
    if landed:
        sys.exit("the late callback ran freed memory (it landed in another callback)")
    print("late callback returned", flush=True)

asyncio.run(main())
"""


def test_a_native_thread_calling_back_after_release_cannot_crash_the_process(native_site: Path, tmp_path: Path) -> None:
    """The C stand-in's pthread reads the stream-message pointer, leave() releases, gc runs, then the thread calls.

    In a child process, so that the crash this used to be (SIGSEGV) is a failed assertion here, not a dead run.
    """
    environment = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_LATE_CALLBACK_SCRIPT), str(native_site), str(tmp_path / "logs")],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"exit code {result.returncode}: {result.stderr[-3000:]}"
    assert "late callback returned" in result.stdout
    assert "Exception ignored" not in result.stderr


# ------------------------------------------------------ 3. leave(timeout) behind a send stuck in native code


async def test_leave_timing_out_behind_a_stuck_send_still_releases_exactly_once(
    stand_in: StandIn, tmp_path: Path
) -> None:
    reported = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "exactly once" in record.getMessage():
                reported.set()

    watch = Watch(logging.WARNING)
    logging.getLogger("streamclient.transport._agora_conn").addHandler(watch)
    try:
        await _leave_behind_a_stuck_send(stand_in, tmp_path, reported)
    finally:
        logging.getLogger("streamclient.transport._agora_conn").removeHandler(watch)


async def _leave_behind_a_stuck_send(stand_in: StandIn, tmp_path: Path, reported: threading.Event) -> None:
    transport = await joined(tmp_path)
    stand_in.set("send_block", 1)
    sent: list[BaseException | None] = []

    async def send() -> None:
        try:
            await transport.send(b'{"stuck":1}', timeout=30)
            sent.append(None)
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            sent.append(exc)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(send)
            await wait_for_call(stand_in, "send_blocked")
            with pytest.raises(TransportTimeoutError):
                await transport.leave(timeout=0.2)
            assert "agora_rtc_conn_disconnect" not in stand_in.calls()  # behind the native call, as it must be
            await transport.leave()  # a second call neither raises nor releases again
            stand_in.set("send_block", 0)
    finally:
        stand_in.set("send_block", 0)
    assert sent == [None]  # the native call that was in progress completed
    await wait_for_call(stand_in, "agora_rtc_conn_destroy")  # before the fix: never (0 disconnects, 0 destroys)
    assert await anyio.to_thread.run_sync(reported.wait, 10)  # the log says what really happened
    calls = stand_in.calls()
    assert calls.count("agora_rtc_conn_disconnect") == 1
    assert calls.count("agora_rtc_conn_destroy") == 1
    assert "send_on_released_connection" not in calls


# --------------------------------------------------------------------------------- 4. leave() during join()


class JoinAttempt:
    """A ``join()`` run in the background: its outcome (``None`` or the exception) and an event set when it ends."""

    def __init__(self, transport: AgoraTransport) -> None:
        self.transport = transport
        self.outcome: list[BaseException | None] = []
        self.done = anyio.Event()

    async def run(self) -> None:
        try:
            await self.transport.join(PARAMS, timeout=20)
            self.outcome.append(None)
        except Exception as exc:
            self.outcome.append(exc)
        finally:
            self.done.set()


async def test_leave_while_join_waits_for_the_channel_fails_the_join_at_once(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("connect_outcome", 3)  # the SDK never reports
    transport = AgoraTransport(log_dir=tmp_path)
    attempt = JoinAttempt(transport)

    async with anyio.create_task_group() as group:
        group.start_soon(attempt.run)
        await wait_for_call(stand_in, "agora_rtc_conn_connect")
        await transport.leave()
        with anyio.fail_after(5):  # well before the join's own 20 s timeout
            await attempt.done.wait()
    assert len(attempt.outcome) == 1
    assert isinstance(attempt.outcome[0], TransportClosedError)
    calls = stand_in.calls()
    assert calls.count("agora_rtc_conn_create") == calls.count("agora_rtc_conn_destroy") == 1


async def test_leave_before_the_connection_exists_fails_the_join_and_nothing_is_connected(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.set("create_block", 1)  # agora_rtc_conn_create is stuck in native code when leave() comes
    transport = AgoraTransport(log_dir=tmp_path)
    attempt = JoinAttempt(transport)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(attempt.run)
            await wait_for_call(stand_in, "create_blocked")
            await transport.leave()
            with anyio.move_on_after(5):  # "at once": not held up by the native call in progress
                await attempt.done.wait()
            assert attempt.done.is_set(), "join() did not fail when leave() was called"
            stand_in.set("create_block", 0)
    finally:
        stand_in.set("create_block", 0)
    assert len(attempt.outcome) == 1
    assert isinstance(attempt.outcome[0], TransportClosedError)
    await wait_for_call(stand_in, "agora_rtc_conn_destroy")  # what the SDK created late is destroyed at once
    calls = stand_in.calls()
    assert "agora_rtc_conn_connect" not in calls
    assert "agora_local_user_register_observer" not in calls
    assert calls.count("agora_rtc_conn_destroy") == 1


# ------------------------------------------------------------------------ 5. the SDK's log folder, safely


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory of our own as ``tempfile.gettempdir()``, and no log folder from the environment."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    monkeypatch.delenv(LOG_DIR_ENV, raising=False)
    return root


def _user_parent(root: Path) -> Path:
    return root / f"streamclient-agora-{os.getuid()}"


def _assert_private(folder: Path) -> None:
    info = os.lstat(folder)
    assert stat.S_ISDIR(info.st_mode)
    assert info.st_uid == os.getuid()
    assert stat.S_IMODE(info.st_mode) == 0o700


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership and modes")
@pytest.mark.parametrize("planted", ["mode 0777", "symlink"])
async def test_an_unsafe_per_user_log_parent_is_not_used(
    stand_in: StandIn, private_tmp: Path, tmp_path: Path, planted: str
) -> None:
    parent = _user_parent(private_tmp)
    if planted == "mode 0777":
        parent.mkdir()
        parent.chmod(0o777)  # as another user could have pre-created it
    else:
        elsewhere = tmp_path / "someone-elses"
        elsewhere.mkdir(mode=0o700)
        parent.symlink_to(elsewhere, target_is_directory=True)
    transport = AgoraTransport()
    await transport.join(PARAMS, timeout=10)
    await transport.leave()
    log_dir = Path(stand_in.log_path()).parent
    assert parent not in log_dir.parents
    assert log_dir != parent
    if planted == "symlink":
        assert not any((tmp_path / "someone-elses").iterdir())
    _assert_private(log_dir)
    assert transport.log_dir == log_dir


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership and modes")
async def test_the_per_process_log_folder_is_private_and_removed_at_exit_after_a_clean_run(
    stand_in: StandIn, private_tmp: Path
) -> None:
    transport = AgoraTransport()
    await transport.join(PARAMS, timeout=10)
    await transport.leave()
    log_dir = Path(stand_in.log_path()).parent
    assert log_dir == _user_parent(private_tmp) / f"pid-{os.getpid()}"
    _assert_private(log_dir.parent)
    _assert_private(log_dir)
    SHARED_SERVICE.release_all()  # what interpreter exit runs
    assert not log_dir.exists()


async def test_the_per_process_log_folder_is_kept_when_the_run_failed(
    stand_in: StandIn, private_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stand_in.set("connect_outcome", 1)
    with pytest.raises(JoinError):
        await AgoraTransport().join(PARAMS, timeout=10)
    log_dir = Path(stand_in.log_path()).parent
    SHARED_SERVICE.release_all()
    assert log_dir.is_dir()
    assert str(log_dir) in caplog.text  # the exit log says where the logs are


# ---------------------------------------------------------- 6. a retry after -113 on a released connection


async def test_leave_during_not_in_channel_retries_is_closed_and_never_reaches_the_sdk(
    stand_in: StandIn, tmp_path: Path
) -> None:
    transport = await joined(tmp_path)
    for _ in range(100):
        stand_in.push_send_code(-113)
    outcome: list[BaseException | None] = []

    async def send() -> None:
        try:
            await transport.send(b'{"retry":1}', timeout=20)
            outcome.append(None)
        except Exception as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(send)
        await wait_for_call(stand_in, "agora_rtc_conn_send_stream_message")  # refused once: now backing off
        await transport.leave()
    assert len(outcome) == 1
    assert type(outcome[0]) is TransportClosedError  # before the fix: SendError
    assert "send_on_released_connection" not in stand_in.calls()


# --------------------------------------------------------------------- 7. no local user: the handle is freed


async def test_a_connection_without_local_user_is_destroyed(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("local_user_null", 1)  # RTCConnection.__init__ raises after agora_rtc_conn_create
    with pytest.raises(JoinError, match="local user"):
        await AgoraTransport(log_dir=tmp_path).join(PARAMS, timeout=10)
    calls = stand_in.calls()
    assert calls.count("agora_rtc_conn_create") == 1
    assert calls.count("agora_rtc_conn_destroy") == 1  # before the fix: 0


# ------------------------------------------------------------------------- 8. non-UTF-8 native strings


async def test_on_error_with_a_non_utf8_message_fails_the_join(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("connect_outcome", 2)
    stand_in.set("error_code", 110)
    stand_in.set("error_bad_utf8", 1)
    with pytest.raises(JoinError, match="error 110"):  # before the fix: a join timeout
        await AgoraTransport(log_dir=tmp_path).join(PARAMS, timeout=5)


async def test_non_utf8_senders_lose_no_event(stand_in: StandIn, tmp_path: Path) -> None:
    transport = await joined(tmp_path)
    events = transport.events()
    stand_in.fire_messages(b"\xffbot", b'{"seq":1}')
    stand_in.fire_stream_error(b"\xfebot", 117, 2, 1)
    stand_in.fire_messages("77", b'{"seq":2}')  # a marker: everything before it has been delivered
    received: list[TransportEvent] = []
    with anyio.fail_after(10):
        async for event in events:
            received.append(event)
            if event == FrameReceived("77", b'{"seq":2}'):
                break
    assert FrameReceived("\ufffdbot", b'{"seq":1}') in received
    assert MessagesLost("\ufffdbot", 117, 2, 1) in received
    assert transport.lost_callbacks == 0
    await transport.leave()


async def test_a_callback_that_fails_anyway_is_counted_and_its_frame_reported_lost(
    stand_in: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = await joined(tmp_path)
    events = transport.events()

    def broken_post(event: TransportEvent) -> None:
        raise RuntimeError("test: the hand-over to the loop failed")

    monkeypatch.setattr(transport._bridge, "post", broken_post)
    stand_in.fire_messages("77", b'{"seq":1}')
    with anyio.fail_after(10):
        async for event in events:
            if isinstance(event, MessagesLost):
                assert event == MessagesLost("", LOST_CALLBACK_CODE, 1, 0)
                break
    assert transport.lost_callbacks == 1
    await transport.leave()


# ------------------------------------------------------------------------------------ 9. the smaller ones


async def test_renew_token_honours_its_timeout(stand_in: StandIn, tmp_path: Path) -> None:
    transport = await joined(tmp_path)
    stand_in.set("renew_block", 1)
    safety = threading.Timer(3.0, stand_in.set, ("renew_block", 0))  # the code before the fix waited for it
    safety.start()
    try:
        with pytest.raises(TransportTimeoutError):
            await transport.renew_token("007new", timeout=0.2)
    finally:
        stand_in.set("renew_block", 0)
        safety.cancel()
    await transport.leave()
    assert stand_in.calls().count("agora_rtc_conn_destroy") == 1


async def test_a_second_app_id_says_one_process_serves_one_app_id(stand_in: StandIn, tmp_path: Path) -> None:
    first = await joined(tmp_path)
    other = JoinParams(app_id="f" * 32, channel="room-2", uid="1", token="t")
    with pytest.raises(JoinError) as info:
        await AgoraTransport(log_dir=tmp_path).join(other, timeout=10)
    assert "one process serves one Agora app id" in str(info.value)
    assert "process per app id" in str(info.value)
    await first.leave()


def test_no_thread_sees_an_unverified_default_tls_context_while_the_sdk_is_imported(
    native_site: Path, monkeypatch: pytest.MonkeyPatch, no_download: None
) -> None:
    """After each module the loader imports (the first runs the SDK's own ``agora/__init__.py``, which switches
    verification off process-wide), another thread looks at the default context factory."""
    purge_agora_modules()
    SHARED_SERVICE.release_all()
    monkeypatch.syspath_prepend(str(native_site))
    monkeypatch.setattr(ssl, "_create_default_https_context", ssl.create_default_context)
    real_import = importlib.import_module
    seen: list[str] = []

    def look() -> None:
        factory = ssl._create_default_https_context
        seen.append("unverified" if factory is ssl._create_unverified_context else "verified")

    def watched_import(name: str) -> Any:
        module = real_import(name)
        watcher = threading.Thread(target=look)
        watcher.start()
        watcher.join(10)
        return module

    monkeypatch.setattr(importlib, "import_module", watched_import)
    refused_before = _agora_sdk.REFUSED_TLS_DOWNGRADES
    try:
        _agora_sdk.load_agora()
    finally:
        monkeypatch.setattr(importlib, "import_module", real_import)
        purge_agora_modules()
    assert seen
    assert set(seen) == {"verified"}, seen
    assert _agora_sdk.REFUSED_TLS_DOWNGRADES > refused_before  # the SDK did try
    assert ssl._create_default_https_context is ssl.create_default_context
    assert type(ssl) is type(os)  # the ssl module is an ordinary module again


def test_preload_loads_the_sdk_before_any_join(
    native_site: Path, monkeypatch: pytest.MonkeyPatch, no_download: None
) -> None:
    from streamclient.transport.agora import preload

    purge_agora_modules()
    monkeypatch.syspath_prepend(str(native_site))
    try:
        assert preload() == "2.4.10"
        assert "agora.rtc.agora_service" in sys.modules
        assert _agora_sdk.load_agora() is _agora_sdk.load_agora()  # later joins reuse it
    finally:
        purge_agora_modules()
