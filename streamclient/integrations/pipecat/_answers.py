"""One answer the avatar speaks: text deltas flowing into ``session.say_stream``, and the metrics it produces."""

from __future__ import annotations

import math

import anyio
from pipecat.metrics.metrics import TTFBMetricsData

from streamclient.session import AvatarSession, StreamTurn, TurnResult

__all__ = ("Answer",)


class Answer:
    """The LLM's text for one reply (or one ``TTSSpeakFrame``), spoken by the avatar as it arrives.

    Args:
        session: the open avatar session.
        context_id: the id stamped on the reply's TTS frames.
        from_llm: bracketed by ``LLMFullResponseStartFrame``/``EndFrame`` (else a ``TTSSpeakFrame``).
        append_to_context: whether what is spoken goes into the LLM context.
        max_wait: ``say_stream``'s ``max_wait``.
    """

    def __init__(
        self,
        session: AvatarSession,
        *,
        context_id: str,
        from_llm: bool,
        append_to_context: bool = True,
        max_wait: float,
    ) -> None:
        self.context_id = context_id
        self.from_llm = from_llm
        self.append_to_context = append_to_context
        self.interrupted = False
        self._ended = False
        self._send, receive = anyio.create_memory_object_stream[str](math.inf)
        self.turn: StreamTurn = session.say_stream(receive, max_wait=max_wait)

    @property
    def ended(self) -> bool:
        """Whether no more text will be fed (the reply ended or was cut)."""
        return self._ended

    def feed(self, text: str) -> None:
        """Hand a delta to the avatar (ignored once the answer ended or was cut)."""
        if text and not self.ended:
            try:
                self._send.send_nowait(text)
            except anyio.BrokenResourceError:  # the stream stopped being consumed (interrupted)
                self.end()

    def end(self) -> None:
        """No more text: the avatar says what is left and the turn completes."""
        self._ended = True
        self._send.close()

    def cut(self) -> None:
        """The answer was interrupted: stop feeding it."""
        self.interrupted = True
        self.end()

    def metrics(self, result: TurnResult, processor: str) -> list[TTFBMetricsData]:
        """Time from the first piece sent to the avatar's first reply chunk and to its ``audio_start``.

        Reported as two TTFB entries: ``model="first_chunk"`` and ``model="audio_start"`` (what is known of them).
        """
        t = result.timings
        data: list[TTFBMetricsData] = []
        if t.sent is None:
            return data
        for label, at in (("first_chunk", t.first_chunk), ("audio_start", t.audio_start)):
            if at is not None and at >= t.sent:
                data.append(TTFBMetricsData(processor=processor, model=label, value=at - t.sent))
        return data
