"""The ten failures issue 11 found by running the adapter over the SDK's real wrapper, one test (or more) each."""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamclient.errors import JoinError, TransportTimeoutError, TransportUnavailableError
from streamclient.transport import AgoraTransport
from streamclient.transport._agora_sdk import load_agora
from streamclient.transport._agora_service import SHARED_SERVICE, default_log_dir
from streamclient.transport.base import JoinParams
from tests.transport.fake_agora import purge_agora_modules
from tests.transport.real_agora.harness import EXPECTED_URLS, PythonStandIn, StandIn, expected_url, make_site

APP_ID = "0123456789abcdef0123456789abcdef"
PARAMS = JoinParams(app_id=APP_ID, channel="room-1", uid="42", token="007token")


# ---------------------------------------------------------------- 1. version.txt compared as the SDK compares it


@pytest.fixture
def fresh_native_site(
    tmp_path: Path,
    agora_sdist: Path,
    native_libs: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    no_download: None,
) -> Iterator[Path]:
    purge_agora_modules()
    SHARED_SERVICE.release_all()
    site = make_site(tmp_path / "site", agora_sdist, *native_libs)
    monkeypatch.syspath_prepend(str(site))
    yield site
    SHARED_SERVICE.release_all()
    purge_agora_modules()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{url}\n", "trailing newline"),
        ("{url}-older", "another URL"),
        ("", "empty"),
    ],
)
def test_version_txt_the_sdk_would_reject_is_refused_before_it_deletes_the_library(
    fresh_native_site: Path, content: str, problem: str
) -> None:
    package = fresh_native_site / "agora"
    (package / "version.txt").write_text(content.format(url=expected_url()), newline="")
    with pytest.raises(TransportUnavailableError, match=r"version\.txt") as info:
        load_agora()
    assert "agora" not in sys.modules, problem  # refused before the SDK's import ran
    assert (package / "agora_sdk" / "libagora_rtc_sdk.so").is_file()  # the SDK would have rm -rf'd it
    assert "download" in str(info.value)


def test_matching_version_txt_imports_the_real_package_over_the_native_stand_in(fresh_native_site: Path) -> None:
    sdk = load_agora()
    assert sdk.version == "2.4.10"
    assert sys.modules["agora"].__file__ == str(fresh_native_site / "agora" / "__init__.py")  # the SDK's own


@pytest.mark.parametrize(
    ("system", "machine", "key"),
    [
        ("linux", "x86_64", ("linux", "x86_64")),
        ("linux", "aarch64", ("linux", "aarch64")),
        ("darwin", "arm64", ("darwin", "*")),
    ],
)
def test_expected_url_is_read_from_the_installed_sdk(
    agora_sdist: Path, monkeypatch: pytest.MonkeyPatch, system: str, machine: str, key: tuple[str, str]
) -> None:
    from streamclient.transport._agora_sdk import expected_native_url

    monkeypatch.setattr(sys, "platform", system)
    monkeypatch.setattr(platform, "machine", lambda: machine)
    assert expected_native_url(agora_sdist / "agora" / "__init__.py") == EXPECTED_URLS[key]


# ----------------------------------------------------------------------- 2. TLS verification after racing loads


def test_two_first_loads_at_once_leave_tls_verification_on(
    native_site: Path, monkeypatch: pytest.MonkeyPatch, no_download: None
) -> None:
    """The SDK's import switches TLS verification off; two loaders racing must not restore each other's view of it.

    The interleaving that loses: A imports (verification off), B saves the context (off), A restores (on), B restores
    (off). The hooks below force it whenever B is not held back while A loads.
    """
    purge_agora_modules()
    monkeypatch.syspath_prepend(str(native_site))
    original = ssl._create_default_https_context
    monkeypatch.setattr(ssl, "_create_default_https_context", original)  # restored even if this test fails
    real_import = importlib.import_module
    first_imported, second_entered, first_done = threading.Event(), threading.Event(), threading.Event()
    first_thread: list[threading.Thread] = []

    def interleaving_import(name: str) -> Any:
        if threading.current_thread() is not first_thread[0]:
            second_entered.set()
            first_done.wait(30)  # B restores only after A has
            return real_import(name)
        module = real_import(name)
        if not first_imported.is_set():
            first_imported.set()  # the SDK's import has switched TLS verification off by now
            second_entered.wait(1)  # a second loader that is not held back enters its import meanwhile
        return module

    monkeypatch.setattr(importlib, "import_module", interleaving_import)  # what the loader calls
    errors: list[BaseException] = []

    def load(done: threading.Event | None) -> None:
        try:
            load_agora()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            if done is not None:
                done.set()

    a = threading.Thread(target=load, args=(first_done,))
    first_thread.append(a)
    a.start()
    assert first_imported.wait(30)
    b = threading.Thread(target=load, args=(None,))
    b.start()
    a.join(30)
    b.join(30)
    assert errors == []
    assert ssl._create_default_https_context is original
    purge_agora_modules()


# ------------------------------------------------------------------------- 3. typed errors, no leaked service


