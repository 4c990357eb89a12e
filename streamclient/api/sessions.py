"""``client.sessions``: create, get, list, iterate and close live-avatar sessions (§1.3-§1.6, §5)."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from streamclient.api._guard import Budget, CreateGuard
from streamclient.api._http import HttpCore
from streamclient.api._resource import Resource, iterate_pages
from streamclient.api._validate import require_choice, require_id, require_int, require_text
from streamclient.api.models import DEFAULT_STREAM_TYPE, Session, SessionPage, SessionStatus, stream_type_of
from streamclient.api.params import FastDialogueVoiceParams, VoiceParams
from streamclient.errors import APIResponseError, InvalidArgumentError, InvalidParameterError, keywords_checked

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


#: Required fields of bring-your-own ``credentials`` per stream type (OAS ``Credentials``; TRTC uses ``trtc_sdk_*``).
BYO_REQUIRED = {
    "agora": ("agora_uid", "agora_channel", "agora_token"),
    "livekit": ("livekit_url", "livekit_token"),
    "trtc": ("trtc_sdk_app_id", "trtc_sdk_room_id", "trtc_sdk_user_id", "trtc_sdk_user_sig"),
}
#: Optional fields that are left out rather than sent empty.
_BYO_OPTIONAL = frozenset({"agora_app_id", "livekit_room_name", "livekit_server_identity", "livekit_client_identity"})


def _duration(value: Any) -> int | float:
    """OAS ``duration``: a ``number`` of seconds, at most 3600; integral values are sent as integers (600.0 -> 600)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgumentError(f"duration must be a number of seconds, got {value!r}")
    if not 0 < value <= MAX_DURATION:
        raise InvalidArgumentError(f"duration must be > 0 and <= {MAX_DURATION} seconds, got {value!r}")
    return int(value) if float(value).is_integer() else float(value)


def _voice_params(
    value: VoiceParams | FastDialogueVoiceParams | Mapping[str, Any] | None, *, scene_mode: str | None
) -> dict[str, Any] | None:
    """Validate ``voice_params``: ``FastDialogueVoiceParams`` for ``fast_dialogue`` (closed), else ``VoiceParams``."""
    if value is None:
        return None
    schema: type[BaseModel] = FastDialogueVoiceParams if scene_mode == "fast_dialogue" else VoiceParams
    try:
        if isinstance(value, schema):
            model: BaseModel = value
        elif isinstance(value, BaseModel):
            model = schema.model_validate(value.model_dump(exclude_none=True))
        else:
            model = schema.model_validate(dict(value))
    except (ValidationError, TypeError, ValueError) as exc:
        # Only the location and kind of each error: the values may contain an ElevenLabs key.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in getattr(exc, "errors", list)()
        )
        raise InvalidArgumentError(
            f"invalid voice_params ({schema.__name__}): {problems or type(exc).__name__}"
        ) from None
    return model.model_dump(mode="json", exclude_none=True)


