"""Tunable limits and timeouts of an avatar session, and the typed keyword arguments of its entry points."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar

from pydantic import BaseModel
from typing_extensions import ParamSpec

from streamclient.api.params import VoiceParams
from streamclient.errors import UnknownArgumentError

__all__ = ("CommandParams", "CreateOptions", "SessionOptions", "check_keywords", "keywords_checked")

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    """Timeouts (seconds) and bounds for :class:`~streamclient.session.AvatarSession`.

    Attributes:
        join_timeout: joining the channel.
        avatar_join_timeout: waiting for the avatar to appear in the channel after joining.
        reply_timeout: default wait for a turn's reply (``await turn``).
        command_timeout: default wait for a command's ack.
        send_timeout: handing one frame to the transport.
        close_timeout: the whole shutdown (interrupt, leave, close through the API), shielded from cancellation.
        expiry_margin: how long before ``duration`` runs out to emit ``SessionExpiring``.
        event_buffer: events buffered per ``events()`` consumer before the oldest are dropped.
        message_timeout: how long an incomplete incoming message may wait for its missing chunks.
        max_frame_bytes: the byte budget of one outgoing frame (``None``: the largest size, within the transport's
            limit, whose whole frames fill the paced byte budget of every window; 986 B for Agora's 6000 B/s).
        rate_limit_backoff: first pause after the transport reports a rate-limit error (doubles, up to 2 s).
        wait_for_avatar: wait in ``__aenter__`` until the avatar has joined.
        reply_grace: how long after the avatar's ``audio_end`` a turn whose reply is still missing chunks waits for
            them before it resolves with what arrived (``incomplete``, gaps marked).
    """

    join_timeout: float = 15.0
    avatar_join_timeout: float = 30.0
    reply_timeout: float = 120.0
    command_timeout: float = 10.0
    send_timeout: float = 5.0
    close_timeout: float = 15.0
    expiry_margin: float = 30.0
    event_buffer: int = 1000
    message_timeout: float = 30.0
    max_frame_bytes: int | None = None
    rate_limit_backoff: float = 0.1
    wait_for_avatar: bool = True
    reply_grace: float = 2.0


class CreateOptions(TypedDict, total=False):
    """The session fields of :func:`~streamclient.session.connect` besides ``avatar_id`` (keyword arguments).

    The same fields as the keyword arguments of ``client.sessions.create`` (which documents each one): a misspelt
    name fails type checking, and raises :class:`~streamclient.errors.InvalidArgumentError` at run time.
    """

    duration: int | None
    voice_id: str | None
    voice_url: str | None
    language: str | None
    mode_type: int | None
    knowledge_id: str | None
    background_url: str | None
    voice_params: VoiceParams | Mapping[str, Any] | None
    stream_type: str | None
    scene_mode: str | None
    e2e_type: str | None
    credentials: BaseModel | Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None


class CommandParams(TypedDict, total=False):
    """The parameters of :meth:`~streamclient.session.AvatarSession.set_params` (keyword arguments).

    The same fields as :func:`streamclient.codec.set_params` (which documents each one), without ``mid``.
    """

    voice_id: str | None
    voice_url: str | None
    language: str | None
    mode: int | None
    background_url: str | None
    speed: float | None
    stt_language: str | None
    pron_map: Mapping[str, str] | None
    stt_type: str | None
    turn_detection: Mapping[str, Any] | None


def check_keywords(function: str, given: Mapping[str, object], fields: type[Mapping[str, object]]) -> None:
    """Refuse keyword arguments that ``fields`` (a TypedDict) does not declare, naming the first one.

    Raises:
        InvalidArgumentError: ``given`` holds an unknown name; says which, and suggests the closest known one.
    """
    known: frozenset[str] = getattr(fields, "__required_keys__", frozenset()) | getattr(
        fields, "__optional_keys__", frozenset()
    )
    _refuse_unknown(function, given, known)


def _refuse_unknown(function: str, given: Iterable[str], known: Iterable[str]) -> None:
    names = sorted(known)
    for name in given:
        if name not in names:
            raise UnknownArgumentError(function, name, names)


def keywords_checked(func: Callable[P, R]) -> Callable[P, R]:
    """Make a call with a misspelt keyword argument raise ``InvalidArgumentError`` (naming it), not ``TypeError``.

    For functions with explicit parameters (type checkers see the same signature).
    """
    signature = inspect.signature(func)
    keywords = [p.name for p in signature.parameters.values() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

    @functools.wraps(func)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        _refuse_unknown(func.__name__, kwargs, keywords)
        return func(*args, **kwargs)

    return checked
