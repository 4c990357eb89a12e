r"""``AgoraTransport``: the channel adapter over Agora's ``agora-python-server-sdk`` (the ``agora`` extra).

The SDK is imported lazily, on the first ``join``, by :func:`~streamclient.transport._agora_sdk.load_agora`; this
module imports nothing from it at module level, so ``import streamclient.transport`` works without it.

Design (agora-python-sdk.md §8):

* One process-wide ``AgoraService`` (:mod:`~streamclient.transport._agora_service`), one ``RTCConnection`` per
  transport: broadcaster, live-broadcasting profile, no auto-subscribe, no audio or video publishing, and a
  non-``AI_SERVER`` audio scenario so the SDK's AI-QoS callback path (P4) is not armed; our connection observer's
  ``on_aiqos_capability_missing`` still returns ``-1`` in case it fires.
* Both observers are registered before ``connect``; ``join`` waits for the connected state, or fails with
  :class:`~streamclient.errors.JoinError` on ``on_connection_failure``, state 5 (failed), a definitive reason
  (:data:`FATAL_JOIN_REASONS`) or ``on_error`` with 101, 102, 109 or 110 (:data:`FATAL_JOIN_ERRORS`). A timeout's
  message names the SDK's log file.
* Both observers are registered through our subclasses of the SDK's ctypes callback structures: SDK 2.4.x decodes
  ``channel_id``/``local_user_id`` without a NULL check (they are NULL before the channel is known) and every other
  string as strict UTF-8, so its own trampolines raise inside the callback and the event (a join failure, a frame)
  is silently lost. Ours decode NULL as empty and invalid UTF-8 with U+FFFD; a trampoline that fails anyway is
  logged and counted (:attr:`AgoraTransport.lost_callbacks`, and ``MessagesLost(sender, LOST_CALLBACK_CODE, 1, 0)``
  for a frame). They bind only the callbacks we handle; the rest point to shared no-ops. The structures are kept for
  the life of the process (:mod:`~streamclient.transport._agora_conn`: ``release()`` is no fence for callbacks in
  flight).
* A connection the SDK could not build (NULL handle, no local user, no data stream) fails the join with
  :class:`~streamclient.errors.JoinError`; it never yields a raw ``AttributeError`` or a mute session, and a native
  handle whose ``RTCConnection.__init__`` failed (no local user) is destroyed.
* From ``on_connected`` on, FAILED, a DISCONNECTED we did not ask for, and reasons 3 (banned), 8 (invalid token),
  19 (same uid elsewhere), 20 (too many broadcasters) and 21 (license) end the event stream
  (:data:`TERMINAL_REASONS`); if ``join`` has not returned yet (callbacks queued behind ``on_connected`` run before
  it resumes), it fails instead. A send refused with -113 (not in the channel) while the SDK reconnects is retried
  with back-off until ``timeout``; every attempt re-checks the connection.
* Observer methods run on SDK threads. They copy the arguments into ``str``/``int``/``bytes`` and hand them to the
  loop through the :class:`~streamclient.transport._bridge.ThreadBridge`; they never block, call the SDK, run user
  code or raise. The event buffer's overflow policy is the bridge's: a frame (or any control event) that does not
  fit fails the transport with :class:`~streamclient.errors.TransportOverflowError`, surfaced to the consumer after
  the buffered events; only ``MessagesLost`` telemetry is dropped and counted.
* Blocking SDK calls run in worker threads under the connection's lock
  (:class:`~streamclient.transport._agora_conn.NativeConnection`), so they are serialised, and none starts once the
  release was requested.
* ``leave`` order: stop accepting callbacks; fail a ``join`` in progress (nothing is created or connected after
  it); ``disconnect`` then ``release`` exactly once, on the connection's own release thread, after any SDK call in
  progress (``disconnect`` unregisters the local-user observer, ``release`` the connection observer); close the
  event stream so the consumer's iteration ends. It is shielded from cancellation and bounded by its timeout; a
  release that outlasts it goes on in the background and is logged when done.
* Threads and lifetimes are summed up in ``protocol/README.md`` §12.

The NUL-byte receive bug (SDK 2.4.x): the SDK declares the received payload as ``c_char_p``, so ctypes cuts it at the
first ``0x00`` byte and ``string_at(data, length)`` then reads past the end of that short copy: a frame containing
NUL arrives as garbage (a NUL where the first one was, then whatever memory follows), not as an error. The v2
protocol's frames are UTF-8 JSON, which escapes U+0000 as ``\u0000``, so our frames never contain NUL. A received
frame that does contain one is corrupt: it is not delivered; it is counted (:attr:`AgoraTransport.corrupt_frames`),
logged, and surfaced as ``MessagesLost(sender, CORRUPT_FRAME_CODE, 1, 0)``.
The private fix (replacing the observer's ctypes callback with a ``c_void_p`` thunk, §3) is not applied: it patches a
private class inside the SDK for the whole process, and it cannot be tested here against the native library.
"""

from __future__ import annotations

import asyncio
import ctypes
import enum
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio

from streamclient.errors import (
    FrameTooLargeError,
    InvalidArgumentError,
    JoinError,
    SendError,
    SendRateLimitedError,
    TransportClosedError,
    TransportError,
    TransportTimeoutError,
)
from streamclient.transport._agora_conn import ConnectionReleased, NativeConnection
from streamclient.transport._agora_sdk import AgoraSDK, load_agora
from streamclient.transport._agora_service import (
    SHARED_SERVICE,
    default_log_dir,
    uses_string_uid,
)
from streamclient.transport._bridge import DEFAULT_EVENT_CAPACITY, ThreadBridge
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
    TransportEndHandler,
    TransportEvent,
    TransportEventHandler,
    TransportLimits,
    check_frame,
)

