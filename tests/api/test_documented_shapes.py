"""The documented answer shapes the first client refused (issue 10, cases 1-7), one behaviour per test."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from streamclient.api import (
    AgoraCredentials,
    KnowledgeBase,
    LiveKitCredentials,
    Session,
    SessionStatus,
    TRTCCredentials,
)
from streamclient.errors import AvatarStatusUnavailableError, InvalidArgumentError

from .conftest import MakeClient, Recorder, envelope

TOKENLESS = {"agora_uid": 100000, "agora_app_id": "", "agora_channel": ""}


def _session(**fields: Any) -> dict[str, Any]:
    return {"_id": "666d3006247f07725af0f884", "uid": 100010, "type": 1, "status": 1, **fields}


# ----------------------------------------------------------------------------------- 1, 2: no data on success


async def test_close_and_delete_accept_a_bare_ok(make_client: MakeClient) -> None:
    handler = Recorder([httpx.Response(200, json={"code": 1000, "msg": "OK"})])
    async with make_client(handler) as client:
        await client.sessions.close("6698c9d69cf7b0d61d1b6420")
        await client.knowledge.delete("64f8a1b2c3d4e5f6a7b8c9d0")
    assert [r.url.path for r in handler.requests] == [
        "/api/open/v4/liveAvatar/session/close",
        "/api/open/v4/knowledge/delete",
    ]


async def test_other_calls_still_require_data(make_client: MakeClient) -> None:
    from streamclient.errors import APIResponseError

    async with make_client(Recorder([httpx.Response(200, json={"code": 1000, "msg": "OK"})])) as client:
        with pytest.raises(APIResponseError, match="without 'data'"):
            await client.sessions.get("6698c9d69cf7b0d61d1b6420")


# ------------------------------------------------------------------------------ 3: credentials without token


async def test_get_list_and_iter_read_sessions_without_a_token(make_client: MakeClient) -> None:
    listed = {"count": 2, "result": [_session(credentials=TOKENLESS), _session(_id="b" * 24, credentials=TOKENLESS)]}
    handler = Recorder([envelope(_session(credentials=TOKENLESS)), envelope(listed), envelope(listed)])
    async with make_client(handler) as client:
        detail = await client.sessions.get("666d3006247f07725af0f884")
        page = await client.sessions.list()
        every = [s async for s in client.sessions.iter(size=2)]
    assert isinstance(detail.credentials, AgoraCredentials)
    assert detail.credentials.agora_token is None
    assert [s.id for s in page.items] == [s.id for s in every] == ["666d3006247f07725af0f884", "b" * 24]
    assert page.count == 2


# ------------------------------------------------------------------------------------ 4: upload readiness


async def test_wait_until_ready_polls_the_v3_record_by_the_upload_id(make_client: MakeClient) -> None:
    record = {"_id": "66a1a02d591ad336275eda62", "uid": 100010, "type": 2, "from": 3, "name": "30870eb0"}
    uploaded = envelope({**record, "avatar_id": "me1", "status": 1})
    handler = Recorder(
        [
            uploaded,
            envelope([{**record, "status": 1}]),
            envelope([{**record, "status": 2}]),
            envelope([{**record, "status": 3}]),
        ]
    )
    async with make_client(handler) as client:
        upload = await client.avatars.upload(url="https://v.example/me.mp4", avatar_id="me1", name="Me")
        ready = await client.avatars.wait_until_ready(upload, interval=1)
    assert ready.status is SessionStatus.COMPLETED
    assert ready.avatar_id == "me1"  # from the upload: the record has none
    polls = handler.requests[1:]
    assert {(r.url.path, r.url.params["id"]) for r in polls} == {("/api/open/v3/avatar/detail", record["_id"])}
    assert len(polls) == 3


@pytest.mark.parametrize(
    "data",
    [
        [{"_id": "66a1a02d591ad336275eda62", "name": "no status"}],
        [{"_id": "66a1a02d591ad336275eda62", "status": None}],
        [],
        [{"_id": "a"}, {"_id": "b"}],
    ],
)
async def test_wait_until_ready_fails_fast_without_a_status(make_client: MakeClient, data: Any) -> None:
    handler = Recorder([envelope(data)])
    async with make_client(handler) as client:
        with pytest.raises(AvatarStatusUnavailableError):
            await client.avatars.wait_until_ready("66a1a02d591ad336275eda62", timeout=900, interval=5)
    assert len(handler.requests) == 1  # no polling until the timeout


async def test_wait_until_ready_needs_an_upload_id(make_client: MakeClient) -> None:
    from streamclient.api import Avatar

    handler = Recorder([envelope([])])
    async with make_client(handler) as client:
        with pytest.raises(InvalidArgumentError, match="_id"):
            await client.avatars.wait_until_ready(Avatar.model_validate({"avatar_id": "me1", "status": 1}))
    assert handler.requests == []


# -------------------------------------------------------------------------- 5: lists without a total


async def test_knowledge_iter_pages_on_until_a_short_page(make_client: MakeClient) -> None:
    def page(*ids: str) -> httpx.Response:
        return envelope([{"_id": i, "name": i} for i in ids])

    handler = Recorder([page("a", "b"), page("c", "d"), page("e")])
    async with make_client(handler) as client:
        names = [kb.id async for kb in client.knowledge.iter(size=2)]
        first = await client.knowledge.list(size=2)
    assert names == ["a", "b", "c", "d", "e"]
    assert [r.url.params["page"] for r in handler.requests[:3]] == ["1", "2", "3"]
    assert first.count is None  # unknown, not the page length


async def test_iter_stops_when_the_server_repeats_a_page(make_client: MakeClient) -> None:
    handler = Recorder([envelope([{"_id": "a"}, {"_id": "b"}])])  # ignores ``page``: the same page forever
    async with make_client(handler) as client:
        names = [kb.id async for kb in client.knowledge.iter(size=2)]
    assert names == ["a", "b"]
    assert len(handler.requests) == 2


# -------------------------------------------------------------------------------- 6: clones in progress


async def test_voice_list_with_a_clone_in_progress(make_client: MakeClient) -> None:
    clone = {"_id": "686379d641e5eb74bb8dfe3f", "voice_id": None, "preview": None, "status": 1, "name": "MyVoice"}
    done = {"_id": "68676e544439e3b8e246a077", "voice_id": "zQAG", "status": 3, "support_stream": True}
    handler = Recorder([envelope({"result": [clone, done], "count": 2, "page": 1, "size": 10})])
    async with make_client(handler) as client:
        page = await client.voices.list(voice_type=1)
    assert [(v.voice_id, v.status) for v in page.items] == [(None, SessionStatus.QUEUEING), ("zQAG", 3)]


# ---------------------------------------------------------------------------------------- 7: smaller ones


def test_nulls_in_optional_fields_count_as_absent() -> None:
    session = Session.model_validate(
        _session(status=None, stream_type=None, credentials={**TOKENLESS, "agora_app_id": None})
    )
    assert (session.status, session.stream_type) == (None, "agora")
    assert isinstance(session.credentials, AgoraCredentials)
    assert session.credentials.agora_app_id is None
    kb = KnowledgeBase.model_validate({"_id": "k", "docs": None, "urls": None, "prologue": None})
    assert (kb.docs, kb.urls, kb.prologue) == ([], [], None)


@pytest.mark.parametrize(
    ("credentials", "kind", "stream_type"),
    [
        ({"livekit_url": "wss://lk", "livekit_token": "T", "livekit_room_name": "r"}, LiveKitCredentials, "livekit"),
        (
            {"trtc_app_id": 1400, "trtc_room_id": "r", "trtc_user_id": "u", "trtc_user_sig": "S"},
            TRTCCredentials,
            "trtc",
        ),
        (
            {"trtc_sdk_app_id": 1400, "trtc_sdk_room_id": "r", "trtc_sdk_user_id": "u", "trtc_sdk_user_sig": "S"},
            TRTCCredentials,
            "trtc",
        ),
        (TOKENLESS, AgoraCredentials, "agora"),
    ],
)
def test_missing_stream_type_comes_from_the_credential_keys(
    credentials: dict[str, Any], kind: type[Any], stream_type: str
) -> None:
    session = Session.model_validate(_session(credentials=credentials))
    assert session.stream_type == stream_type
    assert isinstance(session.credentials, kind)
    if isinstance(session.credentials, TRTCCredentials):
        assert (session.credentials.trtc_app_id, session.credentials.trtc_room_id) == (1400, "r")
        assert session.credentials.trtc_user_sig is not None
        assert session.credentials.trtc_user_sig.get_secret_value() == "S"


async def test_knowledge_create_without_a_name(make_client: MakeClient) -> None:
    handler = Recorder([envelope({"_id": "k1"})])
    async with make_client(handler) as client:
        kb = await client.knowledge.create(prompt="Be brief")
    assert kb.id == "k1"
    assert handler.bodies() == [{"prompt": "Be brief"}]
