"""An echo bot: whatever the user says to the avatar (speech transcripts), the avatar says back.

Run: python examples/echo_bot.py   (against the emulator, which plays the user's voice; or set AKOOL_API_KEY)
"""

from __future__ import annotations

import anyio

from examples._target import AVATAR_ID, target
from streamclient.session import UserTranscript, connect


async def main() -> None:
    async with target() as (client, emulator):
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
