"""Suite-wide settings."""

from __future__ import annotations

from hypothesis import settings

# Property tests assert behaviour, not speed: a loaded CI machine must not turn a slow example into a failure.
settings.register_profile("streamclient", deadline=None)
settings.load_profile("streamclient")
