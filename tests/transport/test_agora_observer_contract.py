"""Our observer classes against the SDK's observer base classes: names, parameter lists, and real invocations.

The SDK calls observer methods positionally from its ctypes trampolines and swallows any exception, so a wrong
override signature silently loses every event (agora-python-sdk.md P8). These tests run over the hand-written fake;
``tests/transport/real_agora/test_fake_matches_real.py`` checks the fake against the real wrapper (fetched at test
time) and ``real_agora/test_agora_real_contract.py`` runs the adapter over the real wrapper itself.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from streamclient.transport import AgoraTransport
from streamclient.transport._agora_sdk import load_agora
from streamclient.transport._agora_service import SHARED_SERVICE
from streamclient.transport.agora import make_observer_classes
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

PARAMS = JoinParams(app_id="0123456789abcdef0123456789abcdef", channel="c", uid="42", token="t")


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    control = install_fake_agora(tmp_path, monkeypatch)
    yield control
    SHARED_SERVICE.release_all()
    purge_agora_modules()


def _overrides(cls: type[Any]) -> dict[str, Callable[..., Any]]:
    return {name: value for name, value in vars(cls).items() if name.startswith("on_")}


def test_observer_overrides_match_the_sdk_base_signatures(fake: Any) -> None:
    sdk = load_agora()
    connection_cls, user_cls = make_observer_classes(sdk)
    pairs = [(connection_cls, sdk.IRTCConnectionObserver), (user_cls, sdk.IRTCLocalUserObserver)]
    for ours, base in pairs:
        assert issubclass(ours, base)
        overrides = _overrides(ours)
        assert overrides, ours
        for name, method in overrides.items():
            assert hasattr(base, name), f"{name} is not an SDK callback"
            expected = list(inspect.signature(getattr(base, name)).parameters.values())
            actual = list(inspect.signature(method).parameters.values())
            assert [p.name for p in actual] == [p.name for p in expected], name
            assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in actual), name
            assert all(p.default is inspect.Parameter.empty for p in actual), name
    assert "on_stream_message" in _overrides(user_cls)
    assert len(inspect.signature(user_cls.on_stream_message).parameters) == 6  # self + 5 (local_user_observer.py:116)


#: callback -> (arguments after the connection, as the SDK's trampolines pass them; the event we expect)
CONNECTION_CALLS: dict[str, tuple[Callable[[Any], tuple[Any, ...]], TransportEvent | None]] = {
    "on_connected": (lambda c: (c.info(3), 1), ConnectionStateChanged(ConnectionState.CONNECTED, 1)),
    "on_connecting": (lambda c: (c.info(2), 0), ConnectionStateChanged(ConnectionState.CONNECTING, 0)),
    "on_reconnecting": (lambda c: (c.info(4), 2), ConnectionStateChanged(ConnectionState.RECONNECTING, 2)),
    "on_reconnected": (lambda c: (c.info(3), 12), ConnectionStateChanged(ConnectionState.CONNECTED, 12)),
    "on_connection_lost": (lambda c: (c.info(4),), ConnectionStateChanged(ConnectionState.RECONNECTING, 0)),
    "on_user_joined": (lambda c: ("77",), PeerJoined("77")),
    "on_user_left": (lambda c: ("77", 0), PeerLeft("77", 0)),
    "on_token_privilege_will_expire": (lambda c: ("007old",), TokenWillExpire()),
    "on_token_privilege_did_expire": (lambda c: (), TokenExpired()),
    "on_stream_message_error": (lambda c: ("77", 1, 117, 2, 1), MessagesLost("77", 117, 2, 1)),
    "on_aiqos_capability_missing": (lambda c: (10,), None),
    "on_error": (lambda c: (110, "invalid token"), None),  # after joining: logged only
    # Last: it ends the event stream once joined (an unrequested DISCONNECTED is checked in its own test below).
    "on_connection_failure": (lambda c: (c.info(5), 14), ConnectionStateChanged(ConnectionState.FAILED, 14)),
}


async def test_every_overridden_callback_is_called_with_the_sdks_argument_list(fake: Any, tmp_path: Path) -> None:
    sdk = load_agora()
    connection_cls, _ = make_observer_classes(sdk)
    assert set(_overrides(connection_cls)) == {*CONNECTION_CALLS, "on_disconnected"}  # a new override needs a row
    transport = AgoraTransport(log_dir=tmp_path / "logs")
    await transport.join(PARAMS, timeout=5)
    conn = fake.CONNECTIONS[-1]
    events = transport.events()
    await events.__anext__()  # CONNECTING from join
    await events.__anext__()  # CONNECTED from join
    for name, (arguments, expected) in CONNECTION_CALLS.items():
        conn.fire_connection(name, *arguments(conn)).join()
        if expected is None:
            continue
        with anyio.fail_after(5):
            assert await events.__anext__() == expected, name
    # The local-user observer: on_stream_message(local_user, user_id, stream_id, data, length) from a thread.
    thread = threading.Thread(target=conn.deliver_stream_message, args=("77", b'{"a":1}'))
    thread.start()
    thread.join()
    assert fake.CALLBACK_ERRORS == []
    await transport.leave()
    # Delivered after the FAILED state ended the stream? No: FAILED closed it, so the frame was dropped.
    assert [event async for event in events] == []


async def test_unrequested_on_disconnected_ends_the_events(fake: Any, tmp_path: Path) -> None:
    transport = AgoraTransport(log_dir=tmp_path / "logs")
    await transport.join(PARAMS, timeout=5)
    conn = fake.CONNECTIONS[-1]
    conn.fire_connection("on_disconnected", conn.info(1), 2).join()
    with anyio.fail_after(5):
        events = [event async for event in transport.events()]
    assert events[-1] == ConnectionStateChanged(ConnectionState.DISCONNECTED, 2)
    assert fake.CALLBACK_ERRORS == []
    await transport.leave()


async def test_on_stream_message_arrives_as_a_frame(fake: Any, tmp_path: Path) -> None:
    transport = AgoraTransport(log_dir=tmp_path / "logs")
    await transport.join(PARAMS, timeout=5)
    conn = fake.CONNECTIONS[-1]
    thread = threading.Thread(target=conn.deliver_stream_message, args=("77", b'{"a":1}'))
    thread.start()
    thread.join()
    with anyio.fail_after(5):
        async for event in transport.events():
            if isinstance(event, FrameReceived):
                assert event == FrameReceived("77", b'{"a":1}')
                break
    assert fake.CALLBACK_ERRORS == []
    await transport.leave()


def test_aiqos_callback_declines_the_scenario_change(fake: Any) -> None:
    connection_cls, _ = make_observer_classes(load_agora())
    observer = object.__new__(connection_cls)
    assert fake.invoke(observer.on_aiqos_capability_missing, object(), 10) == -1


def test_a_wrong_arity_observer_loses_its_events_in_the_fake(fake: Any) -> None:
    """The fake calls with the SDK's real arity: a 4-argument on_stream_message fails, as it would in the SDK."""
    sdk = load_agora()
    received: list[bytes] = []

    base: Any = sdk.IRTCLocalUserObserver

    class WrongArity(base):  # type: ignore[misc]
        def on_stream_message(self, agora_local_user: Any, user_id: str, data: bytes, length: int) -> None:
            received.append(data)

    service = sdk.AgoraService()
    service.initialize(sdk.AgoraServiceConfig(appid="x"))
    conn = service.create_rtc_connection(sdk.RTCConnConfig(), sdk.RtcConnectionPublishConfig())
    assert conn.register_local_user_observer(WrongArity()) == 0
    thread = threading.Thread(target=conn.deliver_stream_message, args=("77", b"{}"))
    thread.start()
    thread.join()
    assert received == []
    assert len(fake.CALLBACK_ERRORS) == 1
    assert isinstance(fake.CALLBACK_ERRORS[0], TypeError)