__all__ = (
    "CORRUPT_FRAME_CODE",
    "FATAL_JOIN_ERRORS",
    "FATAL_JOIN_REASONS",
    "LOST_CALLBACK_CODE",
    "TERMINAL_REASONS",
    "AgoraTransport",
    "make_observer_classes",
    "preload",
    "send_error_for_code",
)

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Connection-changed reasons that end a join attempt for good.
FATAL_JOIN_REASONS: dict[int, str] = {
    3: "banned by the server",
    6: "invalid app id",
    7: "invalid channel name",
    8: "invalid token",
    9: "token expired",
    10: "rejected by the server",
    19: "the same uid joined from another device",
    20: "too many broadcasters in the channel",
    21: "license validation failed",
}

#: Reasons that end a joined connection whatever the state they come with (the SDK will not recover).
TERMINAL_REASONS: dict[int, str] = {
    3: "banned by the server",
    8: "invalid token",
    19: "the same uid joined from another device",
    20: "too many broadcasters in the channel",
    21: "license validation failed",
}

#: ``on_error`` codes that end a join attempt.
FATAL_JOIN_ERRORS: dict[int, str] = {
    101: "invalid app id",
    102: "invalid channel name",
    109: "token expired",
    110: "invalid token",
}

#: ``MessagesLost.code`` for a received frame that contained NUL (corrupted by the SDK's receive path).
CORRUPT_FRAME_CODE = -1

#: ``MessagesLost.code`` for a received frame whose callback failed before it became an event (counted in
#: :attr:`AgoraTransport.lost_callbacks`).
LOST_CALLBACK_CODE = -2

#: The SDK's "not in the channel" send code; retried while the connection is reconnecting.
_NOT_IN_CHANNEL = (-113, 113)

#: The code reported when the SDK's data stream is unusable (``ctypes.ArgumentError`` on send); Agora's ERR_FAILED.
DEAD_STREAM_CODE = -1


def send_error_for_code(code: int) -> TransportError:
    """Translate a non-zero ``send_stream_message`` return code into the matching transport error."""
    if code in (-12, -115):
        return SendRateLimitedError(f"the channel's data-stream rate limit was hit (code {code})", code=code)
    if code == -114:
        return FrameTooLargeError("the SDK refused the frame as too large (code -114)", code=code)
    if code in (-113, 113):
        return TransportClosedError(f"not in the channel (code {code})")
    return SendError(f"the SDK refused the frame (code {code})", code=code)


# ------------------------------------------------------------------------------------------ thread side


class _Sink:
    """What observer methods call, on SDK threads: copy primitives, hand them to the loop, never raise."""

    def __init__(
        self,
        bridge: ThreadBridge,
        on_state: Callable[[ConnectionState, int, str], None],
        on_error: Callable[[int, str], None],
        on_corrupt: Callable[[str], None],
        on_lost: Callable[[str, str], None],
    ) -> None:
        self._bridge = bridge
        self._on_state = on_state
        self._on_error = on_error
        self._on_corrupt = on_corrupt
        self._on_lost = on_lost

    def state(self, default: ConnectionState, conn_info: Any, reason: Any) -> None:
        try:
            if self._bridge.closed:
                return
            raw_state = getattr(conn_info, "state", None)
            state = default
            if isinstance(raw_state, int) and raw_state in ConnectionState._value2member_map_:
                state = ConnectionState(raw_state)
            local_uid = str(getattr(conn_info, "local_user_id", "") or "")
            self._bridge.call_soon(self._on_state, state, int(reason), local_uid)
        except Exception:
            logger.exception("dropped a connection-state callback")
            self.lost("connection state", "")

    def frame(self, user_id: Any, data: Any, length: Any) -> None:
        try:
            if self._bridge.closed:
                return
            size = int(length)
            payload = bytes(data[:size]) if data else b""
            # NUL in the payload: the SDK read past the end of a NUL-cut copy, the bytes are garbage. Shorter than
            # announced: our own trampoline cut it at the NUL instead of reading past it. Either way: corrupt.
            if b"\x00" in payload or len(payload) < size:
                self._bridge.call_soon(self._on_corrupt, _text(user_id))
                return
            self._bridge.post(FrameReceived(_text(user_id), payload))
        except Exception:
            logger.exception("dropped a stream message")
            self.lost("on_stream_message", "")

    def error(self, code: Any, message: Any) -> None:
        try:
            if not self._bridge.closed:
                self._bridge.call_soon(self._on_error, int(code), _text(message))
        except Exception:
            logger.exception("dropped an error callback")
            self.lost("on_error", "")

    def post(self, make: Callable[[], TransportEvent]) -> None:
        try:
            if not self._bridge.closed:
                self._bridge.post(make())
        except Exception:
            logger.exception("dropped an SDK callback")
            self.lost("callback", "")

    def lost(self, callback: str, sender: str) -> None:
        """A callback could not be turned into an event: count it on the loop (never raises)."""
        try:
            if not self._bridge.closed:
                self._bridge.call_soon(self._on_lost, callback, sender)
        except Exception:  # pragma: no cover - call_soon never raises; the last guard of a native thread
            pass


