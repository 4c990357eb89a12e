"""A real pipecat pipeline around AkoolAvatarService, against the embedded emulator: a scripted LLM, no network.

Built the way pipecat's documentation builds a bot: ``LLMContextAggregatorPair`` around the LLM, a
``PipelineWorker`` run by a ``WorkerRunner``; the AKOOL service where the TTS would go, its ``input()`` first.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies, UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from streamclient.api import AsyncAkoolClient
from streamclient.codec import ChatFrame, encode_frame
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.emulator.avatar_room import AvatarRoom
from streamclient.integrations.pipecat import AkoolAvatarService
from streamclient.session import SessionOptions

AVATAR = "dvp_Tristan_cloth2_1080P"
SYSTEM = "You are a helpful avatar."
OPTIONS = SessionOptions(avatar_join_timeout=30, reply_timeout=15, command_timeout=5, close_timeout=5)

#: One step of a scripted answer: a token (an ``LLMTextFrame``), a frame pushed as it is, or an event to wait for.
Step = str | Frame | asyncio.Event


def tokens(text: str) -> list[str]:
    """Words with their leading space, punctuation on its own: roughly how an LLM streams."""
    return re.findall(r"\s*\w+|\s*[^\w\s]", text)


class ScriptedLLM(FrameProcessor):
    """Answers each context it receives with the next scripted answer, streamed token by token.

    Streams inside ``process_frame``, like pipecat's LLM services, so an interruption (which cancels the process
    task) stops the generation. Records the messages of every context it was run on.
    """

    def __init__(self, answers: Sequence[str | Sequence[Step]], *, token_interval: float = 0.005) -> None:
        super().__init__()
        self.answers = answers
        self.token_interval = token_interval
        self.runs: list[list[tuple[str, str]]] = []
        self.tokens_sent = 0

    @property
    def prompts(self) -> list[str]:
        return [run[-1][1] for run in self.runs]

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            self.runs.append(messages_of(frame.context))
            answer = self.answers[min(len(self.runs), len(self.answers)) - 1]
            steps = tokens(answer) if isinstance(answer, str) else answer
            await self.push_frame(LLMFullResponseStartFrame())
            for step in steps:
                if isinstance(step, asyncio.Event):
                    await step.wait()
                    continue
                await asyncio.sleep(self.token_interval)
                self.tokens_sent += 1
                await self.push_frame(LLMTextFrame(step) if isinstance(step, str) else step)
            await self.push_frame(LLMFullResponseEndFrame())
        else:
            await self.push_frame(frame, direction)


class Recorder(FrameProcessor):
    """Records every frame going through it in one direction."""

    def __init__(self, direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        super().__init__()
        self.direction = direction
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == self.direction:
            self.frames.append(frame)
        await self.push_frame(frame, direction)

    def of(self, kind: type[Frame]) -> list[Any]:
        return [f for f in self.frames if isinstance(f, kind)]


def messages_of(context: LLMContext) -> list[tuple[str, str]]:
    """The context's messages as (role, content) pairs, in order."""
    return [(str(m.get("role")), str(m.get("content"))) for m in context.get_messages()]  # type: ignore[union-attr]


@dataclass
class Bot:
    emulator: Emulator
    client: AsyncAkoolClient
    akool: AkoolAvatarService
    llm: ScriptedLLM
    context: LLMContext
    worker: PipelineWorker
    recorder: Recorder
    tap: Recorder
    turns: list[tuple[str, bool]] = field(default_factory=list)  # (assistant text, interrupted)
    turn_done: asyncio.Event = field(default_factory=asyncio.Event)
    errors: list[ErrorFrame] = field(default_factory=list)
    error_seen: asyncio.Event = field(default_factory=asyncio.Event)
    run: asyncio.Future[Any] | None = None

    async def end(self) -> None:
        """End the pipeline gracefully (``EndFrame``) and wait until it has finished."""
        assert self.run is not None
        await self.worker.queue_frame(EndFrame())
        with anyio.fail_after(30):
            await self.run

    async def wait_turns(self, count: int, timeout: float = 20.0) -> None:
        with anyio.fail_after(timeout):
            while len(self.turns) < count:
                self.turn_done.clear()
                await self.turn_done.wait()

    def messages(self) -> list[tuple[str, str]]:
        """The context's full message list, in order."""
        return messages_of(self.context)

    async def room(self) -> AvatarRoom:
        """The emulator room of the bot's session, once the avatar is in it."""
        akool = self.akool
        await self.emulator.wait_until(lambda: akool.session is not None and akool.session.avatar_uid is not None)
        session = akool.session
        assert session is not None
        assert session.session_id is not None
        room = self.emulator.room_for(session.session_id)
        assert room is not None
        return room


