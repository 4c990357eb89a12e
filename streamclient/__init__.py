"""streamclient: a Python client for AKOOL streaming avatars."""

from __future__ import annotations

from streamclient._version import __version__

__all__ = ("__version__",)
