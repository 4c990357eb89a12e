"""The inspector: a live page on the emulator's rooms, sessions, conversation, frames and rates (issue 25).

``Emulator`` serves it at ``/inspector/`` (:attr:`~streamclient.emulator.Emulator.inspector_url`);
``streamclient frames view FILE.jsonl`` serves the same page on a recording. See ``docs/inspector.md``.
"""

from __future__ import annotations

from streamclient.emulator.inspector.live import Inspector, InspectorActionError
from streamclient.emulator.inspector.model import InspectorModel
from streamclient.emulator.inspector.web import inspector_routes

__all__ = ("Inspector", "InspectorActionError", "InspectorModel", "inspector_routes")
