"""Fake ``agora.rtc._ctypes_handle._rtc_connection_observer``: the SDK 2.4.10 ctypes structure of connection callbacks.

The adapter registers a NULL-safe subclass of ``RTCConnectionObserverInner`` through the native
``agora_rtc_conn_register_observer`` (both private names of the real wrapper), so the fake has them too:

* the same ``_fields_`` (names, order, the duplicated ``on_encryption_error``) and the same ``CFUNCTYPE`` prototypes
  (the two pointers to statistics structures the adapter never reads are ``c_void_p`` here);
* ``__init__(conn_observer, connection)`` binds ``self._on_<name>`` into each field, as the real one does
  (_rtc_connection_observer.py:95), so a subclass that overrides ``_on_<name>`` is what the native side calls;
* the ``_on_<name>`` trampolines of the callbacks the adapter observes, with the real parameter names and the real
  conversions, NULL-unsafe ones included (``conn_info_inner.contents.get()``, ``user_id.decode``); the others are
  not implemented and their fields stay NULL (the fake's native side never fires them).

The fake's native side (``rtc_connection.py``) calls the bound trampoline with the C arguments as ctypes delivers
them: the connection handle as an ``int``, ``POINTER(RTCConnInfoInner)``, ``bytes``/``None`` for ``char*``, ``int``.
"""

import ctypes
from typing import Any

from ._ctypes_data import AGORA_HANDLE, RTCConnInfoInner, uid_t, user_id_t

ON_CONNECTED_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.POINTER(RTCConnInfoInner), ctypes.c_int)
ON_DISCONNECTED_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.POINTER(RTCConnInfoInner), ctypes.c_int)
ON_CONNECTING_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.POINTER(RTCConnInfoInner), ctypes.c_int)
ON_RECONNECTING_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.POINTER(RTCConnInfoInner), ctypes.c_int)
ON_RECONNECTED_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.POINTER(RTCConnInfoInner), ctypes.c_int)
ON_CONNECTION_LOST_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.POINTER(RTCConnInfoInner))
ON_LASTMILE_QUALITY_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int)
ON_LASTMILE_PROBE_RESULT_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_void_p)
ON_TOKEN_PRIVILEGE_WILL_EXPIRE_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_char_p)
ON_TOKEN_PRIVILEGE_DID_EXPIRE_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE)
ON_CONNECTION_LICENSE_VALIDATION_FAILURE_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int)
ON_CONNECTION_FAILURE_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.POINTER(RTCConnInfoInner), ctypes.c_int)
ON_USER_JOINED_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, user_id_t)
ON_USER_LEFT_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, user_id_t, ctypes.c_int)
ON_TRANSPORT_STATS_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_void_p)
ON_CHANGE_ROLE_SUCCESS_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int, ctypes.c_int)
ON_CHANGE_ROLE_FAILURE_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int, ctypes.c_int)
ON_USER_NETWORK_QUALITY_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, user_id_t, ctypes.c_int, ctypes.c_int)
ON_NETWORK_TYPE_CHANGED_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int)
ON_API_CALL_EXECUTED_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p)
ON_CONTENT_INSPECT_RESULT_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int)
ON_SNAPSHOT_TAKEN_CALLBACK = ctypes.CFUNCTYPE(
    None, AGORA_HANDLE, ctypes.c_char_p, uid_t, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int
)
ON_ERROR_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int, ctypes.c_char_p)
ON_WARNING_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int, ctypes.c_char_p)
ON_CHANNEL_MEDIA_RELAY_STATE_CHANGED_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int, ctypes.c_int)
ON_LOCAL_USER_REGISTERED_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, uid_t, ctypes.c_char_p)
ON_USER_ACCOUNT_UPDATED_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, uid_t, ctypes.c_char_p)
ON_STREAM_MESSAGE_ERROR_CALLBACK = ctypes.CFUNCTYPE(
    None, AGORA_HANDLE, user_id_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int
)
ON_ENCRYPTION_ERROR_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_int)
ON_UPLOAD_LOG_RESULT_CALLBACK = ctypes.CFUNCTYPE(None, AGORA_HANDLE, ctypes.c_char_p, ctypes.c_int, ctypes.c_int)


