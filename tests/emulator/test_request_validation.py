"""The emulator's request validation over real loopback HTTP: every wrong input is a 1003 naming the field.

One test (or parametrised group) per case of issue 27: wrong types that reached a set or dict lookup (2), invalid
fields accepted with 1000 (3), ``voice_params`` checked in full (4), ``null`` credential values (5), unknown
credential keys (6) and loose integer query parameters (7); and the last-resort guard that answers AKOOL's
envelope when a handler fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from streamclient.emulator._serve import serve
from streamclient.emulator.rest import INTERNAL_ERROR_CODE, rest_routes
from streamclient.emulator.state import EmulatorState

AVATAR = "dvp_Tristan_cloth2_1080P"
CREATE = "/api/open/v4/liveAvatar/session/create"
AGORA = {"agora_uid": 100000, "agora_channel": "your-channel", "agora_token": "your-token"}
LIVEKIT = {"livekit_url": "wss://livekit.example", "livekit_token": "lk-token"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    state = EmulatorState(api_key="emu-key")
    async with (
        serve(Starlette(routes=rest_routes(state))) as url,
        httpx.AsyncClient(base_url=url, headers={"x-api-key": "emu-key"}, timeout=5) as client,
    ):
        client.state = state  # type: ignore[attr-defined]  # the test's handle on the served state
        yield client


def _state(http: httpx.AsyncClient) -> EmulatorState:
    state: EmulatorState = http.state  # type: ignore[attr-defined]  # set by the fixture
    return state


async def _create(http: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    return await http.post(CREATE, json={"avatar_id": AVATAR, **fields})


async def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["code"] == 1003, body
    assert field in body["msg"], body
    assert "data" not in body


# ------------------------------------------------------------------------------------ case 2: no HTTP 500


@pytest.mark.parametrize(
    ("field", "value"),
    [("language", ["en"]), ("voice_id", ["x"]), ("knowledge_id", {"a": 1}), ("voice_url", [1]), ("mode_type", [1])],
)
async def test_unhashable_values_are_a_1003_not_a_500(http: httpx.AsyncClient, field: str, value: Any) -> None:
    await _refused(await _create(http, **{field: value}), field)
    assert _state(http).sessions == {}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/open/v4/knowledge/create", {"docs": 5}, "docs"),
        ("/api/open/v4/knowledge/create", {"urls": "https://x"}, "urls"),
        ("/api/open/v4/knowledge/create", {"docs": [{"name": 1}]}, "docs[0].name"),
        ("/api/open/v4/knowledge/create", {"name": None}, "name"),
    ],
)
async def test_knowledge_bodies_are_checked(http: httpx.AsyncClient, path: str, body: Any, field: str) -> None:
    await _refused(await http.post(path, json=body), field)
    assert _state(http).knowledge == {}


async def test_knowledge_update_keeps_the_documented_types(http: httpx.AsyncClient) -> None:
    kb = (await http.post("/api/open/v4/knowledge/create", json={"name": "n"})).json()["data"]
    await _refused(await http.post("/api/open/v4/knowledge/update", json={"id": kb["_id"], "name": 5}), "name")
    assert _state(http).knowledge[kb["_id"]]["name"] == "n"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"avatar_id": "dvp_Tristan_cloth2_1080P", "duration": NaN}',
        b'{"avatar_id": "dvp_Tristan_cloth2_1080P", "duration": Infinity}',
        b"[" * 100_000 + b"]" * 100_000,  # deep enough to exhaust Python's stack in json.loads
    ],
)
async def test_what_is_not_json_is_a_1003(http: httpx.AsyncClient, raw: bytes) -> None:
    await _refused(await http.post(CREATE, content=raw), "JSON")


async def test_a_failing_handler_answers_the_envelope_and_the_emulator_keeps_serving(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("an emulator bug")

    monkeypatch.setattr(_state(http), "get_session", broken)
    answer = await http.get("/api/open/v4/liveAvatar/session/detail", params={"id": "x"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"code": INTERNAL_ERROR_CODE, "msg": "emulator error: RuntimeError (logged)"}
    assert "an emulator bug" in caplog.text  # the traceback is logged
    assert (await http.get("/api/open/v3/language/list")).json()["code"] == 1000


# -------------------------------------------------------------------------- case 3: invalid fields accepted


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", {}),
        ("voice_id", {}),
        ("knowledge_id", 0),
        ("voice_url", 5),
        ("background_url", True),
        ("language", None),
        ("mode_type", None),
        ("mode_type", True),
        ("mode_type", 1.0),
        ("scene_mode", None),
        ("e2e_type", None),
        ("voice_params", None),
        ("credentials", None),
        ("stream_type", None),
        ("duration", None),
    ],
)
async def test_invalid_fields_are_refused(http: httpx.AsyncClient, field: str, value: Any) -> None:
    await _refused(await _create(http, **{field: value}), field)
    assert _state(http).sessions == {}


async def test_empty_optional_texts_read_as_not_given_and_unknown_keys_are_tolerated(http: httpx.AsyncClient) -> None:
    # AKOOL's demo sends every optional text field, empty when unset; the schema leaves the body open
    answer = await _create(
        http, language="", voice_id="", knowledge_id="", voice_url="", background_url="", webhookUrl=["x"]
    )
    assert answer.json()["code"] == 1000
    session = _state(http).sessions[answer.json()["data"]["_id"]]
    assert (session.language, session.voice_id, session.knowledge_id, session.voice_url) == (None, None, None, None)


# ------------------------------------------------------------------------------- case 4: voice_params in full


@pytest.mark.parametrize(
    ("voice_params", "field"),
    [
        ({"stt_language": 5}, "voice_params.stt_language"),
        ({"pron_map": "akool"}, "voice_params.pron_map"),
        ({"pron_map": {"akool": 1}}, "voice_params.pron_map.akool"),
        ({"stt_type": "whisper"}, "voice_params.stt_type"),
        ({"turn_detection": {"type": "magic"}}, "voice_params.turn_detection.type"),
        ({"turn_detection": {"prefix_padding_ms": "x"}}, "voice_params.turn_detection.prefix_padding_ms"),
        ({"turn_detection": {"silence_duration_ms": 1.5}}, "voice_params.turn_detection.silence_duration_ms"),
        ({"turn_detection": {"threshold": 2}}, "voice_params.turn_detection.threshold"),
        ({"turn_detection": "server_vad"}, "voice_params.turn_detection"),
        ({"elevenlabs_settings": "x"}, "voice_params.elevenlabs_settings"),
        ({"elevenlabs_settings": {"stability": 1.5}}, "voice_params.elevenlabs_settings.stability"),
        ({"elevenlabs_settings": {"use_speaker_boost": "yes"}}, "voice_params.elevenlabs_settings.use_speaker_boost"),
        ({"elevenlabs_settings": {"api_key": 5}}, "voice_params.elevenlabs_settings.api_key"),
        ({"minimax_settings": {"voice_setting": {"speed": "fast"}}}, "voice_params.minimax_settings.voice_setting"),
        ({"speed": None}, "voice_params.speed"),
    ],
)
async def test_voice_params_are_checked_in_full(http: httpx.AsyncClient, voice_params: Any, field: str) -> None:
    await _refused(await _create(http, voice_params=voice_params), field)


async def test_a_malformed_elevenlabs_setting_does_not_switch_off_the_voice_list(http: httpx.AsyncClient) -> None:
    # before: any truthy elevenlabs_settings (even "x") let any voice_id through
    await _refused(await _create(http, voice_id="not-a-voice", voice_params={"elevenlabs_settings": "x"}), "elevenlabs")
    await _refused(await _create(http, voice_id="not-a-voice", voice_params={"elevenlabs_settings": {}}), "voice_id")
    ok = await _create(http, voice_id="an-elevenlabs-voice", voice_params={"elevenlabs_settings": {"api_key": "k"}})
    assert ok.json()["code"] == 1000


async def test_fast_dialogue_voice_params_are_closed_and_normal_ones_open(http: httpx.AsyncClient) -> None:
    fast = {"scene_mode": "fast_dialogue"}
    await _refused(await _create(http, **fast, voice_params={"speed": 1.0}), "speed")
    await _refused(await _create(http, **fast, voice_params={"turn_detection": {"type": "x"}}), "turn_detection.type")
    assert (await _create(http, **fast, e2e_type="openai", voice_params={"voice_id": "marin"})).json()["code"] == 1000
    assert (await _create(http, voice_params={"vid": "emu_voice_dave", "speed": 1.2})).json()["code"] == 1000
    # meeting: the default scene of AKOOL's own LiveKit plugin (not in the OpenAPI file); its voice_params are open
    assert (await _create(http, scene_mode="meeting", voice_params={"speed": 0.8})).json()["code"] == 1000
    await _refused(await _create(http, scene_mode="slow"), "scene_mode")
    await _refused(await _create(http, scene_mode="meeting", e2e_type="openai"), "e2e_type")


# ------------------------------------------------------------------ cases 5 and 6: credentials by the schema


async def test_null_credential_values_are_never_stored_or_echoed(http: httpx.AsyncClient) -> None:
    await _refused(
        await _create(http, stream_type="livekit", credentials={**LIVEKIT, "livekit_room_name": None}),
        "credentials.livekit_room_name",
    )
    await _refused(await _create(http, credentials={**AGORA, "agora_app_id": None}), "credentials.agora_app_id")
    assert _state(http).sessions == {}
    # a null under a key the schema does not know is tolerated, and neither stored nor echoed
    answer = (await _create(http, stream_type="livekit", credentials={**LIVEKIT, "livekit_region": None})).json()
    assert answer["code"] == 1000
    assert answer["data"]["credentials"] == LIVEKIT
    detail = await http.get("/api/open/v4/liveAvatar/session/detail", params={"id": answer["data"]["_id"]})
    assert None not in detail.json()["data"]["credentials"].values()


@pytest.mark.parametrize(
    ("stream_type", "credentials"),
    [
        ("agora", {**AGORA, "agora_region": {"area": "eu"}, "extra": 5}),
        ("livekit", {**LIVEKIT, "livekit_agent_name": 7}),
        ("trtc", {"trtc_sdk_app_id": 1400000000, "trtc_sdk_room_id": "r", "trtc_sdk_user_id": "u",
                  "trtc_sdk_user_sig": "s", "trtc_app_id": "an older name"}),
    ],
)  # fmt: skip
async def test_unknown_credential_keys_are_tolerated(
    http: httpx.AsyncClient, stream_type: str, credentials: dict[str, Any]
) -> None:
    answer = (await _create(http, stream_type=stream_type, credentials=credentials)).json()
    assert answer["code"] == 1000, answer
    echoed = answer["data"]["credentials"]
    assert not {"agora_region", "extra", "livekit_agent_name", "trtc_app_id"} & set(echoed)


@pytest.mark.parametrize(
    ("stream_type", "credentials", "field"),
    [
        ("agora", {**AGORA, "agora_uid": 100000.5}, "credentials.agora_uid"),
        ("agora", {**AGORA, "agora_uid": 0}, "credentials.agora_uid"),
        ("agora", {**AGORA, "agora_channel": ""}, "agora_channel"),
        ("agora", {**AGORA, "livekit_url": 5}, "credentials.livekit_url"),  # a documented key keeps its type
        ("livekit", AGORA, "livekit_url"),  # credentials by stream_type
        ("trtc", {"trtc_sdk_app_id": "1", "trtc_sdk_room_id": "r"}, "credentials.trtc_sdk_app_id"),
        ("agora", [AGORA], "credentials"),
    ],
)
async def test_credentials_follow_their_stream_type(
    http: httpx.AsyncClient, stream_type: str, credentials: Any, field: str
) -> None:
    await _refused(await _create(http, stream_type=stream_type, credentials=credentials), field)


# ----------------------------------------------------------------------- case 7: strict integer parameters


@pytest.mark.parametrize("path", ["/api/open/v4/liveAvatar/avatar/list", "/api/open/v4/liveAvatar/session/list"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("size=", "size"),
        ("page=", "page"),
        ("size=1_0", "size"),
        ("size=%2B5", "size"),  # +5
        ("size=%205", "size"),  # " 5"
        ("size=5%20", "size"),  # "5 "
        ("page=%D9%A5", "page"),  # Arabic-Indic digit five
        ("page=%EF%BC%95", "page"),  # fullwidth digit five
        ("size=1&size=2", "size"),
        ("page=1&page=1", "page"),
        ("page=0", "page"),
        ("size=1.0", "size"),
        ("page=99999999999999999999999", "page"),
    ],
)
async def test_integer_parameters_are_strict(http: httpx.AsyncClient, path: str, query: str, field: str) -> None:
    await _refused(await http.get(f"{path}?{query}"), field)


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/open/v4/liveAvatar/session/list", "status=", "status"),
        ("/api/open/v4/liveAvatar/session/list", "status=5", "status"),
        ("/api/open/v4/voice/list", "type=2&support_stream=", "support_stream"),
        ("/api/open/v4/voice/list", "type=2&support_stream=3", "support_stream"),
        ("/api/open/v4/voice/list", "type=%EF%BC%92", "type"),
        ("/api/open/v4/knowledge/list", "size=101", "size"),
        ("/api/open/v4/knowledge/list", "from=x", "from"),
        ("/api/open/v4/liveAvatar/session/detail", "id=a&id=b", "id"),
        ("/api/open/v4/liveAvatar/avatar/detail", f"avatar_id={AVATAR}&avatar_id={AVATAR}", "avatar_id"),
        ("/api/open/v4/liveAvatar/avatar/list", "platform=", "platform"),
    ],
)
async def test_other_query_parameters_are_strict(http: httpx.AsyncClient, path: str, query: str, field: str) -> None:
    await _refused(await http.get(f"{path}?{query}"), field)


async def test_well_formed_integer_parameters_still_work(http: httpx.AsyncClient) -> None:
    listed = (await http.get("/api/open/v4/liveAvatar/avatar/list?page=01&size=2&platform=open")).json()
    assert listed["code"] == 1000
    assert len(listed["data"]["result"]) == 2
    voices = (await http.get("/api/open/v4/voice/list?type=2&support_stream=1&style=calm")).json()
    assert voices["code"] == 1000
    assert voices["data"]["result"]


@pytest.mark.parametrize("key", ["id", "session_id", "_id"])
async def test_a_close_needs_a_string_id(http: httpx.AsyncClient, key: str) -> None:
    created = (await _create(http)).json()["data"]["_id"]
    await _refused(await http.post("/api/open/v4/liveAvatar/session/close", json={key: [created]}), key)
    assert (await http.post("/api/open/v4/liveAvatar/session/close", json={key: created})).json()["code"] == 1000


UPLOAD = {"url": "https://example.com/me.mp4", "avatar_id": "me1", "name": "Me", "type": 2, "url_from": 1}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": ""}, "url"),
        ({"name": 5}, "name"),
        ({"avatar_id": "me_1"}, "avatar_id"),
        ({"type": "2"}, "type"),
        ({"url_from": None}, "url_from"),
        ({"url_from": True}, "url_from"),
    ],
)
async def test_an_avatar_upload_names_its_invalid_field(
    http: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    await _refused(await http.post("/api/open/v3/avatar/create", json={**UPLOAD, **changes}), field)
    without = {k: v for k, v in UPLOAD.items() if k != field}
    await _refused(await http.post("/api/open/v3/avatar/create", json=without), f"{field} required")
