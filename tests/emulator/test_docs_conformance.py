"""The emulator's default answers have the structure of AKOOL's documented example bodies (issue 10).

For each endpoint, the emulator's answer is compared with the docs' example body in ``tests/api/fixtures``: the same
envelope keys (no ``data`` where the docs show none), ``data`` of the same kind (object or array), every documented
key present (except the few listed fields the emulator does not model) and values of the same JSON type.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from streamclient.emulator._serve import serve
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.state import EmulatorState

FIXTURES = Path(__file__).parent.parent / "api" / "fixtures"
AVATAR = "dvp_Tristan_cloth2_1080P"
#: Documented fields the emulator does not model (catalogue bookkeeping of the real service).
NOT_MODELLED = frozenset({"disabled", "sort", "create_time", "modify_url", "crop_arr", "thumbnailUrl", "gender"})


def _doc(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))["body"]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _conforms(doc: Any, emulated: Any, path: str = "body") -> list[str]:
    """Differences in structure between a documented body and the emulator's (empty: it conforms)."""
    if doc is None:
        return []
    if _kind(doc) != _kind(emulated):
        return [f"{path}: documented {_kind(doc)}, emulated {_kind(emulated)}"]
    if isinstance(doc, dict):
        problems = [f"{path}.{key}: missing" for key in doc if key not in emulated and key not in NOT_MODELLED]
        for key in doc.keys() & emulated.keys():
            problems += _conforms(doc[key], emulated[key], f"{path}.{key}")
        return problems
    if isinstance(doc, list) and doc and emulated:
        return _conforms(doc[0], emulated[0], f"{path}[0]")
    return []


@pytest.fixture
async def http() -> AsyncIterator[tuple[EmulatorState, httpx.AsyncClient]]:
    state = EmulatorState(api_key="emu-key", avatar_step_seconds=3600.0)
    async with serve(Starlette(routes=rest_routes(state))) as url:
        async with httpx.AsyncClient(base_url=url, headers={"x-api-key": "emu-key"}, timeout=10) as client:
            yield state, client


async def test_session_answers_conform(http: tuple[EmulatorState, httpx.AsyncClient]) -> None:
    _, client = http
    created = (await client.post("/api/open/v4/liveAvatar/session/create", json={"avatar_id": AVATAR})).json()
    sid = created["data"]["_id"]
    detail = (await client.get("/api/open/v4/liveAvatar/session/detail", params={"id": sid})).json()
    listed = (await client.get("/api/open/v4/liveAvatar/session/list")).json()
    closed = (await client.post("/api/open/v4/liveAvatar/session/close", json={"id": sid})).json()
    assert _conforms(_doc("session_create__la"), created) == []
    assert _conforms(_doc("session_detail__la"), detail) == []
    assert _conforms(_doc("session_list__la"), listed) == []
    assert set(closed) == set(_doc("session_close__la")) == {"code", "msg"}
    # the documented detail and list credentials carry no token, and neither do the emulator's
    for answer, credentials in (
        (detail, detail["data"]["credentials"]),
        (listed, listed["data"]["result"][0]["credentials"]),
    ):
        assert "agora_token" not in credentials, answer


async def test_avatar_answers_conform(http: tuple[EmulatorState, httpx.AsyncClient]) -> None:
    _, client = http
    catalogue = (await client.get("/api/open/v4/liveAvatar/avatar/list")).json()
    detail = (await client.get("/api/open/v4/liveAvatar/avatar/detail", params={"avatar_id": AVATAR})).json()
    body = {"url": "https://v.example/me.mp4", "avatar_id": "me1", "name": "Me", "type": 2, "url_from": 1}
    uploaded = (await client.post("/api/open/v3/avatar/create", json=body)).json()
    record = (await client.get("/api/open/v3/avatar/detail", params={"id": uploaded["data"]["_id"]})).json()
    assert _conforms(_doc("avatar_list__la"), catalogue) == []
    assert _conforms(_doc("avatar_detail__la"), detail) == []
    assert _conforms(_doc("avatar_upload__oas"), uploaded) == []
    assert _conforms(_doc("avatar_status__avatar_mdx"), record) == []
    assert "status" not in detail["data"]  # OAS AvatarDetail has none


async def test_voice_language_and_token_answers_conform(http: tuple[EmulatorState, httpx.AsyncClient]) -> None:
    state, client = http
    voices = (await client.get("/api/open/v4/voice/list", params={"type": 2})).json()
    clones = (await client.get("/api/open/v4/voice/list", params={"type": 1})).json()
    languages = (await client.get("/api/open/v3/language/list")).json()
    token = (
        await client.post(
            "/api/open/v3/getToken", json={"clientId": state.client_id, "clientSecret": state.client_secret}
        )
    ).json()
    assert set(voices["data"]) == set(_doc("voices_list__vl")["data"])
    assert _conforms(_doc("languages_list__vt_aa7293c"), languages) == []
    assert _conforms(_doc("get_token__auth"), token) == []
    in_progress = next(v for v in clones["data"]["result"] if v["voice_id"] is None)
    assert in_progress["status"] in (1, 2)  # the voice docs: voice_id is null until the clone completes


async def test_knowledge_answers_conform(http: tuple[EmulatorState, httpx.AsyncClient]) -> None:
    _, client = http
    doc = _doc("knowledge_create__kb")["data"]
    fields = {k: doc[k] for k in ("name", "prologue", "prompt", "docs", "urls")}
    created = (await client.post("/api/open/v4/knowledge/create", json=fields)).json()
    kid = created["data"]["_id"]
    listed = (await client.get("/api/open/v4/knowledge/list")).json()
    detail = (await client.get("/api/open/v4/knowledge/detail", params={"id": kid})).json()
    updated = (await client.post("/api/open/v4/knowledge/update", json={"id": kid, "prompt": "p"})).json()
    deleted = (await client.request("DELETE", "/api/open/v4/knowledge/delete", json={"id": kid})).json()
    assert _conforms(_doc("knowledge_create__kb"), created) == []
    assert _conforms(_doc("knowledge_list__kb"), listed) == []
    assert _conforms(_doc("knowledge_detail__kb"), detail) == []
    assert _conforms(_doc("knowledge_update__kb"), updated) == []
    assert deleted == {"code": 1000, "msg": "OK"}
    assert set(_doc("knowledge_delete__kb")) == {"code", "msg"}