STRATEGIES: dict[str, Callable[[], UserTurnStrategies | None]] = {
    "recommended": lambda: None,  # the service's recommendation (ExternalUserTurnStrategies) is adopted
    "external": ExternalUserTurnStrategies,
    "default": UserTurnStrategies,  # pipecat's default: transcription (or VAD) start, turn analyzer stop
}


@asynccontextmanager
async def running_bot(
    answers: Sequence[str | Sequence[Step]],
    *,
    token_interval: float = 0.005,
    speech_cps: float = 3000.0,
    api_key: str | None = None,
    params: PipelineParams | None = None,
    max_wait: float = 10.0,
    duration: int = 120,
    strategies: str = "external",
    join_delay: float = 0.05,
    cancel_timeout: float = 20.0,
    create_options: dict[str, Any] | None = None,
    middle: Sequence[FrameProcessor] = (),
) -> AsyncIterator[Bot]:
    """``[akool.input(), tap, user aggregator, scripted LLM, *middle, akool, recorder, assistant aggregator]``."""
    config = EmulatorConfig(avatar_join_delay=join_delay, speech_chars_per_second=speech_cps, reply_chunk_chars=12)
    async with Emulator(config) as emu:
        async with AsyncAkoolClient(api_key=api_key or emu.api_key, base_url=emu.base_url) as client:
            llm = ScriptedLLM(answers, token_interval=token_interval)
            akool = AkoolAvatarService(
                avatar_id=AVATAR,
                client=client,
                create_options={"duration": duration, **(create_options or {})},
                session_options=OPTIONS,
                max_wait=max_wait,  # (long: a loaded machine must not cut a sentence early)
            )
            context = LLMContext([{"role": "system", "content": SYSTEM}])
            chosen = STRATEGIES[strategies]()
            aggregators = LLMContextAggregatorPair(
                context, user_params=LLMUserAggregatorParams(user_turn_strategies=chosen)
            )
            recorder, tap = Recorder(), Recorder()
            pipeline = Pipeline(
                [akool.input(), tap, aggregators.user(), llm, *middle, akool, recorder, aggregators.assistant()]
            )
            worker = PipelineWorker(
                pipeline,
                params=params or PipelineParams(),
                cancel_on_idle_timeout=False,
                idle_timeout_secs=None,
                cancel_timeout_secs=cancel_timeout,
            )
            bot = Bot(emu, client, akool, llm, context, worker, recorder, tap)

            async def on_turn(_aggregator: object, message: Any) -> None:
                bot.turns.append((message.content, message.interrupted))
                bot.turn_done.set()

            async def on_error(_worker: object, frame: ErrorFrame) -> None:
                bot.errors.append(frame)
                bot.error_seen.set()

            aggregators.assistant().add_event_handler("on_assistant_turn_stopped", on_turn)
            worker.add_event_handler("on_pipeline_error", on_error)

            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(worker)
            run = bot.run = asyncio.ensure_future(runner.run())
            try:
                yield bot
            finally:
                if not run.done():
                    await worker.cancel()
                with anyio.fail_after(30):
                    await run


async def speak_in_chunks(room: AvatarRoom, parts: Sequence[str], *, gap: float) -> None:
    """The avatar sends the user's transcript ``parts`` as the chunks of one message, ``gap`` seconds apart.

    (The emulator's ``inject_user_speech`` sends a message at once; AKOOL's recogniser may spread it over seconds.)
    """
    avatar = room.avatar
    assert avatar is not None
    mid = f"user-{id(parts):x}"
    for idx, part in enumerate(parts):
        frame = ChatFrame(mid=mid, idx=idx, fin=idx == len(parts) - 1, text=part, source="user")
        avatar._reply_chat.append((mid, encode_frame(frame)))  # the avatar's paced lane (test-only access)
        avatar._wake(avatar._wake_writer)
        if idx < len(parts) - 1:
            await anyio.sleep(gap)  # spreading the chunks, not waiting for anything
