"""Fake ``agora.rtc.rtc_connection.RTCConnection`` with the 2.4.10 method names and argument lists.

Real behaviour mirrored (line numbers cite rtc_connection.py of the sdist):

* ``__init__(service, conn_config, publish_config)`` creates the default data stream (:135-137); with
  ``SCRIPT.dead_stream`` its id is ``None``, and ``send_stream_message`` then raises ``ctypes.ArgumentError`` as the
  real ``c_int`` argtype does (OBS-2).
* ``connect(token, chan_id, user_id) -> int`` (:170-172): the result arrives later, on another thread, through the
  connection observer (on_connecting, then on_connected / on_connection_failure / on_disconnected).
* ``disconnect() -> int`` unregisters the local-user observer (:175-189); the native side then reports
  ``on_disconnected`` asynchronously (fired here on a thread, to exercise callbacks after leave).
* ``release() -> None`` unregisters the connection observer and drops the handles (:269-304).
* ``send_stream_message(data) -> int`` (:215-234): ``-1001`` for ``None``, ``0`` for empty data (nothing sent),
  ``-1002`` for other types, else the native code (``SCRIPT.send_codes``, then 0).
* ``register_observer(observer) -> int`` (:197) wraps the observer in the ctypes ``RTCConnectionObserverInner``
  (kept in ``con_observer_handle``) and registers it with the native ``agora_rtc_conn_register_observer(handle,
  inner)``, a module-level name like the real one (:34); ``_unregister_observer`` (:206) unregisters it natively.
  The adapter does the same itself with a NULL-safe subclass of the structure, through the same two names.
* Callbacks: the native side calls the registered structure's trampolines (``_on_<name>``) with C arguments
  (``POINTER(RTCConnInfoInner)``, ``bytes`` for ``char*``, ``int``); they convert them and call the observer
  methods with ``(connection, ...)``. ``SCRIPT.null_strings`` reports NULL ``channel_id``/``local_user_id`` while
  connecting, as the native SDK does before the channel is known. ``on_stream_message`` gets
  ``(local_user, user_id: str, stream_id: int, data: bytes, length: int)`` (_local_user_observer.py:344-350).
"""

import ctypes
import threading
from typing import Any

from agora import _fake

from ._ctypes_handle._ctypes_data import RTCConnInfoInner
from ._ctypes_handle._rtc_connection_observer import RTCConnectionObserverInner
from .agora_base import RTCConnConfig, RtcConnectionPublishConfig, RTCConnInfo
from .local_user import LocalUser

_next_handle = iter(range(1, 1 << 30))

#: The native side's registered connection observers, by connection handle.
_NATIVE_OBSERVERS: dict[int, Any] = {}


# rtc_connection.py:34
def agora_rtc_conn_register_observer(conn_handle: Any, observer: Any) -> int:
    if not isinstance(observer, RTCConnectionObserverInner):  # the argtype is POINTER(RTCConnectionObserverInner)
        raise ctypes.ArgumentError("argument 2: TypeError: wrong type")
    for conn in _fake.CONNECTIONS:
        if conn.conn_handle == conn_handle:
            conn.calls.append("agora_rtc_conn_register_observer")
    _NATIVE_OBSERVERS[conn_handle] = observer
    return int(_fake.SCRIPT.register_code)


# rtc_connection.py:38
def agora_rtc_conn_unregister_observer(conn_handle: Any) -> int:
    _NATIVE_OBSERVERS.pop(conn_handle, None)
    return 0