class RTCConnectionObserverInner(ctypes.Structure):  # _rtc_connection_observer.py:53
    _fields_ = [
        ("on_connected", ON_CONNECTED_CALLBACK),
        ("on_disconnected", ON_DISCONNECTED_CALLBACK),
        ("on_connecting", ON_CONNECTING_CALLBACK),
        ("on_reconnecting", ON_RECONNECTING_CALLBACK),
        ("on_reconnected", ON_RECONNECTED_CALLBACK),
        ("on_connection_lost", ON_CONNECTION_LOST_CALLBACK),
        ("on_lastmile_quality", ON_LASTMILE_QUALITY_CALLBACK),
        ("on_lastmile_probe_result", ON_LASTMILE_PROBE_RESULT_CALLBACK),
        ("on_token_privilege_will_expire", ON_TOKEN_PRIVILEGE_WILL_EXPIRE_CALLBACK),
        ("on_token_privilege_did_expire", ON_TOKEN_PRIVILEGE_DID_EXPIRE_CALLBACK),
        ("on_connection_license_validation_failure", ON_CONNECTION_LICENSE_VALIDATION_FAILURE_CALLBACK),
        ("on_connection_failure", ON_CONNECTION_FAILURE_CALLBACK),
        ("on_user_joined", ON_USER_JOINED_CALLBACK),
        ("on_user_left", ON_USER_LEFT_CALLBACK),
        ("on_transport_stats", ON_TRANSPORT_STATS_CALLBACK),
        ("on_change_role_success", ON_CHANGE_ROLE_SUCCESS_CALLBACK),
        ("on_change_role_failure", ON_CHANGE_ROLE_FAILURE_CALLBACK),
        ("on_user_network_quality", ON_USER_NETWORK_QUALITY_CALLBACK),
        ("on_network_type_changed", ON_NETWORK_TYPE_CHANGED_CALLBACK),
        ("on_api_call_executed", ON_API_CALL_EXECUTED_CALLBACK),
        ("on_content_inspect_result", ON_CONTENT_INSPECT_RESULT_CALLBACK),
        ("on_snapshot_taken", ON_SNAPSHOT_TAKEN_CALLBACK),
        ("on_error", ON_ERROR_CALLBACK),
        ("on_warning", ON_WARNING_CALLBACK),
        ("on_channel_media_relay_state_changed", ON_CHANNEL_MEDIA_RELAY_STATE_CHANGED_CALLBACK),
        ("on_local_user_registered", ON_LOCAL_USER_REGISTERED_CALLBACK),
        ("on_user_account_updated", ON_USER_ACCOUNT_UPDATED_CALLBACK),
        ("on_stream_message_error", ON_STREAM_MESSAGE_ERROR_CALLBACK),
        ("on_encryption_error", ON_ENCRYPTION_ERROR_CALLBACK),
        ("on_upload_log_result", ON_UPLOAD_LOG_RESULT_CALLBACK),
        ("on_encryption_error", ON_ENCRYPTION_ERROR_CALLBACK),
    ]

    def __init__(self, conn_observer: Any, connection: Any) -> None:
        self.conn_observer = conn_observer
        self.conn = connection
        for field in self._fields_:
            name, prototype = field[0], field[1]
            trampoline = getattr(self, f"_{name}", None)
            if trampoline is not None:
                setattr(self, name, prototype(trampoline))

    # _rtc_connection_observer.py:131-161: the state callbacks decode RTCConnInfo without a NULL check
    def _on_connected(self, agora_rtc_conn: Any, conn_info_inner: Any, reason: Any) -> None:
        self.conn_observer.on_connected(self.conn, conn_info_inner.contents.get(), reason)

    def _on_disconnected(self, agora_rtc_conn: Any, conn_info_inner: Any, reason: Any) -> None:
        self.conn_observer.on_disconnected(self.conn, conn_info_inner.contents.get(), reason)

    def _on_connecting(self, agora_rtc_conn: Any, conn_info_inner: Any, reason: Any) -> None:
        self.conn_observer.on_connecting(self.conn, conn_info_inner.contents.get(), reason)

    def _on_reconnecting(self, agora_rtc_conn: Any, conn_info_inner: Any, reason: Any) -> None:
        self.conn_observer.on_reconnecting(self.conn, conn_info_inner.contents.get(), reason)

    def _on_reconnected(self, agora_rtc_conn: Any, conn_info_inner: Any, reason: Any) -> None:
        self.conn_observer.on_reconnected(self.conn, conn_info_inner.contents.get(), reason)

    def _on_connection_lost(self, agora_rtc_conn: Any, conn_info_inner: Any) -> None:
        self.conn_observer.on_connection_lost(self.conn, conn_info_inner.contents.get())

    # _rtc_connection_observer.py:171
    def _on_token_privilege_will_expire(self, agora_rtc_conn: Any, token: Any) -> None:
        self.conn_observer.on_token_privilege_will_expire(self.conn, token.decode("utf-8"))

    # _rtc_connection_observer.py:176
    def _on_token_privilege_did_expire(self, agora_rtc_conn: Any) -> None:
        self.conn_observer.on_token_privilege_did_expire(self.conn)

    # _rtc_connection_observer.py:184
    def _on_connection_failure(self, agora_rtc_conn: Any, conn_info_inner: Any, reason: Any) -> None:
        self.conn_observer.on_connection_failure(self.conn, conn_info_inner.contents.get(), reason)

    # _rtc_connection_observer.py:189-197: user ids decoded without a NULL check
    def _on_user_joined(self, agora_rtc_conn: Any, user_id: Any) -> None:
        self.conn_observer.on_user_joined(self.conn, user_id.decode("utf-8"))

    def _on_user_left(self, agora_rtc_conn: Any, user_id: Any, reason: Any) -> None:
        self.conn_observer.on_user_left(self.conn, user_id.decode("utf-8"), reason)

    # _rtc_connection_observer.py:237
    def _on_error(self, agora_rtc_conn: Any, error_code: Any, error_msg: Any) -> None:
        self.conn_observer.on_error(self.conn, error_code, error_msg.decode("utf-8") if error_msg else "")

    # _rtc_connection_observer.py:262
    def _on_stream_message_error(
        self, agora_rtc_conn: Any, user_id: Any, stream_id: Any, code: Any, missed: Any, cached: Any
    ) -> None:
        user_id_str = user_id.decode("utf-8") if user_id else ""
        self.conn_observer.on_stream_message_error(self.conn, user_id_str, stream_id, code, missed, cached)
