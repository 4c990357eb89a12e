"""Command builders: the set-params field mapping, validation, and set-action values."""

from __future__ import annotations

from typing import Any

import pytest

from streamclient.codec import Action, CommandFrame, Expression, encode_frame, interrupt, set_action, set_params
from streamclient.errors import InvalidArgumentError


def test_set_params_maps_every_field_and_keeps_deprecated_keys() -> None:
    frame = set_params(
        voice_id="v1",
        voice_url="https://x/v.mp3",
        language="es",
        mode=1,
        background_url="https://x/bg.png",
        speed=0.8,
        stt_language="es",
        pron_map={"AKOOL": "ah-cool"},
        stt_type="openai_realtime",
        turn_detection={"type": "server_vad", "threshold": 0, "silence_duration_ms": 500, "prefix_padding_ms": None},
        mid="c1",
    )
    assert frame.cmd == "set-params"
    assert frame.data == {
        "vid": "v1",
        "vurl": "https://x/v.mp3",
        "lang": "es",
        "mode": 1,
        "bgurl": "https://x/bg.png",
        "vparams": {
            "vid": "v1",
            "vurl": "https://x/v.mp3",
            "speed": 0.8,
            "stt_language": "es",
            "pron_map": {"AKOOL": "ah-cool"},
            "stt_type": "openai_realtime",
            "turn_detection": {"type": "server_vad", "threshold": 0, "silence_duration_ms": 500},
        },
    }


def test_set_params_wire_shape_matches_the_docs() -> None:
    frame = set_params(language="en", mode=1, mid="c0ffee-2")
    assert encode_frame(frame) == (
        b'{"v":2,"type":"command","mid":"c0ffee-2","pld":{"cmd":"set-params","data":{"lang":"en","mode":1}}}'
    )


def test_none_is_dropped_and_mid_is_generated() -> None:
    frame = set_params(mode=2, language=None)
    assert frame.data == {"mode": 2}
    assert frame.mid
    assert set_params(mode=2).mid != frame.mid


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"mode": 3},
        {"mode": True},
        {"mode": "1"},
        {"speed": 1.3},
        {"speed": 0.79},
        {"speed": float("nan")},
        {"speed": True},
        {"voice_id": ""},
        {"language": 5},
        {"pron_map": {"a": 1}},
        {"pron_map": ["a"]},
        {"turn_detection": {"type": "magic"}},
        {"turn_detection": {"threshold": -1}},
        {"turn_detection": {"threshold": "high"}},
        {"turn_detection": {"colour": 1}},
        {"turn_detection": "server_vad"},
        {"mode": 1, "mid": ""},
    ],
)
def test_set_params_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        set_params(**kwargs)


def test_interrupt() -> None:
    assert interrupt(mid="i") == CommandFrame(mid="i", cmd="interrupt", data=None)
    assert encode_frame(interrupt(mid="i")) == b'{"v":2,"type":"command","mid":"i","pld":{"cmd":"interrupt"}}'


def test_set_action_accepts_enums_and_documented_strings() -> None:
    frame = set_action(action=Action.NOD, expression="happiness", mid="a")
    assert frame.data == {"action": "nod", "expression": "happiness"}
    assert encode_frame(frame) == (
        b'{"v":2,"type":"command","mid":"a","pld":{"cmd":"set-action","data":{"action":"nod","expression":"happiness"}}}'
    )
    assert set_action(expression=Expression.CONTEMPT).data == {"expression": "contempt"}


def test_set_action_strictness() -> None:
    with pytest.raises(InvalidArgumentError, match="strict"):
        set_action(action="moonwalk")
    assert set_action(action="moonwalk", strict=False).data == {"action": "moonwalk"}
    with pytest.raises(InvalidArgumentError):
        set_action()
    with pytest.raises(InvalidArgumentError):
        set_action(action="", strict=False)
    with pytest.raises(InvalidArgumentError):
        set_action(expression=Action.NOD)  # the wrong enum (a str subclass) on purpose


def test_enums_list_the_documented_values() -> None:
    assert {a.value for a in Action} == {
        "hand_wave",
        "cheer",
        "thumbs_up",
        "pump_fists",
        "nod",
        "shake",
        "waft_left",
        "waft_right",
    }
    assert {e.value for e in Expression} == {"angry", "disgust", "fear", "happiness", "sadness", "surprise", "contempt"}
