"""Secrets never show: reprs, str of models, exception text, and logs at DEBUG."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
from pydantic import SecretStr

from streamclient.api import AkoolClient, AsyncAkoolClient, Session, VoiceParams
from streamclient.api._auth import ApiKeyAuth
from streamclient.errors import (
    APIResponseError,
    APIStatusError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidTokenError,
)

from .conftest import API_KEY, SESSION, Emulator, MakeClient, Recorder, envelope

SECRETS = (API_KEY, "AGORA-TOKEN-SECRET", "client-SECRET", "tok-SECRET", "eleven-SECRET")


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_reprs_hide_secrets() -> None:
    session = Session.model_validate({**SESSION, "credentials": {**SESSION["credentials"], "rtm_token": "tok-SECRET"}})
    assert_clean(repr(session))
    assert_clean(str(session))
    assert_clean(repr(session.credentials))
    assert session.credentials is not None
    assert session.credentials.model_extra == {"rtm_token": "tok-SECRET"}  # kept, just not shown
    client = AsyncAkoolClient(API_KEY, base_url="https://x.test")
    assert_clean(repr(client))
    assert_clean(repr(client.sessions))
    assert_clean(repr(client._core))
    assert_clean(repr(client._core.auth))
    params = VoiceParams.model_validate({"elevenlabs_settings": {"api_key": "eleven-SECRET"}})
    assert_clean(repr(params))
    token_client = AsyncAkoolClient(client_id="cid", client_secret="client-SECRET", base_url="https://x.test")
    assert_clean(repr(token_client._core.auth))


def test_sync_client_repr_hides_the_key() -> None:
    with AkoolClient(API_KEY, base_url="https://x.test") as client:
        assert_clean(repr(client))


async def test_logs_and_errors_carry_no_secrets(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="streamclient")
    handler = Recorder(
        [
            httpx.Response(200, json={"code": 1000, "token": "tok-SECRET"}),
            httpx.Response(503),
            envelope({"lang_list": []}),
            envelope(SESSION),
            envelope(code=1101, msg="expired"),
            httpx.Response(200, json={"code": 1000, "token": "tok-SECRET-2"}),
            envelope(code=1101, msg="expired"),
        ]
    )
    async with make_client(handler, client_id="cid", client_secret="client-SECRET") as client:
        await client.languages.list()
        await client.sessions.create(
            "dvp_Tristan_cloth2_1080P",
            voice_params={"elevenlabs_settings": {"api_key": "eleven-SECRET"}},
            extra_body={"note": "x"},
        )
        with pytest.raises(InvalidTokenError) as caught:
            await client.sessions.get("abc")
    assert_clean(str(caught.value))
    assert_clean(repr(caught.value))
    assert caplog.records, "the client logs its requests at DEBUG"
    assert any("retry" in r.getMessage() for r in caplog.records)
    assert_clean(caplog.text)
    # the secret really was on the wire, just not in the logs
    assert b"eleven-SECRET" in handler.requests[3].content


async def test_validation_errors_do_not_echo_secret_values(make_client: MakeClient) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        with pytest.raises(InvalidArgumentError) as caught:
            await client.sessions.create(
                "dvp_Tristan_cloth2_1080P",
                voice_params={"speed": 2.0, "elevenlabs_settings": {"api_key": "eleven-SECRET", "stability": 7}},
            )
    assert "speed" in str(caught.value)
    assert_clean(str(caught.value))
    assert handler.requests == []


async def test_emulator_errors_carry_no_key(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.state.fail_next("language/list", http_status=500, times=5)
    async with AsyncAkoolClient(emulator.state.api_key, base_url=emulator.url) as client:
        client._core.retry = client._core.retry.__class__(max_retries=0)
        with pytest.raises(APIStatusError) as caught:
            await client.languages.list()
    assert emulator.state.api_key not in str(caught.value)
    assert emulator.state.api_key not in caplog.text
    assert emulator.state.api_key not in repr(emulator.state)


# ------------------------------------------------------------------------- credentials with stray whitespace


@pytest.mark.parametrize("suffix", ["\n", " ", "\r\n", "\t"])
async def test_a_key_with_surrounding_whitespace_works_passed_in_code(emulator: Emulator, suffix: str) -> None:
    async with AsyncAkoolClient(api_key=f" {emulator.state.api_key}{suffix}", base_url=emulator.url) as client:
        assert await client.languages.list()


async def test_a_key_with_surrounding_whitespace_works_from_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AKOOL_API_KEY", emulator.state.api_key + "\r\n")
    async with AsyncAkoolClient(base_url=emulator.url) as client:
        assert await client.languages.list()


@pytest.mark.parametrize(
    ("kwargs", "env", "named"),
    [
        ({"api_key": "sk-PRIVATE-in side"}, {}, "the api_key argument contains a space"),
        ({}, {"AKOOL_API_KEY": "sk-PRIVATE-in\nside"}, "AKOOL_API_KEY contains a control character"),
        ({}, {"AKOOL_CLIENT_ID": "cid", "AKOOL_CLIENT_SECRET": "sk-PRIVATE\x7fx"}, "AKOOL_CLIENT_SECRET contains a"),
        ({"client_id": "cid", "client_secret": "sk-PRIVATE-é"}, {}, "the client_secret argument contains a non-ASCII"),
    ],
)
def test_an_inner_space_or_control_character_is_refused_naming_the_source_not_the_value(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, str], env: dict[str, str], named: str
) -> None:
    for key in ("AKOOL_API_KEY", "AKOOL_CLIENT_ID", "AKOOL_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError) as caught:
        AsyncAkoolClient(base_url="https://x.test", **kwargs)  # type: ignore[arg-type]
    assert named in str(caught.value)
    assert "PRIVATE" not in str(caught.value)
    assert "PRIVATE" not in repr(caught.value)


async def test_an_illegal_header_value_reaching_httpx_shows_nowhere(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The illegal-header path end to end: h11 refuses the header and its message quotes the value."""
    caplog.set_level(logging.DEBUG)
    bad = "sk-SECRET-illegal\nvalue"
    async with emulator.client() as client:
        client._core.auth = ApiKeyAuth(SecretStr(bad))  # as if an application built the auth object itself
        with pytest.raises(ConfigurationError) as caught:
            await client.languages.list()
    chain = "".join(traceback.format_exception(caught.value))
    for text in (str(caught.value), repr(caught.value), chain, caplog.text):
        assert "SECRET" not in text
        assert "illegal\\nvalue" not in text
    assert "not sent" in str(caught.value)


async def test_a_bearer_token_that_cannot_be_a_header_is_refused_unshown(make_client: MakeClient) -> None:
    handler = Recorder([httpx.Response(200, json={"code": 1000, "token": "tok-SECRET\r\nX-Evil: 1"})])
    async with make_client(handler, client_id="cid", client_secret="client-SECRET") as client:
        with pytest.raises(APIResponseError) as caught:
            await client.languages.list()
    assert "cannot be sent in a header" in str(caught.value)
    assert_clean(str(caught.value))
    assert len(handler.requests) == 1  # only getToken went out
