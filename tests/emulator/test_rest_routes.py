"""The emulator's REST routes over real loopback HTTP (raw httpx, no client library), and ``serve``."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from streamclient.emulator._serve import serve
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.state import EmulatorState

AVATAR = "dvp_Tristan_cloth2_1080P"


@pytest.fixture
async def served() -> AsyncIterator[tuple[EmulatorState, httpx.AsyncClient]]:
    state = EmulatorState(api_key="emu-key")
    async with serve(Starlette(routes=rest_routes(state))) as url:
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url, headers={"x-api-key": "emu-key"}, timeout=5) as http:
            yield state, http


async def test_envelope_and_session_flow(served: tuple[EmulatorState, httpx.AsyncClient]) -> None:
    state, http = served
    created = (await http.post("/api/open/v4/liveAvatar/session/create", json={"avatar_id": AVATAR})).json()
    assert (created["code"], created["msg"]) == (1000, "OK")
    sid = created["data"]["_id"]
    assert set(created["data"]["credentials"]) == {"agora_uid", "agora_app_id", "agora_channel", "agora_token"}
    detail = (await http.get("/api/open/v4/liveAvatar/session/detail", params={"id": sid})).json()
    assert detail["data"]["_id"] == sid
    # the docs' detail and list examples carry no token: only the create answer does
    assert set(detail["data"]["credentials"]) == {"agora_uid", "agora_app_id", "agora_channel"}
    listed = (await http.get("/api/open/v4/liveAvatar/session/list", params={"size": 1})).json()
    assert listed["data"]["count"] == 1
    assert "agora_token" not in listed["data"]["result"][0]["credentials"]
    closed = (await http.post("/api/open/v4/liveAvatar/session/close", json={"session_id": sid})).json()
    assert closed == {"code": 1000, "msg": "OK"}  # OAS: the bare ApiResponse, no data
    again = (await http.post("/api/open/v4/liveAvatar/session/close", json={"id": sid})).json()
    assert again == {"code": 1219, "msg": "liveAvatar closed"}
    assert ("POST", "/api/open/v4/liveAvatar/session/close") in state.requests


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, 1102), ({"x-api-key": "wrong"}, 1101), ({"authorization": "Bearer forged"}, 1101)],
)
async def test_auth_errors(served: tuple[EmulatorState, httpx.AsyncClient], headers: dict[str, str], code: int) -> None:
    _, http = served
    del http.headers["x-api-key"]
    answer = await http.get("/api/open/v3/language/list", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["code"] == code


async def test_get_token_is_top_level(served: tuple[EmulatorState, httpx.AsyncClient]) -> None:
    state, http = served
    del http.headers["x-api-key"]
    body = (
        await http.post(
            "/api/open/v3/getToken", json={"clientId": state.client_id, "clientSecret": state.client_secret}
        )
    ).json()
    assert body["code"] == 1000
    assert "data" not in body
    langs = await http.get("/api/open/v3/language/list", headers={"authorization": f"Bearer {body['token']}"})
    assert langs.json()["data"]["lang_list"]


async def test_faults(served: tuple[EmulatorState, httpx.AsyncClient]) -> None:
    state, http = served
    state.fail_next("language/list", http_status=503, retry_after=2)
    plain = await http.get("/api/open/v3/language/list")
    assert (plain.status_code, plain.text, plain.headers["retry-after"]) == (503, "emulated failure", "2")
    state.fail_next("language/list", code=1005, http_status=429)
    coded = await http.get("/api/open/v3/language/list")
    assert (coded.status_code, coded.json()["code"]) == (429, 1005)
    assert (await http.get("/api/open/v3/language/list")).json()["code"] == 1000
    state.delay_next("language/list", 0.6)
    with pytest.raises(httpx.ReadTimeout):
        await http.get("/api/open/v3/language/list", timeout=0.2)


async def test_bad_bodies_and_params(served: tuple[EmulatorState, httpx.AsyncClient]) -> None:
    _, http = served
    not_json = await http.post("/api/open/v4/liveAvatar/session/create", content=b"{oops")
    assert not_json.json()["code"] == 1003
    array = await http.post("/api/open/v4/liveAvatar/session/create", json=[1])
    assert array.json()["code"] == 1003
    bad_page = await http.get("/api/open/v4/liveAvatar/session/list", params={"page": "x"})
    assert bad_page.json()["code"] == 1003
    no_type = await http.get("/api/open/v4/voice/list")
    assert no_type.json()["code"] == 1003
    wrong_method = await http.get("/api/open/v4/liveAvatar/session/create")
    assert wrong_method.status_code == 405


async def test_knowledge_and_avatar_routes(served: tuple[EmulatorState, httpx.AsyncClient]) -> None:
    state, http = served
    state.avatar_step_seconds = 3600.0  # the upload stays queueing for the whole test
    kb = (await http.post("/api/open/v4/knowledge/create", json={"name": "n"})).json()["data"]
    assert (await http.get("/api/open/v4/knowledge/list")).json()["data"] == [kb]
    updated = (await http.post("/api/open/v4/knowledge/update", json={"id": kb["_id"], "prompt": "p"})).json()
    assert updated["data"]["prompt"] == "p"
    deleted = await http.request("DELETE", "/api/open/v4/knowledge/delete", json={"id": kb["_id"]})
    assert deleted.json() == {"code": 1000, "msg": "OK"}  # the KB docs' answer, no data
    missing = (await http.get("/api/open/v4/knowledge/detail", params={"id": kb["_id"]})).json()
    assert missing["code"] == 1232
    avatar = (await http.get("/api/open/v4/liveAvatar/avatar/detail", params={"avatar_id": AVATAR})).json()["data"]
    assert avatar["avatar_id"] == AVATAR
    assert "status" not in avatar  # OAS AvatarDetail has no status
    upload = {"url": "https://v.example/me.mp4", "avatar_id": "me1", "name": "Me", "type": 2, "url_from": 1}
    uploaded = (await http.post("/api/open/v3/avatar/create", json=upload)).json()["data"]
    records = (await http.get("/api/open/v3/avatar/detail", params={"id": uploaded["_id"]})).json()["data"]
    assert isinstance(records, list)
    assert [(r["_id"], r["status"]) for r in records] == [(uploaded["_id"], 1)]
    unknown = (await http.get("/api/open/v3/avatar/detail", params={"avatar_id": "me1"})).json()
    assert unknown["code"] == 1003  # keyed by the upload's _id (``id``), not avatar_id


async def test_serve_frees_the_port_and_can_run_twice() -> None:
    state = EmulatorState()
    app = Starlette(routes=rest_routes(state))
    async with serve(app) as first, serve(app) as second:
        assert first != second
    port = int(first.rsplit(":", 1)[1])
    with socket.socket() as sock:  # nothing listens any more
        assert sock.connect_ex(("127.0.0.1", port)) != 0


async def test_serve_stops_with_an_open_keepalive_connection() -> None:
    state = EmulatorState()
    with anyio.fail_after(10):
        async with serve(Starlette(routes=rest_routes(state))) as url:
            http = httpx.AsyncClient(base_url=url, headers={"x-api-key": state.api_key})
            assert (await http.get("/api/open/v3/language/list")).status_code == 200
        await http.aclose()


async def test_serve_reports_a_taken_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(OSError, match=r"(?i)in use"):
            async with serve(Starlette(), port=port):
                pass
