"""Install the real SDK wrapper (from the fetched sdist) where the adapter's loader finds it, over a stand-in.

:func:`make_site` lays out a site directory as a provisioned install looks: ``agora/`` (the sdist's real Python
modules), ``agora/agora_sdk/`` (the native libraries, here the stand-ins), ``agora/version.txt`` and the
distribution's metadata. Two stand-ins for the native library, one interface (:class:`StandIn`):

* ``python``: :class:`~tests.transport.real_agora.pylib.PythonNativeLib`. ``agora/__init__.py`` and
  ``agora/rtc/__init__.py`` (which ``CDLL`` the native library) are skipped by seeding ``sys.modules`` with the two
  packages; every other module is the SDK's own.
* ``native``: the C library built from ``native_stub.c``. Nothing is skipped: the loader imports the SDK's
  ``agora/__init__.py``, which checks ``version.txt`` and ``dlopen``\\ s the stand-in as ``libagora_rtc_sdk.so``;
  callbacks come from pthreads.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.machinery
import platform
import shutil
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

from tests.transport.real_agora.pylib import PythonNativeLib

__all__ = ("EXPECTED_URLS", "NativeStandIn", "PythonStandIn", "StandIn", "expected_url", "make_site")

#: What agora_python_server_sdk 2.4.10's ``agora/__init__.py`` expects in ``version.txt`` (one per platform).
EXPECTED_URLS = {
    ("linux", "x86_64"): "https://download.agora.io/sdk/release/agora_rtc_sdk_x86_64-linux-gnu-v4.4.32.174_28020_"
    "SERVER_20260601_1240_1144448_20251021_1427-3a.zip",
    ("linux", "aarch64"): "https://download.agora.io/sdk/release/Agora-RTC-aarch64-linux-gnu-v4.4.32.174-"
    "20260601_142442-1144588.zip",
    ("darwin", "*"): "https://download.agora.io/sdk/release/agora_sdk_mac_v4.4.32.174_27844_FULL_20260601_1303_"
    "1144450_20251021_1427-3a.zip",
}


def expected_url() -> str:
    """The URL this platform's 2.4.10 ``agora/__init__.py`` compares ``version.txt`` with."""
    if sys.platform == "darwin":
        return EXPECTED_URLS[("darwin", "*")]
    return EXPECTED_URLS[("linux", "aarch64" if platform.machine() == "aarch64" else "x86_64")]


def make_site(site: Path, sdist: Path, rtc_lib: Path, aosl_lib: Path) -> Path:
    """Lay out a provisioned install of the sdist under ``site`` (see module docstring); return ``site``."""
    package = site / "agora"
    shutil.copytree(sdist / "agora", package, ignore=shutil.ignore_patterns("__pycache__"))
    native = package / "agora_sdk"
    native.mkdir()
    shutil.copyfile(rtc_lib, native / "libagora_rtc_sdk.so")
    shutil.copyfile(aosl_lib, native / "libaosl.so")
    (package / "version.txt").write_text(expected_url())  # as the SDK writes it: no trailing newline
    dist_info = site / "agora_python_server_sdk-2.4.10.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: agora-python-server-sdk\nVersion: 2.4.10\n")
    (dist_info / "top_level.txt").write_text("agora\n")
    return site


def _observer_offsets() -> dict[str, int]:
    """Byte offsets of the callbacks in the wrapper's ctypes structures, read from the wrapper itself."""
    conn = importlib.import_module("agora.rtc._ctypes_handle._rtc_connection_observer").RTCConnectionObserverInner
    user = importlib.import_module("agora.rtc._ctypes_handle._local_user_observer").RTCLocalUserObserverInner
    config = importlib.import_module("agora.rtc._ctypes_handle._ctypes_data").AgoraServiceConfigInner
    offsets = {name: getattr(conn, name).offset for name, _ in conn._fields_}
    offsets["on_stream_message"] = user.on_stream_message.offset
    offsets["cfg.use_string_uid"] = config.use_string_uid.offset
    offsets["cfg.log_file_path"] = config.log_file_path.offset
    return offsets


