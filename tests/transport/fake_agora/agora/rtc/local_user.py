"""Fake ``agora.rtc.local_user`` (SDK 2.4.10 local_user.py:238-575, the observer part only)."""

from typing import Any


class LocalUser:
    # local_user.py:239
    def __init__(self, local_user_handle: Any, connection: Any) -> None:
        self.user_handle = local_user_handle
        self.connection = connection
        self.user_observer: Any = None

    # local_user.py:566
    def _register_local_user_observer(self, observer: Any) -> int:
        self.user_observer = observer
        return 0

    # local_user.py:573
    def _unregister_local_user_observer(self) -> int:
        self.user_observer = None
        return 0

    def _release(self) -> None:
        self.user_handle = None
