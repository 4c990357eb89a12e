"""Fake ``agora.rtc.local_user_observer``: the local-user observer base with the 2.4.10 signatures.

Generated from the sdist with ``ast`` (line numbers cite the real file). ``on_stream_message`` takes five
arguments after ``self``: (agora_local_user, user_id, stream_id, data, length).
"""

from typing import Any


class IRTCLocalUserObserver:
    """Base observer: every method does nothing (copied signatures, local_user_observer.py of SDK 2.4.10)."""

    # local_user_observer.py:14
    def on_audio_track_publish_success(self, agora_local_user: Any, agora_local_audio_track: Any) -> None:
        pass

    # local_user_observer.py:17
    def on_audio_track_publish_start(self, agora_local_user: Any, agora_local_audio_track: Any) -> None:
        pass

    # local_user_observer.py:20
    def on_audio_track_unpublished(self, agora_local_user: Any, agora_local_audio_track: Any) -> None:
        pass

    # local_user_observer.py:23
    def on_audio_track_publication_failure(
        self, agora_local_user: Any, agora_local_audio_track: Any, error: Any
    ) -> None:
        pass

    # local_user_observer.py:26
    def on_local_audio_track_state_changed(
        self, agora_local_user: Any, agora_local_audio_track: Any, state: Any, error: Any
    ) -> None:
        pass

    # local_user_observer.py:29
    def on_local_audio_track_statistics(self, agora_local_user: Any, stats: Any) -> None:
        pass

    # local_user_observer.py:32
    def on_remote_audio_track_statistics(
        self, agora_local_user: Any, agora_remote_audio_track: Any, stats: Any
    ) -> None:
        pass

    # local_user_observer.py:35
    def on_user_audio_track_subscribed(
        self, agora_local_user: Any, user_id: Any, agora_remote_audio_track: Any
    ) -> None:
        pass

    # local_user_observer.py:38
    def on_user_audio_track_state_changed(
        self, agora_local_user: Any, user_id: Any, agora_remote_audio_track: Any, state: Any, reason: Any, elapsed: Any
    ) -> None:
        pass

    # local_user_observer.py:41
    def on_audio_subscribe_state_changed(
        self,
        agora_local_user: Any,
        channel: Any,
        user_id: Any,
        old_state: Any,
        new_state: Any,
        elapse_since_last_state: Any,
    ) -> None:
        pass

    # local_user_observer.py:44
    def on_audio_publish_state_changed(
        self, agora_local_user: Any, channel: Any, old_state: Any, new_state: Any, elapse_since_last_state: Any
    ) -> None:
        pass

    # local_user_observer.py:47
    def on_first_remote_audio_frame(self, agora_local_user: Any, user_id: Any, elapsed: Any) -> None:
        pass

    # local_user_observer.py:50
    def on_first_remote_audio_decoded(self, agora_local_user: Any, user_id: Any, elapsed: Any) -> None:
        pass

    # local_user_observer.py:53
    def on_video_track_publish_success(self, agora_local_user: Any, agora_local_video_track: Any) -> None:
        pass

    # local_user_observer.py:56
    def on_video_track_publish_start(self, agora_local_user: Any, agora_local_video_track: Any) -> None:
        pass

    # local_user_observer.py:59
    def on_video_track_unpublished(self, agora_local_user: Any, agora_local_video_track: Any) -> None:
        pass

    # local_user_observer.py:62
    def on_video_track_publication_failure(
        self, agora_local_user: Any, agora_local_video_track: Any, error: Any
    ) -> None:
        pass

    # local_user_observer.py:65
    def on_local_video_track_state_changed(
        self, agora_local_user: Any, agora_local_video_track: Any, state: Any, error: Any
    ) -> None:
        pass

    # local_user_observer.py:68
    def on_local_video_track_statistics(self, agora_local_user: Any, agora_local_video_track: Any, stats: Any) -> None:
        pass

    # local_user_observer.py:71
    def on_user_video_track_subscribed(
        self, agora_local_user: Any, user_id: Any, info: Any, agora_remote_video_track: Any
    ) -> None:
        pass

    # local_user_observer.py:74
    def on_user_video_track_state_changed(
        self, agora_local_user: Any, user_id: Any, agora_remote_video_track: Any, state: Any, reason: Any, elapsed: Any
    ) -> None:
        pass

    # local_user_observer.py:77
    def on_remote_video_track_statistics(
        self, agora_local_user: Any, agora_remote_video_track: Any, stats: Any
    ) -> None:
        pass

    # local_user_observer.py:80
    def on_audio_volume_indication(
        self, agora_local_user: Any, speakers_list: Any, speaker_number: Any, total_volume: Any
    ) -> None:
        pass

    # local_user_observer.py:83
    def on_active_speaker(self, agora_local_user: Any, userId: Any) -> None:
        pass

    # local_user_observer.py:86
    def on_remote_video_stream_info_updated(self, agora_local_user: Any, info: Any) -> None:
        pass

    # local_user_observer.py:89
    def on_video_subscribe_state_changed(
        self,
        agora_local_user: Any,
        channel: Any,
        user_id: Any,
        old_state: Any,
        new_state: Any,
        elapse_since_last_state: Any,
    ) -> None:
        pass

    # local_user_observer.py:92
    def on_video_publish_state_changed(
        self, agora_local_user: Any, channel: Any, old_state: Any, new_state: Any, elapse_since_last_state: Any
    ) -> None:
        pass

    # local_user_observer.py:95
    def on_first_remote_video_frame(
        self, agora_local_user: Any, user_id: Any, width: Any, height: Any, elapsed: Any
    ) -> None:
        pass

    # local_user_observer.py:98
    def on_first_remote_video_decoded(
        self, agora_local_user: Any, user_id: Any, width: Any, height: Any, elapsed: Any
    ) -> None:
        pass

    # local_user_observer.py:101
    def on_first_remote_video_frame_rendered(
        self, agora_local_user: Any, user_id: Any, width: Any, height: Any, elapsed: Any
    ) -> None:
        pass

    # local_user_observer.py:104
    def on_video_size_changed(
        self, agora_local_user: Any, user_id: Any, width: Any, height: Any, rotation: Any
    ) -> None:
        pass

    # local_user_observer.py:107
    def on_user_info_updated(self, agora_local_user: Any, user_id: Any, msg: Any, val: Any) -> None:
        pass

    # local_user_observer.py:110
    def on_intra_request_received(self, agora_local_user: Any) -> None:
        pass

    # local_user_observer.py:113
    def on_remote_subscribe_fallback_to_audio_only(
        self, agora_local_user: Any, user_id: Any, is_fallback_or_recover: Any
    ) -> None:
        pass

    # local_user_observer.py:116
    def on_stream_message(self, agora_local_user: Any, user_id: Any, stream_id: Any, data: Any, length: Any) -> None:
        pass

    # local_user_observer.py:119
    def on_user_state_changed(self, agora_local_user: Any, user_id: Any, state: Any) -> None:
        pass

    # local_user_observer.py:122
    def on_audio_meta_data_received(self, agora_local_user: Any, user_id: Any, data: Any) -> None:
        pass
