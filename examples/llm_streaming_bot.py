"""Speak an LLM's streamed answer as it is generated, with barge-in on user speech.

Retelling mode (1) makes the avatar speak our own LLM's words. ``session.say_stream`` takes the token stream, cuts it
into sentences and sends each one the moment it is complete, so the avatar starts talking long before the answer
is finished. When the user starts talking (a speech transcript arrives), the bot interrupts the avatar: the token
stream stops being consumed (the generator is closed) and the turn reports what the avatar actually said.

Run: python examples/llm_streaming_bot.py
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import anyio

from examples._target import AVATAR_ID, target
from streamclient.emulator import Emulator
from streamclient.session import AvatarSession, SpeakingStarted, UserTranscript, connect

ANSWER = (
    "Streaming avatars turn text into speech and video in real time. "
    "A bot can send its answer one sentence at a time, so the avatar starts talking before the answer is complete. "
    "If the user interrupts, the bot stops the avatar at once. "
    "This last sentence will probably never be spoken, because the user barges in."
)
TOKENS = re.findall(r"\s*\S+", ANSWER)  # words with their leading space, about how an LLM streams


class FakeLLM:
    """Streams ``ANSWER`` token by token at about 40 tokens a second, like a hosted LLM."""

    def __init__(self) -> None:
        self.generated = 0

    async def stream(self, prompt: str) -> AsyncIterator[str]:
        del prompt
        for token in TOKENS:
            await anyio.sleep(0.025)  # time to generate the next token
            self.generated += 1
            yield token


async def barge_in_on_user_speech(session: AvatarSession, emulator: Emulator | None) -> None:
    """Interrupt the avatar when the user speaks (with the emulator: the user 'speaks' during the second sentence)."""
    sentences_started = 0
    async for event in session.events():
        match event:
            case SpeakingStarted():
                sentences_started += 1
                if emulator is not None and sentences_started == 2 and session.session_id is not None:
                    room = emulator.room_for(session.session_id)
                    assert room is not None
                    await room.inject_user_speech("Wait, stop!")
            case UserTranscript(text=text):
                print(f"user barged in: {text!r}")
                await session.interrupt(drop_queued=True)
                return


async def main() -> None:
    async with target() as (client, emulator):
        async with connect(client, avatar_id=AVATAR_ID, duration=120, mode_type=1) as session:
            llm = FakeLLM()
            async with anyio.create_task_group() as tg:
                tg.start_soon(barge_in_on_user_speech, session, emulator)
                turn = session.say_stream(llm.stream("What is a streaming avatar?"))
                result = await turn
                tg.cancel_scope.cancel()
            print(f"sentences sent: {len(turn.pieces)}")
            for piece in turn.pieces:
                print(f"  {piece.text.strip()}")
            print(f"avatar said: {result.reply}")
            print(f"interrupted: {result.interrupted}")
            print(f"tokens generated: {llm.generated} of {len(TOKENS)}")
            if result.timings.first_chunk is not None:
                print(f"first words after {result.timings.first_chunk - result.timings.queued:.2f} s")


if __name__ == "__main__":
    anyio.run(main)
