"""Testing your own bot against the local emulator with streamclient's pytest fixtures.

The fixtures come with the package (a ``pytest11`` plugin): ``akool_emulator`` runs the emulator, ``akool_client``
is an ``AsyncAkoolClient`` pointed at it. Copy this file into your project and run it; no configuration needed:

    pip install "streamclient[emulator]" pytest pytest-asyncio
    pytest test_bot_with_emulator.py
"""

from __future__ import annotations

import anyio
import pytest
from anyio.abc import ObjectSendStream

from streamclient.api import AsyncAkoolClient
from streamclient.emulator.handles import EmulatorHandle
from streamclient.session import AvatarSession, UserTranscript, connect


async def echo_bot(session: AvatarSession, replies: ObjectSendStream[str]) -> None:
    """The bot under test: answers each user utterance by repeating it, and reports what the avatar said."""
    async for event in session.events():
        if isinstance(event, UserTranscript) and event.final:
            result = await session.say(f"You said: {event.text}")
            await replies.send(result.reply)


@pytest.mark.asyncio  # or @pytest.mark.anyio, with anyio's own plugin
async def test_the_echo_bot_repeats_the_user(akool_emulator: EmulatorHandle, akool_client: AsyncAkoolClient) -> None:
    send, receive = anyio.create_memory_object_stream[str](10)
    async with connect(akool_client, avatar_id="dvp_Tristan_cloth2_1080P", duration=60, mode_type=1) as session:
        assert session.session_id is not None
        room = akool_emulator.room_for(session.session_id)
        assert room is not None
        with send, receive, anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(echo_bot, session, send)
                await anyio.wait_all_tasks_blocked()  # the bot is listening
                await room.ainject_user_speech("good morning")
                assert await receive.receive() == "You said: good morning"
                await room.ainject_user_speech("how are you?")
                assert await receive.receive() == "You said: how are you?"
                tg.cancel_scope.cancel()
    # Nothing leaked: leaving the block closed the session through the API.
    await akool_emulator.await_until(lambda: akool_emulator.open_session_count() == 0)
