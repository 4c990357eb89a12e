"""Fake ``agora.rtc.rtc_connection_observer``: the connection observer base with the 2.4.10 signatures.

Generated from the sdist with ``ast`` (line numbers cite the real file). ``on_encryption_error`` is defined twice
in the real file; the later definition wins there too. ``on_aiqos_capability_missing`` returns ``None`` like the
real base (pitfall P4).
"""

from typing import Any


class IRTCConnectionObserver:
    """Base observer: every method does nothing (copied signatures, rtc_connection_observer.py of SDK 2.4.10)."""

    # rtc_connection_observer.py:2
    def on_connected(self, agora_rtc_conn: Any, conn_info: Any, reason: Any) -> None:
        pass

    # rtc_connection_observer.py:5
    def on_disconnected(self, agora_rtc_conn: Any, conn_info: Any, reason: Any) -> None:
        pass

    # rtc_connection_observer.py:8
    def on_connecting(self, agora_rtc_conn: Any, conn_info: Any, reason: Any) -> None:
        pass

    # rtc_connection_observer.py:11
    def on_reconnecting(self, agora_rtc_conn: Any, conn_info: Any, reason: Any) -> None:
        pass

    # rtc_connection_observer.py:14
    def on_reconnected(self, agora_rtc_conn: Any, conn_info: Any, reason: Any) -> None:
        pass

    # rtc_connection_observer.py:17
    def on_connection_lost(self, agora_rtc_conn: Any, conn_info: Any) -> None:
        pass

    # rtc_connection_observer.py:20
    def on_lastmile_quality(self, agora_rtc_conn: Any, quality: Any) -> None:
        pass

    # rtc_connection_observer.py:23
    def on_lastmile_probe_result(self, agora_rtc_conn: Any, result: Any) -> None:
        pass

    # rtc_connection_observer.py:26
    def on_token_privilege_will_expire(self, agora_rtc_conn: Any, token: Any) -> None:
        pass

    # rtc_connection_observer.py:29
    def on_token_privilege_did_expire(self, agora_rtc_conn: Any) -> None:
        pass

    # rtc_connection_observer.py:32
    def on_connection_license_validation_failure(self, agora_rtc_conn: Any, reason: Any) -> None:
        pass

    # rtc_connection_observer.py:35
    def on_connection_failure(self, agora_rtc_conn: Any, info: Any, reason: Any) -> None:
        pass

    # rtc_connection_observer.py:38
    def on_user_joined(self, agora_rtc_conn: Any, user_id: Any) -> None:
        pass

    # rtc_connection_observer.py:41
    def on_user_left(self, agora_rtc_conn: Any, user_id: Any, reason: Any) -> None:
        pass

    # rtc_connection_observer.py:44
    def on_transport_stats(self, agora_rtc_conn: Any, stats: Any) -> None:
        pass

    # rtc_connection_observer.py:47
    def on_change_role_success(self, agora_rtc_conn: Any, old_role: Any, new_role: Any) -> None:
        pass

    # rtc_connection_observer.py:50
    def on_change_role_failure(self, agora_rtc_conn: Any, reason: Any, cur_role: Any) -> None:
        pass

    # rtc_connection_observer.py:53
    def on_user_network_quality(self, agora_rtc_conn: Any, uid: Any, tx_quality: Any, rx_quality: Any) -> None:
        pass

    # rtc_connection_observer.py:56
    def on_network_type_changed(self, agora_rtc_conn: Any, network_type: Any) -> None:
        pass

    # rtc_connection_observer.py:59
    def on_api_call_executed(self, agora_rtc_conn: Any, error: Any, api_type: Any, api_param: Any) -> None:
        pass

    # rtc_connection_observer.py:62
    def on_content_inspect_result(self, agora_rtc_conn: Any, result: Any) -> None:
        pass

    # rtc_connection_observer.py:65
    def on_snapshot_taken(
        self, agora_rtc_conn: Any, uid: Any, file_path: Any, width: Any, height: Any, err_code: Any
    ) -> None:
        pass

    # rtc_connection_observer.py:68
    def on_error(self, agora_rtc_conn: Any, error_code: Any, error_msg: Any) -> None:
        pass

    # rtc_connection_observer.py:71
    def on_warning(self, agora_rtc_conn: Any, warn_code: Any, warn_msg: Any) -> None:
        pass

    # rtc_connection_observer.py:74
    def on_channel_media_relay_state_changed(self, agora_rtc_conn: Any, state: Any, code: Any) -> None:
        pass

    # rtc_connection_observer.py:77
    def on_local_user_registered(self, agora_rtc_conn: Any, uid: Any, user_account: Any) -> None:
        pass

    # rtc_connection_observer.py:80
    def on_user_account_updated(self, agora_rtc_conn: Any, uid: Any, user_account: Any) -> None:
        pass

    # rtc_connection_observer.py:83
    def on_stream_message_error(
        self, agora_rtc_conn: Any, user_id_str: Any, stream_id: Any, code: Any, missed: Any, cached: Any
    ) -> None:
        pass

    # rtc_connection_observer.py:91
    def on_encryption_error(self, agora_rtc_conn: Any, error_type: Any) -> None:
        pass

    # rtc_connection_observer.py:89
    def on_upload_log_result(self, agora_rtc_conn: Any, request_id_str: Any, success: Any, reason: Any) -> None:
        pass

    # rtc_connection_observer.py:93
    def on_aiqos_capability_missing(self, agora_rtc_conn: Any, recommend_audio_scenario: Any) -> Any:
        return None
