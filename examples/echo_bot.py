"""An echo bot: whatever the user says to the avatar (speech transcripts), the avatar says back.

Run: python examples/echo_bot.py   (against the emulator, which plays the user's voice; or set AKOOL_API_KEY)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio

from streamclient.api import AsyncAkoolClient
from streamclient.session import UserTranscript, connect

if TYPE_CHECKING:
    from streamclient.emulator import Emulator

AVATAR_ID = os.environ.get("AKOOL_AVATAR_ID", "dvp_Tristan_cloth2_1080P")


@asynccontextmanager
async def akool() -> AsyncIterator[tuple[AsyncAkoolClient, Emulator | None]]:
    """The AKOOL service when credentials are set (AKOOL_API_KEY); otherwise a local emulator (``emulator`` extra)."""
    if os.environ.get("AKOOL_API_KEY") or os.environ.get("AKOOL_CLIENT_ID"):
        async with AsyncAkoolClient() as client:
            yield client, None
        return
    from streamclient.emulator import Emulator, EmulatorConfig

    async with Emulator(EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=400.0)) as emulator:
        print(f"(no AKOOL_API_KEY: running against a local emulator at {emulator.base_url})")
        async with AsyncAkoolClient(api_key=emulator.api_key, base_url=emulator.base_url) as client:
            yield client, emulator


async def main() -> None:
    async with akool() as (client, emulator):
        # Retelling mode (1): the avatar speaks exactly the text we send.
        async with connect(client, avatar_id=AVATAR_ID, duration=120, mode_type=1) as session:
            events = session.events()
            if emulator is not None and session.session_id is not None:
                room = emulator.room_for(session.session_id)
                assert room is not None
                await room.inject_user_speech("Hello avatar, can you hear me?")
            async for event in events:
                if isinstance(event, UserTranscript) and event.final:
                    print(f"user said: {event.text}")
                    result = await session.say(f"You said: {event.text}")
                    print(f"avatar said: {result.reply}")
                    break


if __name__ == "__main__":
    anyio.run(main)
