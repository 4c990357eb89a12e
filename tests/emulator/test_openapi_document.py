"""The emulator's OpenAPI document says what the emulator does: its routes, its lists, its answer envelope."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from streamclient.emulator.openapi import OPENAPI_PATH, openapi_document
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.state import ACCEPTED_LANGUAGES, FAST_DIALOGUE_VOICES, EmulatorState
from streamclient.emulator.validation import SCENE_MODES, STREAM_TYPES


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = openapi_document()["components"]["schemas"]
    return schemas


def test_every_route_is_documented_and_nothing_else() -> None:
    served = {
        (route.path, method.lower())
        for route in rest_routes(EmulatorState())
        if isinstance(route, Route) and route.path != OPENAPI_PATH
        for method in route.methods or ()
        if method != "HEAD"  # starlette adds HEAD to every GET
    }
    documented = {(path, method) for path, item in openapi_document()["paths"].items() for method in item}
    assert documented == served


def test_the_create_schema_lists_what_validation_accepts() -> None:
    create = _schemas()["CreateSessionRequest"]["properties"]
    assert create["language"]["enum"] == ["", *sorted(ACCEPTED_LANGUAGES)]
    assert create["scene_mode"]["enum"] == list(SCENE_MODES)
    assert create["stream_type"]["enum"] == list(STREAM_TYPES)
    fast = _schemas()["FastDialogueVoiceParams"]
    assert fast["properties"]["voice_id"]["enum"] == sorted(FAST_DIALOGUE_VOICES)
    assert fast["additionalProperties"] is False


def test_every_answer_is_the_envelope_or_an_error() -> None:
    for item in openapi_document()["paths"].values():
        for operation in item.values():
            assert set(operation["responses"]) == {"200"}
            alternatives = operation["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
            assert alternatives[-1] == {"$ref": "#/components/schemas/Failure"}
            assert all(alt["properties"]["code"] == {"type": "integer", "enum": [1000]} for alt in alternatives[:-1])


def test_servers_name_the_emulator_that_serves_the_document() -> None:
    assert openapi_document("http://127.0.0.1:9/")["servers"] == [
        {"url": "http://127.0.0.1:9", "description": "this emulator"}
    ]
    assert openapi_document()["servers"][0]["url"] == "https://openapi.akool.com"
    assert openapi_document() is not openapi_document()  # a copy each time: callers may change it
