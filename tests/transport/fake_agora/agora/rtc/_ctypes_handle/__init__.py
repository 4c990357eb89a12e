"""Fake ``agora.rtc._ctypes_handle``: the private ctypes structures the adapter's NULL-safe observer builds on."""
