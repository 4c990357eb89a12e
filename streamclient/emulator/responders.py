"""Responders: what the emulated avatar answers in dialogue mode (mode 2), and what they are told.

A responder is an async callable ``(text, info) -> str`` or an async generator function ``(text, info) ->
AsyncIterator[str]`` (pieces of the answer as they are produced, like an LLM stream). The emulator speaks what it
returns; an empty answer is skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ("Responder", "SessionInfo", "default_responder")


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionInfo:
    """What a responder knows about the session it answers for (a snapshot at the time of the question)."""

    session_id: str | None
    avatar_id: str | None
    mode: int
    language: str
    voice_id: str | None
    speed: float
    turn: int  #: 1 for the first question of the session, then 2, 3, ...


Responder: TypeAlias = Callable[[str, SessionInfo], "Awaitable[str] | AsyncIterator[str]"]

_LONG_QUESTION_CHARS = 80


async def default_responder(text: str, info: SessionInfo) -> str:
    """A deterministic answer: ``"You said: <text>"``, plus a longer, multi-sentence tail for long questions."""
    question = " ".join(text.split())
    answer = f"You said: {question}"
    if len(question) > _LONG_QUESTION_CHARS:
        answer += (
            f" That is a long question of {len(question)} characters, so here is a longer answer."
            " First, the emulator repeats what it heard. Second, it answers deterministically."
            f" Third, this was turn {info.turn} of the session."
        )
    return answer
