"""What the avatar is asked to say: answers (an LLM reply, a ``TTSSpeakFrame``), their pieces, in spoken order."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import anyio

from streamclient.session import SentenceSegmenter, Turn

__all__ = ("Answer", "Close", "Piece", "wall_time")


def wall_time(loop_time: float) -> float:
    """A time of the event loop's clock as ``time.time()`` (pipecat's metrics helpers take wall-clock times)."""
    return time.time() - (anyio.current_time() - loop_time)


class Answer:
    """One reply of the LLM, or one ``TTSSpeakFrame``: its text is cut into pieces, each said as its own message.

    Args:
        context_id: the id stamped on its TTS frames.
        from_llm: an LLM reply (bracketed by ``LLMFullResponseStartFrame``/``EndFrame``).
        append_to_context: whether what is spoken goes into the LLM context.
        inside_reply: a ``TTSSpeakFrame`` that came during an LLM reply (the reply's end commits its text).
        max_wait: how long a piece may wait for its sentence to end.
    """

    def __init__(
        self,
        *,
        context_id: str,
        from_llm: bool,
        append_to_context: bool = True,
        inside_reply: bool = False,
        max_wait: float,
    ) -> None:
        self.context_id = context_id
        self.from_llm = from_llm
        self.append_to_context = append_to_context
        self.inside_reply = inside_reply
        self.segmenter = SentenceSegmenter(max_wait=max_wait)
        self.turns: list[Turn] = []
        self.ended = False
        self.interrupted = False
        self.started = False  # its TTSStartedFrame was pushed
        self.chunk_measured = False
        self.audio_measured = False
        self._last = ""  # the last character fed

    def feed(self, text: str) -> list[str]:
        """Add text; return the pieces it completes."""
        if self.ended or not text:
            return []
        self._last = text[-1]
        return self.segmenter.feed(text, anyio.current_time())

    def spaced(self, text: str) -> str:
        """``text`` with a space before it if it follows earlier text without one (a sentence from an aggregator)."""
        if self._last and not self._last.isspace() and text[:1] and not text[0].isspace():
            return " " + text
        return text

    def expire(self) -> list[str]:
        """The pieces that waited ``max_wait``."""
        if self.ended:
            return []
        return self.segmenter.expire(anyio.current_time())

    def end(self) -> list[str]:
        """No more text: the pieces left."""
        if self.ended:
            return []
        self.ended = True
        return self.segmenter.flush()

    def cut(self) -> None:
        """Interrupted: nothing more of it is said or reported."""
        self.interrupted = True
        self.ended = True

    @property
    def first_sent(self) -> float | None:
        """When its first piece was sent (event loop clock)."""
        return next((t.sent_at for t in self.turns if t.sent_at is not None), None)

    def sent_text(self) -> str:
        """The text of the pieces sent to the avatar."""
        return "".join(t.text for t in self.turns if t.sent_at is not None)


@dataclass(eq=False)
class Piece:
    """One message said for ``answer`` (its ``turn``), and how much of its reply was reported."""

    answer: Answer
    turn: Turn
    reported: int = 0
    since: float = field(default_factory=anyio.current_time)


@dataclass(eq=False)
class Close:
    """``answer`` has no more pieces: its closing frames go out after its last piece was spoken."""

    answer: Answer