def make_observer_classes(sdk: AgoraSDK) -> tuple[type[Any], type[Any]]:
    """Build our connection and local-user observer classes on the SDK's observer base classes.

    Method names and parameter lists match SDK 2.4.x exactly (``rtc_connection_observer.py``,
    ``local_user_observer.py``): the SDK calls them positionally and silently swallows the ``TypeError`` of a wrong
    arity, which would lose every event. Unused parameters are kept: they are part of the SDK's call.
    """
    connection_base: Any = sdk.IRTCConnectionObserver
    local_user_base: Any = sdk.IRTCLocalUserObserver

    class ConnectionObserver(connection_base):  # type: ignore[misc]
        """Connection callbacks -> transport events."""

        def __init__(self, sink: _Sink) -> None:
            self._sink = sink

        def on_connected(self, agora_rtc_conn: Any, conn_info: Any, reason: int) -> None:  # noqa: ARG002
            self._sink.state(ConnectionState.CONNECTED, conn_info, reason)

        def on_disconnected(self, agora_rtc_conn: Any, conn_info: Any, reason: int) -> None:  # noqa: ARG002
            self._sink.state(ConnectionState.DISCONNECTED, conn_info, reason)

        def on_connecting(self, agora_rtc_conn: Any, conn_info: Any, reason: int) -> None:  # noqa: ARG002
            self._sink.state(ConnectionState.CONNECTING, conn_info, reason)

        def on_reconnecting(self, agora_rtc_conn: Any, conn_info: Any, reason: int) -> None:  # noqa: ARG002
            self._sink.state(ConnectionState.RECONNECTING, conn_info, reason)

        def on_reconnected(self, agora_rtc_conn: Any, conn_info: Any, reason: int) -> None:  # noqa: ARG002
            self._sink.state(ConnectionState.CONNECTED, conn_info, reason)

        def on_connection_lost(self, agora_rtc_conn: Any, conn_info: Any) -> None:  # noqa: ARG002
            self._sink.state(ConnectionState.RECONNECTING, conn_info, 0)

        def on_connection_failure(self, agora_rtc_conn: Any, info: Any, reason: int) -> None:  # noqa: ARG002
            self._sink.state(ConnectionState.FAILED, None, reason)

        def on_user_joined(self, agora_rtc_conn: Any, user_id: str) -> None:  # noqa: ARG002
            self._sink.post(lambda: PeerJoined(str(user_id)))

        def on_user_left(self, agora_rtc_conn: Any, user_id: str, reason: int) -> None:  # noqa: ARG002
            self._sink.post(lambda: PeerLeft(str(user_id), int(reason)))

        def on_token_privilege_will_expire(self, agora_rtc_conn: Any, token: str) -> None:  # noqa: ARG002
            self._sink.post(TokenWillExpire)  # the old token is deliberately not copied

        def on_token_privilege_did_expire(self, agora_rtc_conn: Any) -> None:  # noqa: ARG002
            self._sink.post(TokenExpired)

        def on_stream_message_error(
            self,
            agora_rtc_conn: Any,  # noqa: ARG002
            user_id_str: str,
            stream_id: int,  # noqa: ARG002
            code: int,
            missed: int,
            cached: int,
        ) -> None:
            self._sink.post(lambda: MessagesLost(str(user_id_str), int(code), int(missed), int(cached)))

        def on_error(self, agora_rtc_conn: Any, error_code: int, error_msg: str) -> None:  # noqa: ARG002
            self._sink.error(error_code, error_msg)

        def on_aiqos_capability_missing(self, agora_rtc_conn: Any, recommend_audio_scenario: int) -> int:  # noqa: ARG002
            return -1  # keep our scenario; never let the SDK call update_audio_scenario from a callback (P4)

    class LocalUserObserver(local_user_base):  # type: ignore[misc]
        """Local-user callbacks (data-stream messages arrive here) -> transport events."""

        def __init__(self, sink: _Sink) -> None:
            self._sink = sink

        def on_stream_message(
            self,
            agora_local_user: Any,  # noqa: ARG002
            user_id: str,
            stream_id: int,  # noqa: ARG002
            data: bytes,
            length: int,
        ) -> None:
            self._sink.frame(user_id, data, length)

    return ConnectionObserver, LocalUserObserver


class _ConnInfo:
    """A NULL-safe copy of the SDK's ``RTCConnInfo`` (its own ``get()`` decodes NULL strings and raises)."""

    __slots__ = ("channel_id", "id", "internal_uid", "local_user_id", "state")

    def __init__(self, pointer: Any) -> None:
        inner = pointer.contents if pointer else None
        self.id = int(getattr(inner, "id", 0) or 0)
        self.channel_id = _text(getattr(inner, "channel_id", None))
        self.state = int(getattr(inner, "state", 0) or 0)
        self.local_user_id = _text(getattr(inner, "local_user_id", None))
        self.internal_uid = int(getattr(inner, "internal_uid", 0) or 0)


def _text(raw: Any) -> str:
    """A native string as ``str``: NULL is empty, invalid UTF-8 is decoded with U+FFFD (never raises)."""
    if raw is None:
        return ""
    if isinstance(raw, bytes | bytearray):
        return bytes(raw).decode("utf-8", errors="replace")
    return str(raw)


def _callback_failed(observer: Any, name: str, sender: str = "") -> None:
    """A trampoline raised (called inside its ``except``): log it and count the loss on the transport."""
    logger.exception("dropped the %s callback", name)
    sink = getattr(observer, "_sink", None)
    if isinstance(sink, _Sink):
        sink.lost(name, sender)


#: The connection callbacks our structure binds to per-connection trampolines; every other field gets a shared no-op.
_CONNECTION_CALLBACKS = frozenset(
    {
        "on_connected",
        "on_disconnected",
        "on_connecting",
        "on_reconnecting",
        "on_reconnected",
        "on_connection_lost",
        "on_connection_failure",
        "on_user_joined",
        "on_user_left",
        "on_token_privilege_will_expire",
        "on_token_privilege_did_expire",
        "on_error",
        "on_stream_message_error",
    }
)
_LOCAL_USER_CALLBACKS = frozenset({"on_stream_message"})

#: One do-nothing ``CFUNCTYPE`` thunk per callback type, shared by every structure (process-wide, never freed).
_NOOP_THUNKS: dict[Any, Any] = {}
_NOOP_LOCK = threading.Lock()


def _noop(*_: Any) -> None:
    return None


def _noop_int(*_: Any) -> int:
    return 0


def _noop_thunk(callback_type: Any) -> Any:
    with _NOOP_LOCK:
        thunk = _NOOP_THUNKS.get(callback_type)
        if thunk is None:
            thunk = callback_type(_noop if getattr(callback_type, "_restype_", None) is None else _noop_int)
            _NOOP_THUNKS[callback_type] = thunk
        return thunk


