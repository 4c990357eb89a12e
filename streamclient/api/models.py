"""Response models of the AKOOL REST API (akool-api-and-protocol.md §1.5-§1.9).

Every model keeps unknown fields (``extra="allow"``): the service adds fields over time and old clients must keep
working. Models are frozen. Every token is a ``SecretStr``; unknown fields whose name looks secret (``token``,
``sig``, ``secret``, ``key``) are masked in ``repr`` too.

Liberal by design (akool-api-and-protocol.md §9): ``null`` in an optional field counts as absent; a session answer
without ``stream_type`` gets it from its credential keys; credentials without a token parse (the older docs' detail
and list examples carry none: tokens come only from the create answer); a list answer without a total has
``count=None`` (unknown), never the page length.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = (
    "DEFAULT_STREAM_TYPE",
    "AgoraCredentials",
    "Avatar",
    "AvatarPage",
    "AvatarStatus",
    "Credentials",
    "KnowledgeBase",
    "KnowledgeBasePage",
    "Language",
    "LiveKitCredentials",
    "Session",
    "SessionPage",
    "SessionStatus",
    "TRTCCredentials",
    "Voice",
    "VoicePage",
    "stream_type_of",
)

_SECRET_NAME = re.compile(r"token|sig|secret|key|password", re.IGNORECASE)


@functools.cache
def _optional_input_keys(model: type[BaseModel]) -> frozenset[str]:
    """Every input key (field name or alias) of the optional fields of ``model``."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        if info.is_required():
            continue
        keys.add(name)
        alias = info.validation_alias
        if isinstance(alias, str):
            keys.add(alias)
        elif isinstance(alias, AliasChoices):
            keys.update(choice for choice in alias.choices if isinstance(choice, str))
    return frozenset(keys)


