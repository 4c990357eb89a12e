"""Retries: the pure policy, and the loop in the client (counts, delays, Retry-After, budgets, create never retried)."""

from __future__ import annotations

import email.utils

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamclient.api import RetryPolicy
from streamclient.api._retry import backoff_delay, parse_retry_after
from streamclient.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    SessionBusyError,
)

from .conftest import SESSION, FakeClock, MakeClient, Recorder, RecordingSleep, envelope

SERVICE_UNAVAILABLE = httpx.Response(503, text="unavailable")


# ------------------------------------------------------------------------------------------------ pure policy


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_delay(n, initial=0.5, maximum=8.0) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


@given(st.integers(min_value=0, max_value=10_000), st.floats(0, 10), st.floats(0, 100))
def test_backoff_never_exceeds_the_cap(n: int, initial: float, maximum: float) -> None:
    assert 0 <= backoff_delay(n, initial=initial, maximum=maximum) <= maximum


@given(st.integers(min_value=0, max_value=50), st.floats(0.5, 1.0))
def test_delay_applies_jitter_to_backoff_only(n: int, factor: float) -> None:
    policy = RetryPolicy(jitter=lambda: factor)
    assert policy.delay(n) == pytest.approx(backoff_delay(n, initial=0.5, maximum=8.0) * factor)
    assert policy.delay(n, retry_after=3.0) == 3.0


def test_retry_after_beyond_the_cap_falls_back_to_backoff() -> None:
    policy = RetryPolicy(jitter=lambda: 1.0, max_retry_after=60)
    assert policy.delay(0, retry_after=61.0) == 0.5
    assert policy.delay(1, retry_after=60.0) == 60.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("2", 2.0), (" 1.5 ", 1.5), ("-3", 0.0), ("soon", None), ("nan", None)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30.0)


def test_policy_rejects_negative_values() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="delays"):
        RetryPolicy(initial_delay=-1)


# ------------------------------------------------------------------------------------------------ the loop


async def test_get_is_retried_with_exponential_backoff(make_client: MakeClient, sleeps: RecordingSleep) -> None:
    handler = Recorder([SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE, envelope({"lang_list": []})])
    async with make_client(handler) as client:
        assert await client.languages.list() == []
    assert len(handler.requests) == 3
    assert sleeps.calls == [0.5, 1.0]


async def test_retries_are_bounded_in_count(make_client: MakeClient, sleeps: RecordingSleep) -> None:
    handler = Recorder([SERVICE_UNAVAILABLE])
    async with make_client(handler) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.languages.list()
    assert caught.value.http_status == 503
    assert len(handler.requests) == 3  # 1 + max_retries=2
    assert sleeps.calls == [0.5, 1.0]


async def test_retries_are_bounded_in_total_time(
    clock: FakeClock, sleeps: RecordingSleep, make_client: MakeClient
) -> None:
    policy = RetryPolicy(max_retries=10, total_timeout=3.0, sleep=sleeps, clock=clock, jitter=lambda: 1.0)
    handler = Recorder([SERVICE_UNAVAILABLE])
    async with make_client(handler, retry=policy) as client:
        with pytest.raises(APIStatusError):
            await client.languages.list()
    assert sleeps.calls == [0.5, 1.0]  # the next (2.0) would end after 3.5 s > 3.0 s
    assert len(handler.requests) == 3


async def test_retry_after_is_honoured(make_client: MakeClient, sleeps: RecordingSleep) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "7"}, text="slow down")
    handler = Recorder([limited, envelope({"lang_list": []})])
    async with make_client(handler) as client:
        await client.languages.list()
    assert sleeps.calls == [7.0]


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_statuses(make_client: MakeClient, status: int) -> None:
    handler = Recorder([httpx.Response(status), envelope({"lang_list": []})])
    async with make_client(handler) as client:
        await client.languages.list()
    assert len(handler.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(make_client: MakeClient, status: int) -> None:
    handler = Recorder([httpx.Response(status)])
    async with make_client(handler) as client:
        with pytest.raises(APIStatusError):
            await client.languages.list()
    assert len(handler.requests) == 1


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("t"), httpx.ReadError("r"), httpx.ConnectError("c")])
async def test_get_is_retried_on_connection_failures(make_client: MakeClient, exc: Exception) -> None:
    handler = Recorder([exc, envelope({"lang_list": []})])
    async with make_client(handler) as client:
        await client.languages.list()
    assert len(handler.requests) == 2


