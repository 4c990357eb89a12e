"""Shared by the examples: the real service when AKOOL_API_KEY is set, the embedded emulator otherwise."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig

AVATAR_ID = os.environ.get("AKOOL_AVATAR_ID", "dvp_Tristan_cloth2_1080P")


@asynccontextmanager
async def target() -> AsyncIterator[tuple[AsyncAkoolClient, Emulator | None]]:
    """Yield an API client (and the emulator, when one was started)."""
    if os.environ.get("AKOOL_API_KEY"):
        async with AsyncAkoolClient() as client:
            yield client, None
        return
    async with Emulator(EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=400.0)) as emulator:
        async with AsyncAkoolClient(api_key=emulator.api_key, base_url=emulator.base_url) as client:
            yield client, emulator
