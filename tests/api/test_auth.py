"""Credentials: API key header, token exchange and caching, the single refresh on 1101, configuration errors."""

from __future__ import annotations

import json

import httpx
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.errors import ConfigurationError, InvalidTokenError, MissingTokenError

from .conftest import API_KEY, SESSION, Emulator, MakeClient, Recorder, envelope

TOKEN_PATH = "/api/open/v3/getToken"


def token_answer(token: str, *, nested: bool = False) -> httpx.Response:
    body = {"code": 1000, "msg": "OK", **({"data": {"token": token}} if nested else {"token": token})}
    return httpx.Response(200, json=body)


class TokenServer:
    """getToken hands out tok-1, tok-2, ...; other calls accept only tokens in ``valid``."""

    def __init__(self, *, nested: bool = False) -> None:
        self.issued = 0
        self.valid: set[str] = set()
        self.nested = nested
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == TOKEN_PATH:
            assert "authorization" not in request.headers
            assert json.loads(request.content) == {"clientId": "cid", "clientSecret": "client-SECRET"}
            self.issued += 1
            token = f"tok-{self.issued}"
            self.valid.add(token)
            return token_answer(token, nested=self.nested)
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.valid:
            return envelope(code=1101, msg="Invalid authorization or The request token has expired")
        return envelope(SESSION)


async def test_api_key_is_sent_as_x_api_key(make_client: MakeClient) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        await client.sessions.get("abc")
    request = handler.requests[0]
    assert request.headers["x-api-key"] == API_KEY
    assert "authorization" not in request.headers
    assert request.headers["user-agent"].startswith("streamclient/")


@pytest.mark.parametrize("nested", [False, True])
async def test_token_is_fetched_once_and_cached(make_client: MakeClient, nested: bool) -> None:
    server = TokenServer(nested=nested)
    async with make_client(server, client_id="cid", client_secret="client-SECRET") as client:
        await client.sessions.get("a")
        await client.sessions.get("b")
    assert server.issued == 1
    assert [r.headers.get("authorization") for r in server.requests[1:]] == ["Bearer tok-1", "Bearer tok-1"]


async def test_expired_token_is_refreshed_once_and_the_call_repeated(make_client: MakeClient) -> None:
    server = TokenServer()
    async with make_client(server, client_id="cid", client_secret="client-SECRET") as client:
        await client.sessions.get("a")
        server.valid.clear()  # the service forgets tok-1
        session = await client.sessions.create("dvp_Tristan_cloth2_1080P")  # allowed: a 1101 created nothing
    assert session.id == SESSION["_id"]
    assert server.issued == 2
    paths = [r.url.path for r in server.requests]
    assert paths.count("/api/open/v4/liveAvatar/session/create") == 2


async def test_a_second_1101_is_raised(make_client: MakeClient) -> None:
    handler = Recorder(
        [token_answer("t1"), envelope(code=1101, msg="expired"), token_answer("t2"), envelope(code=1101, msg="no")]
    )
    async with make_client(handler, client_id="cid", client_secret="client-SECRET") as client:
        with pytest.raises(InvalidTokenError):
            await client.sessions.get("a")
    assert [r.url.path for r in handler.requests].count(TOKEN_PATH) == 2
    assert len(handler.requests) == 4


async def test_1101_with_an_api_key_is_not_retried(make_client: MakeClient) -> None:
    handler = Recorder([envelope(code=1101, msg="bad key")])
    async with make_client(handler) as client:
        with pytest.raises(InvalidTokenError):
            await client.sessions.get("a")
    assert len(handler.requests) == 1


async def test_get_token_rejection_is_typed(make_client: MakeClient) -> None:
    handler = Recorder([envelope(code=1102, msg="empty")])
    async with make_client(handler, client_id="cid", client_secret="client-SECRET") as client:
        with pytest.raises(MissingTokenError):
            await client.sessions.get("a")


async def test_token_refresh_against_the_loopback_server(emulator: Emulator) -> None:
    state = emulator.state
    async with emulator.client(client_id=state.client_id, client_secret=state.client_secret) as client:
        await client.sessions.list()
        state.revoke_tokens()
        await client.sessions.list()
    assert [p for _, p in state.requests].count(TOKEN_PATH) == 2


async def test_wrong_client_secret_against_the_loopback_server(emulator: Emulator) -> None:
    async with emulator.client(client_id=emulator.state.client_id, client_secret="wrong") as client:
        with pytest.raises(InvalidTokenError):
            await client.sessions.list()


async def test_wrong_api_key_against_the_loopback_server(emulator: Emulator) -> None:
    async with emulator.client(api_key="wrong") as client:
        with pytest.raises(InvalidTokenError):
            await client.sessions.list()


def test_no_credentials_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AKOOL_API_KEY", "AKOOL_CLIENT_ID", "AKOOL_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="AKOOL_API_KEY"):
        AsyncAkoolClient()
    with pytest.raises(ConfigurationError, match="client secret"):
        AsyncAkoolClient(client_id="cid")


async def test_environment_supplies_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKOOL_API_KEY", "env-key")
    monkeypatch.setenv("AKOOL_BASE_URL", "http://127.0.0.1:9/")
    handler = Recorder([envelope({"lang_list": []})])
    async with AsyncAkoolClient(transport=httpx.MockTransport(handler)) as client:
        assert client.base_url == "http://127.0.0.1:9"
        await client.languages.list()
    assert handler.requests[0].headers["x-api-key"] == "env-key"
    assert str(handler.requests[0].url) == "http://127.0.0.1:9/api/open/v3/language/list"


async def test_env_client_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AKOOL_API_KEY", raising=False)
    monkeypatch.setenv("AKOOL_CLIENT_ID", "cid")
    monkeypatch.setenv("AKOOL_CLIENT_SECRET", "client-SECRET")
    server = TokenServer()
    async with AsyncAkoolClient(base_url="https://x.test", transport=httpx.MockTransport(server)) as client:
        await client.sessions.get("a")
    assert server.issued == 1


@pytest.mark.parametrize("url", ["openapi.akool.com", "ftp://x", "https://user:pw@host", ""])
def test_bad_base_url(url: str) -> None:
    with pytest.raises(ConfigurationError):
        AsyncAkoolClient("k", base_url=url or " ")


def test_bad_timeout_and_double_injection() -> None:
    with pytest.raises(ConfigurationError):
        AsyncAkoolClient("k", timeout=0)
    with pytest.raises(ConfigurationError):
        AsyncAkoolClient("k", http_client=httpx.AsyncClient(), transport=httpx.MockTransport(lambda r: envelope()))


async def test_injected_http_client_is_used_and_left_open() -> None:
    handler = Recorder([envelope({"lang_list": []})])
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        async with AsyncAkoolClient("k", base_url="https://x.test", http_client=http) as client:
            await client.languages.list()
        assert not http.is_closed
    assert len(handler.requests) == 1
