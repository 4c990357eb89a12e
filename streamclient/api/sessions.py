"""``client.sessions``: create, get, list, iterate and close live-avatar sessions (§1.3-§1.6, §5)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from streamclient.api._guard import Budget, CreateGuard
from streamclient.api._http import HttpCore
from streamclient.api._resource import Resource, iterate_pages
from streamclient.api._validate import require_choice, require_id, require_int, require_text
from streamclient.api.models import Session, SessionPage, SessionStatus
from streamclient.api.params import VoiceParams
from streamclient.errors import InvalidArgumentError, InvalidParameterError

__all__ = ("CREATE_PATH", "MAX_DURATION", "STREAM_TYPES", "Sessions")

logger = logging.getLogger(__name__)

CREATE_PATH = "/api/open/v4/liveAvatar/session/create"
DETAIL_PATH = "/api/open/v4/liveAvatar/session/detail"
CLOSE_PATH = "/api/open/v4/liveAvatar/session/close"
LIST_PATH = "/api/open/v4/liveAvatar/session/list"

#: Longest session the service accepts, in seconds (OAS).
MAX_DURATION = 3600
STREAM_TYPES = frozenset({"agora", "livekit", "trtc"})
MODE_TYPES = frozenset({1, 2})
SCENE_MODES = frozenset({"fast_dialogue", "meeting"})
E2E_TYPES = frozenset({"openai"})


def _voice_params(value: VoiceParams | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        model = value if isinstance(value, VoiceParams) else VoiceParams.model_validate(dict(value))
    except (ValidationError, TypeError, ValueError) as exc:
        # Only the location and kind of each error: the values may contain an ElevenLabs key.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in getattr(exc, "errors", list)()
        )
        raise InvalidArgumentError(f"invalid voice_params: {problems or type(exc).__name__}") from None
    return model.model_dump(mode="json", exclude_none=True)


def _credentials(value: BaseModel | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        raw: dict[str, Any] = {}
        for key, item in value.model_dump(exclude_none=True).items():
            raw[key] = item.get_secret_value() if hasattr(item, "get_secret_value") else item
        if any(key.startswith("trtc_") for key in raw):  # the request schema spells them trtc_sdk_* (§7.2)
            raw = {
                key.replace("trtc_", "trtc_sdk_", 1) if not key.startswith("trtc_sdk_") else key: v
                for key, v in raw.items()
            }
        return raw
    if not isinstance(value, Mapping):
        raise InvalidArgumentError("credentials must be a mapping or a credentials model")
    return dict(value)


class Sessions(Resource):
    """Live-avatar sessions. Reached as ``client.sessions``.

    Every create and close goes through ``guard`` (``_guard.py``): the budget check, the session ledger, and the
    record of what this process has open.
    """

    def __init__(self, core: HttpCore, guard: CreateGuard | None = None) -> None:
        super().__init__(core)
        self.guard = guard or CreateGuard(None, Budget(), timeout=core.timeout)

    async def create(
        self,
        avatar_id: str,
        *,
        duration: int | None = None,
        voice_id: str | None = None,
        voice_url: str | None = None,
        language: str | None = None,
        mode_type: int | None = None,
        knowledge_id: str | None = None,
        background_url: str | None = None,
        voice_params: VoiceParams | Mapping[str, Any] | None = None,
        stream_type: str | None = None,
        scene_mode: str | None = None,
        e2e_type: str | None = None,
        credentials: BaseModel | Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Session:
        """Create a session (the service pre-charges credits for the full ``duration``).

        **Never retried once the request may have reached the server**: a retry could create, and bill, a second
        session. Only a failure that proves nothing was sent (the connection could not be opened) is retried. The
        one exception is AKOOL code 1101 with a client id/secret: the token is fetched again and the request sent
        once more, because a request rejected for its credentials cannot have created a session.

        Args:
            avatar_id: a streaming avatar id (``[A-Za-z0-9_-]``, e.g. ``dvp_Tristan_cloth2_1080P``).
            duration: session length in seconds, 1..3600.
            voice_id: a voice id from the voice list (or an ElevenLabs voice id).
            voice_url: a custom voice model URL.
            language: a language code from the language list (``en``).
            mode_type: 1 retelling (speaks your text), 2 dialogue (AKOOL's LLM answers).
            knowledge_id: a knowledge base id.
            background_url: a background image or video URL.
            voice_params: ``VoiceParams`` or an equivalent mapping (speed 0.8..1.2, pron_map, stt_language,
                stt_type, turn_detection, elevenlabs_settings).
            stream_type: ``agora`` (service default), ``livekit`` or ``trtc``.
            scene_mode: ``fast_dialogue`` (voice-only low latency; OAS) or ``meeting`` (LiveKit plugin).
            e2e_type: ``openai``; only with ``scene_mode="fast_dialogue"``.
            credentials: bring-your-own room credentials (a mapping, or a credentials model).
            extra_body: further body fields, sent as given (for fields newer than this client).

        Returns:
            The new session, with typed ``credentials`` for its ``stream_type``.

        Raises:
            InvalidArgumentError: an argument is invalid; nothing was sent.
            BudgetExceededError: ``max_open_sessions`` or ``max_duration`` would be passed; nothing was sent.
            AkoolError: the service refused (the subclass for the code, e.g. ``InsufficientQuotaError``).
            APIError: no usable answer (connection, timeout, HTTP status, malformed body).
        """
        body: dict[str, Any] = {"avatar_id": require_id("avatar_id", avatar_id)}
        if duration is not None:
            body["duration"] = require_int("duration", duration, minimum=1, maximum=MAX_DURATION)
        if mode_type is not None:
            body["mode_type"] = require_choice("mode_type", mode_type, MODE_TYPES)
        if stream_type is not None:
            body["stream_type"] = require_choice("stream_type", stream_type, STREAM_TYPES)
        if scene_mode is not None:
            body["scene_mode"] = require_choice("scene_mode", scene_mode, SCENE_MODES)
        if e2e_type is not None:
            if scene_mode != "fast_dialogue":
                raise InvalidArgumentError("e2e_type needs scene_mode='fast_dialogue'")
            body["e2e_type"] = require_choice("e2e_type", e2e_type, E2E_TYPES)
        if voice_id is not None:
            body["voice_id"] = require_text("voice_id", voice_id, max_length=256)
        if knowledge_id is not None:
            body["knowledge_id"] = require_id("knowledge_id", knowledge_id)
        for name, value in (("voice_url", voice_url), ("language", language), ("background_url", background_url)):
            if value is not None:
                body[name] = require_text(name, value, max_length=4096)
        params = _voice_params(voice_params)
        if params is not None:
            body["voice_params"] = params
        creds = _credentials(credentials)
        if creds is not None:
            body["credentials"] = creds
        if extra_body:
            body.update(extra_body)
        with self.guard.creating(self._core.base_url, body) as ticket:  # budget, ledger intent -> id / unknown
            data = await self._core.request("POST", CREATE_PATH, json=body, idempotent=False)
            session = self._parse(Session, data, method="POST", path=CREATE_PATH)
            ticket.created(session.id)
        logger.info("created session %s (avatar %s, status %s)", session.id, avatar_id, session.status)
        return session

    async def get(self, session_id: str) -> Session:
        """Fetch one session.

        Args:
            session_id: the session's ``_id``.

        Returns:
            The session.

        Raises:
            InvalidArgumentError: the id is empty or malformed; nothing was sent.
            AkoolError: the service refused (``SessionNotFoundError`` for 1216).
            APIError: no usable answer.
        """
        params = {"id": require_id("session_id", session_id)}
        data = await self._core.request("GET", DETAIL_PATH, params=params, idempotent=True)
        return self._parse(Session, data, method="GET", path=DETAIL_PATH)

    async def list(self, *, status: SessionStatus | int | None = None, page: int = 1, size: int = 100) -> SessionPage:
        """Fetch one page of sessions.

        Args:
            status: only sessions with this status (1..4).
            page: page number, from 1.
            size: page size, 1..100.

        Returns:
            The page (``items`` and the total ``count``).

        Raises:
            InvalidArgumentError: a bad filter or page; nothing was sent.
            AkoolError: the service refused.
            APIError: no usable answer.
        """
        params: dict[str, Any] = {
            "page": require_int("page", page, minimum=1),
            "size": require_int("size", size, minimum=1, maximum=100),
        }
        if status is not None:
            params["status"] = int(require_choice("status", status, {1, 2, 3, 4}))
        data = await self._core.request("GET", LIST_PATH, params=params, idempotent=True)
        result = self._parse(SessionPage, data, method="GET", path=LIST_PATH)
        return result.model_copy(update={"page": result.page or page, "size": result.size or size})

    async def iter(self, *, status: SessionStatus | int | None = None, size: int = 100) -> AsyncIterator[Session]:
        """Iterate over every session, fetching pages lazily.

        Args:
            status: only sessions with this status.
            size: page size, 1..100.

        Yields:
            Each session, page after page, until a short or empty page or ``count`` is reached.

        Raises:
            InvalidArgumentError: a bad filter or size.
            APIError: a page could not be fetched.
        """
        async for item in iterate_pages(lambda page: self.list(status=status, page=page, size=size), size=size):
            yield item

    async def close(self, session_id: str) -> None:
        """Close a session: stops billing (always call it, e.g. in a ``finally``).

        Sends ``{"id": ...}`` (OAS). Some AKOOL samples send ``{"session_id": ...}`` instead (§7.1): if the service
        answers 1003 "parameter error" to ``id``, the call is repeated once with ``session_id``. Retried on
        connection errors, timeouts, 429/5xx like a GET: closing twice cannot bill anything.

        Args:
            session_id: the session's ``_id``.

        Raises:
            InvalidArgumentError: the id is empty or malformed; nothing was sent.
            AkoolError: the service refused (``LiveAvatarClosedError`` 1219 if already closed,
                ``SessionNotFoundError`` 1216 if unknown).
            APIError: no usable answer.
        """
        sid = require_id("session_id", session_id)
        with self.guard.closing(self._core.base_url, sid):  # records the close in the ledger
            try:
                await self._core.request("POST", CLOSE_PATH, json={"id": sid}, idempotent=True)
            except InvalidParameterError:
                logger.info("close with 'id' was refused with 1003; repeating with 'session_id'")
                await self._core.request("POST", CLOSE_PATH, json={"session_id": sid}, idempotent=True)
        logger.info("closed session %s", sid)
