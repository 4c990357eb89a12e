"""The synchronous client runs the async one: same results, same errors, same retries."""

from __future__ import annotations

import httpx
import pytest

from streamclient.api import AkoolClient, RetryPolicy, SessionStatus
from streamclient.errors import ConfigurationError, InvalidArgumentError, LiveAvatarClosedError

from .conftest import API_KEY, BASE, SESSION, Recorder, envelope


def make(handler: Recorder, **kwargs: object) -> AkoolClient:
    return AkoolClient(API_KEY, base_url=BASE, transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


def test_sync_sessions_parity() -> None:
    page = {"count": 3, "result": [{**SESSION, "_id": i} for i in "abc"]}
    handler = Recorder(
        [
            envelope(SESSION),
            envelope({**SESSION, "status": 2}),
            envelope(page),
            envelope({"count": 3, "result": [{**SESSION, "_id": "a"}, {**SESSION, "_id": "b"}]}),
            envelope({"count": 3, "result": [{**SESSION, "_id": "c"}]}),
            envelope({}),
            envelope(code=1219, msg="closed"),
        ]
    )
    with make(handler) as client:
        created = client.sessions.create("dvp_Tristan_cloth2_1080P", duration=60)
        assert created.id == SESSION["_id"]
        assert client.sessions.get(created.id).status is SessionStatus.PROCESSING
        assert [s.id for s in client.sessions.list().items] == ["a", "b", "c"]
        assert [s.id for s in client.sessions.iter(size=2)] == ["a", "b", "c"]
        client.sessions.close(created.id)
        with pytest.raises(LiveAvatarClosedError):
            client.sessions.close(created.id)
        with pytest.raises(InvalidArgumentError):
            client.sessions.create("dvp_Tristan_cloth2_1080P", duration=0)
    assert len(handler.requests) == 7


def test_sync_retries_use_the_same_policy() -> None:
    calls: list[float] = []

    async def sleep(seconds: float) -> None:
        calls.append(seconds)

    handler = Recorder([httpx.Response(503), envelope({"lang_list": [{"lang_code": "en"}]})])
    with make(handler, retry=RetryPolicy(sleep=sleep, jitter=lambda: 1.0)) as client:
        assert [lang.lang_code for lang in client.languages.list()] == ["en"]
    assert calls == [0.5]


def test_sync_other_resources() -> None:
    handler = Recorder(
        [
            envelope({"count": 1, "result": [{"avatar_id": "x"}]}),
            envelope({"avatar_id": "x", "status": 3}),
            envelope({"count": 0, "result": []}),
            envelope([{"_id": "k", "name": "n"}]),
            envelope({"_id": "k", "name": "n"}),
            envelope({"_id": "k", "name": "m"}),
            envelope({}),
        ]
    )
    with make(handler) as client:
        assert [a.avatar_id for a in client.avatars.iter()] == ["x"]
        assert client.avatars.wait_until_ready("x").status is SessionStatus.COMPLETED
        assert client.voices.list(voice_type=2).items == []
        assert [k.id for k in client.knowledge.list().items] == ["k"]
        assert client.knowledge.create(name="n").id == "k"
        assert client.knowledge.update("k", name="m").name == "m"
        client.knowledge.delete("k")
    assert handler.bodies()[-2] == {"id": "k", "name": "m"}


def test_sync_iterator_can_be_abandoned() -> None:
    handler = Recorder([envelope({"count": 10, "result": [{**SESSION, "_id": i} for i in "ab"]})])
    with make(handler) as client:
        iterator = client.sessions.iter(size=2)
        assert next(iterator).id == "a"
        iterator.close()  # type: ignore[attr-defined]
    assert len(handler.requests) == 1


def test_sync_construction_errors_do_not_leak_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.delenv("AKOOL_API_KEY", raising=False)
    monkeypatch.delenv("AKOOL_CLIENT_ID", raising=False)
    monkeypatch.delenv("AKOOL_CLIENT_SECRET", raising=False)
    before = threading.active_count()
    with pytest.raises(ConfigurationError):
        AkoolClient()
    assert threading.active_count() == before


def test_close_is_idempotent() -> None:
    client = make(Recorder([envelope({})]))
    client.close()
    client.close()
