"""The user's side of the AKOOL room as a pipecat processor: AKOOL's transcripts enter the pipeline here.

Placed first, before the user context aggregator (like a transport's ``input()``), so the transcripts reach the
aggregator downstream and in order with the turn frames, whatever the LLM is doing. Without it, the service sends
them upstream from its own place after the LLM, where an LLM busy streaming its answer holds them back and an
interruption drops them.
"""

from __future__ import annotations

from pipecat.frames.frames import (
    Frame,
    InterimTranscriptionFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    StartFrame,
    TranscriptionFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.utils.time import time_now_iso8601

__all__ = ("AkoolUserInput", "UserSpeech")

_MAX_OPEN_MESSAGES = 16


class AkoolUserInput(FrameProcessor):
    """Passes every frame on; :class:`UserSpeech` pushes the user's transcripts from here once it has started."""

    def __init__(self, *, name: str) -> None:
        super().__init__(name=name)
        self.started = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Pass the frame on (and note the pipeline's start)."""
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.started = True
        await self.push_frame(frame, direction)


class UserSpeech:
    """Turns AKOOL's user transcripts into pipecat frames, inside a proposed user turn.

    Each transcript message (a ``message_id``) is one user turn: its first chunk proposes the turn's start (which
    the user aggregator turns into ``UserStartedSpeakingFrame`` and, while the avatar talks, an interruption),
    each chunk is an ``InterimTranscriptionFrame`` of the text so far, and the complete message is the final
    ``TranscriptionFrame`` followed by the proposed end of the turn.

    Args:
        user_id: the frames' ``user_id``.
        service: the processor to push from (upstream) when ``user_input`` is not in a running pipeline.
        user_input: the processor to push from (downstream), if the pipeline has it.
    """

    def __init__(self, *, user_id: str, service: FrameProcessor, user_input: AkoolUserInput | None) -> None:
        self.user_id = user_id
        self.service = service
        self.user_input = user_input
        self._open: dict[str, str] = {}

    async def transcript(self, message_id: str, text: str, *, final: bool) -> None:
        """A chunk (``final=False``) or the whole text (``final=True``) of the user's message ``message_id``."""
        source, direction = self.service, FrameDirection.UPSTREAM
        if self.user_input is not None and self.user_input.started:
            source, direction = self.user_input, FrameDirection.DOWNSTREAM
        if message_id not in self._open:
            if len(self._open) >= _MAX_OPEN_MESSAGES:  # finals that never came
                self._open.pop(next(iter(self._open)))
            self._open[message_id] = ""
            await source.broadcast_frame(ProposedUserStartedSpeakingFrame)
        if not final:
            so_far = self._open[message_id] = self._open[message_id] + text
            await source.push_frame(InterimTranscriptionFrame(so_far, self.user_id, time_now_iso8601()), direction)
            return
        del self._open[message_id]
        frame = TranscriptionFrame(text, self.user_id, time_now_iso8601(), finalized=True)
        await source.push_frame(frame, direction)
        await source.broadcast_frame(ProposedUserStoppedSpeakingFrame)
