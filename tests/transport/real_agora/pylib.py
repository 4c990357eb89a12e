"""A scripted Python stand-in for the C functions of Agora's native library, for the SDK's real Python wrapper.

The wrapper sets ``argtypes``/``restype`` on each function it binds and calls it with ctypes objects; this stand-in
accepts those calls, behaves like ``native_stub.c`` (same script keys, same records) and fires observer callbacks
through the wrapper's own ``CFUNCTYPE`` objects from Python threads, so the wrapper's argument conversions (``c_char_p``
decoding, ``string_at``) run exactly as they do for the native library. Handles are ``int`` as ``c_void_p`` returns
them, ``None`` for ``NULL``.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ("PythonNativeLib",)


class _Function:
    """One bound C function: accepts ``argtypes``/``restype`` like a ctypes function pointer."""

    def __init__(self, lib: PythonNativeLib, name: str, impl: Callable[..., Any] | None) -> None:
        self.__name__ = name
        self._lib = lib
        self._impl = impl
        self.argtypes: Any = None
        self.restype: Any = ctypes.c_int

    def __call__(self, *args: Any) -> Any:
        self._lib.note(self.__name__)
        if self._impl is None:
            return 0 if self.restype not in (ctypes.c_void_p, ctypes.c_char_p) else None
        return self._impl(*args)


class _Conn:
    def __init__(self, handle: int) -> None:
        self.handle = handle
        self.user_handle = handle + 1
        self.observer: Any = None
        self.user_observer: Any = None
        self.channel = b""
        self.uid = b""


class PythonNativeLib:
    """The scripted stand-in (see module docstring); attribute access returns bound functions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._gate = threading.Condition(self._lock)  # notified whenever a script key changes
        self._in_flight = 0
        self._functions: dict[str, _Function] = {}
        self._handles = itertools.count(0x1000, 0x10)
        self.reset()

    # ----------------------------------------------------------------------------------------- controls

    def reset(self) -> None:
        self.wait_idle()
        with self._lock:
            self.script: dict[str, int] = {}
            self._gate.notify_all()
            self.late: tuple[Any, ...] | None = None
            self.send_codes: list[int] = []
            self.call_log: list[str] = []
            self.sent: list[bytes] = []
            self.log_path = ""
            self.use_string_uid = -1
            self.last_conn: _Conn | None = None
            self.conns: dict[int, _Conn] = {}
            self.observer_refs: list[weakref.ref[Any]] = []
            self.alive_at_destroy: list[bool] = []

    def get(self, key: str, default: int = 0) -> int:
        with self._lock:
            return self.script.get(key, default)

    def set(self, key: str, value: int) -> None:
        with self._lock:
            self.script[key] = value
            self._gate.notify_all()

    def wait_gate(self, key: str, blocked_note: str) -> None:
        """A native call that blocks while the script key ``key`` is non-zero (a stuck native call)."""
        if not self.get(key):
            return
        self.note(blocked_note)
        with self._gate:
            self._gate.wait_for(lambda: not self.script.get(key, 0))

    def arm_late_message(self, uid: bytes, data: bytes) -> None:
        """A native thread reads the stream-message callback now and calls it when :meth:`fire_late` says so.

        Like the native SDK it keeps no reference to the structure: only a weak one, so the call finds the structure
        (and its ``CFUNCTYPE`` thunks) only if something else kept it alive. Not counted as in flight: destroy does
        not wait for it.
        """
        conn = self.last_conn
        assert conn is not None, "no connection"
        assert conn.user_observer is not None, "no local-user observer registered"
        structure = weakref.ref(conn.user_observer)
        go, done = threading.Event(), threading.Event()
        outcome: list[str] = []

        def late() -> None:
            go.wait(30)
            alive = structure()
            if alive is None:
                outcome.append("freed")  # with the native library: a call into freed memory
            else:
                alive.on_stream_message(conn.user_handle, uid, 1, data, len(data))
                outcome.append("called")
            done.set()

        threading.Thread(target=late, name="native-late-callback", daemon=True).start()
        self.late = (go, done, outcome)

    def fire_late(self) -> str:
        assert self.late is not None
        go, done, outcome = self.late
        go.set()
        done.wait(30)
        self.late = None
        return outcome[0] if outcome else "not run"

    def note(self, name: str) -> None:
        with self._lock:
            self.call_log.append(name)

    def wait_idle(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=30)

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on a new thread, as the native SDK runs callbacks on its own threads."""
        with self._lock:
            self._in_flight += 1

        def run() -> None:
            try:
                fn(*args)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        threading.Thread(target=run, name="native-stand-in", daemon=True).start()

    def __getattr__(self, name: str) -> _Function:
        if name.startswith(("_", "impl_")):
            raise AttributeError(name)
        function = self._functions.get(name)
        if function is None:
            impl = getattr(self, f"impl_{name}", None)
            function = self._functions[name] = _Function(self, name, impl)
        return function

    # ------------------------------------------------------------------------------------- callbacks

    def info(self, conn: _Conn, state: int, null_strings: bool) -> Any:
        from agora.rtc._ctypes_handle._ctypes_data import RTCConnInfoInner

        info = RTCConnInfoInner()
        info.id = 1
        info.state = state
        if not null_strings:
            assigned = self.get("assigned_uid", -1)
            info.channel_id = conn.channel
            info.local_user_id = str(assigned).encode() if assigned >= 0 else conn.uid
        return info

    def fire_state(self, conn: _Conn | None, name: str, state: int, reason: int, null_strings: bool) -> None:
        if conn is None or conn.observer is None:
            return
        info = self.info(conn, state, null_strings)
        getattr(conn.observer, name)(conn.handle, ctypes.pointer(info), reason)

    def connect_outcome(self, conn: _Conn) -> None:
        self.wait_gate("connect_gate", "connect_gated")  # the test decides when the SDK reports
        null_strings = bool(self.get("connect_null_strings"))
        outcome = self.get("connect_outcome")  # 0 connected, 1 failure, 2 error, 3 silent
        if outcome == 3:
            return
        self.fire_state(conn, "on_connecting", 2, 0, null_strings)
        if outcome in (0, 4):
            self.fire_state(conn, "on_connected", 3, 1, False)
            if outcome == 4:  # a terminal state back to back with on_connected, on the same native thread
                kind, reason = self.get("then_kind", 1), self.get("then_reason", 3)
                name, state = {1: ("on_disconnected", 1), 2: ("on_connection_failure", 5), 3: ("on_reconnecting", 4)}[
                    kind
                ]
                self.fire_state(conn, name, state, reason, False)
        elif outcome == 1:
            self.fire_state(conn, "on_connection_failure", 5, self.get("fail_reason", 8), null_strings)
        elif conn.observer is not None:
            message = b"\xff\xfe refused" if self.get("error_bad_utf8") else b"refused"
            conn.observer.on_error(conn.handle, self.get("error_code", 110), None if null_strings else message)

    # -------------------------------------------------------------------------- the C entry points

    def impl_agora_service_create(self) -> int:
        return 0x10

    def impl_agora_service_initialize(self, service: int, config: Any) -> int:
        inner = config._obj
        with self._lock:
            self.use_string_uid = int(inner.use_string_uid)
            self.log_path = (inner.log_file_path or b"").decode()
        return self.get("init_code")

    def impl_agora_service_get_agora_parameter(self, service: int) -> int | None:
        return None if self.get("parameter_null") else 0x20

    def impl_agora_service_create_media_node_factory(self, service: int) -> int:
        return 0x30

    def impl_agora_rtc_conn_create(self, service: int, config: Any) -> int | None:
        self.wait_gate("create_block", "create_blocked")
        if self.get("conn_null"):
            return None
        conn = _Conn(next(self._handles))
        with self._lock:
            self.conns[conn.handle] = conn
            self.conns[conn.user_handle] = conn
            self.last_conn = conn
        return conn.handle

    def impl_agora_rtc_conn_get_local_user(self, handle: int) -> int | None:
        return None if self.get("local_user_null") else self.conns[handle].user_handle

    def impl_agora_rtc_conn_get_agora_parameter(self, handle: int) -> int:
        return 0x40

    def impl_agora_rtc_conn_create_data_stream(self, handle: int, stream_id: Any, reliable: int, ordered: int) -> int:
        if reliable != ordered:
            return -4
        code = self.get("stream_code")
        if code < 0:
            return code
        stream_id._obj.value = 1
        return 0

    def impl_agora_rtc_conn_register_observer(self, handle: int, observer: Any) -> int:
        with self._lock:
            self.conns[handle].observer = observer
            self.observer_refs.append(weakref.ref(observer))
        return self.get("register_code")

    def impl_agora_rtc_conn_unregister_observer(self, handle: int) -> int:
        with self._lock:
            self.conns[handle].observer = None
        return 0

    def impl_agora_local_user_register_observer(self, user: int, observer: Any) -> int:
        with self._lock:
            self.conns[user].user_observer = observer
            self.observer_refs.append(weakref.ref(observer))
        return 0

    def impl_agora_local_user_unregister_observer(self, user: int) -> int:
        with self._lock:
            self.conns[user].user_observer = None
        return 0

    def impl_agora_rtc_conn_connect(self, handle: int, token: Any, channel: Any, uid: Any) -> int:
        code = self.get("connect_code")
        if code != 0:
            return code
        conn = self.conns[handle]
        conn.channel, conn.uid = channel.value, uid.value
        self.start(self.connect_outcome, conn)
        return 0

    def impl_agora_rtc_conn_disconnect(self, handle: int) -> int:
        conn = self.conns[handle]
        self.start(self.fire_state, conn, "on_disconnected", 1, 5, False)
        return 0

    def impl_agora_rtc_conn_destroy(self, handle: int) -> None:
        self.wait_idle()
        gc.collect()  # an observer structure nobody references any more is gone now
        with self._lock:
            self.alive_at_destroy = [ref() is not None for ref in self.observer_refs]
            conn = self.conns.pop(handle)
            self.conns.pop(conn.user_handle, None)
            if self.last_conn is conn:
                self.last_conn = None

    def impl_agora_rtc_conn_renew_token(self, handle: int, token: bytes) -> int:
        self.wait_gate("renew_block", "renew_blocked")
        return self.get("renew_code")

    def impl_agora_rtc_conn_send_stream_message(self, handle: int, stream_id: Any, data: Any, length: int) -> int:
        if not isinstance(stream_id, int):  # the c_int argtype would refuse None (ctypes.ArgumentError)
            raise ctypes.ArgumentError(f"argument 2: TypeError: wrong type {type(stream_id).__name__}")
        if handle is None or stream_id < 0:  # what the SDK's release() leaves: NULL handle, stream -1
            self.note("send_on_released_connection")
            return -2
        self.wait_gate("send_block", "send_blocked")
        with self._lock:
            code = self.send_codes.pop(0) if self.send_codes else 0
            if code == 0:
                self.sent.append(ctypes.string_at(data, length))
        return code