def _bind_callbacks(structure: Any, used: frozenset[str]) -> None:
    """Fill every callback field: ours with this structure's trampolines, the rest with the shared no-ops.

    The structures live as long as the process (see :mod:`~streamclient.transport._agora_conn`): binding only the
    callbacks we handle keeps what each connection leaves behind small (14 thunks instead of the SDK's 76).
    """
    for name, callback_type, *_ in type(structure)._fields_:
        if name in used:
            setattr(structure, name, callback_type(getattr(structure, f"_{name}")))
        else:
            setattr(structure, name, _noop_thunk(callback_type))


def make_safe_connection_inner(sdk: AgoraSDK) -> type[Any] | None:
    """Subclass the SDK's ctypes connection-callback structure with NULL-safe trampolines (``None`` if absent).

    The SDK's structure binds ``self._on_<name>`` into its ``CFUNCTYPE`` fields in ``__init__``, so overriding those
    methods is enough. Each override copies the C arguments without assuming non-NULL strings and calls our
    observer; nothing raises back into ctypes.
    """
    base: Any = sdk.RTCConnectionObserverInner
    if base is None:
        return None
    cached = _SAFE_INNER_CLASSES.get(base)
    if cached is not None:
        return cached

    def state_trampoline(name: str) -> Callable[..., None]:
        def trampoline(self: Any, agora_rtc_conn: Any, conn_info: Any, reason: int) -> None:  # noqa: ARG001
            observer = self.conn_observer  # None once the connection is released (late callbacks end here)
            if observer is None:
                return
            try:
                getattr(observer, name)(self.conn, _ConnInfo(conn_info), int(reason))
            except Exception:
                _callback_failed(observer, name)

        return trampoline

    def _on_connection_lost(self: Any, agora_rtc_conn: Any, conn_info: Any) -> None:  # noqa: ARG001
        observer = self.conn_observer
        if observer is None:
            return
        try:
            observer.on_connection_lost(self.conn, _ConnInfo(conn_info))
        except Exception:
            _callback_failed(observer, "on_connection_lost")

    def _on_user_joined(self: Any, agora_rtc_conn: Any, user_id: Any) -> None:  # noqa: ARG001
        observer = self.conn_observer
        if observer is None:
            return
        try:
            observer.on_user_joined(self.conn, _text(user_id))
        except Exception:
            _callback_failed(observer, "on_user_joined")

    def _on_user_left(self: Any, agora_rtc_conn: Any, user_id: Any, reason: int) -> None:  # noqa: ARG001
        observer = self.conn_observer
        if observer is None:
            return
        try:
            observer.on_user_left(self.conn, _text(user_id), int(reason))
        except Exception:
            _callback_failed(observer, "on_user_left")

    def _on_token_privilege_will_expire(self: Any, agora_rtc_conn: Any, token: Any) -> None:  # noqa: ARG001
        observer = self.conn_observer
        if observer is None:
            return
        try:
            observer.on_token_privilege_will_expire(self.conn, "")  # the old token is not copied
        except Exception:
            _callback_failed(observer, "on_token_privilege_will_expire")

    def _on_token_privilege_did_expire(self: Any, agora_rtc_conn: Any) -> None:  # noqa: ARG001
        observer = self.conn_observer
        if observer is None:
            return
        try:
            observer.on_token_privilege_did_expire(self.conn)
        except Exception:
            _callback_failed(observer, "on_token_privilege_did_expire")

    def _on_error(self: Any, agora_rtc_conn: Any, error_code: Any, error_msg: Any) -> None:  # noqa: ARG001
        observer = self.conn_observer
        if observer is None:
            return
        try:
            observer.on_error(self.conn, int(error_code), _text(error_msg))
        except Exception:
            _callback_failed(observer, "on_error")

    def _on_stream_message_error(
        self: Any,
        agora_rtc_conn: Any,  # noqa: ARG001
        user_id: Any,
        stream_id: Any,
        code: Any,
        missed: Any,
        cached: Any,
    ) -> None:
        observer = self.conn_observer
        if observer is None:
            return
        sender = ""
        try:
            sender = _text(user_id)
            observer.on_stream_message_error(self.conn, sender, int(stream_id), int(code), int(missed), int(cached))
        except Exception:
            _callback_failed(observer, "on_stream_message_error", sender)

    namespace: dict[str, Any] = {
        f"_{name}": state_trampoline(name)
        for name in ("on_connected", "on_disconnected", "on_connecting", "on_reconnecting", "on_reconnected")
    }
    namespace["_on_connection_failure"] = state_trampoline("on_connection_failure")

    def __init__(self: Any, conn_observer: Any, connection: Any) -> None:
        self.conn_observer = conn_observer
        self.conn = connection
        _bind_callbacks(self, _CONNECTION_CALLBACKS)

    namespace["__init__"] = __init__
    namespace.update(
        _on_connection_lost=_on_connection_lost,
        _on_user_joined=_on_user_joined,
        _on_user_left=_on_user_left,
        _on_token_privilege_will_expire=_on_token_privilege_will_expire,
        _on_token_privilege_did_expire=_on_token_privilege_did_expire,
        _on_error=_on_error,
        _on_stream_message_error=_on_stream_message_error,
    )
    safe: type[Any] = type("NullSafeConnectionObserverInner", (base,), namespace)
    _SAFE_INNER_CLASSES[base] = safe
    return safe


