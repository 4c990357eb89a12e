"""streamclient: a Python client for AKOOL streaming avatars."""

from __future__ import annotations

import logging

from streamclient._version import __version__

__all__ = ("__version__",)

# A library never decides where its log records go: without this, Python's last-resort handler would print our
# warnings on the application's stderr. Applications (and our CLI: -v, --debug, STREAMCLIENT_LOG) add handlers.
logging.getLogger(__name__).addHandler(logging.NullHandler())
