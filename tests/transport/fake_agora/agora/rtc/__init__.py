"""Fake ``agora.rtc`` (the real one loads the native libraries, agora/rtc/__init__.py:22-46)."""
