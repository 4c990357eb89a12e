"""Error mapping: every AKOOL code, HTTP failures, bodies that are not the envelope, and transport failures."""

from __future__ import annotations

import httpx
import pytest

from streamclient import errors
from streamclient.api import RetryPolicy
from streamclient.errors import (
    AKOOL_ERRORS,
    AkoolError,
    APIConnectionError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    StreamClientError,
)

from .conftest import BASE, SESSION, Emulator, MakeClient, Recorder, envelope

DOCUMENTED_CODES = [
    1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1013, 1014, 1015, 1016, 1017,
    1101, 1102, 1103, 1104, 1105, 1108, 1109, 1110, 1111, 1112,
    *range(1200, 1224),
    *range(1232, 1237),
]  # fmt: skip

EXPECTED = {
    1003: errors.InvalidParameterError,
    1005: errors.FrequentOperationError,
    1006: errors.InsufficientQuotaError,
    1104: errors.InsufficientQuotaError,
    1008: errors.ContentNotFoundError,
    1101: errors.InvalidTokenError,
    1102: errors.MissingTokenError,
    1200: errors.AccountBlockedError,
    1202: errors.MediaProcessingError,
    1214: errors.SessionBusyError,
    1215: errors.SessionBusyError,
    1216: errors.SessionNotFoundError,
    1217: errors.LiveAvatarProcessingError,
    1218: errors.LiveAvatarProcessingError,
    1219: errors.LiveAvatarClosedError,
    1220: errors.AvatarUploadError,
    1221: errors.SubscriptionRequiredError,
    1222: errors.ResourceExistsError,
    1223: errors.AvatarUploadError,
    1232: errors.KnowledgeBaseNotFoundError,
    1233: errors.KnowledgeBaseExistsError,
    1234: errors.KnowledgeBaseError,
    1235: errors.KnowledgeBaseError,
    1236: errors.KnowledgeBaseError,
}

NO_RETRY = RetryPolicy(max_retries=0)


def test_every_documented_code_has_a_specific_class() -> None:
    for code in DOCUMENTED_CODES:
        assert AKOOL_ERRORS[code] is not AkoolError, code
        assert issubclass(AKOOL_ERRORS[code], AkoolError)
    for code, cls in EXPECTED.items():
        assert AKOOL_ERRORS[code] is cls


def test_every_akool_error_class_is_exported_and_named_in_the_tree() -> None:
    for cls in set(AKOOL_ERRORS.values()):
        assert cls.__name__ in errors.__all__
        assert cls.__name__ in (errors.__doc__ or "")


@pytest.mark.parametrize("code", DOCUMENTED_CODES)
async def test_body_code_maps_to_its_error(make_client: MakeClient, code: int) -> None:
    handler = Recorder([envelope(code=code, msg=f"message {code}")])
    async with make_client(handler, retry=NO_RETRY) as client:
        with pytest.raises(AkoolError) as caught:
            await client.sessions.get("abc")
    exc = caught.value
    assert type(exc) is AKOOL_ERRORS[code]
    assert (exc.code, exc.msg, exc.http_status, exc.method) == (code, f"message {code}", 200, "GET")
    assert exc.url == f"{BASE}/api/open/v4/liveAvatar/session/detail?id=abc"
    assert f"AKOOL code {code}" in str(exc)
    assert f"message {code}" in str(exc)


async def test_unknown_code_is_the_base_error_with_the_code(make_client: MakeClient) -> None:
    async with make_client(Recorder([envelope(code=4242, msg="new")]), retry=NO_RETRY) as client:
        with pytest.raises(AkoolError) as caught:
            await client.languages.list()
    assert type(caught.value) is AkoolError
    assert caught.value.code == 4242


async def test_body_code_wins_over_http_status(make_client: MakeClient) -> None:
    async with make_client(Recorder([envelope(code=1216, msg="gone", status=404)])) as client:
        with pytest.raises(errors.SessionNotFoundError) as caught:
            await client.sessions.get("abc")
    assert caught.value.http_status == 404


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(502, text="<html>bad gateway</html>"), APIStatusError),
        (httpx.Response(404, json={"detail": "not found"}), APIStatusError),
        (httpx.Response(200, text="not json"), APIResponseError),
        (httpx.Response(200, json=[1, 2]), APIResponseError),
        (httpx.Response(200, json={"code": "1000"}), APIResponseError),
        (httpx.Response(200, json={"code": 1000, "msg": "OK"}), APIResponseError),  # no data
        (httpx.Response(200, content=b""), APIResponseError),
    ],
)
async def test_http_and_body_failures(
    make_client: MakeClient, response: httpx.Response, expected: type[Exception]
) -> None:
    async with make_client(Recorder([response]), retry=NO_RETRY) as client:
        with pytest.raises(expected) as caught:
            await client.sessions.list()
    assert isinstance(caught.value, StreamClientError)
    assert caught.value.http_status == response.status_code  # type: ignore[attr-defined]


async def test_model_mismatch_is_a_response_error_with_pydantic_chained(make_client: MakeClient) -> None:
    broken = {**SESSION, "credentials": {"agora_uid": "not-a-number", "agora_token": "AGORA-TOKEN-SECRET"}}
    async with make_client(Recorder([envelope(broken)])) as client:
        with pytest.raises(APIResponseError) as caught:
            await client.sessions.create("dvp_Tristan_cloth2_1080P")
    assert "Session" in str(caught.value)
    assert "AGORA-TOKEN-SECRET" not in str(caught.value)
    assert type(caught.value.__cause__).__name__ == "ValidationError"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), APIConnectionError),
        (httpx.ReadError("reset"), APIConnectionError),
        (httpx.RemoteProtocolError("garbage"), APIConnectionError),
        (httpx.ConnectTimeout("slow"), APITimeoutError),
        (httpx.ReadTimeout("slow"), APITimeoutError),
        (httpx.PoolTimeout("slow"), APITimeoutError),
    ],
)
async def test_transport_failures_are_translated(
    make_client: MakeClient, exc: Exception, expected: type[Exception]
) -> None:
    async with make_client(Recorder([exc]), retry=NO_RETRY) as client:
        with pytest.raises(expected) as caught:
            await client.avatars.get("dvp_Tristan_cloth2_1080P")
    assert type(caught.value) is expected
    assert caught.value.__cause__ is exc
    assert caught.value.method == "GET"  # type: ignore[attr-defined]


async def test_refused_connection_on_real_loopback_is_a_connection_error() -> None:
    import socket

    from streamclient.api import AsyncAkoolClient

    with socket.socket() as sock:  # bind, learn the port, close: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with AsyncAkoolClient("key", base_url=f"http://127.0.0.1:{port}", retry=NO_RETRY) as client:
        with pytest.raises(APIConnectionError):
            await client.languages.list()


async def test_slow_server_times_out_over_real_http(emulator: Emulator) -> None:
    emulator.state.delay_next("language/list", 0.5, times=2)
    async with emulator.client(timeout=0.1, retry=RetryPolicy(max_retries=1, initial_delay=0)) as client:
        with pytest.raises(APITimeoutError) as caught:
            await client.languages.list()
    assert caught.value.url is not None
    assert caught.value.url.endswith("/api/open/v3/language/list")
    assert [p for _, p in emulator.state.requests].count("/api/open/v3/language/list") == 2
