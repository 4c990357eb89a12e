"""The user's side of the AKOOL room as a pipecat processor: AKOOL's transcripts enter the pipeline here.

Placed first, before the user context aggregator (like a transport's ``input()``), so the transcripts reach the
aggregator downstream and in order with the turn frames, whatever the LLM is doing. Without it, the service sends
them upstream from its own place after the LLM, where an LLM busy streaming its answer holds them back and an
interruption drops them.

Barge-in order. AKOOL reports the user's speech as transcripts only (no voice activity), often a whole message at
once: the start of the user's turn and its end reach the user aggregator within a millisecond. The turn's start
makes the aggregator interrupt the bot, and the assistant aggregator commits what the avatar said up to the cut
only when that interruption reaches it, at the end of the pipeline; the turn's end commits the user's message and
runs the LLM at once. Left alone, the LLM answers a context that lacks the cut reply (``[system, user, user,
assistant(cut), assistant]``). So the end of a turn (its final ``TranscriptionFrame`` and proposed stop) is held
until a barrier frame pushed after the turn's start has reached the end of the pipeline: by then the interruption
it caused has passed every processor, and the cut reply is in the context before the user's message.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import anyio
from pipecat.frames.frames import (
    ControlFrame,
    Frame,
    InterimTranscriptionFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    StartFrame,
    TranscriptionFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

__all__ = ("AkoolTurnBarrierFrame", "AkoolUserInput", "UserSpeech", "pipecat_language")

logger = logging.getLogger(__name__)

_MAX_OPEN_MESSAGES = 16
#: The longest a turn's end waits for its barrier (a processor that drops unknown frames): then it goes anyway.
BARRIER_TIMEOUT = 2.0


@dataclass
class AkoolTurnBarrierFrame(ControlFrame):
    """Pushed by :class:`AkoolUserInput` after the start of a user turn; ``reached`` is set at the pipeline's end.

    A control frame, so it stays behind the transcripts that start a turn (with pipecat's default strategies the
    interim transcript starts it) and behind the interruption they cause, at every processor; uninterruptible,
    so that interruption does not drop it. Every processor passes it on.
    """

    interruptible: bool = field(default=False, init=False)
    reached: anyio.Event = field(default_factory=anyio.Event)


async def _barrier_reached(_worker: object, frame: Frame) -> None:
    if isinstance(frame, AkoolTurnBarrierFrame):
        frame.reached.set()


def pipecat_language(code: str | None) -> Language | None:
    """The pipecat ``Language`` of an AKOOL language code (``en``, ``en-US``), ``None`` if unknown."""
    if not code:
        return None
    try:
        return Language(code)
    except ValueError:
        return None


class AkoolUserInput(FrameProcessor):
    """Passes every frame on; :class:`UserSpeech` pushes the user's transcripts from here once it has started."""

    def __init__(self, *, name: str) -> None:
        super().__init__(name=name)
        self.started = False
        #: Whether barriers can be waited for (the pipeline's worker reports them at its end).
        self.barriers = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Pass the frame on (and note the pipeline's start)."""
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self._watch_barriers()
            self.started = True
        await self.push_frame(frame, direction)

    def _watch_barriers(self) -> None:
        try:
            worker: Any = self.pipeline_worker
            worker.add_reached_downstream_filter((AkoolTurnBarrierFrame,))
            worker.remove_event_handler("on_frame_reached_downstream", _barrier_reached)
            worker.add_event_handler("on_frame_reached_downstream", _barrier_reached)
        except Exception as exc:  # not run by a PipelineWorker: turns are not held
            logger.warning("%s: the end of a user turn cannot wait for its interruption: %s", self.name, exc)
            return
        self.barriers = True

    async def settle(self) -> None:
        """Wait until what was pushed before (a turn's start and the interruption it caused) left the pipeline."""
        if not self.barriers:
            return
        barrier = AkoolTurnBarrierFrame()
        await self.push_frame(barrier)
        with anyio.move_on_after(BARRIER_TIMEOUT):
            await barrier.reached.wait()
        if not barrier.reached.is_set():
            logger.warning(
                "%s: a user turn waited %g s for its interruption to pass the pipeline (a processor dropped "
                "AkoolTurnBarrierFrame?); it goes on anyway",
                self.name,
                BARRIER_TIMEOUT,
            )


class UserSpeech:
    """Turns AKOOL's user transcripts into pipecat frames, inside a proposed user turn, in order.

    Each transcript message (a ``message_id``) is one user turn: its first chunk proposes the turn's start (which
    the user aggregator turns into ``UserStartedSpeakingFrame`` and, while the avatar talks, an interruption) and
    is an ``InterimTranscriptionFrame`` (the text so far, like every later chunk); the complete message is the
    final ``TranscriptionFrame`` followed by the proposed end of the turn, once the turn's start has passed the
    pipeline (see the module docstring).

    Transcripts are queued by :meth:`transcript` (it never blocks) and pushed by :meth:`run`, one at a time.

    Args:
        user_id: the frames' ``user_id``.
        service: the processor to push from (upstream) when ``user_input`` is not in a running pipeline.
        user_input: the processor to push from (downstream), if the pipeline has it.
        language: the language of the user's speech, if known.
    """

    def __init__(
        self,
        *,
        user_id: str,
        service: FrameProcessor,
        user_input: AkoolUserInput | None,
        language: Language | None = None,
    ) -> None:
        self.user_id = user_id
        self.service = service
        self.user_input = user_input
        self.language = language
        self._open: dict[str, str] = {}
        self._queued: deque[tuple[str, str, bool]] = deque()
        self._wakeup = anyio.Event()

    def transcript(self, message_id: str, text: str, *, final: bool) -> None:
        """Queue a chunk (``final=False``) or the whole text (``final=True``) of the user's message ``message_id``."""
        self._queued.append((message_id, text, final))
        self._wakeup.set()

    async def run(self) -> None:
        """Push the queued transcripts, in order (runs until cancelled)."""
        while True:
            while not self._queued:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
            message_id, text, final = self._queued.popleft()
            await self._push(message_id, text, final=final)

    async def _push(self, message_id: str, text: str, *, final: bool) -> None:
        source, direction = self.service, FrameDirection.UPSTREAM
        user_input = self.user_input
        if user_input is not None and user_input.started:
            source, direction = user_input, FrameDirection.DOWNSTREAM
        else:
            user_input = None
        if message_id not in self._open:
            if len(self._open) >= _MAX_OPEN_MESSAGES:  # finals that never came
                self._open.pop(next(iter(self._open)))
            self._open[message_id] = ""
            await source.broadcast_frame(ProposedUserStartedSpeakingFrame)
        if not final or not self._open[message_id]:
            # A message that arrives whole still opens with an interim: pipecat's default strategies start the
            # turn (and interrupt) on it, ahead of the barrier.
            so_far = self._open[message_id] = self._open[message_id] + text if not final else text
            interim = InterimTranscriptionFrame(so_far, self.user_id, time_now_iso8601(), language=self.language)
            await source.push_frame(interim, direction)
            if not final:
                return
        del self._open[message_id]
        if user_input is not None:
            await user_input.settle()
        frame = TranscriptionFrame(text, self.user_id, time_now_iso8601(), language=self.language, finalized=True)
        await source.push_frame(frame, direction)
        await source.broadcast_frame(ProposedUserStoppedSpeakingFrame)
