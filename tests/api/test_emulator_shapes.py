"""The client against every documented answer shape the emulator can give, over real loopback HTTP (issue 10).

``ResponseShapes.variants()`` is the docs' defaults, each documented alternative alone, and all of them together;
each runs the same client workflow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette

from streamclient.api import (
    AgoraCredentials,
    AsyncAkoolClient,
    LiveKitCredentials,
    RetryPolicy,
    SessionStatus,
    TRTCCredentials,
)
from streamclient.emulator._serve import serve
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.shapes import ResponseShapes
from streamclient.emulator.state import EmulatorState
from streamclient.errors import InvalidArgumentError

from .conftest import FakeClock, RecordingSleep

AVATAR = "dvp_Tristan_cloth2_1080P"


@dataclass
class Served:
    state: EmulatorState
    url: str
    shapes: ResponseShapes


@pytest.fixture(params=ResponseShapes.variants(), ids=lambda shapes: shapes.describe())
async def served(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Served]:
    shapes: ResponseShapes = request.param
    state = EmulatorState(clock=clock, shapes=shapes)
    async with serve(Starlette(routes=rest_routes(state))) as url:
        yield Served(state, url, shapes)


def _client(served: Served, policy: RetryPolicy) -> AsyncAkoolClient:
    # the legacy token scheme: the token location variant is exercised on every request
    state = served.state
    return AsyncAkoolClient(
        client_id=state.client_id, client_secret=state.client_secret, base_url=served.url, retry=policy
    )


async def test_session_lifecycle(served: Served, policy: RetryPolicy, clock: FakeClock) -> None:
    async with _client(served, policy) as client:
        created = await client.sessions.create(AVATAR, duration=600.0, language="af-ZA", voice_id="emu_voice_lucia")
        assert isinstance(created.credentials, AgoraCredentials)
        assert created.credentials.agora_token is not None  # the create answer always carries it
        clock.advance(1)
        detail = await client.sessions.get(created.id)
        assert detail.status is SessionStatus.PROCESSING
        assert isinstance(detail.credentials, AgoraCredentials)
        assert (detail.credentials.agora_token is not None) is served.shapes.tokens_in_detail
        page = await client.sessions.list(size=500)
        assert ([s.id for s in page.items], page.count) == ([created.id], 1)
        assert [s.id async for s in client.sessions.iter(size=1)] == [created.id]
        await client.sessions.close(created.id)
        assert served.state.sessions[created.id].close_reason == "closed"
        assert served.state.sessions[created.id].duration == 600


@pytest.mark.parametrize(
    ("stream_type", "kind"), [("agora", AgoraCredentials), ("livekit", LiveKitCredentials), ("trtc", TRTCCredentials)]
)
async def test_each_stream_type_answers_its_documented_credentials(
    served: Served, policy: RetryPolicy, stream_type: str, kind: type[object]
) -> None:
    async with _client(served, policy) as client:
        created = await client.sessions.create(AVATAR, stream_type=stream_type)
        detail = await client.sessions.get(created.id)
        listed = (await client.sessions.list()).items
        await client.sessions.close(created.id)
    for session in (created, detail, *listed):
        assert session.stream_type == stream_type
        assert isinstance(session.credentials, kind)
    if isinstance(created.credentials, TRTCCredentials):
        assert created.credentials.trtc_room_id == served.state.sessions[created.id].channel
        assert created.credentials.trtc_user_sig is not None


async def test_bring_your_own_credentials_are_stored_and_echoed(served: Served, policy: RetryPolicy) -> None:
    mine = AgoraCredentials(agora_uid=5, agora_channel="my-channel", agora_token="MY-TOKEN")
    async with _client(served, policy) as client:
        created = await client.sessions.create(AVATAR, credentials=mine)
        with pytest.raises(InvalidArgumentError, match="agora_token"):
            await client.sessions.create(AVATAR, credentials={"agora_uid": 5, "agora_channel": "c"})
        await client.sessions.close(created.id)
    stored = served.state.sessions[created.id].byo_credentials
    assert stored == {"agora_uid": 5, "agora_channel": "my-channel", "agora_token": "MY-TOKEN"}  # no app id: left out
    assert isinstance(created.credentials, AgoraCredentials)
    assert created.credentials.agora_channel == "my-channel"


async def test_knowledge_bases(served: Served, policy: RetryPolicy) -> None:
    async with _client(served, policy) as client:
        made = [await client.knowledge.create(name=f"kb{i}") for i in range(3)]
        unnamed = await client.knowledge.create(prompt="no name given")
        page = await client.knowledge.list(size=2)
        every = [kb.id async for kb in client.knowledge.iter(size=2)]
        for kb in [*made, unnamed]:
            await client.knowledge.delete(kb.id)
        assert [kb.id async for kb in client.knowledge.iter(size=2)] == []
    assert every == [kb.id for kb in [*made, unnamed]]
    assert page.count == (4 if served.shapes.knowledge_list_shape == "knowledge_list" else None)


async def test_avatar_upload_and_readiness(
    served: Served, clock: FakeClock, sleeps: RecordingSleep, policy: RetryPolicy
) -> None:
    served.state.avatar_step_seconds = 10.0
    async with _client(served, policy) as client:
        upload = await client.avatars.upload(url="https://v.example/me.mp4", avatar_id="me1", name="Me")
        assert upload.status is SessionStatus.QUEUEING
        ready = await client.avatars.wait_until_ready(upload, interval=5)
        assert (await client.avatars.get("me1")).available is True
        session = await client.sessions.create("me1")
        await client.sessions.close(session.id)
    assert (ready.status, ready.avatar_id) == (SessionStatus.COMPLETED, "me1")
    assert sleeps.calls == [5.0] * 4


async def test_voices_and_languages(served: Served, policy: RetryPolicy) -> None:
    async with _client(served, policy) as client:
        clones = await client.voices.list(voice_type=1)
        languages = {lang.lang_code for lang in await client.languages.list()}
    assert [(v.voice_id, v.status) for v in clones.items] == [
        (None, SessionStatus.PROCESSING),
        ("emu_clone_ready", SessionStatus.COMPLETED),
    ]
    assert "af-ZA" in languages


async def test_voice_filters_follow_the_voice_docs(served: Served, policy: RetryPolicy) -> None:
    async with _client(served, policy) as client:
        both = await client.voices.list(gender="Male,Female", size=500)  # comma-separated, no size maximum
        fuzzy = await client.voices.list(name="luc")  # "supports fuzzy search"
    assert both.count == 4
    assert [v.voice_id for v in fuzzy.items] == ["emu_voice_lucia"]
