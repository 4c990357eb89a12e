"""The hand-written fake SDK (``tests/transport/fake_agora``) against the real wrapper it stands for.

The fast unit tests run over the fake; these checks keep it honest: the same method names and parameter lists as
the real classes (observer bases, ``AgoraService``, ``RTCConnection``, ``LocalUser``), the same dataclass fields and
defaults, the same private names the adapter's NULL-safe connection observer uses (``RTCConnectionObserverInner``
and its ``_fields_``, ``RTCConnInfoInner``, ``agora_rtc_conn_register_observer``, ``con_observer_handle``), and the
same return values and types for one scripted sequence of calls, run once over the real wrapper (over each native
stand-in) and once over the fake.
"""

from __future__ import annotations

import ast
import ctypes
import dataclasses
import importlib
from pathlib import Path
from typing import Any

import pytest

from streamclient.transport._agora_sdk import load_agora
from streamclient.transport.agora import _register_connection_observer
from tests.transport.fake_agora import FAKE_PACKAGE, install_fake_agora, purge_agora_modules
from tests.transport.real_agora.harness import StandIn

#: Test helpers of the fake that the real classes do not have.
FAKE_ONLY = {"info", "_info_pointer", "_report_connect", "fire_connection", "deliver_stream_message"}


def _methods(path: Path, class_name: str) -> dict[str, list[str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name]
    return {node.name: [arg.arg for arg in node.args.args] for node in cls.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize(
    ("module", "class_name", "exact"),
    [
        ("rtc_connection_observer.py", "IRTCConnectionObserver", True),
        ("local_user_observer.py", "IRTCLocalUserObserver", True),
        ("agora_service.py", "AgoraService", False),
        ("rtc_connection.py", "RTCConnection", False),
        ("local_user.py", "LocalUser", False),
        ("_ctypes_handle/_rtc_connection_observer.py", "RTCConnectionObserverInner", False),
        ("_ctypes_handle/_ctypes_data.py", "RTCConnInfoInner", False),
    ],
)
def test_fake_classes_have_the_real_signatures(agora_sdist: Path, module: str, class_name: str, exact: bool) -> None:
    real = _methods(agora_sdist / "agora" / "rtc" / module, class_name)
    fake = {
        name: args
        for name, args in _methods(FAKE_PACKAGE / "rtc" / module, class_name).items()
        if name not in FAKE_ONLY
    }
    if exact:  # the observer bases are what our observers subclass: every callback must match
        assert fake == real
    else:  # the fake implements the subset the adapter uses, each exactly as the real one is declared
        assert fake, class_name
        for name, args in fake.items():
            assert name in real, f"{class_name}.{name} does not exist in the real SDK"
            assert args == real[name], f"{class_name}.{name}"


def _ctypes_fields(path: Path, class_name: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name]
    (fields,) = [
        node.value
        for node in cls.body
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["_fields_"]
    ]
    assert isinstance(fields, ast.List)
    return [ast.literal_eval(item.elts[0]) for item in fields.elts if isinstance(item, ast.Tuple)]


@pytest.mark.parametrize(
    ("module", "class_name"),
    [
        ("_ctypes_handle/_rtc_connection_observer.py", "RTCConnectionObserverInner"),
        ("_ctypes_handle/_ctypes_data.py", "RTCConnInfoInner"),
    ],
)
def test_fake_ctypes_structures_have_the_real_layout(agora_sdist: Path, module: str, class_name: str) -> None:
    """The adapter subclasses the connection-callback structure: its fields (the C layout) must be the real ones."""
    real = _ctypes_fields(agora_sdist / "agora" / "rtc" / module, class_name)
    assert real
    assert _ctypes_fields(FAKE_PACKAGE / "rtc" / module, class_name) == real


def test_fake_has_the_private_names_the_adapter_loads(
    stand_in: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the loader resolves for the NULL-safe observer is present in the real wrapper, and in the fake."""

    def private_names() -> dict[str, bool]:
        sdk = load_agora()
        return {
            "RTCConnectionObserverInner": sdk.RTCConnectionObserverInner is not None,
            "register_connection_observer": callable(sdk.register_connection_observer),
        }

    real = private_names()
    stand_in.wait_idle()
    purge_agora_modules()
    install_fake_agora(tmp_path, monkeypatch)
    assert private_names() == real == {"RTCConnectionObserverInner": True, "register_connection_observer": True}


@pytest.mark.parametrize(
    "class_name", ["AgoraServiceConfig", "RTCConnConfig", "RtcConnectionPublishConfig", "AudioSubscriptionOptions"]
)
def test_fake_dataclasses_have_the_real_fields_and_defaults(stand_in: StandIn, class_name: str) -> None:
    real_cls = getattr(importlib.import_module("agora.rtc.agora_base"), class_name)
    real = {field.name: field.default for field in dataclasses.fields(real_cls)}
    tree = ast.parse((FAKE_PACKAGE / "rtc" / "agora_base.py").read_text(encoding="utf-8"))
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name]
    fake_fields = [
        node.target.id for node in cls.body if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    ]
    assert set(fake_fields) <= set(real), set(fake_fields) - set(real)
    instance = real_cls()
    for name in fake_fields:
        assert hasattr(instance, name)


def _scenario(agora_base: Any, agora_service: Any, observer_base: Any) -> list[tuple[str, object]]:
    """Calls the adapter makes, and the edge cases it relies on; returns (step, value or type) in order."""
    seen: list[tuple[str, object]] = []
    cold = agora_service.AgoraService()
    seen.append(
        (
            "create_rtc_connection before initialize",
            cold.create_rtc_connection(agora_base.RTCConnConfig(), agora_base.RtcConnectionPublishConfig()),
        )
    )
    service = agora_service.AgoraService()
    result = service.initialize(agora_base.AgoraServiceConfig(appid="0123456789abcdef0123456789abcdef"))
    seen.append(("initialize", type(result)))
    seen.append(("inited", service.inited))
    conn = service.create_rtc_connection(
        agora_base.RTCConnConfig(),
        agora_base.RtcConnectionPublishConfig(
            is_publish_audio=False, audio_scenario=agora_base.AudioScenarioType.AUDIO_SCENARIO_DEFAULT
        ),
    )
    seen.append(("data stream id", type(conn._data_stream_id)))
    seen.append(("con_observer_handle before", conn.con_observer_handle))
    seen.append(("register_observer", conn.register_observer(observer_base[0]())))
    seen.append(("con_observer_handle", type(conn.con_observer_handle).__name__))
    seen.append(("NULL-safe registration", _register_connection_observer(load_agora(), conn, observer_base[0]())))
    seen.append(("con_observer_handle, NULL-safe", type(conn.con_observer_handle).__name__))
    seen.append(("register_local_user_observer", conn.register_local_user_observer(observer_base[1]())))
    seen.append(("send None", conn.send_stream_message(None)))
    seen.append(("send empty", conn.send_stream_message(b"")))
    seen.append(("send list", conn.send_stream_message([1])))
    try:
        conn.send_stream_message(42)  # len() comes first: not -1002 but TypeError
    except TypeError as exc:
        seen.append(("send int", type(exc)))
    seen.append(("send bytes", conn.send_stream_message(b"{}")))
    seen.append(("renew_token", type(conn.renew_token("007new"))))
    seen.append(("get_local_user is local_user", conn.get_local_user() is conn.local_user))
    seen.append(("disconnect", type(conn.disconnect())))
    seen.append(("release", conn.release()))
    seen.append(("local_user after release", conn.local_user))
    seen.append(("con_observer_handle after release", conn.con_observer_handle))
    seen.append(("register_local_user_observer after release", conn.register_local_user_observer(object())))
    seen.append(("service release", service.release()))
    seen.append(("inited after release", service.inited))
    return seen


def _run_scenario() -> list[tuple[str, object]]:
    base = importlib.import_module("agora.rtc.agora_base")
    service = importlib.import_module("agora.rtc.agora_service")
    conn_observer = importlib.import_module("agora.rtc.rtc_connection_observer").IRTCConnectionObserver
    user_observer = importlib.import_module("agora.rtc.local_user_observer").IRTCLocalUserObserver
    return _scenario(base, service, (conn_observer, user_observer))


def test_fake_returns_what_the_real_wrapper_returns(
    stand_in: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _run_scenario()
    stand_in.wait_idle()
    purge_agora_modules()
    install_fake_agora(tmp_path, monkeypatch)
    fake = _run_scenario()
    assert fake == real


def test_dead_stream_send_raises_argument_error_in_both(
    stand_in: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed data stream leaves ``_data_stream_id`` None; the ``c_int`` argtype then refuses it (real ctypes)."""

    def attempt() -> type[BaseException] | None:
        base = importlib.import_module("agora.rtc.agora_base")
        service = importlib.import_module("agora.rtc.agora_service").AgoraService()
        service.initialize(base.AgoraServiceConfig(appid="x"))
        conn = service.create_rtc_connection(
            base.RTCConnConfig(), base.RtcConnectionPublishConfig(is_publish_audio=False)
        )
        assert conn._data_stream_id is None
        try:
            conn.send_stream_message(b"{}")
        except ctypes.ArgumentError as exc:
            return type(exc)
        finally:
            conn.release()
            service.release()
        return None

    stand_in.set("stream_code", -1)
    real = attempt()
    stand_in.wait_idle()
    purge_agora_modules()
    control = install_fake_agora(tmp_path, monkeypatch)
    control.SCRIPT.dead_stream = True
    assert attempt() is real is ctypes.ArgumentError
