"""Fake ``agora.rtc._ctypes_handle._ctypes_data``: the C types of SDK 2.4.10 that connection callbacks carry.

``RTCConnInfoInner.get()`` decodes its strings without a NULL check, exactly like the real one (_ctypes_data.py:858):
a NULL ``channel_id`` or ``local_user_id`` (as the native SDK reports before the channel is known) raises
``AttributeError`` inside the SDK's own trampoline.
"""

import ctypes

from agora.rtc.agora_base import RTCConnInfo

AGORA_HANDLE = ctypes.c_void_p  # _ctypes_data.py:4
user_id_t = ctypes.c_char_p  # _ctypes_data.py:8
uid_t = ctypes.c_uint  # _ctypes_data.py:9


class RTCConnInfoInner(ctypes.Structure):  # _ctypes_data.py:849
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("channel_id", ctypes.c_char_p),
        ("state", ctypes.c_int),
        ("local_user_id", ctypes.c_char_p),
        ("internal_uid", ctypes.c_uint),
    ]

    def get(self) -> RTCConnInfo:
        return RTCConnInfo(
            id=self.id,
            channel_id=self.channel_id.decode(),
            state=self.state,
            local_user_id=self.local_user_id.decode(),
            internal_uid=self.internal_uid,
        )

    @staticmethod
    def create(info: RTCConnInfo) -> "RTCConnInfoInner":
        return RTCConnInfoInner(
            info.id, info.channel_id.encode(), info.state, info.local_user_id.encode(), info.internal_uid
        )