class RTCConnection:
    # rtc_connection.py:99
    def __init__(self, service: Any, conn_config: RTCConnConfig, publish_config: RtcConnectionPublishConfig) -> None:
        self.rtc_engine = service
        self.conn_handle: Any = next(_next_handle)
        self.local_user: Any = LocalUser(self.conn_handle, self)
        self.conn_config = conn_config
        self.publish_config = publish_config
        self.con_observer_handle: Any = None
        self._con_observer: Any = None
        self._data_stream_id: Any = None if _fake.SCRIPT.dead_stream else 1
        self.calls: list[str] = []
        self.sent: list[bytes] = []
        self.renewed: list[str] = []
        self.channel = ""
        self.user_id = ""
        self._lock = threading.Lock()
        self._active_sends = 0
        self.max_concurrent_calls = 0
        _fake.CONNECTIONS.append(self)

    # ------------------------------------------------------------------ the SDK surface

    # rtc_connection.py:170
    def connect(self, token: str, chan_id: str, user_id: str) -> int:
        self.calls.append("connect")
        self.channel, self.user_id = chan_id, user_id
        _fake.SCRIPT.connect_called.set()
        if _fake.SCRIPT.connect_code != 0:
            return int(_fake.SCRIPT.connect_code)
        outcome = _fake.SCRIPT.on_connect
        if outcome != "silent":
            threading.Thread(target=self._report_connect, args=(outcome,), daemon=True).start()
        return 0

    # rtc_connection.py:175
    def disconnect(self) -> int:
        self.calls.append("disconnect")
        if self.local_user is not None:
            self.local_user._unregister_local_user_observer()
        inner = _NATIVE_OBSERVERS.get(self.conn_handle)
        if inner is not None:  # reported later, on a native thread (possibly after release)
            _fake.fire(inner._on_disconnected, self.conn_handle, self._info_pointer(1), 5)
        return 0

    # rtc_connection.py:192
    def renew_token(self, token: str) -> int:
        self.calls.append("renew_token")
        self.renewed.append(token)
        return int(_fake.SCRIPT.renew_code)

    # rtc_connection.py:197
    def register_observer(self, conn_observer: Any) -> int:
        self.calls.append("register_observer")
        if self.con_observer_handle:
            self._unregister_observer()
        self.con_observer_handle = RTCConnectionObserverInner(conn_observer, self)
        self._con_observer = conn_observer
        return agora_rtc_conn_register_observer(self.conn_handle, self.con_observer_handle)

    # rtc_connection.py:206
    def _unregister_observer(self) -> int:
        ret = 0
        if self.con_observer_handle:
            ret = agora_rtc_conn_unregister_observer(self.conn_handle)
        self.con_observer_handle = None
        return ret

    # rtc_connection.py:215
    def send_stream_message(self, data: Any) -> int:
        if data is None:
            return -1001
        length = len(data)
        if length == 0:
            return 0
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif isinstance(data, bytes | bytearray):
            data = bytes(data)
        else:
            return -1002
        if self._data_stream_id is None:
            raise ctypes.ArgumentError("argument 2: TypeError: wrong type")
        with self._lock:
            self._active_sends += 1
            self.max_concurrent_calls = max(self.max_concurrent_calls, self._active_sends)
        try:
            if _fake.SCRIPT.send_delay:
                # a blocking native call, modelled; it widens the window in which unserialised calls would overlap
                threading.Event().wait(_fake.SCRIPT.send_delay)
            code = _fake.SCRIPT.send_codes.pop(0) if _fake.SCRIPT.send_codes else 0
            if code == 0:
                self.sent.append(data[:length])
            return code
        finally:
            with self._lock:
                self._active_sends -= 1

    # rtc_connection.py:247
    def get_local_user(self) -> Any:
        return self.local_user

    # rtc_connection.py:269
    def release(self) -> None:
        self.calls.append("release")
        self._unregister_observer()
        if self.local_user is not None:
            self.local_user._release()
        self.conn_handle = None
        self.local_user = None
        self._data_stream_id = -1

    # rtc_connection.py:321
    def register_local_user_observer(self, observer: Any) -> int:
        self.calls.append("register_local_user_observer")
        if self.local_user is None:
            return -1000
        return int(self.local_user._register_local_user_observer(observer))

    # ------------------------------------------------------------------ fake-only helpers (tests)

    def info(self, state: int) -> RTCConnInfo:
        local = _fake.SCRIPT.assigned_uid or self.user_id
        return RTCConnInfo(id=1, channel_id=self.channel, state=state, local_user_id=local, internal_uid=0)

    def _info_pointer(self, state: int, *, null_strings: bool = False) -> Any:
        """The ``RTCConnInfo*`` the native SDK passes (NULL strings before the channel is known, if asked)."""
        info = self.info(state)
        if null_strings:
            return ctypes.pointer(RTCConnInfoInner(info.id, None, state, None, info.internal_uid))
        return ctypes.pointer(RTCConnInfoInner.create(info))

    def _report_connect(self, outcome: str) -> None:
        inner = _NATIVE_OBSERVERS.get(self.conn_handle)
        if inner is None:
            return
        handle, null = self.conn_handle, _fake.SCRIPT.null_strings
        _fake.invoke(inner._on_connecting, handle, self._info_pointer(2, null_strings=null), 0)
        if outcome == "connected":
            _fake.invoke(inner._on_connected, handle, self._info_pointer(3), 1)
        elif outcome == "failure":
            pointer = self._info_pointer(5, null_strings=null)
            _fake.invoke(inner._on_connection_failure, handle, pointer, _fake.SCRIPT.fail_reason)
        elif outcome == "disconnected":
            pointer = self._info_pointer(1, null_strings=null)
            _fake.invoke(inner._on_disconnected, handle, pointer, _fake.SCRIPT.fail_reason)

    def fire_connection(self, name: str, *args: Any) -> threading.Thread:
        """Fire connection callback ``name`` on a new thread, as the native side would (if an observer is registered).

        ``args`` are what the observer method receives after the connection; an ``RTCConnInfo`` is passed to the
        structure's trampoline as ``RTCConnInfo*`` and a ``str`` as ``char*``. ``on_aiqos_capability_missing`` is
        not a native callback: the real wrapper calls the observer itself (rtc_connection.py:531).
        """
        inner = _NATIVE_OBSERVERS.get(self.conn_handle)
        if name == "on_aiqos_capability_missing" or inner is None:
            observer = self._con_observer
            target = getattr(observer, name) if observer is not None else (lambda *_: None)
            thread: threading.Thread = _fake.fire(target, self, *args)
            return thread
        assert getattr(inner, name), f"{name} is not bound in the registered structure"
        c_args = [
            ctypes.pointer(RTCConnInfoInner.create(arg))
            if isinstance(arg, RTCConnInfo)
            else arg.encode()
            if isinstance(arg, str)
            else arg
            for arg in args
        ]
        native: threading.Thread = _fake.fire(getattr(inner, f"_{name}"), self.conn_handle, *c_args)
        return native

    def deliver_stream_message(self, user_id: str, data: bytes, stream_id: int = 1) -> None:
        """Call ``on_stream_message`` on the current thread, with the SDK's 5-argument list (if registered)."""
        local_user = self.local_user
        observer = local_user.user_observer if local_user is not None else None
        if observer is not None:
            _fake.invoke(observer.on_stream_message, local_user, user_id, stream_id, bytes(data), len(data))
