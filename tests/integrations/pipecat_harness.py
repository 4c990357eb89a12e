"""A real pipecat pipeline around AkoolAvatarService, against the embedded emulator: a scripted LLM, no network."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
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
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.integrations.pipecat import AkoolAvatarService
from streamclient.session import SessionOptions

AVATAR = "dvp_Tristan_cloth2_1080P"
OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=15, command_timeout=5, close_timeout=5)


def tokens(text: str) -> list[str]:
    """Words with their leading space, punctuation on its own: roughly how an LLM streams."""
    return re.findall(r"\s*\w+|\s*[^\w\s]", text)


class ScriptedLLM(FrameProcessor):
    """Answers each context it receives with the next scripted answer, streamed token by token.

    Streams inside ``process_frame``, like pipecat's LLM services, so an interruption (which cancels the process
    task) stops the generation.
    """

    def __init__(self, answers: list[str], *, token_interval: float = 0.005) -> None:
        super().__init__()
        self.answers = answers
        self.token_interval = token_interval
        self.prompts: list[str] = []
        self.tokens_sent = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            messages = frame.context.get_messages()
            self.prompts.append(str(messages[-1].get("content", "")) if messages else "")  # type: ignore[union-attr]
            answer = self.answers[min(len(self.prompts), len(self.answers)) - 1]
            await self.push_frame(LLMFullResponseStartFrame())
            for token in tokens(answer):
                await asyncio.sleep(self.token_interval)
                self.tokens_sent += 1
                await self.push_frame(LLMTextFrame(token))
            await self.push_frame(LLMFullResponseEndFrame())
        else:
            await self.push_frame(frame, direction)


class Recorder(FrameProcessor):
    """Records every frame going downstream through it."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            self.frames.append(frame)
        await self.push_frame(frame, direction)

    def of(self, kind: type[Frame]) -> list[Any]:
        return [f for f in self.frames if isinstance(f, kind)]


@dataclass
class Bot:
    emulator: Emulator
    client: AsyncAkoolClient
    akool: AkoolAvatarService
    llm: ScriptedLLM
    context: LLMContext
    worker: PipelineWorker
    recorder: Recorder
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

    def messages(self, role: str) -> list[str]:
        return [str(m.get("content")) for m in self.context.get_messages() if m.get("role") == role]  # type: ignore[union-attr]


@asynccontextmanager
async def running_bot(
    answers: list[str],
    *,
    token_interval: float = 0.005,
    speech_cps: float = 3000.0,
    api_key: str | None = None,
    metrics: bool = False,
    max_wait: float = 10.0,
    duration: int = 120,
) -> AsyncIterator[Bot]:
    """``[akool.input(), user aggregator, scripted LLM, akool, recorder, assistant aggregator]``, running."""
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=speech_cps, reply_chunk_chars=12)
    async with Emulator(config) as emu:
        async with AsyncAkoolClient(api_key=api_key or emu.api_key, base_url=emu.base_url) as client:
            llm = ScriptedLLM(answers, token_interval=token_interval)
            akool = AkoolAvatarService(
                avatar_id=AVATAR,
                client=client,
                create_options={"duration": duration},
                session_options=OPTIONS,
                max_wait=max_wait,  # (long: a loaded machine must not cut a sentence early)
            )
            context = LLMContext([{"role": "system", "content": "You are a helpful avatar."}])
            aggregators = LLMContextAggregatorPair(
                context, user_params=LLMUserAggregatorParams(user_turn_strategies=ExternalUserTurnStrategies())
            )
            recorder = Recorder()
            pipeline = Pipeline([akool.input(), aggregators.user(), llm, akool, recorder, aggregators.assistant()])
            worker = PipelineWorker(
                pipeline,
                params=PipelineParams(enable_metrics=metrics),
                cancel_on_idle_timeout=False,
                idle_timeout_secs=None,
            )
            bot = Bot(emu, client, akool, llm, context, worker, recorder)

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
