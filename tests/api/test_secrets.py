"""Secrets never show: reprs, str of models, exception text, and logs at DEBUG."""

from __future__ import annotations

import logging

import httpx
import pytest

from streamclient.api import AkoolClient, AsyncAkoolClient, Session, VoiceParams
from streamclient.errors import APIStatusError, InvalidArgumentError, InvalidTokenError

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
