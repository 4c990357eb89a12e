"""Fake ``agora.rtc.agora_service`` (SDK 2.4.10 agora_service.py:77-186): no native calls.

Faithful quirks: ``initialize()`` returns the result of a later, unrelated call (here always 0) whatever the init
result, so only ``inited`` tells (P2, agora_service.py:88-149); ``release()`` is a no-op unless inited
(agora_service.py:151-162); ``create_rtc_connection`` returns ``None`` unless inited (agora_service.py:181-186).
"""

from typing import Any

from agora import _fake

from .agora_base import AgoraServiceConfig, RTCConnConfig, RtcConnectionPublishConfig


class AgoraService:
    # agora_service.py:78
    def __init__(self) -> None:
        self.service_handle: Any = object()
        self.inited = False
        self.media_node_factory: Any = None
        self.released = False
        self.config: AgoraServiceConfig | None = None
        _fake.SERVICES.append(self)

    # agora_service.py:88
    def initialize(self, config: AgoraServiceConfig) -> int:
        if self.inited:
            return 0
        _fake.INITIALIZE_CALLS.append(config)
        self.config = config
        if _fake.SCRIPT.init_ok:
            self.inited = True
        return 0

    # agora_service.py:151
    def release(self) -> None:
        if not self.inited:
            return
        self.inited = False
        self.released = True
        self.service_handle = None

    # agora_service.py:181
    def create_rtc_connection(self, con_config: RTCConnConfig, publish_config: RtcConnectionPublishConfig) -> Any:
        if not self.inited:
            return None
        from .rtc_connection import RTCConnection

        return RTCConnection(self, con_config, publish_config)
