"""Golden answers: every example response body of AKOOL's docs, parsed by the client (issue 10).

Each file in ``fixtures/`` holds one documented body with its source (repository, file, revision, section) and the
client call it answers (``endpoint``). The test serves the body over ``httpx.MockTransport`` to that call and checks
what the client made of it against the raw body itself. A new documented shape is one fixture file away from being
covered.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamclient.api import (
    AgoraCredentials,
    AsyncAkoolClient,
    LiveKitCredentials,
    SessionStatus,
    TRTCCredentials,
    Voice,
)
from streamclient.errors import APIResponseError

from .conftest import MakeClient, Recorder

FIXTURES = Path(__file__).parent / "fixtures"
SESSION_ID = "6698c9d69cf7b0d61d1b6420"


def _load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return fixture


ALL = sorted(FIXTURES.glob("*.json"))


def _status(raw: Any) -> Any:
    return None if raw is None else SessionStatus(raw)


def _check_credentials(parsed: Any, raw: dict[str, Any]) -> None:
    raw_creds = raw.get("credentials") or raw.get("stream_urls") or {}
    if not raw_creds:
        assert parsed.credentials is None
        return
    kinds: dict[str, type[Any]] = {"agora": AgoraCredentials, "livekit": LiveKitCredentials, "trtc": TRTCCredentials}
    kind = kinds[parsed.stream_type]
    assert isinstance(parsed.credentials, kind)
    if isinstance(parsed.credentials, AgoraCredentials):
        assert parsed.credentials.agora_uid == raw_creds["agora_uid"]
        assert parsed.credentials.agora_channel == raw_creds["agora_channel"]
        token = parsed.credentials.agora_token
        assert (None if token is None else token.get_secret_value()) == raw_creds.get("agora_token")


def _check_session(parsed: Any, raw: dict[str, Any], *, requested: str | None = None) -> None:
    assert parsed.id == (raw.get("_id") or requested or "")
    assert parsed.status == _status(raw.get("status"))
    assert parsed.stream_type == raw.get("stream_type", "agora")
    _check_credentials(parsed, raw)


async def _sessions_create(client: AsyncAkoolClient, data: Any) -> None:
    _check_session(await client.sessions.create("dvp_Tristan_cloth2_1080P"), data)


async def _sessions_get(client: AsyncAkoolClient, data: Any) -> None:
    _check_session(await client.sessions.get(SESSION_ID), data, requested=SESSION_ID)


async def _sessions_list(client: AsyncAkoolClient, data: Any) -> None:
    page = await client.sessions.list()
    raw_items = data.get("result", data.get("data"))
    assert page.count == data.get("count")
    assert len(page.items) == len(raw_items)
    for parsed, raw in zip(page.items, raw_items, strict=True):
        _check_session(parsed, raw)


async def _sessions_close(client: AsyncAkoolClient, data: Any) -> None:
    await client.sessions.close(SESSION_ID)  # no exception: a bare {code, msg} and CS's data are both success


async def _avatars_list(client: AsyncAkoolClient, data: Any) -> None:
    page = await client.avatars.list()
    raw_items = data if isinstance(data, list) else data["result"]
    assert [a.avatar_id for a in page.items] == [r["avatar_id"] for r in raw_items]
    assert page.count == (None if isinstance(data, list) else data["count"])


async def _avatars_get(client: AsyncAkoolClient, data: Any) -> None:
    avatar = await client.avatars.get(data["avatar_id"])
    assert (avatar.id, avatar.avatar_id, avatar.available) == (data["_id"], data["avatar_id"], data.get("available"))
    assert avatar.status is None  # the v4 detail documents no status


async def _avatars_upload(client: AsyncAkoolClient, data: Any) -> None:
    avatar = await client.avatars.upload(url="https://v.example/me.mp4", avatar_id="me1", name="Me")
    raw = data[0] if isinstance(data, list) else data
    assert avatar.id == raw.get("_id")
    assert avatar.avatar_id == raw.get("avatar_id", "me1")
    assert avatar.status == _status(raw["status"])


async def _avatars_status(client: AsyncAkoolClient, data: Any) -> None:
    (raw,) = data
    record = await client.avatars.status(raw["_id"])
    assert (record.id, record.status, record.avatar_id) == (raw["_id"], _status(raw["status"]), None)
    ready = await client.avatars.wait_until_ready(raw["_id"])
    assert ready.status == _status(raw["status"])


async def _voices_list(client: AsyncAkoolClient, data: Any) -> None:
    page = await client.voices.list()
    assert [v.voice_id for v in page.items] == [r["voice_id"] for r in data["result"]]
    assert [v.status for v in page.items] == [_status(r["status"]) for r in data["result"]]
    assert page.count == data["count"]


async def _voice_model(client: AsyncAkoolClient, data: Any) -> None:
    voice = Voice.model_validate(data)
    assert (voice.id, voice.voice_id, voice.preview) == (data["_id"], data["voice_id"], data["preview"])
    assert voice.status == _status(data["status"])


async def _languages_list(client: AsyncAkoolClient, data: Any) -> None:
    assert [lang.lang_code for lang in await client.languages.list()] == [r["lang_code"] for r in data["lang_list"]]


async def _knowledge_list(client: AsyncAkoolClient, data: Any) -> None:
    page = await client.knowledge.list()
    assert [kb.id for kb in page.items] == [r["_id"] for r in data]
    assert page.count is None  # a bare array gives no total
    assert [kb.docs for kb in page.items] == [r["docs"] for r in data]


async def _knowledge_create(client: AsyncAkoolClient, data: Any) -> None:
    kb = await client.knowledge.create(name=data["name"])
    assert (kb.id, kb.name, kb.prologue, kb.urls) == (data["_id"], data["name"], data["prologue"], data["urls"])


async def _knowledge_get(client: AsyncAkoolClient, data: Any) -> None:
    kb = await client.knowledge.get(data["_id"])
    assert (kb.id, kb.prompt, kb.prologue) == (data["_id"], data["prompt"], None)


async def _knowledge_update(client: AsyncAkoolClient, data: Any) -> None:
    kb = await client.knowledge.update(data["_id"], name=data["name"])
    assert (kb.id, kb.name, kb.update_time) == (data["_id"], data["name"], data["update_time"])


async def _knowledge_delete(client: AsyncAkoolClient, data: Any) -> None:
    await client.knowledge.delete("64f8a1b2c3d4e5f6a7b8c9d0")  # no exception on the KB docs' bare {code, msg}


CALLS: dict[str, Callable[[AsyncAkoolClient, Any], Awaitable[None]]] = {
    "sessions.create": _sessions_create,
    "sessions.get": _sessions_get,
    "sessions.list": _sessions_list,
    "sessions.close": _sessions_close,
    "avatars.list": _avatars_list,
    "avatars.get": _avatars_get,
    "avatars.upload": _avatars_upload,
    "avatars.status": _avatars_status,
    "voices.list": _voices_list,
    "model.Voice": _voice_model,
    "languages.list": _languages_list,
    "knowledge.list": _knowledge_list,
    "knowledge.create": _knowledge_create,
    "knowledge.get": _knowledge_get,
    "knowledge.update": _knowledge_update,
    "knowledge.delete": _knowledge_delete,
}
ERRORS = {"APIResponseError": APIResponseError}


def test_every_fixture_names_its_source_and_a_known_call() -> None:
    assert len(ALL) >= 30
    for path in ALL:
        fixture = _load(path)
        assert fixture["endpoint"] in {*CALLS, "auth.getToken"}, path.name
        assert all(fixture[key] for key in ("source", "section", "reference")), path.name
        assert fixture["body"]["code"] == 1000, path.name


def test_every_documented_endpoint_has_a_fixture() -> None:
    covered = {_load(path)["endpoint"] for path in ALL}
    assert covered == {*CALLS, "auth.getToken"}


@pytest.mark.parametrize("path", [p for p in ALL if _load(p)["endpoint"] != "auth.getToken"], ids=lambda p: p.stem)
async def test_documented_body_is_parsed(make_client: MakeClient, path: Path) -> None:
    fixture = _load(path)
    body = fixture["body"]
    handler = Recorder([httpx.Response(200, json=body)])
    call = CALLS[fixture["endpoint"]]
    async with make_client(handler) as client:
        expected = fixture.get("expect", {}).get("error")
        if expected:
            with pytest.raises(ERRORS[expected]):
                await call(client, body.get("data"))
        else:
            await call(client, body.get("data"))


@pytest.mark.parametrize("path", [p for p in ALL if _load(p)["endpoint"] == "auth.getToken"], ids=lambda p: p.stem)
async def test_documented_token_body_is_used(make_client: MakeClient, path: Path) -> None:
    body = _load(path)["body"]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/getToken"):
            return httpx.Response(200, json=body)
        return httpx.Response(200, json={"code": 1000, "msg": "OK", "data": {"count": 0, "result": []}})

    handler = Recorder([answer])
    async with make_client(handler, client_id="id", client_secret="secret") as client:
        await client.sessions.list()
    assert handler.requests[-1].headers["authorization"] == f"Bearer {body['token']}"