def make_safe_local_user_inner(sdk: AgoraSDK) -> type[Any] | None:
    """Subclass the SDK's local-user callback structure with a safe ``on_stream_message`` trampoline (or ``None``).

    The SDK's own decodes the sender's uid as strict UTF-8 (a non-UTF-8 uid raises inside the callback: the frame is
    lost with only "Exception ignored" on stderr) and reads ``length`` bytes from a copy that ctypes cut at the first
    NUL (past its end). Ours decodes with replacement and never reads past the copy: a cut frame reaches the sink
    shorter than announced and is reported as corrupt.
    """
    base: Any = sdk.RTCLocalUserObserverInner
    if base is None:
        return None
    cached = _SAFE_INNER_CLASSES.get(base)
    if cached is not None:
        return cached

    def _on_stream_message(
        self: Any,
        local_user_handle: Any,  # noqa: ARG001
        user_id: Any,
        stream_id: Any,
        data: Any,
        size: Any,
    ) -> None:
        observer = self.local_user_observer  # None once the connection is released
        if observer is None:
            return
        sender = ""
        try:
            sender = _text(user_id)
            raw = bytes(data) if data else b""
            length = int(size)
            observer.on_stream_message(self.local_user, sender, int(stream_id), raw[:length], length)
        except Exception:
            _callback_failed(observer, "on_stream_message", sender)

    def __init__(self: Any, local_user_observer: Any, local_user: Any) -> None:
        self.local_user_observer = local_user_observer
        self.local_user = local_user
        _bind_callbacks(self, _LOCAL_USER_CALLBACKS)

    safe: type[Any] = type(
        "SafeLocalUserObserverInner", (base,), {"_on_stream_message": _on_stream_message, "__init__": __init__}
    )
    _SAFE_INNER_CLASSES[base] = safe
    return safe


#: One NULL-safe subclass per SDK structure class (the SDK is loaded once per process; tests reload it).
_SAFE_INNER_CLASSES: dict[Any, type[Any]] = {}


def _register_connection_observer(sdk: AgoraSDK, conn: Any, observer: Any) -> int:
    """Register ``observer`` through the NULL-safe structure, as ``RTCConnection.register_observer`` would."""
    inner_cls = make_safe_connection_inner(sdk)
    native_register = sdk.register_connection_observer
    if inner_cls is None or native_register is None or not hasattr(conn, "con_observer_handle"):
        logger.warning("this SDK version lacks the private names for NULL-safe callbacks; using register_observer")
        return int(conn.register_observer(observer))
    inner = inner_cls(observer, conn)
    conn.con_observer_handle = inner  # the SDK's release() unregisters it; the structure must outlive that
    conn._con_observer = observer
    return int(native_register(conn.conn_handle, inner))


def _register_local_user_observer(sdk: AgoraSDK, conn: Any, observer: Any) -> int:
    """Register ``observer`` through the safe local-user structure, as ``register_local_user_observer`` would."""
    inner_cls = make_safe_local_user_inner(sdk)
    native_register = sdk.register_local_user_observer
    local_user = getattr(conn, "local_user", None)
    if inner_cls is None or native_register is None or local_user is None or not hasattr(local_user, "user_handle"):
        return int(conn.register_local_user_observer(observer))
    inner = inner_cls(observer, local_user)
    local_user.user_observer_inner = inner  # as the SDK keeps it (disconnect() unregisters it natively)
    local_user.user_observer = observer
    return int(native_register(local_user.user_handle, inner))


def _registered_structures(conn: Any) -> list[Any]:
    """The callback structures registered with the native side for ``conn`` (ours or, in a fallback, the SDK's)."""
    local_user = getattr(conn, "local_user", None)
    found = [getattr(conn, "con_observer_handle", None), getattr(local_user, "user_observer_inner", None)]
    return [structure for structure in found if structure is not None]


# -------------------------------------------------------------------------------------------- loop side


class _Phase(enum.Enum):
    NEW = "new"
    JOINING = "joining"
    JOINED = "joined"
    LEFT = "left"


def _send_on_connection(conn: Any, payload: bytes) -> int:
    try:
        return int(conn.send_stream_message(payload))
    except ctypes.ArgumentError:
        return DEAD_STREAM_CODE  # the connection's data stream was never created (its id is None)


def _renew_on_connection(conn: Any, token: str) -> int:
    return int(conn.renew_token(token))


def _connect_on_connection(conn: Any, token: str, channel: str, uid: str) -> int:
    return int(conn.connect(token, channel, uid))


def _is_terminal(state: ConnectionState, reason: int) -> bool:
    """Whether a state reported after joining ends the connection for good."""
    return state in (ConnectionState.FAILED, ConnectionState.DISCONNECTED) or reason in TERMINAL_REASONS


def preload() -> str:
    """Load the Agora SDK now (blocking), instead of on the first ``join``; return its version.

    Call it at start-up, before other threads run: the SDK's import is slow (it loads native libraries) and has
    process-wide side effects that the loader contains (see :mod:`~streamclient.transport._agora_sdk`). Later joins
    reuse the loaded SDK.

    Raises:
        TransportUnavailableError: the SDK cannot be loaded (the message says how to install it).
    """
    return load_agora().version


