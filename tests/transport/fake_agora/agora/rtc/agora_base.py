"""Fake ``agora.rtc.agora_base``: the enums and dataclasses the adapter uses, as in agora_base.py of SDK 2.4.10."""

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class ChannelProfileType(IntEnum):  # agora_base.py:5-7
    CHANNEL_PROFILE_COMMUNICATION = 0
    CHANNEL_PROFILE_LIVE_BROADCASTING = 1


class ClientRoleType(IntEnum):  # agora_base.py:10-12
    CLIENT_ROLE_BROADCASTER = 1
    CLIENT_ROLE_AUDIENCE = 2


class AreaCode(IntEnum):  # agora_base.py:47-55 (abridged)
    AREA_CODE_CN = 0x00000001
    AREA_CODE_NA = 0x00000002
    AREA_CODE_EU = 0x00000004
    AREA_CODE_AS = 0x00000008
    AREA_CODE_GLOB = 0xFFFFFFFF


class AudioScenarioType(IntEnum):  # agora_base.py:57-64
    AUDIO_SCENARIO_DEFAULT = 0
    AUDIO_SCENARIO_GAME_STREAMING = 3
    AUDIO_SCENARIO_CHATROOM = 5
    AUDIO_SCENARIO_CHORUS = 7
    AUDIO_SCENARIO_MEETING = 8
    AUDIO_SCENARIO_AI_SERVER = 9
    AUDIO_SCENARIO_AI_CLIENT = 10


class AudioProfileType(IntEnum):  # agora_base.py:79-83 (abridged)
    AUDIO_PROFILE_DEFAULT = 0
    AUDIO_PROFILE_SPEECH_STANDARD = 1


class AudioPublishType(IntEnum):  # agora_base.py:487-490
    AUDIO_PUBLISH_TYPE_NONE = 0
    AUDIO_PUBLISH_TYPE_PCM = 1
    AUDIO_PUBLISH_TYPE_ENCODED_PCM = 2


class VideoPublishType(IntEnum):  # agora_base.py:491-494
    VIDEO_PUBLISH_TYPE_NONE = 0
    VIDEO_PUBLISH_TYPE_YUV = 1
    VIDEO_PUBLISH_TYPE_ENCODED_IMAGE = 2


@dataclass(frozen=True, kw_only=True)
class RTCConnInfo:  # agora_base.py:270-277
    id: int
    channel_id: str
    state: int
    local_user_id: str
    internal_uid: int


@dataclass(kw_only=True)
class AgoraServiceConfig:  # agora_base.py:430-459
    log_path: str = ""
    log_size: int = 0
    enable_audio_processor: int = 1
    enable_audio_device: int = 0
    enable_video: int = 0
    context: object = None
    appid: str = ""
    area_code: int = AreaCode.AREA_CODE_GLOB.value
    channel_profile: ChannelProfileType = ChannelProfileType.CHANNEL_PROFILE_LIVE_BROADCASTING
    audio_scenario: AudioScenarioType = AudioScenarioType.AUDIO_SCENARIO_AI_SERVER
    use_string_uid: int = 0
    domain_limit: int = 0
    should_callbck_when_muted: int = 0
    log_level: int = 0
    log_file_size_kb: int = 5 * 1024
    data_dir: str = ""
    config_dir: str = ""
    enable_apm: bool = False
    apm_config: Any = None


@dataclass(kw_only=True)
class AudioSubscriptionOptions:  # agora_base.py:463-469
    packet_only: int = 0
    pcm_data_only: int = 0
    bytes_per_sample: int = 0
    number_of_channels: int = 0
    sample_rate_hz: int = 0


@dataclass(kw_only=True)
class RTCConnConfig:  # agora_base.py:472-486
    auto_subscribe_audio: int = 0
    auto_subscribe_video: int = 0
    enable_audio_recording_or_playout: int = 0
    max_send_bitrate: int = 0
    min_port: int = 0
    max_port: int = 0
    audio_subs_options: AudioSubscriptionOptions = field(default_factory=AudioSubscriptionOptions)
    client_role_type: ClientRoleType = ClientRoleType.CLIENT_ROLE_BROADCASTER
    channel_profile: ChannelProfileType = ChannelProfileType.CHANNEL_PROFILE_LIVE_BROADCASTING
    audio_recv_media_packet: int = 0
    audio_recv_encoded_frame: int = 0
    video_recv_media_packet: int = 0


@dataclass(kw_only=True)
class RtcConnectionPublishConfig:  # agora_base.py:515-524
    audio_profile: AudioProfileType = AudioProfileType.AUDIO_PROFILE_DEFAULT
    audio_scenario: AudioScenarioType = AudioScenarioType.AUDIO_SCENARIO_AI_SERVER
    is_publish_audio: bool = True
    is_publish_video: bool = False
    audio_publish_type: AudioPublishType = AudioPublishType.AUDIO_PUBLISH_TYPE_PCM
    video_publish_type: VideoPublishType = VideoPublishType.VIDEO_PUBLISH_TYPE_NONE
    video_encoded_image_sender_options: Any = None
    send_external_audio_parameters: Any = None
