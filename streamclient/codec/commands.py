"""Builders for the documented commands: ``set-params``, ``interrupt`` and ``set-action``.

Builders validate their arguments (:class:`~streamclient.errors.InvalidArgumentError`, nothing is sent) and return a
:class:`CommandFrame` with a fresh ``mid`` unless one is given. They do not check the frame size: the
``ProtocolConnection`` does, against its frame budget, when the command is queued.

``set-params`` mapping (akool-api-and-protocol.md §2.3, §7.7): ``voice_id`` -> ``vparams.vid`` and the deprecated
top-level ``vid``; ``voice_url`` -> ``vparams.vurl`` and ``vurl``; ``language`` -> ``lang``; ``mode`` -> ``mode``;
``background_url`` -> ``bgurl``; ``speed``, ``stt_language``, ``pron_map``, ``stt_type`` and ``turn_detection`` ->
``vparams``. ``None`` means "not set" and is omitted; every other value, including falsy ones such as ``0``, is sent.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from streamclient.codec.chunking import new_mid
from streamclient.codec.frames import CommandFrame
from streamclient.errors import InvalidArgumentError

__all__ = (
    "CMD_INTERRUPT",
    "CMD_SET_ACTION",
    "CMD_SET_PARAMS",
    "Action",
    "Expression",
    "interrupt",
    "set_action",
    "set_params",
)

CMD_SET_PARAMS = "set-params"
CMD_INTERRUPT = "interrupt"
CMD_SET_ACTION = "set-action"

_SPEED_RANGE = (0.8, 1.2)
_TURN_DETECTION_TYPES = ("server_vad", "semantic_vad")
_TURN_DETECTION_NUMBERS = ("threshold", "prefix_padding_ms", "silence_duration_ms")


class Action(str, enum.Enum):
    """The documented ``set-action`` actions ("ultra" avatars)."""

    HAND_WAVE = "hand_wave"
    CHEER = "cheer"
    THUMBS_UP = "thumbs_up"
    PUMP_FISTS = "pump_fists"
    NOD = "nod"
    SHAKE = "shake"
    WAFT_LEFT = "waft_left"
    WAFT_RIGHT = "waft_right"


class Expression(str, enum.Enum):
    """The documented ``set-action`` facial expressions."""

    ANGRY = "angry"
    DISGUST = "disgust"
    FEAR = "fear"
    HAPPINESS = "happiness"
    SADNESS = "sadness"
    SURPRISE = "surprise"
    CONTEMPT = "contempt"


def _mid(mid: str | None) -> str:
    if mid is None:
        return new_mid()
    if not isinstance(mid, str) or not mid:
        raise InvalidArgumentError("mid must be a non-empty string")
    return mid


def _string(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _number(name: str, value: object) -> float | int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != value
        or value
        in (
            float("inf"),
            float("-inf"),
        )
    ):
        raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}")
    return value


def _turn_detection(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"turn_detection must be a mapping, got {value!r}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if key == "type":
            if item not in _TURN_DETECTION_TYPES:
                raise InvalidArgumentError(f"turn_detection.type must be one of {_TURN_DETECTION_TYPES}, got {item!r}")
            out[key] = item
        elif key in _TURN_DETECTION_NUMBERS:
            number = _number(f"turn_detection.{key}", item)
            if number < 0:
                raise InvalidArgumentError(f"turn_detection.{key} must not be negative, got {number!r}")
            out[key] = number
        else:
            raise InvalidArgumentError(f"unknown turn_detection key {key!r}")
    return out


def set_params(
    *,
    voice_id: str | None = None,
    voice_url: str | None = None,
    language: str | None = None,
    mode: int | None = None,
    background_url: str | None = None,
    speed: float | None = None,
    stt_language: str | None = None,
    pron_map: Mapping[str, str] | None = None,
    stt_type: str | None = None,
    turn_detection: Mapping[str, Any] | None = None,
    mid: str | None = None,
) -> CommandFrame:
    """Build a ``set-params`` command (see the module docstring for the field mapping).

    Args:
        voice_id: TTS voice id (written to ``vparams.vid`` and the deprecated top-level ``vid``).
        voice_url: voice sample URL (``vparams.vurl`` and the deprecated ``vurl``).
        language: language code such as ``"en"`` (``lang``).
        mode: 1 = retelling (speak the text verbatim), 2 = dialogue (AKOOL's LLM answers).
        background_url: background image or video URL (``bgurl``).
        speed: speech speed, 0.8 to 1.2.
        stt_language: speech-recognition language.
        pron_map: pronunciation map, word -> spoken form.
        stt_type: speech-recognition engine (e.g. ``"openai_realtime"``).
        turn_detection: ``type`` (``server_vad``/``semantic_vad``), ``threshold``, ``prefix_padding_ms``,
            ``silence_duration_ms``; ``None`` values are dropped.
        mid: the command id; a fresh one when omitted.

    Returns:
        The command frame.

    Raises:
        InvalidArgumentError: no parameter is set, or a value is out of range or of the wrong type.
    """
    data: dict[str, Any] = {}
    vparams: dict[str, Any] = {}
    if voice_id is not None:
        data["vid"] = vparams["vid"] = _string("voice_id", voice_id)
    if voice_url is not None:
        data["vurl"] = vparams["vurl"] = _string("voice_url", voice_url)
    if language is not None:
        data["lang"] = _string("language", language)
    if mode is not None:
        if type(mode) is not int or mode not in (1, 2):
            raise InvalidArgumentError(f"mode must be 1 (retelling) or 2 (dialogue), got {mode!r}")
        data["mode"] = mode
    if background_url is not None:
        data["bgurl"] = _string("background_url", background_url)
    if speed is not None:
        number = _number("speed", speed)
        if not _SPEED_RANGE[0] <= number <= _SPEED_RANGE[1]:
            raise InvalidArgumentError(f"speed must be between 0.8 and 1.2, got {speed!r}")
        vparams["speed"] = number
    if stt_language is not None:
        vparams["stt_language"] = _string("stt_language", stt_language)
    if pron_map is not None:
        if not isinstance(pron_map, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in pron_map.items()
        ):
            raise InvalidArgumentError("pron_map must map strings to strings")
        vparams["pron_map"] = dict(pron_map)
    if stt_type is not None:
        vparams["stt_type"] = _string("stt_type", stt_type)
    if turn_detection is not None:
        vparams["turn_detection"] = _turn_detection(turn_detection)
    if vparams:
        data["vparams"] = vparams
    if not data:
        raise InvalidArgumentError("set_params needs at least one parameter")
    return CommandFrame(mid=_mid(mid), cmd=CMD_SET_PARAMS, data=data)


def interrupt(*, mid: str | None = None) -> CommandFrame:
    """Build an ``interrupt`` command (stop the avatar's current response; no data).

    Args:
        mid: the command id; a fresh one when omitted.

    Returns:
        The command frame.

    Raises:
        InvalidArgumentError: ``mid`` is not a non-empty string.
    """
    return CommandFrame(mid=_mid(mid), cmd=CMD_INTERRUPT)


def _choice(name: str, value: object, choices: type[enum.Enum], strict: bool) -> str:
    if isinstance(value, choices):
        return str(value.value)
    if isinstance(value, str) and value:
        if value in {member.value for member in choices}:
            return value
        if not strict:
            return value
    allowed = ", ".join(str(member.value) for member in choices)
    raise InvalidArgumentError(f"{name} must be one of {allowed} (or pass strict=False), got {value!r}")


def set_action(
    *,
    action: Action | str | None = None,
    expression: Expression | str | None = None,
    strict: bool = True,
    mid: str | None = None,
) -> CommandFrame:
    """Build a ``set-action`` command (gesture and/or facial expression, "ultra" avatars).

    Members of :class:`Action` / :class:`Expression` and their string values are accepted. Other strings are
    rejected unless ``strict=False`` (for actions the server adds before this library knows them).

    Args:
        action: the gesture.
        expression: the facial expression.
        strict: reject strings that are not documented values.
        mid: the command id; a fresh one when omitted.

    Returns:
        The command frame.

    Raises:
        InvalidArgumentError: neither is given, or a value is not allowed.
    """
    data: dict[str, Any] = {}
    if action is not None:
        data["action"] = _choice("action", action, Action, strict)
    if expression is not None:
        data["expression"] = _choice("expression", expression, Expression, strict)
    if not data:
        raise InvalidArgumentError("set_action needs an action or an expression")
    return CommandFrame(mid=_mid(mid), cmd=CMD_SET_ACTION, data=data)
