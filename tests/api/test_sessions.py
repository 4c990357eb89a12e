"""Sessions: validation before the network, the lifecycle on the loopback emulator, list shapes and credentials."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from streamclient.api import (
    AgoraCredentials,
    FastDialogueVoiceParams,
    LiveKitCredentials,
    Session,
    SessionPage,
    SessionStatus,
    TRTCCredentials,
    VoiceParams,
)
from streamclient.errors import (
    ContentNotFoundError,
    InsufficientQuotaError,
    InvalidArgumentError,
    InvalidParameterError,
    KnowledgeBaseNotFoundError,
    LiveAvatarClosedError,
    SessionNotFoundError,
)

from .conftest import SESSION, Emulator, FakeClock, MakeClient, Recorder, envelope

AVATAR = "dvp_Tristan_cloth2_1080P"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": 0}, "duration"),
        ({"duration": 4000}, "duration"),
        ({"duration": -1}, "duration"),
        ({"duration": float("nan")}, "duration"),
        ({"duration": float("inf")}, "duration"),
        ({"duration": "600"}, "duration"),
        ({"duration": True}, "duration"),
        ({"mode_type": 5}, "mode_type"),
        ({"voice_params": {"speed": 2.0}}, "speed"),
        ({"voice_params": {"speed": 0.5}}, "speed"),
        ({"voice_params": {"turn_detection": {"type": "loud", "threshold": 3}}}, "turn_detection"),
        ({"voice_params": "fast"}, "voice_params"),
        ({"scene_mode": "fast_dialogue", "voice_params": {"speed": 1.0}}, "FastDialogueVoiceParams"),
        ({"scene_mode": "fast_dialogue", "voice_params": {"voice_id": "emu_voice_dave"}}, "voice_id"),
        ({"scene_mode": "fast_dialogue", "voice_params": VoiceParams(speed=1.0)}, "speed"),
        ({"credentials": {"agora_uid": 5, "agora_channel": "c"}}, "agora_token"),
        ({"credentials": {"livekit_url": "wss://lk"}}, "livekit_token"),
        ({"credentials": {"trtc_sdk_app_id": 1}}, "trtc_sdk_room_id"),
        ({"credentials": {"room": "x"}}, "credentials"),
        ({"stream_type": "agora", "credentials": {"livekit_url": "u", "livekit_token": "t"}}, "stream_type"),
        ({"stream_type": "webrtc"}, "stream_type"),
        ({"scene_mode": "slow"}, "scene_mode"),
        ({"e2e_type": "openai"}, "e2e_type"),
        ({"voice_id": ""}, "voice_id"),
        ({"knowledge_id": "kb/../x"}, "knowledge_id"),
        ({"credentials": ["x"]}, "credentials"),
    ],
)
async def test_create_validates_before_sending(make_client: MakeClient, kwargs: dict[str, Any], message: str) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        with pytest.raises(InvalidArgumentError, match=message):
            await client.sessions.create(AVATAR, **kwargs)
    assert handler.requests == []


@pytest.mark.parametrize("avatar_id", ["", "dvp Tristan", "dvp/Tristan", "a" * 129, "ünï", None, 5])
async def test_bad_avatar_ids_send_nothing(make_client: MakeClient, avatar_id: Any) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        with pytest.raises(InvalidArgumentError):
            await client.sessions.create(avatar_id)
    assert handler.requests == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.sessions.get(""),
        lambda c: c.sessions.close(""),
        lambda c: c.sessions.get("a b"),
        lambda c: c.sessions.list(status=7),
        lambda c: c.sessions.list(size=0),
        lambda c: c.sessions.list(page=0),
    ],
)
async def test_other_session_calls_validate_before_sending(make_client: MakeClient, call: Any) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        with pytest.raises(InvalidArgumentError):
            await call(client)
    assert handler.requests == []


async def test_create_sends_every_documented_field_and_omits_unset_ones(make_client: MakeClient) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        await client.sessions.create(AVATAR)
        await client.sessions.create(
            AVATAR,
            duration=600,
            voice_id="v1",
            voice_url="https://v.example/model",
            language="en",
            mode_type=2,
            knowledge_id="kb_1",
            background_url="https://bg.example/x.png",
            voice_params=VoiceParams(speed=1.1, pron_map={"akool": "ai ku er"}, stt_type="openai_realtime"),
            stream_type="agora",
            credentials=AgoraCredentials(agora_uid=5, agora_channel="mine", agora_token="T"),
        )
    minimal, full = handler.bodies()
    assert minimal == {"avatar_id": AVATAR}
    assert full == {
        "avatar_id": AVATAR,
        "duration": 600,
        "voice_id": "v1",
        "voice_url": "https://v.example/model",
        "language": "en",
        "mode_type": 2,
        "knowledge_id": "kb_1",
        "background_url": "https://bg.example/x.png",
        "voice_params": {"speed": 1.1, "pron_map": {"akool": "ai ku er"}, "stt_type": "openai_realtime"},
        "stream_type": "agora",
        # agora_app_id is optional (OAS): a model without it sends no "agora_app_id": "" (issue 10, case 7)
        "credentials": {"agora_uid": 5, "agora_channel": "mine", "agora_token": "T"},
    }


async def test_fast_dialogue_voice_params_follow_their_own_schema(make_client: MakeClient) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        await client.sessions.create(
            AVATAR,
            scene_mode="fast_dialogue",
            e2e_type="openai",
            voice_params=FastDialogueVoiceParams(voice_id="alloy", stt_language="en"),
        )
        await client.sessions.create(
            AVATAR,
            scene_mode="fast_dialogue",
            voice_params={"voice_id": "cedar", "turn_detection": {"type": "semantic_vad"}},
        )
    first, second = handler.bodies()
    assert first["voice_params"] == {"voice_id": "alloy", "stt_language": "en"}
    assert (first["scene_mode"], first["e2e_type"]) == ("fast_dialogue", "openai")
    assert second["voice_params"] == {"voice_id": "cedar", "turn_detection": {"type": "semantic_vad"}}


@pytest.mark.parametrize(("duration", "sent"), [(600.0, 600), (600, 600), (90.5, 90.5), (3600.0, 3600)])
async def test_duration_is_an_oas_number(make_client: MakeClient, duration: float, sent: float) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        await client.sessions.create(AVATAR, duration=duration)
    assert handler.bodies()[0]["duration"] == sent
    assert type(handler.bodies()[0]["duration"]) is type(sent)


async def test_session_list_size_has_no_maximum(make_client: MakeClient) -> None:
    handler = Recorder([envelope({"count": 0, "result": []})])
    async with make_client(handler) as client:
        await client.sessions.list(size=500)
    assert handler.requests[0].url.params["size"] == "500"


@pytest.mark.parametrize(
    ("credentials", "stream_type"),
    [
        (LiveKitCredentials.model_validate({"livekit_url": "wss://lk", "livekit_token": "T"}), "livekit"),
        ({"trtc_sdk_app_id": 1, "trtc_sdk_room_id": "r", "trtc_sdk_user_id": "u", "trtc_sdk_user_sig": "S"}, "trtc"),
    ],
)
async def test_byo_credentials_imply_their_stream_type(
    make_client: MakeClient, credentials: Any, stream_type: str
) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        await client.sessions.create(AVATAR, credentials=credentials)
    assert handler.bodies()[0]["stream_type"] == stream_type


async def test_byo_trtc_credentials_use_the_request_names(make_client: MakeClient) -> None:
    handler = Recorder([envelope(SESSION)])
    creds = TRTCCredentials.model_validate(
        {"trtc_app_id": 1400, "trtc_room_id": "r", "trtc_user_id": "u", "trtc_user_sig": "S"}
    )
    async with make_client(handler) as client:
        await client.sessions.create(AVATAR, stream_type="trtc", credentials=creds)
    assert handler.bodies()[0]["credentials"] == {
        "trtc_sdk_app_id": 1400,
        "trtc_sdk_room_id": "r",
        "trtc_sdk_user_id": "u",
        "trtc_sdk_user_sig": "S",
    }


@pytest.mark.parametrize(
    ("stream_type", "credentials", "model"),
    [
        ("agora", SESSION["credentials"], AgoraCredentials),
        ("livekit", {"livekit_url": "wss://lk", "livekit_token": "LK", "livekit_room_name": "r"}, LiveKitCredentials),
        ("trtc", {"trtc_app_id": 1, "trtc_room_id": "r", "trtc_user_id": "u", "trtc_user_sig": "S"}, TRTCCredentials),
        (
            "trtc",
            {"trtc_sdk_app_id": 1, "trtc_sdk_room_id": "r", "trtc_sdk_user_id": "u", "trtc_sdk_user_sig": "S"},
            TRTCCredentials,
        ),
    ],
)
def test_credentials_are_typed_per_stream_type(stream_type: str, credentials: Any, model: type) -> None:
    session = Session.model_validate({**SESSION, "stream_type": stream_type, "credentials": credentials})
    assert type(session.credentials) is model
    if isinstance(session.credentials, TRTCCredentials):
        assert session.credentials.trtc_room_id == "r"
        assert session.credentials.trtc_user_sig is not None
        assert session.credentials.trtc_user_sig.get_secret_value() == "S"


def test_session_tolerates_unknown_status_and_fields() -> None:
    session = Session.model_validate({"_id": "x", "status": 9, "brand_new": {"a": 1}, "stream_type": "other"})
    assert session.status == 9
    assert not isinstance(session.status, SessionStatus)
    assert session.credentials is None
    assert session.model_extra == {"brand_new": {"a": 1}}
    assert Session.model_validate({"_id": "x", "status": 2}).status is SessionStatus.PROCESSING


@pytest.mark.parametrize("key", ["result", "data"])
async def test_list_accepts_both_shapes(make_client: MakeClient, key: str) -> None:
    handler = Recorder([envelope({"count": 1, key: [SESSION]})])
    async with make_client(handler) as client:
        page = await client.sessions.list(status=SessionStatus.PROCESSING, page=2, size=5)
    assert isinstance(page, SessionPage)
    assert [s.id for s in page.items] == [SESSION["_id"]]
    assert (page.count, page.page, page.size) == (1, 2, 5)
    assert dict(handler.requests[0].url.params) == {"page": "2", "size": "5", "status": "2"}


async def test_iter_walks_every_page(make_client: MakeClient) -> None:
    def page(ids: list[str]) -> Any:
        return envelope({"count": 5, "result": [{**SESSION, "_id": i} for i in ids]})

    handler = Recorder([page(["a", "b"]), page(["c", "d"]), page(["e"])])
    async with make_client(handler) as client:
        ids = [s.id async for s in client.sessions.iter(size=2)]
    assert ids == ["a", "b", "c", "d", "e"]
    assert [r.url.params["page"] for r in handler.requests] == ["1", "2", "3"]


async def test_close_falls_back_to_session_id(make_client: MakeClient) -> None:
    handler = Recorder([envelope(code=1003, msg="id required"), envelope({})])
    async with make_client(handler) as client:
        await client.sessions.close("abc")
    assert handler.bodies() == [{"id": "abc"}, {"session_id": "abc"}]


async def test_close_reports_a_second_1003(make_client: MakeClient) -> None:
    handler = Recorder([envelope(code=1003, msg="bad")])
    async with make_client(handler) as client:
        with pytest.raises(InvalidParameterError):
            await client.sessions.close("abc")
    assert len(handler.requests) == 2


# --------------------------------------------------------------------------------------- loopback emulator


async def test_session_lifecycle_against_the_loopback_server(emulator: Emulator, clock: FakeClock) -> None:
    emulator.state.credentials_extra["emulator_room_url"] = "ws://127.0.0.1:1/room"
    async with emulator.client() as client:
        session = await client.sessions.create(AVATAR, duration=600, mode_type=2, voice_params={"speed": 1.0})
        assert session.status is SessionStatus.QUEUEING
        assert isinstance(session.credentials, AgoraCredentials)
        assert session.credentials.emulator_room_url == "ws://127.0.0.1:1/room"
        emulated = emulator.state.sessions[session.id]
        assert session.credentials.agora_token is not None  # the create answer carries the token
        assert session.credentials.agora_token.get_secret_value() == emulated.client_token
        assert session.credentials.agora_channel == emulated.channel
        assert emulated.voice_params == {"speed": 1.0}

        clock.advance(1.0)
        assert (await client.sessions.get(session.id)).status is SessionStatus.PROCESSING
        listed = await client.sessions.list(status=SessionStatus.PROCESSING)
        assert [s.id for s in listed.items] == [session.id]

        clock.advance(9.0)
        await client.sessions.close(session.id)
        assert (await client.sessions.get(session.id)).status is SessionStatus.COMPLETED
        assert emulator.state.billed_seconds() == pytest.approx(10.0)
        with pytest.raises(LiveAvatarClosedError) as caught:
            await client.sessions.close(session.id)
        assert caught.value.code == 1219
        with pytest.raises(SessionNotFoundError):
            await client.sessions.get("0123456789abcdef01234567")


async def test_create_errors_against_the_loopback_server(emulator: Emulator) -> None:
    emulator.state.quota_seconds = 700
    async with emulator.client() as client:
        with pytest.raises(ContentNotFoundError):
            await client.sessions.create("dvp_Nobody")
        with pytest.raises(KnowledgeBaseNotFoundError):
            await client.sessions.create(AVATAR, knowledge_id="nope")
        await client.sessions.create(AVATAR, duration=600)
        with pytest.raises(InsufficientQuotaError) as caught:
            await client.sessions.create(AVATAR, duration=600)
    assert caught.value.code == 1006
    assert len(emulator.state.sessions) == 1


async def test_iter_against_the_loopback_server(emulator: Emulator) -> None:
    async with emulator.client() as client:
        created = {(await client.sessions.create(AVATAR, duration=30)).id for _ in range(5)}
        assert {s.id async for s in client.sessions.iter(size=2)} == created


async def test_concurrent_creates_are_all_distinct(emulator: Emulator) -> None:
    ids: list[str] = []
    async with emulator.client() as client:

        async def one() -> None:
            ids.append((await client.sessions.create(AVATAR, duration=30)).id)

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(one)
    assert len(set(ids)) == 4


@pytest.mark.parametrize("extra", [{"when": object()}, {"ratio": float("nan")}])
async def test_unencodable_extra_body_is_an_argument_error(make_client: MakeClient, extra: dict[str, Any]) -> None:
    handler = Recorder([envelope(SESSION)])
    async with make_client(handler) as client:
        with pytest.raises(InvalidArgumentError, match="could not be encoded"):
            await client.sessions.create(AVATAR, extra_body=extra)
    assert handler.requests == []