async def test_failed_initialise_is_unavailable_and_the_service_is_reused(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("init_code", -7)
    stand_in.set("parameter_null", 1)  # what a failed initialise returns: initialize() then raises AttributeError
    with pytest.raises(TransportUnavailableError, match="initialise"):
        await AgoraTransport(log_dir=tmp_path).join(PARAMS, timeout=10)
    stand_in.set("init_code", 0)
    stand_in.set("parameter_null", 0)
    transport = AgoraTransport(log_dir=tmp_path)
    await transport.join(PARAMS, timeout=10)
    await transport.leave()
    assert stand_in.calls().count("agora_service_create") == 1  # one native service per process


async def test_no_local_user_is_a_join_error(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("local_user_null", 1)
    with pytest.raises(JoinError, match="local user"):
        await AgoraTransport(log_dir=tmp_path).join(PARAMS, timeout=10)


async def test_no_connection_is_a_join_error(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("conn_null", 1)
    with pytest.raises(JoinError, match="could not create a connection"):
        await AgoraTransport(log_dir=tmp_path).join(PARAMS, timeout=10)


# -------------------------------------------------------------------- 4. NULL strings, on_error, timeout message


async def test_failure_reported_with_null_strings_is_a_join_error(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("connect_outcome", 1)
    stand_in.set("connect_null_strings", 1)  # channel_id and local_user_id are NULL before the channel is known
    stand_in.set("fail_reason", 7)
    with pytest.raises(JoinError) as info:
        await AgoraTransport(log_dir=tmp_path).join(PARAMS, timeout=10)
    assert info.value.reason == 7


@pytest.mark.parametrize("code", [101, 102, 109, 110])
@pytest.mark.parametrize("null_message", [False, True])
async def test_on_error_fails_the_join(stand_in: StandIn, tmp_path: Path, code: int, null_message: bool) -> None:
    stand_in.set("connect_outcome", 2)
    stand_in.set("error_code", code)
    stand_in.set("connect_null_strings", int(null_message))
    with pytest.raises(JoinError, match=f"error {code}"):
        await AgoraTransport(log_dir=tmp_path).join(PARAMS, timeout=10)


async def test_join_timeout_points_at_the_sdk_log(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("connect_outcome", 3)  # the SDK never reports
    with pytest.raises(TransportTimeoutError) as info:
        await AgoraTransport(log_dir=tmp_path / "agora-logs").join(PARAMS, timeout=0.5)
    assert str(tmp_path / "agora-logs") in str(info.value)


# ----------------------------------------------------------------------------------- 6. the dead data stream


async def test_failed_data_stream_fails_the_join(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.set("stream_code", -116)
    with pytest.raises(JoinError, match="data stream"):
        await AgoraTransport(log_dir=tmp_path).join(PARAMS, timeout=10)
    assert "agora_rtc_conn_connect" not in stand_in.calls()
    assert "agora_rtc_conn_destroy" in stand_in.calls()


# -------------------------------------------------------------------- 7. release order and callback lifetimes


async def test_media_node_factory_is_released_before_the_service(stand_in: StandIn, tmp_path: Path) -> None:
    transport = AgoraTransport(log_dir=tmp_path)
    await transport.join(PARAMS, timeout=10)
    await transport.leave()
    SHARED_SERVICE.release_all()
    calls = stand_in.calls()
    assert calls.index("agora_media_node_factory_destroy") < calls.index("agora_service_release")


async def test_callback_structures_outlive_release(python_stand_in: PythonStandIn, tmp_path: Path) -> None:
    transport = AgoraTransport(log_dir=tmp_path)
    await transport.join(PARAMS, timeout=10)
    await transport.leave()
    assert python_stand_in.lib.alive_at_destroy == [True, True]  # connection and local-user observer structures


# ----------------------------------------------------------------------------------------------- 9. uid mode


@pytest.mark.parametrize(
    ("uid", "string_mode"),
    [("", 0), ("0", 0), ("42", 0), ("4294967295", 0), ("4294967296", 1), ("\u0664\u0662", 1), ("bot-1", 1), ("+1", 1)],
)
async def test_uid_mode(stand_in: StandIn, tmp_path: Path, uid: str, string_mode: int) -> None:
    transport = AgoraTransport(log_dir=tmp_path)
    await transport.join(JoinParams(app_id=APP_ID, channel="c", uid=uid, token="t"), timeout=10)
    await transport.leave()
    assert stand_in.use_string_uid() == string_mode


async def test_mixing_uid_modes_is_refused_before_connecting(stand_in: StandIn, tmp_path: Path) -> None:
    first = AgoraTransport(log_dir=tmp_path)
    await first.join(PARAMS, timeout=10)
    with pytest.raises(JoinError, match="numeric or strings"):
        await AgoraTransport(log_dir=tmp_path).join(JoinParams(app_id=APP_ID, channel="c", uid="bot", token="t"))
    assert stand_in.calls().count("agora_rtc_conn_connect") == 1
    await first.leave()


# ------------------------------------------------------------------------------------------ 10. the log folder


async def test_default_log_dir_is_per_user_and_per_process(stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMCLIENT_AGORA_LOG_DIR", raising=False)
    transport = AgoraTransport()
    await transport.join(PARAMS, timeout=10)
    await transport.leave()
    log_path = Path(stand_in.log_path())
    assert log_path.parent == default_log_dir()
    assert str(os.getpid()) in log_path.parent.name
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "")
    assert user in str(log_path.parent.parent.name)


async def test_log_dir_from_the_environment(stand_in: StandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STREAMCLIENT_AGORA_LOG_DIR", str(tmp_path / "from-env"))
    transport = AgoraTransport()
    await transport.join(PARAMS, timeout=10)
    await transport.leave()
    assert Path(stand_in.log_path()).parent == tmp_path / "from-env"
    shutil.rmtree(tmp_path / "from-env")