async def test_busy_code_is_retried_for_reads(make_client: MakeClient) -> None:
    handler = Recorder([envelope(code=1215, msg="busy"), envelope(SESSION)])
    async with make_client(handler) as client:
        assert (await client.sessions.get(SESSION["_id"])).id == SESSION["_id"]
    assert len(handler.requests) == 2


async def test_close_is_retried(make_client: MakeClient) -> None:
    handler = Recorder([SERVICE_UNAVAILABLE, httpx.ReadTimeout("t"), envelope({})])
    async with make_client(handler) as client:
        await client.sessions.close("abc")
    assert len(handler.requests) == 3
    assert handler.bodies() == [{"id": "abc"}] * 3


# ------------------------------------------------------------------------------- session create: never twice


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (SERVICE_UNAVAILABLE, APIStatusError),
        (httpx.Response(429, headers={"Retry-After": "1"}), APIStatusError),
        (httpx.ReadTimeout("the server may be creating it"), APITimeoutError),
        (httpx.ReadError("reset after sending"), APIConnectionError),
        (httpx.RemoteProtocolError("half a response"), APIConnectionError),
        (httpx.WriteTimeout("part of the body went out"), APITimeoutError),
        (envelope(code=1215, msg="busy"), SessionBusyError),
    ],
)
async def test_create_is_not_retried_once_the_request_may_have_arrived(
    make_client: MakeClient, sleeps: RecordingSleep, answer: httpx.Response | Exception, expected: type[Exception]
) -> None:
    handler = Recorder([answer, envelope(SESSION)])
    async with make_client(handler) as client:
        with pytest.raises(expected):
            await client.sessions.create("dvp_Tristan_cloth2_1080P", duration=60)
    assert len(handler.requests) == 1
    assert sleeps.calls == []


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("syn lost"), httpx.PoolTimeout("p")]
)
async def test_create_is_retried_when_nothing_was_sent(make_client: MakeClient, exc: Exception) -> None:
    handler = Recorder([exc, envelope(SESSION)])
    async with make_client(handler) as client:
        session = await client.sessions.create("dvp_Tristan_cloth2_1080P", duration=60)
    assert session.id == SESSION["_id"]
    assert len(handler.requests) == 2


async def test_create_is_sent_once_against_the_loopback_server(emulator: object) -> None:
    from .conftest import Emulator

    assert isinstance(emulator, Emulator)
    emulator.state.fail_next("session/create", http_status=503)
    async with emulator.client(retry=RetryPolicy(initial_delay=0)) as client:
        with pytest.raises(APIStatusError):
            await client.sessions.create("dvp_Tristan_cloth2_1080P")
        assert [p for _, p in emulator.state.requests].count("/api/open/v4/liveAvatar/session/create") == 1
        assert emulator.state.sessions == {}
        # the same failure on a read is retried, over real HTTP
        emulator.state.fail_next("session/list", http_status=503, times=2, retry_after=0)
        page = await client.sessions.list()
    assert page.count == 0
    assert [p for _, p in emulator.state.requests].count("/api/open/v4/liveAvatar/session/list") == 3


async def test_a_create_answered_too_late_is_not_retried_and_the_session_exists(emulator: object) -> None:
    """The known limit of create: a timed-out create may have created a session the client cannot name.

    AKOOL documents no idempotency key, so the client must not retry (a retry bills a second session); the session
    the server made stays open until its ``duration`` runs out. This test pins that behaviour down.
    """
    from .conftest import Emulator

    assert isinstance(emulator, Emulator)
    emulator.state.delay_next("session/create", 2.0, after=True)
    async with emulator.client(timeout=0.3, retry=RetryPolicy(initial_delay=0)) as client:
        with pytest.raises(APITimeoutError):
            await client.sessions.create("dvp_Tristan_cloth2_1080P", duration=60)
    assert [p for _, p in emulator.state.requests].count("/api/open/v4/liveAvatar/session/create") == 1
    assert len(emulator.state.open_sessions()) == 1