class _Model(BaseModel):
    """Base: frozen, keeps unknown fields, masks secret-looking unknown fields in ``repr``, ``null`` = absent."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        """Drop ``null`` from optional fields so that their default applies (§9: ``status``, ``docs``, ...)."""
        if not isinstance(data, Mapping):
            return data
        optional = _optional_input_keys(cls)
        return {key: value for key, value in data.items() if value is not None or key not in optional}

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name is not None and self.model_extra and name in self.model_extra and _SECRET_NAME.search(name):
                yield name, "**********"
            else:
                yield name, value


class SessionStatus(enum.IntEnum):
    """Status of a live-avatar session (and of an avatar upload)."""

    QUEUEING = 1  #: accepted, waiting for an avatar worker
    PROCESSING = 2  #: live: the avatar is (or is about to be) in the room
    COMPLETED = 3  #: ended normally
    FAILED = 4  #: ended with a failure


#: Avatar upload uses the same four values (3 = ready to use).
AvatarStatus = SessionStatus


def _known_status(value: SessionStatus | int | None) -> SessionStatus | int | None:
    """Turn known ints into ``SessionStatus``; keep unknown ints as they are (newer service versions)."""
    if value is None or isinstance(value, SessionStatus):
        return value
    try:
        return SessionStatus(value)
    except ValueError:
        return value


Status = Annotated[SessionStatus | int, AfterValidator(_known_status)]
OptionalStatus = Annotated[SessionStatus | int | None, AfterValidator(_known_status)]


class AgoraCredentials(_Model):
    """What the client needs to join an Agora-hosted session (§1.6).

    ``agora_token`` is ``None`` in the session detail and list answers of the older docs: only the create answer
    carries the token. ``agora_app_id`` is optional (OAS ``Credentials``); when bringing your own room, leave it
    out rather than sending ``""``.
    """

    agora_uid: int
    agora_app_id: str | None = None
    agora_channel: str
    agora_token: SecretStr | None = None
    #: Set by the local emulator: the websocket URL of its room relay.
    emulator_room_url: str | None = None


class LiveKitCredentials(_Model):
    """What the client needs to join a LiveKit-hosted session (§1.6); no token in detail and list answers."""

    livekit_url: str
    livekit_token: SecretStr | None = None
    livekit_room_name: str | None = None
    livekit_client_identity: str | None = None
    livekit_server_identity: str | None = None


class TRTCCredentials(_Model):
    """What the client needs to join a TRTC-hosted session; accepts ``trtc_*`` and ``trtc_sdk_*`` names (§7.2)."""

    trtc_app_id: int | str | None = Field(default=None, validation_alias=AliasChoices("trtc_app_id", "trtc_sdk_app_id"))
    trtc_room_id: str | int | None = Field(
        default=None, validation_alias=AliasChoices("trtc_room_id", "trtc_sdk_room_id")
    )
    trtc_user_id: str | None = Field(default=None, validation_alias=AliasChoices("trtc_user_id", "trtc_sdk_user_id"))
    trtc_user_sig: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("trtc_user_sig", "trtc_sdk_user_sig")
    )


Credentials = AgoraCredentials | LiveKitCredentials | TRTCCredentials

_CREDENTIALS_BY_STREAM_TYPE: dict[str, type[_Model]] = {
    "agora": AgoraCredentials,
    "livekit": LiveKitCredentials,
    "trtc": TRTCCredentials,
}

#: The stream type the service assumes when none is given (OAS ``stream_type`` default).
DEFAULT_STREAM_TYPE = "agora"


def stream_type_of(credentials: Mapping[str, Any]) -> str | None:
    """The stream type that credential keys belong to (``agora_*``, ``livekit_*``, ``trtc_*``/``trtc_sdk_*``).

    Args:
        credentials: a credentials mapping (request or response names).

    Returns:
        ``"agora"``, ``"livekit"`` or ``"trtc"``, or ``None`` when no key has one of those prefixes.
    """
    for prefix in ("livekit", "trtc", "agora"):
        if any(isinstance(key, str) and key.startswith(prefix + "_") for key in credentials):
            return prefix
    return None


class Session(_Model):
    """A live-avatar session (create and detail responses, list items).

    ``id`` is ``""`` when the answer carried no ``_id`` (the seed document's list placeholder); ``status`` is
    ``None`` when the answer gave none.
    """

    id: str = Field(default="", validation_alias=AliasChoices("_id", "id"))
    uid: int | None = None
    type: int | None = None
    status: OptionalStatus = None
    stream_type: str = DEFAULT_STREAM_TYPE
    credentials: Credentials | None = None

    @model_validator(mode="before")
    @classmethod
    def _typed_credentials(cls, data: Any) -> Any:
        """Parse ``credentials`` into the model of the session's ``stream_type`` (unknown types: ``None``).

        Without ``stream_type`` (not required in OAS), the credential keys decide, then the service default
        ``agora``. Early v4 answers carried the credentials under ``stream_urls`` (§1.10); that name is accepted
        when ``credentials`` is absent.
        """
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        raw = data.get("credentials")
        if raw is None and isinstance(data.get("stream_urls"), Mapping) and stream_type_of(data["stream_urls"]):
            raw = data["stream_urls"]
        if data.get("stream_type") is None:
            inferred = stream_type_of(raw) if isinstance(raw, Mapping) else None
            data["stream_type"] = inferred or DEFAULT_STREAM_TYPE
        if isinstance(raw, Mapping):
            model = _CREDENTIALS_BY_STREAM_TYPE.get(str(data["stream_type"]))
            data["credentials"] = model.model_validate(raw) if model is not None and raw else None
        return data


class _Page(_Model):
    """Common page fields.

    ``count`` is the total the service reported, or ``None`` when it reported none (a bare array, §9): then only
    a short page tells that the list has ended.
    """

    count: int | None = None
    page: int | None = None
    size: int | None = None


def _page_items(data: Any, *keys: str) -> Any:
    """Accept ``{count, <key>: [...]}`` for any of ``keys``, or a bare list (§7.4, §7.5); no total stays ``None``."""
    if isinstance(data, list):
        return {"items": data}
    if isinstance(data, Mapping) and "items" not in data:
        data = dict(data)
        for key in keys:
            if isinstance(data.get(key), list):
                data["items"] = data.pop(key)
                break
        else:
            data["items"] = []
    return data


class SessionPage(_Page):
    """One page of ``session/list``: ``data.result`` (OAS) or ``data.data`` (legacy) both accepted."""

    items: list[Session]

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        return _page_items(data, "result", "data")


class Avatar(_Model):
    """A streaming avatar (catalogue item, detail or upload result)."""

    id: str | None = Field(default=None, validation_alias=AliasChoices("_id", "id"))
    avatar_id: str | None = None  #: absent from the v3 upload detail records of the avatar docs
    name: str | None = None
    voice_id: str | None = None
    url: str | None = None
    thumbnail_url: str | None = Field(default=None, validation_alias=AliasChoices("thumbnailUrl", "thumbnail_url"))
    gender: str | None = None
    available: bool | None = None
    type: int | None = None
    from_: int | None = Field(default=None, validation_alias=AliasChoices("from", "from_"))
    status: OptionalStatus = None


class AvatarPage(_Page):
    """One page of the streaming-avatar list (``data.result``)."""

    items: list[Avatar]

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        return _page_items(data, "result", "data")


class Voice(_Model):
    """A voice from the voice list (§1.8).

    A voice clone in progress has ``voice_id`` ``None`` until the clone completes (``status`` 3).
    """

    id: str | None = Field(default=None, validation_alias=AliasChoices("_id", "id"))
    voice_id: str | None = None
    name: str | None = None
    gender: str | None = None
    language: str | None = None
    locale: str | None = None
    preview: str | None = None
    support_stream: bool | None = None
    status: OptionalStatus = None


class VoicePage(_Page):
    """One page of the voice list (``data.result``)."""

    items: list[Voice]

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        return _page_items(data, "result", "data")


class Language(_Model):
    """A language from the language list (``data.lang_list``)."""

    lang_code: str
    lang_name: str | None = None
    url: str | None = None


class KnowledgeBase(_Model):
    """A knowledge base (§1.9)."""

    id: str = Field(validation_alias=AliasChoices("_id", "id"))
    name: str | None = None
    prologue: str | None = None
    prompt: str | None = None
    docs: list[dict[str, Any]] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    from_: int | None = Field(default=None, validation_alias=AliasChoices("from", "from_"))
    create_time: int | float | None = None
    update_time: int | float | None = None


class KnowledgeBasePage(_Page):
    """One page of the knowledge-base list: ``data`` as an array (KB docs) or ``data.knowledge_list`` (DEMO)."""

    items: list[KnowledgeBase]

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        return _page_items(data, "knowledge_list", "result", "list")
