"""A pipecat voice bot whose voice, face and ears are an AKOOL streaming avatar.

The pipeline is ``[akool.input(), context.user(), llm, akool, context.assistant()]``: AKOOL recognises the user's
speech in its room (transcripts enter at ``akool.input()``), the LLM answers, and the avatar speaks the answer
sentence by sentence while the LLM is still writing it. When the user talks over the avatar, pipecat's interruption
stops it and the context keeps what was actually said, before the user's next words.

This script runs against the embedded emulator (no credentials, no network): the "LLM" is scripted, and the user's
speech is injected into the emulator's room. In a real bot, replace ``ScriptedLLM`` with an LLM service (for
example ``OpenAILLMService``), install ``streamclient[pipecat,agora]`` and let the user join the AKOOL session from
a browser (see docs/pipecat.md).

Install: pip install "streamclient[pipecat,emulator]" (pipecat-ai needs Python >= 3.11)
Run: python examples/pipecat_bot.py
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from typing import Any

import anyio

try:
    from loguru import logger
    from pipecat.frames.frames import (
        EndFrame,
        Frame,
        LLMContextFrame,
        LLMFullResponseEndFrame,
        LLMFullResponseStartFrame,
        LLMTextFrame,
    )
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.workers.runner import WorkerRunner

    from streamclient.emulator import Emulator, EmulatorConfig
    from streamclient.integrations.pipecat import AkoolAvatarService
except ImportError as exc:  # an extra is missing: say what to install, no traceback
    sys.exit(f'{exc}\nThis example needs: pip install "streamclient[pipecat,emulator]"')

from streamclient.api import AsyncAkoolClient
from streamclient.session import AvatarSession

AVATAR_ID = "dvp_Tristan_cloth2_1080P"
ANSWERS = [
    "A streaming avatar is a digital human that talks in real time. "
    "It speaks each sentence as soon as the language model has written it.",
    "You just start talking. The avatar notices at once and stops, "
    "and this sentence is never heard because you cut it short. Nor is this one.",
    "Sure, I will keep it short.",
]


class ScriptedLLM(FrameProcessor):
    """Stands in for an LLM service: streams the next scripted answer, a token every 30 ms."""

    def __init__(self) -> None:
        super().__init__()
        self.turn = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        answer = ANSWERS[min(self.turn, len(ANSWERS) - 1)]
        self.turn += 1
        await self.push_frame(LLMFullResponseStartFrame())
        for token in re.findall(r"\s*\w+|\s*[^\w\s]", answer):
            await asyncio.sleep(0.03)
            await self.push_frame(LLMTextFrame(token))
        await self.push_frame(LLMFullResponseEndFrame())


async def main() -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")  # pipecat's own log is verbose
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=150.0)
    async with Emulator(config) as emulator, AsyncAkoolClient(emulator.api_key, base_url=emulator.base_url) as client:
        akool = AkoolAvatarService(avatar_id=AVATAR_ID, client=client, create_options={"duration": 300})
        context = LLMContext([{"role": "system", "content": "You are a friendly avatar. Answer briefly."}])
        # No turn strategies given: the aggregator adopts the ones the service recommends (AKOOL's own turns).
        aggregators = LLMContextAggregatorPair(context)
        pipeline = Pipeline([akool.input(), aggregators.user(), ScriptedLLM(), akool, aggregators.assistant()])
        worker = PipelineWorker(pipeline, params=PipelineParams(enable_metrics=True), idle_timeout_secs=None)

        ready = anyio.Event()
        turns: list[tuple[str, bool]] = []
        turn_done = anyio.Event()
        sessions: list[AvatarSession] = []

        async def on_avatar_ready(_service: object, session: AvatarSession) -> None:
            sessions.append(session)
            ready.set()

        async def on_assistant_turn(_aggregator: object, message: Any) -> None:
            nonlocal turn_done
            turns.append((message.content, message.interrupted))
            turn_done.set()
            turn_done = anyio.Event()

        akool.add_event_handler("on_avatar_ready", on_avatar_ready)
        aggregators.assistant().add_event_handler("on_assistant_turn_stopped", on_assistant_turn)

        async def user() -> None:
            """The user, in the emulator's room: a question, a question cut short, a last word."""
            with anyio.fail_after(30):
                await ready.wait()
                session_id = sessions[0].session_id
                assert session_id is not None
                room = emulator.room_for(session_id)
                assert room is not None
                assert room.avatar is not None
                avatar = room.avatar

                def sentences_sent(count: int) -> Callable[[], bool]:
                    return lambda: len(avatar.received_texts) >= count

                for question in ("What is a streaming avatar?", "How do I interrupt you?"):
                    done = turn_done
                    print(f"user: {question}")
                    await room.inject_user_speech(question)
                    if question.startswith("How"):  # barge in once the avatar is on its second sentence
                        await emulator.wait_until(sentences_sent(len(avatar.received_texts) + 2), timeout=15)
                        print("user: Stop, that's enough.")
                        await room.inject_user_speech("Stop, that's enough.")
                        await done.wait()
                        done = turn_done
                    await done.wait()
            await worker.queue_frame(EndFrame())  # ends the pipeline: the avatar session is closed

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        async with anyio.create_task_group() as tg:
            tg.start_soon(user)
            await runner.run()
        for text, interrupted in turns:
            print(f"avatar{' (interrupted)' if interrupted else ''}: {text}")
        print("context:")
        for message in context.get_messages():
            print(f"  {message.get('role')}: {message.get('content')}")  # type: ignore[union-attr]
        print(f"open sessions: {emulator.open_session_count()}")


if __name__ == "__main__":
    asyncio.run(main())
