"""Request validation of the emulator's REST side, by AKOOL's documented schemas (akool-api-and-protocol.md §1).

Pure functions: each takes what a request carries (a JSON body, or one query parameter's values) plus what it is
checked against (the language list, the voice list...), and returns the normalised values or raises the emulator's
1003 ``EmulatorApiError`` with a message that names the field (``voice_params.turn_detection.type``).

The rules, where the schema leaves room (protocol/README.md "The emulator's request validation" records each):

* a documented field has its documented type, enum and range; ``null`` is not a value of any of them (OAS 3.0
  declares none of these fields ``nullable``), so ``"mode_type": null`` is refused like ``"mode_type": "x"``;
* an empty string in an optional free-text field of session create (``voice_id``, ``language``, ``knowledge_id``,
  ``voice_url``, ``background_url``) reads as "not given": AKOOL's own demo sends these fields empty;
* unknown keys are tolerated where the schema leaves an object open (the create body, ``Credentials``,
  ``VoiceParams``, ``TurnDetection``...), and refused where it closes one (``FastDialogueVoiceParams``); unknown
  credential keys are neither stored nor echoed;
* booleans are not numbers, and integer fields take JSON integers only (``300``, not ``300.0``);
* the prose rules: ``language`` and ``voice_id`` come from their lists (any ``voice_id`` with ElevenLabs settings),
  ``scene_mode`` is ``fast_dialogue`` or ``meeting`` (AKOOL's LiveKit plugin), ``e2e_type`` needs
  ``scene_mode="fast_dialogue"``, ``voice_params`` follow ``FastDialogueVoiceParams`` in that
  scene and ``VoiceParams`` otherwise, and bring-your-own ``credentials`` carry the fields their ``stream_type``
  requires (an agora uid is a whole number 1..2^32-1, as Agora's uids are).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from streamclient.emulator.api_error import EmulatorApiError
from streamclient.emulator.catalogue import FAST_DIALOGUE_VOICES

__all__ = (
    "MAX_DURATION",
    "CreateRequest",
    "close_id",
    "create_request",
    "credentials",
    "int_param",
    "knowledge_fields",
    "text_param",
    "upload_fields",
    "uses_elevenlabs",
)

#: OAS ``CreateSessionRequest.duration``: at most 3600 seconds.
MAX_DURATION = 3600
#: The default ``duration`` where AKOOL documents none (the docs' examples and the official demo use 600 s).
DEFAULT_DURATION = 600
STREAM_TYPES = ("agora", "livekit", "trtc")
#: ``fast_dialogue`` (OAS) and ``meeting`` (the default of AKOOL's own LiveKit Agents plugin, so the service takes it).
SCENE_MODES = ("fast_dialogue", "meeting")
#: OAS ``Credentials``: the fields a bring-your-own room must give, per stream type (request names).
BYO_REQUIRED: dict[str, tuple[str, ...]] = {
    "agora": ("agora_uid", "agora_channel", "agora_token"),
    "livekit": ("livekit_url", "livekit_token"),
    "trtc": ("trtc_sdk_app_id", "trtc_sdk_room_id", "trtc_sdk_user_id", "trtc_sdk_user_sig"),
}
#: An ASCII decimal integer, as a query parameter must spell one (no ``+``, ``_``, spaces or other scripts' digits).
_INTEGER = re.compile(r"-?[0-9]{1,12}")
#: OAS ``CreateAvatarRequest.avatar_id``: ``^[a-zA-Z0-9]+$``.
_UPLOAD_AVATAR_ID = re.compile(r"[a-zA-Z0-9]+")

Check = Callable[[str, Any], Any]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _refuse(field: str, rule: str, value: Any = None, *, show: bool = True) -> NoReturn:
    got = f" (got {_kind(value)})" if show else ""
    raise EmulatorApiError(1003, f"Parameter error: {field} {rule}{got}")


# ------------------------------------------------------------------------------------ schema building blocks


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        _refuse(field, "must be a string", value)
    return value


def _boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        _refuse(field, "must be a boolean", value)
    return value


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _number(low: float | None = None, high: float | None = None) -> Check:
    def check(field: str, value: Any) -> int | float:
        if not _is_number(value):
            _refuse(field, "must be a number", value)
        if (low is not None and value < low) or (high is not None and value > high):
            _refuse(field, f"must be {low:g}..{high:g}" if low is not None and high is not None else "is out of range")
        return value  # type: ignore[no-any-return]  # checked above: an int or a float

    return check


def _integer(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _refuse(field, "must be an integer", value)
    return value


def _choice(*options: Any) -> Check:
    def check(field: str, value: Any) -> Any:
        # ``type(value)``: 1 is not True, and "1" is not 1
        if not any(type(value) is type(option) and value == option for option in options):
            _refuse(field, "must be one of " + ", ".join(str(o) for o in options), value)
        return value

    return check


def _object(fields: Mapping[str, Check], *, closed: bool = False, values: Check | None = None) -> Check:
    """An object with ``fields`` (all optional); other keys are refused (``closed``), checked by ``values``, or kept."""

    def check(field: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            _refuse(field, "must be an object", value)
        if closed:
            extra = sorted(set(value) - set(fields))
            if extra:
                _refuse(field, f"does not allow {', '.join(extra)}", show=False)
        checked: dict[str, Any] = {}
        for key, item in value.items():
            inner = fields.get(key, values)
            checked[key] = item if inner is None else inner(f"{field}.{key}", item)
        return checked

    return check


# OAS TurnDetection, ElevenlabsSettings, MinimaxSettings, VoiceParams, FastDialogueVoiceParams
_TURN_DETECTION = _object(
    {
        "type": _choice("server_vad", "semantic_vad"),
        "threshold": _number(0, 1),
        "prefix_padding_ms": _integer,
        "silence_duration_ms": _integer,
    }
)
_ELEVENLABS = _object(
    {
        "api_key": _text,
        "model_id": _text,
        "stability": _number(0, 1),
        "similarity_boost": _number(0, 1),
        "style": _number(0, 1),
        "use_speaker_boost": _boolean,
    }
)
_MINIMAX = _object(
    {
        "api_key": _text,
        "model": _text,
        "language_boost": _text,
        "voice_setting": _object(
            {"voice_id": _text, "speed": _number(), "vol": _number(), "pitch": _number(), "emotion": _text}
        ),
    }
)
_VOICE_PARAMS = _object(
    {
        "speed": _number(0.8, 1.2),
        "pron_map": _object({}, values=_text),
        "stt_language": _text,
        "stt_type": _choice("openai_realtime"),
        "turn_detection": _TURN_DETECTION,
        "elevenlabs_settings": _ELEVENLABS,
        "minimax_settings": _MINIMAX,
    }
)
_FAST_DIALOGUE_VOICE_PARAMS = _object(
    {
        "voice_id": _choice(*sorted(FAST_DIALOGUE_VOICES)),
        "stt_language": _text,
        "turn_detection": _TURN_DETECTION,
        "elevenlabs_settings": _ELEVENLABS,
        "minimax_settings": _MINIMAX,
    },
    closed=True,
)
#: OAS ``Credentials`` (request side): every documented key and its type, whatever the stream type.
_CREDENTIALS: dict[str, Check] = {
    "agora_uid": _number(),
    "agora_app_id": _text,
    "agora_channel": _text,
    "agora_token": _text,
    "livekit_url": _text,
    "livekit_token": _text,
    "livekit_room_name": _text,
    "livekit_server_identity": _text,
    "livekit_client_identity": _text,
    "trtc_sdk_app_id": _number(),
    "trtc_sdk_room_id": _text,
    "trtc_sdk_user_id": _text,
    "trtc_sdk_user_sig": _text,
}


# ----------------------------------------------------------------------------------------- session create


@dataclass(frozen=True)
class CreateRequest:
    """A session-create body after validation (``None``: not given)."""

    avatar_id: str
    duration: int | float
    mode_type: int | None
    stream_type: str
    scene_mode: str | None
    e2e_type: str | None
    voice_params: dict[str, Any]
    language: str | None
    voice_id: str | None
    voice_url: str | None
    background_url: str | None
    knowledge_id: str | None
    #: bring-your-own room credentials: the documented keys given (unknown keys dropped), else ``None``
    credentials: dict[str, Any] | None


def uses_elevenlabs(voice_params: Mapping[str, Any]) -> bool:
    """Whether ``voice_params`` bring ElevenLabs settings (``voice_id`` is then an ElevenLabs voice)."""
    settings = voice_params.get("elevenlabs_settings")
    return isinstance(settings, dict) and bool(settings)


def _optional(body: Mapping[str, Any], name: str, check: Check) -> Any:
    """A field that may be left out (``None``); ``null`` is checked like any other value (and refused)."""
    return check(name, body[name]) if name in body else None


def _optional_text(body: Mapping[str, Any], name: str) -> str | None:
    """An optional free-text field: left out or ``""`` -> ``None``."""
    value = _optional(body, name, _text)
    return value or None


def create_request(body: Mapping[str, Any], *, languages: Collection[str], voices: Collection[str]) -> CreateRequest:
    """Validate a ``session/create`` body (OAS ``CreateSessionRequest`` and the create page's prose).

    Args:
        body: the JSON object of the request.
        languages: the accepted ``language`` values (the language list's codes and their primary subtags).
        voices: the usable ``voice_id`` values (the voice list and the finished voice clones).

    Returns:
        The normalised request. Unknown top-level keys are tolerated (the schema leaves the body open).

    Raises:
        EmulatorApiError: 1003, naming the first invalid field.
    """
    avatar_id = body.get("avatar_id")
    if not isinstance(avatar_id, str) or not avatar_id:
        _refuse("avatar_id", "is required: a non-empty string", avatar_id, show="avatar_id" in body)
    duration = body.get("duration", DEFAULT_DURATION)
    if not _is_number(duration) or not 0 < duration <= MAX_DURATION:
        _refuse("duration", f"must be a number of seconds, more than 0 and at most {MAX_DURATION}", duration)
    mode_type = _optional(body, "mode_type", _choice(1, 2))
    stream_type = _optional(body, "stream_type", _choice(*STREAM_TYPES)) or "agora"
    scene_mode = _optional(body, "scene_mode", _choice(*SCENE_MODES))
    e2e_type = _optional(body, "e2e_type", _choice("openai"))
    if e2e_type is not None and scene_mode != "fast_dialogue":
        _refuse("e2e_type", "is only allowed with scene_mode fast_dialogue", show=False)
    fast_dialogue = scene_mode == "fast_dialogue"
    voice_params = _optional(body, "voice_params", _FAST_DIALOGUE_VOICE_PARAMS if fast_dialogue else _VOICE_PARAMS)
    voice_params = voice_params if voice_params is not None else {}
    language = _optional_text(body, "language")
    if language is not None and language not in languages:
        _refuse("language", f"{language!r} is not in the language list", show=False)
    voice_id = _optional_text(body, "voice_id")
    if voice_id is not None and not uses_elevenlabs(voice_params) and voice_id not in voices:
        _refuse("voice_id", f"{voice_id!r} is not in the voice list", show=False)
    return CreateRequest(
        avatar_id=avatar_id,
        duration=duration,
        mode_type=mode_type,
        stream_type=stream_type,
        scene_mode=scene_mode,
        e2e_type=e2e_type,
        voice_params=voice_params,
        language=language,
        voice_id=voice_id,
        voice_url=_optional_text(body, "voice_url"),
        background_url=_optional_text(body, "background_url"),
        knowledge_id=_optional_text(body, "knowledge_id"),
        credentials=_optional(body, "credentials", lambda _field, value: credentials(value, stream_type)),
    )


def credentials(raw: Any, stream_type: str) -> dict[str, Any]:
    """Bring-your-own ``credentials`` for ``stream_type`` (OAS ``Credentials`` and its "required when" prose).

    Returns:
        The documented keys given, checked; unknown keys are tolerated (the schema leaves ``Credentials`` open) but
        dropped: they are neither stored nor echoed.

    Raises:
        EmulatorApiError: 1003 naming the field: not an object, a documented key of the wrong type (``null``
            included), a required key of ``stream_type`` missing or empty, or an agora uid outside 1..2^32-1.
    """
    if not isinstance(raw, dict):
        _refuse("credentials", "must be an object", raw)
    checked = {key: check(f"credentials.{key}", raw[key]) for key, check in _CREDENTIALS.items() if key in raw}
    missing = [key for key in BYO_REQUIRED[stream_type] if checked.get(key) in (None, "")]
    if missing:
        _refuse("credentials", f"of stream_type {stream_type} need {', '.join(missing)}", show=False)
    if stream_type == "agora":
        uid = checked["agora_uid"]
        if not isinstance(uid, int) or not 0 < uid < 2**32:
            _refuse("credentials.agora_uid", "must be a whole number 1..2^32-1 (an Agora uid)", show=False)
    return checked


def close_id(body: Mapping[str, Any]) -> str | None:
    """The session id of a ``session/close`` body (``None`` when none is given: the caller says it is missing).

    ``id`` (OAS), else ``session_id`` (the close page's samples), else ``_id``.

    Raises:
        EmulatorApiError: 1003 when one of them is given but is not a string.
    """
    given = [_text(key, body[key]) for key in ("id", "session_id", "_id") if key in body]
    return next((value for value in given if value), None)


# ------------------------------------------------------------------------------------------- avatar upload


def _non_empty(field: str, value: Any) -> str:
    if not _text(field, value):
        _refuse(field, "must not be empty", show=False)
    return value  # type: ignore[no-any-return]  # a non-empty string, checked above


def _alphanumeric(field: str, value: Any) -> str:
    if not _UPLOAD_AVATAR_ID.fullmatch(_text(field, value)):
        _refuse(field, "can only contain a-zA-Z0-9", show=False)
    return value  # type: ignore[no-any-return]  # checked above


#: OAS ``CreateAvatarRequest``: every field required.
_UPLOAD_FIELDS: dict[str, Check] = {
    "url": _non_empty,
    "avatar_id": _alphanumeric,
    "name": _non_empty,
    "type": _choice(2),
    "url_from": _choice(1, 2),
}


def upload_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an avatar upload (``POST /api/open/v3/avatar/create``, OAS ``CreateAvatarRequest``).

    Raises:
        EmulatorApiError: 1003 naming the first field that is missing or invalid.
    """
    missing = [key for key in _UPLOAD_FIELDS if key not in body]
    if missing:
        _refuse(", ".join(missing), "required", show=False)
    return {key: check(key, body[key]) for key, check in _UPLOAD_FIELDS.items()}


# ------------------------------------------------------------------------------------------ knowledge bases

#: The knowledge-base page's limits.
_KNOWLEDGE_FIELDS: dict[str, Check] = {
    "name": lambda field, value: _bounded_text(field, value, 100),
    "prologue": lambda field, value: _bounded_text(field, value, 2000),
    "prompt": lambda field, value: _bounded_text(field, value, 10000),
    "docs": lambda field, value: _array(field, value, _object({"name": _text, "url": _text, "size": _number(0)})),
    "urls": lambda field, value: _array(field, value, _text),
}


def _bounded_text(field: str, value: Any, limit: int) -> str:
    text = _text(field, value)
    if len(text) > limit:
        _refuse(field, f"must be at most {limit} characters", show=False)
    return text


def _array(field: str, value: Any, item: Check) -> list[Any]:
    if not isinstance(value, list):
        _refuse(field, "must be an array", value)
    return [item(f"{field}[{index}]", element) for index, element in enumerate(value)]


def knowledge_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The knowledge-base fields of a create or update body (``name``, ``prologue``, ``prompt``, ``docs``, ``urls``).

    Returns:
        The fields given, checked (other keys, such as update's ``id``, are left to the caller).

    Raises:
        EmulatorApiError: 1003 naming the field (a wrong type, ``null`` included, or a text over its limit).
    """
    return {key: check(key, body[key]) for key, check in _KNOWLEDGE_FIELDS.items() if key in body}


# -------------------------------------------------------------------------------------------- query strings


def _single(name: str, values: Sequence[str]) -> str | None:
    if len(values) > 1:
        _refuse(name, "is given more than once", show=False)
    return values[0] if values else None


def text_param(name: str, values: Sequence[str]) -> str | None:
    """A string query parameter from all its values in the query (``None`` when absent; repeated -> 1003)."""
    return _single(name, values)


def int_param(
    name: str,
    values: Sequence[str],
    *,
    minimum: int = 1,
    maximum: int | None = None,
    choices: Collection[int] | None = None,
) -> int | None:
    """A strict integer query parameter (``None`` when absent).

    Only ASCII decimal digits (with an optional ``-``) make an integer: an empty value, ``1_0``, ``+5``, `` 5`` and
    other scripts' digits, which Python's ``int()`` would read, are refused, and so is a repeated parameter.

    Raises:
        EmulatorApiError: 1003 naming the parameter.
    """
    raw = _single(name, values)
    if raw is None:
        return None
    if not _INTEGER.fullmatch(raw):
        _refuse(name, "must be an integer (ASCII digits)", show=False)
    value = int(raw)
    if choices is not None and value not in choices:
        _refuse(name, "must be one of " + ", ".join(str(c) for c in sorted(choices)), show=False)
    if value < minimum or (maximum is not None and value > maximum):
        _refuse(name, f"must be {minimum}..{maximum}" if maximum is not None else f"must be >= {minimum}", show=False)
    return value