class AgoraTransport:
    """A :class:`~streamclient.transport.base.Transport` over one Agora ``RTCConnection`` (see module docstring).

    Each instance joins at most once; create a new one to join again.
    """

    def __init__(
        self,
        *,
        limits: TransportLimits | None = None,
        event_capacity: int = DEFAULT_EVENT_CAPACITY,
        log_dir: Path | None = None,
    ) -> None:
        """Prepare a transport; nothing is loaded or connected until :meth:`join`.

        Args:
            limits: the data-stream limits to enforce (default: Agora's conservative figures).
            event_capacity: events buffered for the consumer before the overflow policy applies.
            log_dir: where the native SDK writes its logs (first join of the process decides); by default
                ``$STREAMCLIENT_AGORA_LOG_DIR``, else a private per-process folder removed at exit after a clean run.
        """
        self._limits = limits if limits is not None else TransportLimits()
        self._bridge = ThreadBridge(capacity=event_capacity)
        self._chosen_log_dir = log_dir
        self._limiter = anyio.CapacityLimiter(1)
        self._phase = _Phase.NEW
        # Handed between the joining worker thread and leave(): the connection, and whether we left.
        self._handoff = threading.Lock()
        self._left = False
        self._native: NativeConnection | None = None
        self._join_scope: anyio.CancelScope | None = None
        self._local_uid: str | None = None
        self._requested_uid: str | None = None
        self._join_done = anyio.Event()
        self._join_succeeded = False
        self._join_failure: tuple[str, int | None] | None = None
        self._ended: tuple[ConnectionState, int] | None = None
        self._connected = anyio.Event()
        self._sdk: AgoraSDK | None = None
        self.corrupt_frames = 0
        #: Callbacks that could not be turned into events (each also logged, and a frame's as ``MessagesLost``).
        self.lost_callbacks = 0

    @property
    def limits(self) -> TransportLimits:
        """The data-stream limits of this channel."""
        return self._limits

    @property
    def log_dir(self) -> Path:
        """Where the native SDK writes its logs (the process's shared service may already use another folder)."""
        if SHARED_SERVICE.log_dir is not None:
            return SHARED_SERVICE.log_dir
        return self._chosen_log_dir if self._chosen_log_dir is not None else default_log_dir()

    @property
    def local_uid(self) -> str | None:
        """Our uid in the channel once joined (as reported by the SDK), else ``None``."""
        return self._local_uid

    def events(self) -> AsyncIterator[TransportEvent]:
        """The channel's events for one consumer; ends after ``leave`` or a failed connection."""
        return self._bridge.events()

    def push_events(self, on_event: TransportEventHandler, on_end: TransportEndHandler) -> None:
        """Hand the events to callbacks instead (see :class:`~streamclient.transport.base.PushTransport`)."""
        self._bridge.push_to(on_event, on_end)

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run an SDK call on the connection, serialised, in a worker thread; abandoned if the caller is cancelled.

        An abandoned call goes on in its thread and still holds the connection's lock: a release waits for it.

        Raises:
            TransportClosedError: the connection was released (or is being released) before the call could start.
        """
        native = self._native
        if native is None or native.closing:
            raise TransportClosedError("the transport has left (its connection is released)")
        try:
            return await anyio.to_thread.run_sync(native.call, fn, *args, limiter=self._limiter, abandon_on_cancel=True)
        except ConnectionReleased:
            raise TransportClosedError("the transport has left (its connection is released)") from None

    async def join(self, params: JoinParams, *, timeout: float = 15.0) -> None:
        """Join the channel and wait until connected.

        A state that ends the connection (failed, disconnected, a definitive reason), reported at any moment before
        this returns, fails the join; reported after it, it ends the events.

        Raises:
            JoinError: the channel refused us (the SDK's reason is in ``reason``), or the connection ended at once.
            TransportTimeoutError: not connected within ``timeout`` seconds.
            TransportUnavailableError: the SDK cannot be loaded.
            TransportClosedError: this transport already joined, or ``leave()`` was called while joining (the join
                then fails at once and nothing is created afterwards).
        """
        if self._phase is not _Phase.NEW:
            raise TransportClosedError("an AgoraTransport joins once; create a new one to join again")
        self._phase = _Phase.JOINING
        self._bridge.open()
        scope = self._join_scope = anyio.CancelScope()
        try:
            with scope, anyio.fail_after(timeout):
                await self._connect(params)
        except TimeoutError:
            await self._abort("join timed out")
            log_dir = SHARED_SERVICE.log_dir or self.log_dir
            raise TransportTimeoutError(
                f"not connected to the channel within {timeout} s; the Agora SDK's log may say why: "
                f"{log_dir / 'agorasdk.log'}"
            ) from None
        except TransportClosedError:
            await self._abort(None)
            raise TransportClosedError("leave() was called while joining") from None
        except BaseException as exc:
            await self._abort(None if isinstance(exc, anyio.get_cancelled_exc_class()) else f"join failed: {exc}")
            raise
        finally:
            self._join_scope = None
        if scope.cancelled_caught or self._left:
            await self._abort(None)
            raise TransportClosedError("leave() was called while joining")
        self._phase = _Phase.JOINED

    async def _connect(self, params: JoinParams) -> None:
        # A real import loads native libraries: keep it off the loop (abandoned, not interrupted, by a timeout).
        sdk = await anyio.to_thread.run_sync(load_agora, abandon_on_cancel=True)
        self._sdk = sdk
        self._requested_uid = params.uid if params.uid not in ("", "0") else None
        string_uids = uses_string_uid(params.uid)
        service = await anyio.to_thread.run_sync(
            lambda: SHARED_SERVICE.acquire(
                sdk, app_id=params.app_id, string_uids=string_uids, log_dir=self._chosen_log_dir
            ),
            abandon_on_cancel=True,
        )
        connection_cls, user_cls = make_observer_classes(sdk)
        sink = _Sink(self._bridge, self._on_state, self._on_error, self._on_corrupt, self._on_lost)
        observers = (connection_cls(sink), user_cls(sink))
        await anyio.to_thread.run_sync(self._create_connection, sdk, service, observers, abandon_on_cancel=True)
        code = await self._run(_connect_on_connection, params.token, params.channel, params.uid)
        if code != 0:
            raise JoinError(f"the SDK refused to connect (code {code})", reason=None)
        await self._join_done.wait()
        if self._join_failure is not None:
            message, reason = self._join_failure
            raise JoinError(f"could not join the channel: {message}", reason=reason)
        if self._ended is not None:
            state, reason = self._ended
            description = FATAL_JOIN_REASONS.get(reason, TERMINAL_REASONS.get(reason, f"state {state.name}"))
            raise JoinError(
                f"the connection ended right after connecting: {description} (state {state.name}, reason {reason})",
                reason=reason,
            )

    def _new_connection(self, sdk: AgoraSDK, service: Any, config: Any, publish: Any) -> Any:
        """Worker thread: build an ``RTCConnection``, destroying the native handle if its constructor fails."""
        connection_cls = sdk.RTCConnection
        if connection_cls is None:
            return service.create_rtc_connection(config, publish)
        if not getattr(service, "inited", False):
            return None
        conn = connection_cls.__new__(connection_cls)
        try:
            conn.__init__(service, config, publish)
        except Exception:
            # 2.4.x: with no local user, __init__ raises after agora_rtc_conn_create: nobody else can free it.
            handle = getattr(conn, "conn_handle", None)
            if handle is not None and sdk.destroy_connection is not None:
                try:
                    sdk.destroy_connection(handle)
                except Exception:
                    logger.exception("destroying a half-built Agora connection failed")
                else:
                    logger.debug("destroyed the native connection of a half-built RTCConnection")
            elif handle is not None:
                logger.error("a half-built Agora connection could not be destroyed (no native destroy function)")
            raise
        return conn

    def _create_connection(self, sdk: AgoraSDK, service: Any, observers: tuple[Any, Any]) -> None:
        """Worker thread: create the connection, hand it over to ``leave()`` at once, register both observers."""
        with self._handoff:
            if self._left:
                raise TransportClosedError("left while joining")  # nothing created after leave()
        try:
            conn = self._new_connection(
                sdk,
                service,
                sdk.RTCConnConfig(
                    auto_subscribe_audio=0,
                    auto_subscribe_video=0,
                    client_role_type=sdk.ClientRoleType.CLIENT_ROLE_BROADCASTER,
                    channel_profile=sdk.ChannelProfileType.CHANNEL_PROFILE_LIVE_BROADCASTING,
                ),
                sdk.RtcConnectionPublishConfig(
                    is_publish_audio=False,
                    is_publish_video=False,
                    audio_scenario=sdk.AudioScenarioType.AUDIO_SCENARIO_DEFAULT,
                ),
            )
        except Exception as exc:  # 2.4.x: AttributeError when the native side returns no local user
            raise JoinError(
                f"the SDK failed while creating the connection (the native side returned no local user or no "
                f"connection; {type(exc).__name__}: {exc})",
                reason=None,
            ) from exc
        if conn is None or getattr(conn, "conn_handle", None) is None:
            # Nothing native to free; the SDK's own release() would raise on this half-built object.
            raise JoinError("the SDK could not create a connection (no native handle)", reason=None)
        native = NativeConnection(conn, label=f"connection {id(self):#x}")
        if not self._hand_over(native):
            native.start_release()  # leave() came while the SDK was creating it: release at once, never connect
            raise TransportClosedError("left while joining")
        try:
            native.call(self._prepare_connection, sdk, observers)
        except ConnectionReleased:
            raise TransportClosedError("left while joining") from None

    def _hand_over(self, native: NativeConnection) -> bool:
        """Any thread: store the new connection for ``leave()``, unless it already ran; return whether stored."""
        with self._handoff:
            if self._left:
                return False
            self._native = native  # from here on, leave() (or an aborted join) releases it
            return True

    def _prepare_connection(self, conn: Any, sdk: AgoraSDK, observers: tuple[Any, Any]) -> None:
        """Under the connection's lock: check what the SDK built, register both observers (kept for the process)."""
        if getattr(conn, "local_user", None) is None:
            raise JoinError("the SDK could not create a connection (the native side returned no local user)")
        stream_id = getattr(conn, "_data_stream_id", None)
        if not isinstance(stream_id, int) or stream_id < 0:
            raise JoinError("the SDK could not create the connection's data stream: every send would fail", reason=None)
        connection_observer, user_observer = observers
        native = self._native
        registrations: tuple[tuple[str, Callable[[], int]], ...] = (
            ("connection observer", lambda: _register_connection_observer(sdk, conn, connection_observer)),
            ("local-user observer", lambda: _register_local_user_observer(sdk, conn, user_observer)),
        )
        for what, register in registrations:
            code = register()
            if native is not None:  # whatever the outcome: the native side may hold the structure now
                for structure in _registered_structures(conn):
                    native.adopt(structure)
            if code != 0:
                raise JoinError(f"the SDK refused to register our {what} (code {code})", reason=None)

    def _on_state(self, state: ConnectionState, reason: int, local_uid: str) -> None:
        """Loop side of every connection-state callback."""
        if state is ConnectionState.CONNECTED:
            self._connected.set()
        elif self._connected.is_set():
            self._connected = anyio.Event()
        if self._phase is _Phase.JOINING and not self._join_done.is_set():
            if state is ConnectionState.CONNECTED:
                self._local_uid = local_uid or self._requested_uid
                self._join_succeeded = True
                self._join_done.set()
            elif (
                state in (ConnectionState.FAILED, ConnectionState.DISCONNECTED)
                or reason in FATAL_JOIN_REASONS
                or reason in TERMINAL_REASONS
            ):
                description = FATAL_JOIN_REASONS.get(reason, f"the connection {state.name.lower()}")
                self._join_failure = (f"{description} (reason {reason})", reason)
                self._join_done.set()
        elif state is ConnectionState.CONNECTED and local_uid:
            self._local_uid = local_uid
        self._bridge.deliver(ConnectionStateChanged(state, reason))
        # From on_connected on (even before join() has resumed: callbacks queued behind it run first), a terminal
        # state ends the events; a join() not yet returned fails (see join()).
        if (
            self._join_succeeded
            and self._ended is None
            and self._phase is not _Phase.LEFT
            and _is_terminal(state, reason)
        ):
            self._ended = (state, reason)
            logger.warning("the Agora connection ended: state %s, reason %s", state.name, reason)
            SHARED_SERVICE.note_failure(f"connection ended: state {state.name}, reason {reason}")
            self._bridge.close()

    def _on_error(self, code: int, message: str) -> None:
        """Loop side of ``on_error``: a definitive code fails a join in progress; the rest is logged."""
        if self._phase is _Phase.JOINING and not self._join_done.is_set() and code in FATAL_JOIN_ERRORS:
            self._join_failure = (f"the SDK reported error {code} ({FATAL_JOIN_ERRORS[code]})", None)
            self._join_done.set()
            return
        logger.warning("the Agora SDK reported error %s: %s", code, message)

    def _on_corrupt(self, sender: str) -> None:
        """Loop side of a received frame that contained NUL (see module docstring)."""
        self.corrupt_frames += 1
        logger.warning(
            "dropped a corrupt frame from %s: it contained NUL, which the SDK's receive path mangles (%d so far)",
            sender,
            self.corrupt_frames,
        )
        self._bridge.deliver(MessagesLost(sender, CORRUPT_FRAME_CODE, 1, 0))

    def _on_lost(self, callback: str, sender: str) -> None:
        """Loop side of a callback that could not be turned into an event: counted, logged, a lost frame reported."""
        self.lost_callbacks += 1
        SHARED_SERVICE.note_failure(f"lost an SDK callback ({callback})")
        logger.warning("lost an Agora %s callback (%d so far)", callback, self.lost_callbacks)
        if callback == "on_stream_message":
            self._bridge.deliver(MessagesLost(sender, LOST_CALLBACK_CODE, 1, 0))

    def _require_connection(self) -> NativeConnection:
        native = self._native
        if self._phase is not _Phase.JOINED or native is None or native.closing or self._bridge.closed:
            failure = self._bridge.failure
            if failure is not None:
                raise TransportClosedError("the transport failed: its event buffer overflowed") from failure
            raise TransportClosedError("the transport is not joined (or has left, or its connection failed)")
        return native

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:
        """Send one frame on the connection's data stream.

        The SDK call runs in the connection's serialised worker thread; ``timeout`` bounds the whole send (a native
        call already started when it runs out goes on in its thread, and may still send the frame).

        Raises:
            InvalidArgumentError: ``data`` is not bytes-like, or is empty.
            FrameTooLargeError: ``data`` is over ``limits.max_message_bytes`` (checked before the SDK), or -114.
            SendRateLimitedError: -12 / -115; slow down and retry.
            SendError: any other refusal (``code`` is the SDK's).
            TransportClosedError: not joined, already left (also when ``leave()`` comes during a retry: every
                attempt re-checks the connection), or still -113 (not in the channel) when ``timeout`` ran out
                (-113 is retried with back-off while the SDK reconnects).
            TransportTimeoutError: the send did not complete in time.
        """
        payload = check_frame(data, max_bytes=self._limits.max_message_bytes)
        self._require_connection()
        code = 0
        try:
            with anyio.fail_after(timeout):
                code = await self._run(_send_on_connection, payload)
                delay = 0.05
                while code in _NOT_IN_CHANNEL:
                    self._require_connection()  # a terminal state or leave() ends the retries
                    logger.debug("send refused with %s (not in the channel); retrying in %.2f s", code, delay)
                    if self._connected.is_set():  # the SDK has not told us about the drop yet: plain back-off
                        await anyio.sleep(delay)
                    else:
                        with anyio.move_on_after(delay):
                            await self._connected.wait()  # back in the channel: retry at once
                    delay = min(delay * 2, 1.0)
                    self._require_connection()  # again: leave() may have come during the back-off
                    code = await self._run(_send_on_connection, payload)
        except TimeoutError:
            if code in _NOT_IN_CHANNEL:
                raise TransportClosedError(f"not in the channel (code {code}) for {timeout} s") from None
            raise TransportTimeoutError(f"the send did not complete within {timeout} s") from None
        if code != 0:
            raise send_error_for_code(code)

    async def renew_token(self, token: str, *, timeout: float = 5.0) -> None:
        """Replace the channel token (call on ``TokenWillExpire``).

        Raises:
            InvalidArgumentError: the token is empty.
            TransportClosedError: not joined.
            TransportError: the SDK refused the token.
            TransportTimeoutError: not done within ``timeout`` (the native call goes on in its thread).
        """
        if not isinstance(token, str) or not token:
            raise InvalidArgumentError("the new token must be a non-empty string")
        self._require_connection()
        try:
            with anyio.fail_after(timeout):
                code = await self._run(_renew_on_connection, token)
        except TimeoutError:
            raise TransportTimeoutError(f"renew_token did not complete within {timeout} s") from None
        if code != 0:
            raise TransportError(f"the SDK refused the new token (code {code})")

    async def leave(self, *, timeout: float = 5.0) -> None:
        """Leave the channel and free the connection. Idempotent, safe after a failed join and under cancellation.

        The native connection is disconnected and released exactly once, on its own thread, even if this call
        times out (the release then goes on in the background and its completion is logged). A ``join()`` in
        progress fails at once with :class:`~streamclient.errors.TransportClosedError`.

        Raises:
            TransportTimeoutError: the SDK did not finish within ``timeout`` (first call only; the release then
                continues in the background).
        """
        if self._phase is _Phase.LEFT:
            return
        self._phase = _Phase.LEFT
        if not await self._shutdown(timeout):
            SHARED_SERVICE.note_failure("leave timed out")
            raise TransportTimeoutError(f"leaving did not complete within {timeout} s")

    async def _abort(self, failure: str | None) -> None:
        if failure is not None:
            SHARED_SERVICE.note_failure(failure)
        self._phase = _Phase.LEFT
        await self._shutdown(5.0)

    async def _shutdown(self, timeout: float) -> bool:
        """Stop the intake, release the connection (exactly once), end the events; return whether released in time."""
        self._bridge.stop_intake()
        with self._handoff:
            self._left = True  # a joining worker thread creates nothing from now on
            native = self._native
        if self._join_scope is not None:
            self._join_scope.cancel()  # a join() in progress fails at once (TransportClosedError)
        finished = True
        try:
            if native is not None:
                released = anyio.Event()
                loop = asyncio.get_running_loop()

                def wake() -> None:  # on the releasing thread
                    try:
                        loop.call_soon_threadsafe(released.set)
                    except RuntimeError:  # the loop is closed: nobody waits any more
                        pass

                native.start_release(wake)
                with anyio.CancelScope(shield=True), anyio.move_on_after(timeout) as scope:
                    await released.wait()
                finished = not scope.cancelled_caught
                if not finished:
                    native.gave_up(timeout)
        finally:
            self._bridge.close()
        return finished
