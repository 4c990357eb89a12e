"""AgoraTransport against the faithful fake SDK: join, events, sends, tokens, leave, and the shared service."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from streamclient.errors import (
    FrameTooLargeError,
    InvalidArgumentError,
    JoinError,
    SendError,
    SendRateLimitedError,
    TransportClosedError,
    TransportError,
    TransportOverflowError,
    TransportTimeoutError,
    TransportUnavailableError,
)
from streamclient.transport import AgoraTransport, Transport, _agora_sdk
from streamclient.transport._agora_service import SHARED_SERVICE
from streamclient.transport.agora import CORRUPT_FRAME_CODE, send_error_for_code
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    MessagesLost,
    PeerJoined,
    PeerLeft,
    TokenExpired,
    TokenWillExpire,
    TransportEvent,
)
from tests.transport.fake_agora import install_fake_agora, purge_agora_modules

E = TypeVar("E")

TOKEN = "007eJxSECRET-TOKEN-VALUE"
PARAMS = JoinParams(app_id="0123456789abcdef0123456789abcdef", channel="room-1", uid="1234", token=TOKEN)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    site = tmp_path / "site"
    site.mkdir()
    control = install_fake_agora(site, monkeypatch)
    yield control
    SHARED_SERVICE.release_all()
    purge_agora_modules()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


async def next_of(events: AsyncIterator[TransportEvent], kind: type[E]) -> E:
    with anyio.fail_after(5):
        async for event in events:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"the events ended before a {kind.__name__}")


async def drain(events: AsyncIterator[TransportEvent]) -> list[TransportEvent]:
    with anyio.fail_after(5):
        return [event async for event in events]


async def joined(fake: Any, log_dir: Path, **kwargs: Any) -> tuple[AgoraTransport, Any]:
    transport = AgoraTransport(log_dir=log_dir, **kwargs)
    await transport.join(PARAMS, timeout=5)
    return transport, fake.CONNECTIONS[-1]


# --------------------------------------------------------------------------------------------------- join


async def test_join_success_configures_a_data_only_broadcaster(fake: Any, log_dir: Path) -> None:
    fake.SCRIPT.assigned_uid = "98765"
    transport = AgoraTransport(log_dir=log_dir)
    assert isinstance(transport, Transport)
    initial_uid: str | None = transport.local_uid
    assert initial_uid is None
    await transport.join(PARAMS, timeout=5)
    conn = fake.CONNECTIONS[-1]
    assert transport.local_uid == "98765"
    assert conn.calls[:3] == ["agora_rtc_conn_register_observer", "register_local_user_observer", "connect"]
    assert (conn.channel, conn.user_id) == ("room-1", "1234")
    config, publish = conn.conn_config, conn.publish_config
    assert config.client_role_type == 1
    assert config.channel_profile == 1
    assert (config.auto_subscribe_audio, config.auto_subscribe_video) == (0, 0)
    assert publish.is_publish_audio is False
    assert publish.is_publish_video is False
    assert publish.audio_scenario != 9  # not AUDIO_SCENARIO_AI_SERVER (P4)
    events = transport.events()
    assert await next_of(events, ConnectionStateChanged) == ConnectionStateChanged(ConnectionState.CONNECTING, 0)
    assert await next_of(events, ConnectionStateChanged) == ConnectionStateChanged(ConnectionState.CONNECTED, 1)
    await transport.leave()
    assert conn.calls[-2:] == ["disconnect", "release"]


async def test_join_registers_the_null_safe_observer_without_a_warning(
    fake: Any, log_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="streamclient.transport.agora")
    transport, conn = await joined(fake, log_dir)
    assert type(conn.con_observer_handle).__name__ == "NullSafeConnectionObserverInner"
    assert "register_observer" not in conn.calls  # the SDK's own trampolines are not used
    assert not [r for r in caplog.records if "NULL-safe" in r.getMessage()]
    await transport.leave()


@pytest.mark.parametrize("outcome", ["failure", "disconnected"])
async def test_a_failure_reported_with_null_strings_is_a_join_error(fake: Any, log_dir: Path, outcome: str) -> None:
    # The native SDK reports NULL channel_id/local_user_id before the channel is known; the SDK's own trampoline
    # raises on them and the failure would be lost (the join would time out).
    fake.SCRIPT.on_connect = outcome
    fake.SCRIPT.null_strings = True
    fake.SCRIPT.fail_reason = 7
    transport = AgoraTransport(log_dir=log_dir)
    with pytest.raises(JoinError) as info:
        await transport.join(PARAMS, timeout=5)
    assert info.value.reason == 7
    assert fake.CALLBACK_ERRORS == []
    await transport.leave()


async def test_an_sdk_without_the_private_names_falls_back_to_register_observer_with_a_warning(
    fake: Any, log_dir: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_sdk = _agora_sdk._import_sdk

    def without_private_names(version: str) -> Any:
        sdk = import_sdk(version)
        return dataclasses.replace(sdk, RTCConnectionObserverInner=None, register_connection_observer=None)

    monkeypatch.setattr(_agora_sdk, "_import_sdk", without_private_names)
    caplog.set_level(logging.WARNING, logger="streamclient.transport.agora")
    transport, conn = await joined(fake, log_dir)
    assert conn.calls[:2] == ["register_observer", "agora_rtc_conn_register_observer"]
    assert type(conn.con_observer_handle).__name__ == "RTCConnectionObserverInner"  # the SDK's own trampolines
    (warning,) = [r for r in caplog.records if "NULL-safe" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert "lacks the private names" in warning.getMessage()
    events = transport.events()
    assert await next_of(events, ConnectionStateChanged) == ConnectionStateChanged(ConnectionState.CONNECTING, 0)
    assert await next_of(events, ConnectionStateChanged) == ConnectionStateChanged(ConnectionState.CONNECTED, 1)
    conn.fire_connection("on_user_joined", "555").join()
    assert await next_of(events, PeerJoined) == PeerJoined("555")
    assert fake.CALLBACK_ERRORS == []
    await transport.leave()


async def test_local_uid_falls_back_to_the_requested_uid(fake: Any, log_dir: Path) -> None:
    transport, _ = await joined(fake, log_dir)
    assert transport.local_uid == "1234"
    await transport.leave()


@pytest.mark.parametrize("outcome", ["failure", "disconnected"])
async def test_join_failure_invalid_token_raises_join_error(fake: Any, log_dir: Path, outcome: str) -> None:
    fake.SCRIPT.on_connect = outcome
    fake.SCRIPT.fail_reason = 8
    transport = AgoraTransport(log_dir=log_dir)
    with pytest.raises(JoinError) as info:
        await transport.join(PARAMS, timeout=5)
    assert info.value.reason == 8
    assert "invalid token" in str(info.value)
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(PARAMS)
    conn = fake.CONNECTIONS[-1]
    assert conn.calls[-2:] == ["disconnect", "release"]
    await transport.leave()  # safe after a failed join
    await transport.leave()


async def test_join_refused_by_connect_code(fake: Any, log_dir: Path) -> None:
    fake.SCRIPT.connect_code = -2
    transport = AgoraTransport(log_dir=log_dir)
    with pytest.raises(JoinError, match="code -2"):
        await transport.join(PARAMS, timeout=5)
    assert fake.CONNECTIONS[-1].calls[-1] == "release"


async def test_observer_registration_failure_raises_join_error(fake: Any, log_dir: Path) -> None:
    fake.SCRIPT.register_code = -7
    with pytest.raises(JoinError, match="register"):
        await AgoraTransport(log_dir=log_dir).join(PARAMS, timeout=5)
    assert fake.CONNECTIONS[-1].calls[-1] == "release"


async def test_join_timeout_raises_and_releases(fake: Any, log_dir: Path) -> None:
    fake.SCRIPT.on_connect = "silent"
    transport = AgoraTransport(log_dir=log_dir)
    with pytest.raises(TransportTimeoutError):
        await transport.join(PARAMS, timeout=0.2)
    assert fake.CONNECTIONS[-1].calls[-2:] == ["disconnect", "release"]
    assert await drain(transport.events()) == []  # "silent": the SDK never reported anything
    await transport.leave()


async def test_cancellation_during_join_releases_the_connection(fake: Any, log_dir: Path) -> None:
    fake.SCRIPT.on_connect = "silent"
    transport = AgoraTransport(log_dir=log_dir)
    async with anyio.create_task_group() as group:
        group.start_soon(transport.join, PARAMS)
        with anyio.fail_after(5):
            await anyio.to_thread.run_sync(fake.SCRIPT.connect_called.wait)
        group.cancel_scope.cancel()
    assert fake.CONNECTIONS[-1].calls[-2:] == ["disconnect", "release"]
    await transport.leave()
    with pytest.raises(TransportClosedError):
        await transport.send(b"x")


async def test_a_transport_joins_once(fake: Any, log_dir: Path) -> None:
    transport, _ = await joined(fake, log_dir)
    with pytest.raises(TransportClosedError):
        await transport.join(PARAMS)
    await transport.leave()


async def test_service_not_inited_is_unavailable(fake: Any, log_dir: Path) -> None:
    fake.SCRIPT.init_ok = False  # initialize() still returns 0: only .inited tells (P2)
    with pytest.raises(TransportUnavailableError, match="did not initialise"):
        await AgoraTransport(log_dir=log_dir).join(PARAMS, timeout=5)
    assert fake.CONNECTIONS == []


async def test_sdk_absent_join_raises_unavailable(log_dir: Path) -> None:
    purge_agora_modules()
    with pytest.raises(TransportUnavailableError, match=r"streamclient\[agora\]"):
        await AgoraTransport(log_dir=log_dir).join(PARAMS, timeout=5)


# ------------------------------------------------------------------------------------------ shared service


async def test_one_service_initialised_once_for_many_connections(fake: Any, log_dir: Path) -> None:
    transports = [AgoraTransport(log_dir=log_dir) for _ in range(6)]
    async with anyio.create_task_group() as group:
        for transport in transports:
            group.start_soon(transport.join, PARAMS)
    assert len(fake.INITIALIZE_CALLS) == 1
    assert len(fake.SERVICES) == 1
    assert len(fake.CONNECTIONS) == 6
    config = fake.INITIALIZE_CALLS[0]
    assert config.appid == PARAMS.app_id
    assert config.use_string_uid == 0
    for transport in transports:
        await transport.leave()
    assert fake.SERVICES[0].inited  # the service outlives the connections ...
    SHARED_SERVICE.release_all()  # ... until interpreter exit (registered with atexit)
    assert fake.SERVICES[0].released


async def test_exit_releases_leftover_connections_before_the_service(fake: Any, log_dir: Path) -> None:
    await joined(fake, log_dir)
    SHARED_SERVICE.release_all()
    assert fake.CONNECTIONS[0].calls[-2:] == ["disconnect", "release"]
    assert fake.SERVICES[0].released


async def test_another_app_id_in_the_same_process_is_refused(fake: Any, log_dir: Path) -> None:
    first, _ = await joined(fake, log_dir)
    other = JoinParams(app_id="f" * 32, channel="room-2", uid="1", token="t")
    with pytest.raises(JoinError, match="another app id"):
        await AgoraTransport(log_dir=log_dir).join(other, timeout=5)
    await first.leave()


# --------------------------------------------------------------------------------------------- events


async def test_peer_token_and_loss_events(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    events = transport.events()
    conn.fire_connection("on_user_joined", "555")
    assert await next_of(events, PeerJoined) == PeerJoined("555")
    conn.fire_connection("on_user_left", "555", 1)
    assert await next_of(events, PeerLeft) == PeerLeft("555", 1)
    conn.fire_connection("on_token_privilege_will_expire", TOKEN)
    assert await next_of(events, TokenWillExpire) == TokenWillExpire()
    conn.fire_connection("on_token_privilege_did_expire")
    assert await next_of(events, TokenExpired) == TokenExpired()
    conn.fire_connection("on_stream_message_error", "555", 1, 117, 3, 0)
    assert await next_of(events, MessagesLost) == MessagesLost("555", 117, 3, 0)
    conn.fire_connection("on_reconnecting", conn.info(4), 2)
    assert await next_of(events, ConnectionStateChanged) == ConnectionStateChanged(ConnectionState.RECONNECTING, 2)
    assert fake.CALLBACK_ERRORS == []
    await transport.leave()


async def test_stream_message_becomes_frame_received(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    events = transport.events()
    thread = threading.Thread(target=conn.deliver_stream_message, args=("555", '{"v":2,"t":"é"}'.encode()))
    thread.start()
    assert await next_of(events, FrameReceived) == FrameReceived("555", '{"v":2,"t":"é"}'.encode())
    thread.join()
    assert fake.CALLBACK_ERRORS == []
    await transport.leave()


async def test_frame_with_nul_is_counted_as_corrupt_and_logged(
    fake: Any, log_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport, conn = await joined(fake, log_dir)
    thread = threading.Thread(target=conn.deliver_stream_message, args=("555", b"a\x00b"))
    thread.start()
    thread.join()
    events = transport.events()
    assert await next_of(events, MessagesLost) == MessagesLost("555", CORRUPT_FRAME_CODE, 1, 0)
    assert transport.corrupt_frames == 1
    assert "NUL" in caplog.text
    await transport.leave()
    assert [event for event in await drain(events) if isinstance(event, FrameReceived)] == []


async def test_failed_connection_ends_the_events(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    conn.fire_connection("on_connection_failure", conn.info(5), 14).join()
    events = await drain(transport.events())
    assert events[-1] == ConnectionStateChanged(ConnectionState.FAILED, 14)
    with pytest.raises(TransportClosedError):
        await transport.send(b"x")
    await transport.leave()


async def test_burst_from_several_threads_loses_nothing(fake: Any, log_dir: Path) -> None:
    senders, per_sender = 4, 2500
    transport, conn = await joined(fake, log_dir, event_capacity=senders * per_sender + 16)
    events = transport.events()

    def burst(sender: str) -> None:
        for index in range(per_sender):
            conn.deliver_stream_message(sender, f'{{"n":{index}}}'.encode())

    threads = [threading.Thread(target=burst, args=(f"u{n}",)) for n in range(senders)]
    for thread in threads:
        thread.start()
    received: dict[str, list[bytes]] = {f"u{n}": [] for n in range(senders)}
    with anyio.fail_after(20):
        while sum(map(len, received.values())) < senders * per_sender:
            event = await events.__anext__()
            if isinstance(event, FrameReceived):
                received[event.sender].append(event.data)
    for thread in threads:
        thread.join()
    for frames in received.values():  # per sender, nothing lost and in order
        assert frames == [f'{{"n":{index}}}'.encode() for index in range(per_sender)]
    assert fake.CALLBACK_ERRORS == []
    await transport.leave()


async def test_overflow_fails_the_transport_after_the_buffered_events(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir, event_capacity=8)
    events = transport.events()
    await next_of(events, ConnectionStateChanged)  # CONNECTING
    await next_of(events, ConnectionStateChanged)  # CONNECTED: the buffer is empty now
    thread = threading.Thread(target=lambda: [conn.deliver_stream_message("7", b"%d" % n) for n in range(20)])
    thread.start()
    thread.join()
    received: list[TransportEvent] = []

    async def consume() -> None:
        async for event in events:
            received.append(event)

    with anyio.fail_after(5), pytest.raises(TransportOverflowError):
        await consume()
    assert [event.data for event in received if isinstance(event, FrameReceived)] == [b"%d" % n for n in range(8)]
    with pytest.raises(TransportClosedError, match="overflowed"):
        await transport.send(b"x")
    await transport.leave()


async def test_telemetry_overflow_is_dropped_and_counted(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir, event_capacity=3)
    # CONNECTING + CONNECTED fill 2 of 3 slots; the third takes one MessagesLost, the rest are dropped.
    for _ in range(4):
        conn.fire_connection("on_stream_message_error", "5", 1, 117, 1, 0).join()
    await transport.send(b"still usable")
    await transport.leave()
    events = await drain(transport.events())
    assert sum(isinstance(event, MessagesLost) for event in events) == 1


# ----------------------------------------------------------------------------------------------- send


async def test_send_passes_bytes_to_the_sdk(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    await transport.send(b"one")
    await transport.send(bytearray(b"two"))  # type: ignore[arg-type]
    await transport.send(memoryview(b"three"))  # type: ignore[arg-type]
    await transport.send("é".encode() * 512)
    assert conn.sent == [b"one", b"two", b"three", "é".encode() * 512]
    assert all(type(item) is bytes for item in conn.sent)
    await transport.leave()


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (-12, SendRateLimitedError),
        (-115, SendRateLimitedError),
        (-114, FrameTooLargeError),
        (-116, SendError),
        (-5, SendError),
        (-1002, SendError),
    ],
)
async def test_send_error_codes_are_mapped(fake: Any, log_dir: Path, code: int, error: type[TransportError]) -> None:
    transport, _ = await joined(fake, log_dir)
    fake.SCRIPT.send_codes = [code]
    with pytest.raises(error) as info:
        await transport.send(b"frame")
    assert type(info.value) is error
    if isinstance(info.value, SendError):
        assert info.value.code == code
    await transport.leave()


@pytest.mark.parametrize("code", [-113, 113])
def test_not_in_channel_maps_to_closed(code: int) -> None:
    assert type(send_error_for_code(code)) is TransportClosedError


@pytest.mark.parametrize("code", [-113, 113])
async def test_not_in_channel_is_retried_then_closed(fake: Any, log_dir: Path, code: int) -> None:
    transport, conn = await joined(fake, log_dir)
    fake.SCRIPT.send_codes = [code, code]
    await transport.send(b"frame")  # retried with back-off: the third attempt goes through
    assert conn.sent == [b"frame"]
    fake.SCRIPT.send_codes = [code] * 10_000
    with pytest.raises(TransportClosedError, match="not in the channel"):
        await transport.send(b"frame", timeout=0.3)
    assert 10_000 - len(fake.SCRIPT.send_codes) <= 6  # backed off (0.05 s doubling), never a busy loop
    await transport.leave()


async def test_dead_stream_fails_the_join(fake: Any, log_dir: Path) -> None:
    fake.SCRIPT.dead_stream = True
    with pytest.raises(JoinError, match="data stream"):
        await AgoraTransport(log_dir=log_dir).join(PARAMS, timeout=5)
    assert fake.CONNECTIONS[-1].calls[-1] == "release"


@pytest.mark.parametrize("data", ["text", b"", 42, None])
async def test_bad_frames_are_refused_before_the_sdk(fake: Any, log_dir: Path, data: Any) -> None:
    transport, conn = await joined(fake, log_dir)
    with pytest.raises(InvalidArgumentError):
        await transport.send(data)
    assert conn.sent == []
    await transport.leave()


async def test_oversized_frame_is_refused_before_the_sdk(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    await transport.send(b"x" * 1024)
    with pytest.raises(FrameTooLargeError) as info:
        await transport.send(b"x" * 1025)
    assert info.value.code == -114
    assert conn.sent == [b"x" * 1024]
    await transport.leave()


async def test_sdk_calls_are_serialised_per_connection(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    fake.SCRIPT.send_delay = 0.01
    async with anyio.create_task_group() as group:
        for index in range(8):
            group.start_soon(transport.send, b"%d" % index)
    assert sorted(conn.sent) == sorted(b"%d" % index for index in range(8))
    assert conn.max_concurrent_calls == 1
    await transport.leave()


async def test_send_before_join_and_after_leave_is_closed(fake: Any, log_dir: Path) -> None:
    transport = AgoraTransport(log_dir=log_dir)
    with pytest.raises(TransportClosedError):
        await transport.send(b"x")
    await transport.join(PARAMS, timeout=5)
    await transport.leave()
    with pytest.raises(TransportClosedError):
        await transport.send(b"x")


# ---------------------------------------------------------------------------------------------- token


async def test_renew_token(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    await transport.renew_token("007new-token")
    assert conn.renewed == ["007new-token"]
    fake.SCRIPT.renew_code = -110
    with pytest.raises(TransportError, match="-110") as info:
        await transport.renew_token("007bad-token")
    assert "007bad-token" not in str(info.value)
    with pytest.raises(InvalidArgumentError):
        await transport.renew_token("")
    await transport.leave()
    with pytest.raises(TransportClosedError):
        await transport.renew_token("007late")


# ---------------------------------------------------------------------------------------------- leave


async def test_leave_twice_ends_the_events(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    events = transport.events()
    await transport.leave()
    await transport.leave()
    assert conn.calls.count("disconnect") == 1
    assert conn.calls.count("release") == 1
    assert [type(event) for event in await drain(events)] == [ConnectionStateChanged, ConnectionStateChanged]


async def test_leave_before_join_is_a_no_op(log_dir: Path) -> None:
    transport = AgoraTransport(log_dir=log_dir)
    await transport.leave()
    assert await drain(transport.events()) == []


async def test_callbacks_after_leave_are_dropped(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    connection_observer = conn._con_observer
    user_observer = conn.local_user.user_observer
    await transport.leave()
    # The SDK may still call observers it held on to (e.g. the on_disconnected it reports after disconnect()).
    threads = [
        fake.fire(connection_observer.on_user_joined, conn, "9"),
        fake.fire(user_observer.on_stream_message, None, "9", 1, b"late", 4),
        fake.fire(connection_observer.on_connected, conn, conn.info(3), 1),
    ]
    for thread in threads:
        thread.join()
    events = await drain(transport.events())
    assert not any(isinstance(event, FrameReceived | PeerJoined) for event in events)
    assert fake.CALLBACK_ERRORS == []


async def test_a_callback_racing_leave_neither_raises_nor_deadlocks(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir, event_capacity=20_000)
    user_observer = conn.local_user.user_observer
    stop = threading.Event()

    def spam() -> None:
        for _ in range(5000):  # bounded, so the buffer cannot overflow whatever the scheduling
            if stop.is_set():
                return
            fake.invoke(user_observer.on_stream_message, None, "9", 1, b"{}", 2)

    threads = [threading.Thread(target=spam) for _ in range(3)]
    for thread in threads:
        thread.start()
    events = transport.events()
    await next_of(events, FrameReceived)
    with anyio.fail_after(5):
        await transport.leave()
    stop.set()
    for thread in threads:
        thread.join()
    await drain(events)
    assert fake.CALLBACK_ERRORS == []


async def test_leave_is_shielded_from_cancellation(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await transport.leave()
    assert conn.calls[-2:] == ["disconnect", "release"]


async def test_leave_timeout_raises_and_continues_in_background(fake: Any, log_dir: Path) -> None:
    transport, conn = await joined(fake, log_dir)
    gate, released = threading.Event(), threading.Event()
    original_disconnect, original_release = conn.disconnect, conn.release

    def slow_disconnect() -> int:
        gate.wait(5)
        return int(original_disconnect())

    def release() -> None:
        original_release()
        released.set()

    conn.disconnect, conn.release = slow_disconnect, release
    with pytest.raises(TransportTimeoutError):
        await transport.leave(timeout=0.05)
    await transport.leave()  # second call: no error
    assert await drain(transport.events())  # the consumer's iteration ended anyway
    gate.set()
    with anyio.fail_after(5):
        await anyio.to_thread.run_sync(released.wait)
    assert conn.calls[-2:] == ["disconnect", "release"]