class StandIn:
    """The controls both stand-ins share (script keys as in ``native_stub.c``)."""

    kind = ""

    def install(self, site: Path) -> None:
        """Prepare for a loader call with ``site`` on ``sys.path`` (called per test, after purging ``agora``)."""

    def configure(self) -> None:
        """Reset the script and records, then pass the structure offsets (after the SDK is imported)."""
        self.reset()
        for name, offset in _observer_offsets().items():
            self.set(name, offset)

    def reset(self) -> None:
        raise NotImplementedError

    def set(self, key: str, value: int) -> None:
        raise NotImplementedError

    def push_send_code(self, code: int) -> None:
        raise NotImplementedError

    def calls(self) -> list[str]:
        raise NotImplementedError

    def sent(self) -> list[bytes]:
        raise NotImplementedError

    def log_path(self) -> str:
        raise NotImplementedError

    def use_string_uid(self) -> int:
        raise NotImplementedError

    def fire_state(self, name: str, state: int, reason: int, *, null_strings: bool = False) -> None:
        raise NotImplementedError

    def fire_user(self, joined: bool, uid: str, reason: int = 0) -> None:
        raise NotImplementedError

    def fire_error(self, code: int, message: str | None) -> None:
        raise NotImplementedError

    def fire_token(self, expired: bool, token: str) -> None:
        raise NotImplementedError

    def fire_stream_error(self, uid: str | bytes, code: int, missed: int, cached: int) -> None:
        raise NotImplementedError

    def fire_messages(self, uid: str | bytes, data: bytes, *, threads: int = 1, repeat: int = 1) -> None:
        raise NotImplementedError

    def wait_idle(self) -> None:
        raise NotImplementedError

    def arm_late_message(self, uid: str, data: bytes) -> None:
        """A native thread reads the stream-message callback pointer now, to call it at :meth:`fire_late`."""
        raise NotImplementedError

    def fire_late(self) -> str:
        """Let the armed thread call; return ``"called"`` (or, Python stand-in only, ``"freed"``)."""
        raise NotImplementedError

    def wait_for_call(self, name: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until the native side has recorded ``name`` ``count`` times (polled; fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.calls().count(name) < count:
            assert time.monotonic() < deadline, f"no {name} within {timeout} s: {self.calls()[-10:]}"
            threading.Event().wait(0.005)  # polled from a worker thread (wait_for_call runs via to_thread)


def _raw(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


class PythonStandIn(StandIn):
    """The scripted Python stand-in, installed by seeding ``sys.modules`` (see module docstring)."""

    kind = "python"

    def __init__(self) -> None:
        self.lib = PythonNativeLib()

    def install(self, site: Path) -> None:
        package_dir = str(site / "agora")
        spec = importlib.machinery.ModuleSpec("agora", None, is_package=True)
        spec.submodule_search_locations = [package_dir]
        agora = types.ModuleType("agora")
        agora.__spec__ = spec
        agora.__path__ = [package_dir]
        for name in ("sdk_library_dir", "sdk_root_dir", "sdk_rtc_dir", "sdk_rtm_dir"):
            setattr(agora, name, package_dir)
        rtc_spec = importlib.machinery.ModuleSpec("agora.rtc", None, is_package=True)
        rtc_spec.submodule_search_locations = [f"{package_dir}/rtc"]
        rtc = types.ModuleType("agora.rtc")
        rtc.__spec__ = rtc_spec
        rtc.__path__ = [f"{package_dir}/rtc"]
        rtc.agora_lib = self.lib  # type: ignore[attr-defined]
        agora.rtc = rtc  # type: ignore[attr-defined]
        sys.modules.update({"agora": agora, "agora.rtc": rtc})

    def reset(self) -> None:
        self.lib.reset()

    def set(self, key: str, value: int) -> None:
        self.lib.set(key, value)

    def push_send_code(self, code: int) -> None:
        with self.lib._lock:
            self.lib.send_codes.append(code)

    def calls(self) -> list[str]:
        with self.lib._lock:
            return list(self.lib.call_log)

    def sent(self) -> list[bytes]:
        with self.lib._lock:
            return list(self.lib.sent)

    def log_path(self) -> str:
        return self.lib.log_path

    def use_string_uid(self) -> int:
        return self.lib.use_string_uid

    def _run(self, fn: Any, *args: Any) -> None:
        self.lib.start(fn, *args)
        self.lib.wait_idle()

    def fire_state(self, name: str, state: int, reason: int, *, null_strings: bool = False) -> None:
        self._run(self.lib.fire_state, self.lib.last_conn, name, state, reason, null_strings)

    def _conn_observer(self) -> tuple[Any, Any]:
        conn = self.lib.last_conn
        assert conn is not None
        return conn.handle, conn.observer

    def fire_user(self, joined: bool, uid: str, reason: int = 0) -> None:
        handle, observer = self._conn_observer()
        if joined:
            self._run(lambda: observer.on_user_joined(handle, uid.encode()))
        else:
            self._run(lambda: observer.on_user_left(handle, uid.encode(), reason))

    def fire_error(self, code: int, message: str | None) -> None:
        handle, observer = self._conn_observer()
        self._run(lambda: observer.on_error(handle, code, None if message is None else message.encode()))

    def fire_token(self, expired: bool, token: str) -> None:
        handle, observer = self._conn_observer()
        if expired:
            self._run(lambda: observer.on_token_privilege_did_expire(handle))
        else:
            self._run(lambda: observer.on_token_privilege_will_expire(handle, token.encode()))

    def fire_stream_error(self, uid: str | bytes, code: int, missed: int, cached: int) -> None:
        handle, observer = self._conn_observer()
        self._run(lambda: observer.on_stream_message_error(handle, _raw(uid), 1, code, missed, cached))

    def arm_late_message(self, uid: str, data: bytes) -> None:
        self.lib.arm_late_message(uid.encode(), data)

    def fire_late(self) -> str:
        return self.lib.fire_late()

    def fire_messages(self, uid: str | bytes, data: bytes, *, threads: int = 1, repeat: int = 1) -> None:
        conn = self.lib.last_conn
        assert conn is not None

        def deliver() -> None:
            observer = conn.user_observer
            for _ in range(repeat):
                if observer is not None:
                    observer.on_stream_message(conn.user_handle, _raw(uid), 1, data, len(data))

        for _ in range(threads):
            self.lib.start(deliver)
        self.lib.wait_idle()

    def wait_idle(self) -> None:
        self.lib.wait_idle()


class NativeStandIn(StandIn):
    """The compiled C stand-in, loaded by the SDK's own ``agora/__init__.py`` (see module docstring)."""

    kind = "native"

    def __init__(self, site: Path) -> None:
        self.library = site / "agora" / "agora_sdk" / "libagora_rtc_sdk.so"  # the very file the SDK loads
        self._lib: ctypes.CDLL | None = None

    @property
    def lib(self) -> ctypes.CDLL:
        if self._lib is None:
            lib = ctypes.CDLL(str(self.library))
            lib.stub_set.argtypes = [ctypes.c_char_p, ctypes.c_longlong]
            lib.stub_push_send_code.argtypes = [ctypes.c_int]
            lib.stub_calls.restype = ctypes.c_char_p
            lib.stub_log_path.restype = ctypes.c_char_p
            lib.stub_sent.restype = ctypes.c_void_p
            lib.stub_sent_len.restype = ctypes.c_size_t
            lib.stub_fire_state.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.stub_fire_user.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.stub_fire_error.argtypes = [ctypes.c_int, ctypes.c_char_p]
            lib.stub_fire_token.argtypes = [ctypes.c_int, ctypes.c_char_p]
            lib.stub_fire_stream_error.argtypes = [
                ctypes.c_char_p,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
            ]
            lib.stub_arm_late_message.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
            lib.stub_fire_messages.argtypes = [
                ctypes.c_char_p,
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.c_int,
                ctypes.c_int,
            ]
            self._lib = lib
        return self._lib

    def reset(self) -> None:
        self.lib.stub_reset()

    def set(self, key: str, value: int) -> None:
        self.lib.stub_set(key.encode(), value)

    def push_send_code(self, code: int) -> None:
        self.lib.stub_push_send_code(code)

    def calls(self) -> list[str]:
        raw: bytes = self.lib.stub_calls() or b""
        return raw.decode().splitlines()

    def sent(self) -> list[bytes]:
        raw = ctypes.string_at(self.lib.stub_sent(), self.lib.stub_sent_len())
        out: list[bytes] = []
        while raw:
            length = int.from_bytes(raw[:4], sys.byteorder)
            out.append(raw[4 : 4 + length])
            raw = raw[4 + length :]
        return out

    def log_path(self) -> str:
        raw: bytes = self.lib.stub_log_path() or b""
        return raw.decode()

    def use_string_uid(self) -> int:
        return int(self.lib.stub_use_string_uid())

    def _check(self, code: int) -> None:
        assert code == 0, "no connection to fire on"

    def fire_state(self, name: str, state: int, reason: int, *, null_strings: bool = False) -> None:
        self._check(self.lib.stub_fire_state(name.encode(), state, reason, int(null_strings)))

    def fire_user(self, joined: bool, uid: str, reason: int = 0) -> None:
        self._check(self.lib.stub_fire_user(int(joined), uid.encode(), reason))

    def fire_error(self, code: int, message: str | None) -> None:
        self._check(self.lib.stub_fire_error(code, None if message is None else message.encode()))

    def fire_token(self, expired: bool, token: str) -> None:
        self._check(self.lib.stub_fire_token(int(expired), token.encode()))

    def fire_stream_error(self, uid: str | bytes, code: int, missed: int, cached: int) -> None:
        self._check(self.lib.stub_fire_stream_error(_raw(uid), 1, code, missed, cached))

    def fire_messages(self, uid: str | bytes, data: bytes, *, threads: int = 1, repeat: int = 1) -> None:
        self._check(self.lib.stub_fire_messages(_raw(uid), data, len(data), threads, repeat))

    def arm_late_message(self, uid: str, data: bytes) -> None:
        self._check(self.lib.stub_arm_late_message(uid.encode(), data, len(data)))

    def fire_late(self) -> str:
        self.lib.stub_fire_late()
        return "called"

    def wait_idle(self) -> None:
        self.lib.stub_wait_idle()
