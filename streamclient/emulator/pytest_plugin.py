"""pytest plugin (``pytest11`` entry point): fixtures for testing bots against the local emulator."""

from __future__ import annotations
