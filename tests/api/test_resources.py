"""Avatars, voices, languages and knowledge bases: requests, both response shapes, validation, the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from streamclient.api import Avatar, SessionStatus
from streamclient.errors import (
    APITimeoutError,
    ContentNotFoundError,
    InvalidArgumentError,
    KnowledgeBaseExistsError,
    KnowledgeBaseNotFoundError,
    ResourceExistsError,
)

from .conftest import Emulator, FakeClock, MakeClient, Recorder, RecordingSleep, envelope

AVATAR_ITEM = {
    "_id": "a1",
    "avatar_id": "dvp_Tristan_cloth2_1080P",
    "name": "Tristan",
    "thumbnailUrl": "https://t",
    "from": 2,
    "available": True,
    "new_field": 1,
}


async def test_avatar_list_and_detail_requests(make_client: MakeClient) -> None:
    handler = Recorder([envelope({"count": 1, "result": [AVATAR_ITEM]}), envelope({**AVATAR_ITEM, "platform": "open"})])
    async with make_client(handler) as client:
        page = await client.avatars.list(platform="aigc", page=3, size=20)
        avatar = await client.avatars.get("dvp_Tristan_cloth2_1080P")
    assert page.items[0].thumbnail_url == "https://t"
    assert page.items[0].from_ == 2
    assert avatar.model_extra == {"new_field": 1, "platform": "open"}
    first, second = handler.requests
    assert (first.url.path, dict(first.url.params)) == (
        "/api/open/v4/liveAvatar/avatar/list",
        {"platform": "aigc", "page": "3", "size": "20"},
    )
    assert dict(second.url.params) == {"avatar_id": "dvp_Tristan_cloth2_1080P"}


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.avatars.list(size=101),
        lambda c: c.avatars.list(platform="x"),
        lambda c: c.avatars.get(""),
        lambda c: c.avatars.upload(url="https://v", avatar_id="has_underscore", name="n"),
        lambda c: c.avatars.upload(url="https://v", avatar_id="ok1", name="n", url_from=3),
        lambda c: c.avatars.upload(url="", avatar_id="ok1", name="n"),
        lambda c: c.avatars.wait_until_ready("ok1", timeout=0),
        lambda c: c.voices.list(voice_type=3),
        lambda c: c.voices.list(size=0),
        lambda c: c.knowledge.create(name=""),
        lambda c: c.knowledge.create(name="x" * 101),
        lambda c: c.knowledge.create(name="n", prologue="p" * 2001),
        lambda c: c.knowledge.create(name="n", urls="https://one"),
        lambda c: c.knowledge.create(name="n", docs=["x"]),
        lambda c: c.knowledge.update("k1"),
        lambda c: c.knowledge.get(""),
        lambda c: c.knowledge.delete("a b"),
    ],
)
async def test_resource_validation_sends_nothing(make_client: MakeClient, call: Any) -> None:
    handler = Recorder([envelope({})])
    async with make_client(handler) as client:
        with pytest.raises(InvalidArgumentError):
            await call(client)
    assert handler.requests == []


async def test_voice_filters_are_sent(make_client: MakeClient) -> None:
    handler = Recorder([envelope({"count": 1, "page": 1, "size": 10, "result": [{"voice_id": "v", "x": 1}]})])
    async with make_client(handler) as client:
        page = await client.voices.list(voice_type=1, support_stream=True, gender="Female", name="Ann")
    assert page.items[0].voice_id == "v"
    assert dict(handler.requests[0].url.params) == {
        "type": "1",
        "page": "1",
        "size": "10",
        "support_stream": "1",
        "gender": "Female",
        "name": "Ann",
    }


@pytest.mark.parametrize("data", [{"lang_list": [{"lang_code": "en"}]}, [{"lang_code": "en"}]])
async def test_languages_both_shapes(make_client: MakeClient, data: Any) -> None:
    async with make_client(Recorder([envelope(data)])) as client:
        assert [lang.lang_code for lang in await client.languages.list()] == ["en"]


@pytest.mark.parametrize(
    ("data", "count"),
    [
        ([{"_id": "k1", "name": "a"}], None),  # the KB docs' bare array carries no total: unknown, not 1
        ({"knowledge_list": [{"_id": "k1", "name": "a"}], "count": 1}, 1),
    ],
)
async def test_knowledge_list_both_shapes(make_client: MakeClient, data: Any, count: int | None) -> None:
    async with make_client(Recorder([envelope(data)])) as client:
        page = await client.knowledge.list()
    assert [kb.id for kb in page.items] == ["k1"]
    assert page.count == count


async def test_knowledge_delete_sends_a_json_body(make_client: MakeClient) -> None:
    handler = Recorder([envelope({})])
    async with make_client(handler) as client:
        await client.knowledge.delete("k1")
    assert handler.requests[0].method == "DELETE"
    assert handler.bodies() == [{"id": "k1"}]


async def test_knowledge_update_fetches_when_the_answer_is_empty(make_client: MakeClient) -> None:
    handler = Recorder([envelope({}), envelope({"_id": "k1", "name": "new"})])
    async with make_client(handler) as client:
        kb = await client.knowledge.update("k1", name="new")
    assert kb.name == "new"
    assert handler.bodies()[0] == {"id": "k1", "name": "new"}
    assert handler.requests[1].url.path.endswith("/knowledge/detail")


# ----------------------------------------------------------------------------------------- loopback emulator


async def test_catalogue_voices_languages_on_the_loopback_server(emulator: Emulator) -> None:
    async with emulator.client() as client:
        avatars = [a.avatar_id async for a in client.avatars.iter(size=2)]
        assert "dvp_Tristan_cloth2_1080P" in avatars
        assert len(avatars) == (await client.avatars.list()).count
        assert (await client.avatars.get("dvp_Tristan_cloth2_1080P")).available is True
        with pytest.raises(ContentNotFoundError):
            await client.avatars.get("dvp_Nobody")
        voices = await client.voices.list(support_stream=True)
        assert voices.count is not None
        assert voices.count > 0
        assert all(v.support_stream for v in voices.items)
        assert "af-ZA" in {lang.lang_code for lang in await client.languages.list()}  # codes as the docs list them


async def test_upload_and_wait_until_ready(emulator: Emulator, clock: FakeClock, sleeps: RecordingSleep) -> None:
    emulator.state.avatar_step_seconds = 10.0
    seen: list[Any] = []
    async with emulator.client(retry=_policy(clock, sleeps)) as client:
        uploaded = await client.avatars.upload(url="https://v.example/me.mp4", avatar_id="me1", name="Me")
        assert uploaded.status is SessionStatus.QUEUEING
        with pytest.raises(ResourceExistsError):
            await client.avatars.upload(url="https://v.example/me.mp4", avatar_id="me1", name="Me")
        assert uploaded.id is not None
        with pytest.raises(ContentNotFoundError):  # the status record is keyed by the upload's _id, not avatar_id
            await client.avatars.wait_until_ready("me1")
        ready = await client.avatars.wait_until_ready(
            uploaded, interval=4.0, on_progress=lambda a: seen.append(a.status)
        )
        assert ready.status is SessionStatus.COMPLETED
        assert (ready.avatar_id, ready.id) == ("me1", uploaded.id)
        session = await client.sessions.create("me1", duration=30)
    assert seen == [1, 1, 1, 2, 2, 3]
    assert sleeps.calls == [4.0] * 5
    assert session.id in emulator.state.sessions


async def test_failed_upload_and_wait_timeout(emulator: Emulator, clock: FakeClock, sleeps: RecordingSleep) -> None:
    emulator.state.avatar_step_seconds = 10.0
    async with emulator.client(retry=_policy(clock, sleeps)) as client:
        upload = await client.avatars.upload(url="https://v.example/fail.mp4", avatar_id="bad1", name="Bad")
        assert upload.id is not None
        with pytest.raises(APITimeoutError, match="not ready after 5s"):
            await client.avatars.wait_until_ready(upload.id, timeout=5, interval=2)
        failed: Avatar = await client.avatars.wait_until_ready(upload.id, timeout=100, interval=5)
    assert failed.status is SessionStatus.FAILED


async def test_knowledge_crud_on_the_loopback_server(emulator: Emulator) -> None:
    async with emulator.client() as client:
        kb = await client.knowledge.create(name="faq", prologue="Hi", prompt="Be brief", urls=["https://a"])
        with pytest.raises(KnowledgeBaseExistsError):
            await client.knowledge.create(name="faq")
        assert (await client.knowledge.get(kb.id)).urls == ["https://a"]
        updated = await client.knowledge.update(kb.id, prompt="Be kind", docs=[{"name": "d", "url": "u", "size": 1}])
        assert (updated.prompt, updated.docs) == ("Be kind", [{"name": "d", "url": "u", "size": 1}])
        assert [k.id async for k in client.knowledge.iter()] == [kb.id]
        session = await client.sessions.create("dvp_Tristan_cloth2_1080P", knowledge_id=kb.id)
        assert emulator.state.sessions[session.id].knowledge_id == kb.id
        await client.knowledge.delete(kb.id)
        with pytest.raises(KnowledgeBaseNotFoundError):
            await client.knowledge.get(kb.id)
        assert (await client.knowledge.list()).items == []


def _policy(clock: FakeClock, sleeps: RecordingSleep) -> Any:
    from streamclient.api import RetryPolicy

    return RetryPolicy(sleep=sleeps, clock=clock, jitter=lambda: 1.0)
