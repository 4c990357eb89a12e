"""Stream an LLM-style answer to the avatar sentence by sentence, with barge-in on user speech.

Retelling mode (1) makes the avatar speak our own LLM's words. Each sentence goes out as soon as the "LLM" yields
it; when the user starts talking (a speech transcript arrives), the bot interrupts the avatar and stops generating.

Run: python examples/llm_streaming_bot.py
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio

from streamclient.api import AsyncAkoolClient
from streamclient.session import AvatarSession, Turn, UserTranscript, connect

ANSWER = (
    "Streaming avatars turn text into speech and video in real time. "
    "A bot can send its answer one sentence at a time, so the avatar starts talking before the answer is complete. "
    "If the user interrupts, the bot stops the avatar at once. "
    "This last sentence will probably never be spoken, because the user barges in."
)

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


async def fake_llm(prompt: str) -> AsyncIterator[str]:
    """Yield an answer sentence by sentence, the way a streaming LLM client does."""
    del prompt
    for sentence in ANSWER.split(". "):
        await anyio.sleep(0.05)  # time to generate the next sentence
        yield sentence.rstrip(".") + ". "


async def speak_answer(session: AvatarSession, prompt: str, barge_in: anyio.Event) -> list[Turn]:
    """Send each sentence as it arrives; stop at barge-in."""
    turns: list[Turn] = []
    async for sentence in fake_llm(prompt):
        if barge_in.is_set():
            break
        turns.append(session.say(sentence))
    return turns


async def main() -> None:
    async with akool() as (client, emulator):
        async with connect(client, avatar_id=AVATAR_ID, duration=120, mode_type=1) as session:
            barge_in = anyio.Event()
            events = session.events()

            async def watch_user() -> None:
                async for event in events:
                    if isinstance(event, UserTranscript):
                        print(f"user barged in: {event.text!r}")
                        barge_in.set()
                        await session.interrupt(drop_queued=True)
                        return

            async with anyio.create_task_group() as tg:
                tg.start_soon(watch_user)
                turns = await speak_answer(session, "What is a streaming avatar?", barge_in)
                if emulator is not None and session.session_id is not None and len(turns) > 1:
                    # Simulate the user speaking while the avatar says the second sentence.
                    await turns[0]
                    await turns[1].wait_reply_started()
                    room = emulator.room_for(session.session_id)
                    assert room is not None
                    await room.inject_user_speech("Wait, stop!")
                for turn in turns:
                    result = await turn
                    state = "interrupted" if result.interrupted else "spoken"
                    print(f"{state:>11}: {result.reply or result.text}")
                tg.cancel_scope.cancel()


if __name__ == "__main__":
    anyio.run(main)
