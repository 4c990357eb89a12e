"""A bot and a browser viewer in one Agora channel that you own, with the avatar.

Bring-your-own credentials: your Agora project (app id + certificate) owns the channel; streamclient mints the
avatar's token and the bot's, creates the session so that the avatar joins *your* channel, and mints the viewer's
token in one call (hand ``viewer.as_dict()`` to the browser). The viewer talks (AKOOL's ASR turns its speech into
``UserTranscript`` events), the bot answers in retelling mode, and interrupts the avatar when the viewer talks over
it.

Run: python examples/shared_room_bot.py

With no credentials it runs against the embedded emulator, which plays the Agora project (it checks every token),
the avatar and a simulated browser viewer. With ``AKOOL_API_KEY``, ``AGORA_APP_ID`` and ``AGORA_APP_CERTIFICATE``
set it creates a real session in your channel (and waits for a real viewer's speech).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from examples._target import AVATAR_ID
from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.session import (
    AgoraRoom,
    AvatarSession,
    ParticipantJoined,
    ParticipantMessage,
    Turn,
    UserTranscript,
    connect,
)
from streamclient.transport.base import JoinParams
from streamclient.transport.room import RoomTransport

CHANNEL = "shared-room-demo"
VIEWER_UID = 3001
ANSWER = (
    "A streaming avatar can share a room with your users. "
    "Your bot and the browser join the same channel, each with a token you minted. "
    "The avatar speaks what the bot sends, and everyone in the room hears it. "
    "This last sentence is cut short, because the viewer talks over it."
)


@asynccontextmanager
async def project() -> AsyncIterator[tuple[AsyncAkoolClient, AgoraRoom, Emulator | None]]:
    """The real service and your Agora project when configured, else the emulator playing both."""
    if os.environ.get("AKOOL_API_KEY") and os.environ.get("AGORA_APP_ID"):
        async with AsyncAkoolClient() as client:
            yield client, AgoraRoom(channel=CHANNEL), None
        return
    app_id, certificate = secrets.token_hex(16), secrets.token_hex(16)  # a throwaway project for the emulator
    config = EmulatorConfig(
        avatar_join_delay=0.05,
        speech_chars_per_second=200.0,
        agora_app_id=app_id,
        agora_app_certificate=certificate,
    )
    async with Emulator(config) as emulator:
        room = AgoraRoom(channel=CHANNEL, app_id=app_id, app_certificate=certificate, room_url=emulator.room_url)
        async with AsyncAkoolClient(api_key=emulator.api_key, base_url=emulator.base_url) as client:
            yield client, room, emulator


async def bot(session: AvatarSession, done: anyio.Event) -> None:
    """Answer what the viewer says; interrupt the avatar when the viewer talks over the answer."""
    answer: Turn | None = None
    async for event in session.events():
        match event:
            case ParticipantJoined(uid=uid):
                print(f"participant {uid} joined (not the avatar: {session.avatar_uid})")
            case ParticipantMessage(uid=uid, final=True):
                print(f"a data message from participant {uid} was kept apart from the avatar's replies")
            case UserTranscript(text=text, final=True):
                print(f"viewer said: {text!r}")
                if answer is not None and not answer.done:
                    await session.interrupt(drop_queued=True)
                    result = await answer
                    print(f"bot interrupted the avatar (interrupted={result.interrupted})")
                    done.set()
                else:
                    answer = session.say(ANSWER)
                    print("bot answers")


async def simulated_viewer(room: AgoraRoom, emulator: Emulator) -> None:
    """What the browser does, played by the emulator: join with its own token, speak, talk over the answer."""
    viewer = room.viewer_token(VIEWER_UID, expire=900)
    print(f"viewer token minted for uid {viewer.uid} (expires at {viewer.expires_at}; never print the token)")
    browser = RoomTransport(emulator.room_url)
    await browser.join(
        JoinParams(app_id=viewer.app_id, channel=viewer.channel, uid=str(viewer.uid), token=viewer.token)
    )
    try:
        shared = emulator.room_for_channel(room.channel)
        assert shared is not None
        await shared.inject_user_speech("What can a streaming avatar do in my app?")  # AKOOL's ASR hears the viewer
        await emulator.wait_until(lambda: shared.avatar is not None and shared.avatar.speaking, timeout=10)
        await shared.inject_user_speech("Thanks, that's enough!")
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await browser.leave()


async def main() -> None:
    async with project() as (client, room, emulator):
        async with connect(client, avatar_id=AVATAR_ID, duration=120, mode_type=1, room=room) as session:
            print(f"in channel {room.channel}: bot uid {room.bot_uid}, avatar uid {session.avatar_uid}")
            done = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(bot, session, done)
                await anyio.wait_all_tasks_blocked()
                if emulator is not None:
                    tg.start_soon(simulated_viewer, room, emulator)
                with anyio.move_on_after(60 if emulator is not None else 600):
                    await done.wait()
                tg.cancel_scope.cancel()
        print(f"session closed ({session.close_reason}); our token was renewed {session.token_renewals} times")


if __name__ == "__main__":
    anyio.run(main)
