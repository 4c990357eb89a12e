"""Bad input at every door: CLI arguments, environment values, REST responses and frames.

Each must give a clear, typed error (or a one-line message and a usage exit code for the CLI), and the process must
keep its state: the same client or session works normally right afterwards.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from typer.testing import CliRunner

from streamclient.api import AsyncAkoolClient, RetryPolicy
from streamclient.cli.app import app
from streamclient.errors import (
    APIConnectionError,
    APIError,
    APIResponseError,
    APIStatusError,
    ConfigurationError,
    InvalidArgumentError,
    LocalProtocolError,
    StreamClientError,
)
from streamclient.session import FrameDropped, SessionEvent, SessionOptions, connect
from streamclient.transport.base import FrameReceived
from streamclient.transport.loopback import LoopbackTransport
from tests.session.harness import FakeClient, ScriptedAvatar

BASE = "https://akool.test"
SESSION = {
    "_id": "s1",
    "status": 2,
    "stream_type": "agora",
    "credentials": {"agora_uid": 1, "agora_app_id": "a", "agora_channel": "c", "agora_token": "t"},
}

# ------------------------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    "args",
    [
        ["say"],  # missing TEXT
        ["say", "hi", "--mode", "7"],
        ["say", "hi", "--mode", "one"],
        ["nope"],
        ["demo", "--speech-cps", "fast"],
        ["emulator", "--port", "70000"],
        ["frames", "decode", "--bogus-flag"],
    ],
    ids=lambda a: " ".join(a) or "empty",
)
def test_cli_bad_arguments_exit_2_without_traceback(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("env", "expected_exit"),
    [
        ({"AKOOL_API_KEY": "k", "AKOOL_BASE_URL": "not a url"}, 2),
        ({"AKOOL_API_KEY": "k", "AKOOL_BASE_URL": "ftp://example.test"}, 2),
        ({"AKOOL_API_KEY": "k", "AKOOL_BASE_URL": "http://user:pw@127.0.0.1:9"}, 2),
        ({"AKOOL_API_KEY": "k", "AKOOL_BASE_URL": "http://127.0.0.1:9"}, 3),  # nothing listens on port 9
        ({"AKOOL_API_KEY": "", "AKOOL_BASE_URL": "http://127.0.0.1:9"}, 2),  # empty key: no credentials
    ],
    ids=["not-a-url", "ftp", "credentials-in-url", "refused", "empty-key"],
)
def test_cli_bad_environment_gives_one_line_error(env: dict[str, str], expected_exit: int) -> None:
    result = CliRunner().invoke(app, ["say", "hi", "--real"], env={"AKOOL_CLIENT_ID": "", **env})
    assert result.exit_code == expected_exit, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_empty_api_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AKOOL_API_KEY", "AKOOL_CLIENT_ID", "AKOOL_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError):
        AsyncAkoolClient(api_key="")
    with pytest.raises(ConfigurationError):
        AsyncAkoolClient(api_key="k", base_url="javascript:alert(1)")


# -------------------------------------------------------------------------------------- REST bodies


def reply(body: bytes | str, status: int = 200, content_type: str = "application/json") -> Callable[[], httpx.Response]:
    data = body.encode() if isinstance(body, str) else body
    return lambda: httpx.Response(status, content=data, headers={"content-type": content_type})


GOOD = json.dumps({"code": 1000, "msg": "OK", "data": SESSION})
BAD_RESPONSES: dict[str, tuple[Callable[[], httpx.Response], type[StreamClientError]]] = {
    "truncated json": (reply(GOOD[: len(GOOD) // 2]), APIResponseError),
    "empty body": (reply(b""), APIResponseError),
    "html": (reply("<html>oops</html>", content_type="text/html"), APIResponseError),
    "array": (reply("[1, 2, 3]"), APIResponseError),
    "code is a string": (reply(json.dumps({"code": "1000", "msg": "OK", "data": SESSION})), APIResponseError),
    "data is a list": (reply(json.dumps({"code": 1000, "msg": "OK", "data": [SESSION]})), APIResponseError),
    "id is a number": (reply(json.dumps({"code": 1000, "msg": "OK", "data": {**SESSION, "_id": 5}})), APIResponseError),
    "status is text": (reply(json.dumps({"code": 1000, "data": {**SESSION, "status": "live"}})), APIResponseError),
    # 20 MB in a field of the wrong type (``data: {}`` alone is a valid, empty session detail since issue 10)
    "huge body": (reply(b'{"code":1000,"msg":"OK","data":{"status":"' + b"x" * 20_000_000 + b'"}}'), APIResponseError),
    "deep nesting": (reply("[" * 100_000 + "]" * 100_000), APIResponseError),
    "invalid utf-8": (reply(b'{"code":1000,"msg":"\xff\xfe","data":{}}'), APIResponseError),
    "http 418 plain text": (reply("I'm a teapot", 418, "text/plain"), APIStatusError),
    "http 302": (reply("", 302, "text/plain"), APIError),
    "http 204": (reply("", 204, "text/plain"), APIError),
    "http 500 envelope with unknown code": (reply(json.dumps({"code": 987654, "msg": "??"}), 500), APIError),
}


@pytest.mark.parametrize("case", list(BAD_RESPONSES), ids=list(BAD_RESPONSES))
async def test_bad_rest_responses_raise_typed_errors_and_the_client_recovers(case: str) -> None:
    make_bad, expected = BAD_RESPONSES[case]
    responses = [make_bad]

    def handler(request: httpx.Request) -> httpx.Response:
        return responses.pop(0)() if responses else reply(GOOD)()

    transport = httpx.MockTransport(handler)
    async with AsyncAkoolClient(
        api_key="k", base_url=BASE, transport=transport, retry=RetryPolicy(max_retries=0)
    ) as client:
        with pytest.raises(expected) as info:
            await client.sessions.get("s1")
        assert info.value.message
        assert len(str(info.value)) < 2000, "the error message carries the whole body"
        session = await client.sessions.get("s1")  # same client, next call: works
        assert session.id == "s1"


async def test_connection_dropped_mid_body_is_typed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    async with AsyncAkoolClient(
        api_key="k", base_url=BASE, transport=httpx.MockTransport(handler), retry=RetryPolicy(max_retries=0)
    ) as client:
        with pytest.raises(APIConnectionError):
            await client.sessions.get("s1")


# -------------------------------------------------------------------------------------- session doors


HOSTILE_FRAMES = [
    b"",
    b"\x00\xff\xfe",
    b"not json",
    b"[]",
    b'{"v":3,"type":"chat"}',
    b'{"v":2,"type":"chat","mid":"m","idx":-1,"fin":true,"pld":{"text":"x"}}',
    b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":' + b"[" * 3000 + b"]" * 3000 + b"}}",
    b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":"' + b"a" * 40_000 + b'"}}',
    b'{"v":2,"type":"command","mid":"zz","pld":{"cmd":"interrupt","code":"1000"}}',
]


async def test_hostile_frames_become_frame_dropped_and_the_session_keeps_working() -> None:
    client = FakeClient()
    ours, theirs = LoopbackTransport.pair()
    avatar = ScriptedAvatar(theirs)
    options = SessionOptions(avatar_join_timeout=5, reply_timeout=5, close_timeout=5)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(client.typed(), avatar_id="a", transport=ours, options=options, mode_type=1) as session:
            events = session.events()
            for data in HOSTILE_FRAMES:
                if data:
                    ours.inject(FrameReceived(avatar.uid, data))
            result = await session.say("still here?")
            assert result.reply == "still here?"
            await session.aclose()
            seen: list[SessionEvent] = [e async for e in events]
        tg.cancel_scope.cancel()
    dropped = [e for e in seen if isinstance(e, FrameDropped)]
    assert len(dropped) >= len(HOSTILE_FRAMES) - 2  # the ack with a string code may be reported differently
    assert session.stats.frames_rejected >= len(dropped)
    assert client.sessions.open == 0


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.say(""), LocalProtocolError),
        (lambda s: s.say("lone \ud800 surrogate"), LocalProtocolError),
        (lambda s: s.set_params(speed=7.0), InvalidArgumentError),
        (lambda s: s.set_action("moonwalk"), InvalidArgumentError),
    ],
    ids=["empty-text", "lone-surrogate", "speed-out-of-range", "unknown-action"],
)
async def test_bad_arguments_to_the_session_are_typed_and_change_nothing(
    call: Callable[[Any], Any], error: type[Exception]
) -> None:
    client = FakeClient()
    ours, theirs = LoopbackTransport.pair()
    avatar = ScriptedAvatar(theirs)
    options = SessionOptions(avatar_join_timeout=5, reply_timeout=5, close_timeout=5)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(client.typed(), avatar_id="a", transport=ours, options=options, mode_type=1) as session:

            async def invoke() -> None:
                outcome = call(session)
                if hasattr(outcome, "__await__"):
                    await outcome

            with pytest.raises(error):
                await invoke()
            assert not session.closed
            result = await session.say("and now a normal sentence")
            assert result.reply == "and now a normal sentence"
        tg.cancel_scope.cancel()
    assert avatar.received == ["and now a normal sentence"]
    assert client.sessions.open == 0


def test_python_version_is_supported() -> None:
    assert sys.version_info >= (3, 10)