def _credentials(value: BaseModel | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Bring-your-own room credentials as the request schema spells them (OAS ``Credentials``).

    Models are dumped with their secrets revealed (request bodies are never logged); ``None`` and empty optional
    fields are left out (no ``"agora_app_id": ""``); TRTC names become ``trtc_sdk_*`` (§7.2); the emulator-only
    ``emulator_room_url`` is dropped.
    """
    if value is None:
        return None
    if isinstance(value, BaseModel):
        raw: dict[str, Any] = {}
        for key, item in value.model_dump(exclude_none=True).items():
            raw[key] = item.get_secret_value() if hasattr(item, "get_secret_value") else item
        raw.pop("emulator_room_url", None)
    elif isinstance(value, Mapping):
        raw = dict(value)
    else:
        raise InvalidArgumentError("credentials must be a mapping or a credentials model")
    raw = {
        key.replace("trtc_", "trtc_sdk_", 1) if key.startswith("trtc_") and not key.startswith("trtc_sdk_") else key: v
        for key, v in raw.items()
        if not (key in _BYO_OPTIONAL and v in (None, ""))
    }
    kind = stream_type_of(raw)
    if kind is None:
        raise InvalidArgumentError("credentials carry no agora_*, livekit_* or trtc_sdk_* field")
    missing = [key for key in BYO_REQUIRED[kind] if raw.get(key) in (None, "")]
    if missing:
        raise InvalidArgumentError(f"{kind} credentials need {', '.join(missing)}")
    return raw


class Sessions(Resource):
    """Live-avatar sessions. Reached as ``client.sessions``.

    Every create and close goes through ``guard`` (``_guard.py``): the budget check, the session ledger, and the
    record of what this process has open.
    """

    def __init__(self, core: HttpCore, guard: CreateGuard | None = None) -> None:
        super().__init__(core)
        self.guard = guard or CreateGuard(None, Budget(), timeout=core.timeout)

    @keywords_checked  # create(duraton=600) raises UnknownArgumentError suggesting "duration"
    async def create(
        self,
        avatar_id: str,
        *,
        duration: float | None = None,
        voice_id: str | None = None,
        voice_url: str | None = None,
        language: str | None = None,
        mode_type: int | None = None,
        knowledge_id: str | None = None,
        background_url: str | None = None,
        voice_params: VoiceParams | FastDialogueVoiceParams | Mapping[str, Any] | None = None,
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
            duration: session length in seconds, a number in (0, 3600] (OAS type ``number``: ``600.0`` is fine).
            voice_id: a voice id from the voice list (or an ElevenLabs voice id).
            voice_url: a custom voice model URL.
            language: a language code from the language list (``en``).
            mode_type: 1 retelling (speaks your text), 2 dialogue (AKOOL's LLM answers).
            knowledge_id: a knowledge base id.
            background_url: a background image or video URL.
            voice_params: ``VoiceParams`` or an equivalent mapping (speed 0.8..1.2, pron_map, stt_language,
                stt_type, turn_detection, elevenlabs_settings); with ``scene_mode="fast_dialogue"`` it is checked
                against ``FastDialogueVoiceParams`` instead (preset ``voice_id``, nothing else but stt_language,
                turn_detection, elevenlabs_settings).
            stream_type: ``agora`` (service default), ``livekit`` or ``trtc``; taken from ``credentials`` when
                those are given and this is not.
            scene_mode: ``fast_dialogue`` (voice-only low latency; OAS) or ``meeting`` (LiveKit plugin).
            e2e_type: ``openai``; only with ``scene_mode="fast_dialogue"``.
            credentials: bring-your-own room credentials (a mapping, or a credentials model), checked for the
                fields OAS requires for their stream type.
            extra_body: further body fields, sent as given (for fields newer than this client).

        Returns:
            The new session, with typed ``credentials`` for its ``stream_type``.

        Raises:
            InvalidArgumentError: an argument is invalid; nothing was sent.
            BudgetExceededError: ``max_open_sessions`` or ``max_duration`` would be passed; nothing was sent.
            AkoolError: the service refused (the subclass for the code, e.g. ``InsufficientQuotaError``).
            APIResponseError: the answer carried no session ``_id`` (nothing could close that session).
            APIError: no usable answer (connection, timeout, HTTP status, malformed body).
        """
        body: dict[str, Any] = {"avatar_id": require_id("avatar_id", avatar_id)}
        if duration is not None:
            body["duration"] = _duration(duration)
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
        params = _voice_params(voice_params, scene_mode=scene_mode)
        if params is not None:
            body["voice_params"] = params
        creds = _credentials(credentials)
        if creds is not None:
            kind = stream_type_of(creds)
            if stream_type is not None and kind != stream_type:
                raise InvalidArgumentError(f"credentials are {kind} credentials but stream_type is {stream_type!r}")
            if stream_type is None and kind != DEFAULT_STREAM_TYPE:
                body["stream_type"] = kind  # the service would assume agora
            body["credentials"] = creds
        if extra_body:
            body.update(extra_body)
        async with self.guard.creating(self._core.base_url, body) as ticket:  # budget, ledger intent -> id / unknown
            data = await self._core.request("POST", CREATE_PATH, json=body, idempotent=False)
            session = self._parse(Session, data, method="POST", path=CREATE_PATH)
            if not session.id:  # the ledger records this create as "unknown"
                url = self._core.base_url + CREATE_PATH
                logger.error("POST %s: the answer carried no session _id; the session cannot be closed from here", url)
                raise APIResponseError(
                    f"POST {url}: the answer carried no session '_id' (a session may have been created and cannot "
                    "be closed from here)",
                    method="POST",
                    url=url,
                )
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
        session = self._parse(Session, data, method="GET", path=DETAIL_PATH)
        return session if session.id else session.model_copy(update={"id": session_id})

    async def list(self, *, status: SessionStatus | int | None = None, page: int = 1, size: int = 100) -> SessionPage:
        """Fetch one page of sessions.

        Args:
            status: only sessions with this status (1..4).
            page: page number, from 1.
            size: page size, from 1 (OAS sets no maximum).

        Returns:
            The page (``items`` and the total ``count``, ``None`` if the answer gave none).

        Raises:
            InvalidArgumentError: a bad filter or page; nothing was sent.
            AkoolError: the service refused.
            APIError: no usable answer.
        """
        params: dict[str, Any] = {
            "page": require_int("page", page, minimum=1),
            "size": require_int("size", size, minimum=1),
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
            size: page size, from 1.

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

        Sends ``{"id": ...}`` (OAS). The documented answer is a bare ``{"code": 1000, "msg": "OK"}`` (OAS); the
        close-session page's sample adds ``data`` (``session_id``, ``status``, ``closed_at``): both are success.
        Some AKOOL samples send ``{"session_id": ...}`` instead (§7.1): if the service answers 1003 "parameter
        error" to ``id``, the call is repeated once with ``session_id``. Retried on connection errors, timeouts,
        429/5xx like a GET: closing twice cannot bill anything.

        Args:
            session_id: the session's ``_id``.

        Raises:
            InvalidArgumentError: the id is empty or malformed; nothing was sent.
            AkoolError: the service refused (``LiveAvatarClosedError`` 1219 if already closed,
                ``SessionNotFoundError`` 1216 if unknown).
            APIError: no usable answer.
        """
        sid = require_id("session_id", session_id)
        async with self.guard.closing(self._core.base_url, sid):  # records the close in the ledger
            try:
                await self._core.request("POST", CLOSE_PATH, json={"id": sid}, idempotent=True, require_data=False)
            except InvalidParameterError:
                logger.info("close with 'id' was refused with 1003; repeating with 'session_id'")
                await self._core.request(
                    "POST", CLOSE_PATH, json={"session_id": sid}, idempotent=True, require_data=False
                )
        logger.info("closed session %s", sid)
