"""EmulatorState without HTTP: validation codes, status over time, billing, expiry, listeners, joins, faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from streamclient.emulator.shapes import ResponseShapes
from streamclient.emulator.state import EmulatedSession, EmulatorApiError, EmulatorState, JoinDenied
from streamclient.errors import InvalidArgumentError

AVATAR = "dvp_Tristan_cloth2_1080P"


@dataclass
class Clock:
    now: float = 50.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Listener:
    events: list[tuple[str, str, str | None]] = field(default_factory=list)

    def session_created(self, session: EmulatedSession) -> None:
        self.events.append(("created", session.id, None))

    def session_closed(self, session: EmulatedSession, reason: str) -> None:
        self.events.append(("closed", session.id, reason))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> EmulatorState:
    return EmulatorState(clock=clock, api_key="emu-key")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, 1003),
        ({"avatar_id": AVATAR, "duration": 0}, 1003),
        ({"avatar_id": AVATAR, "duration": 3601}, 1003),
        ({"avatar_id": AVATAR, "duration": "600"}, 1003),
        ({"avatar_id": AVATAR, "mode_type": 5}, 1003),
        ({"avatar_id": AVATAR, "duration": float("nan")}, 1003),
        ({"avatar_id": AVATAR, "stream_type": "webrtc"}, 1003),
        ({"avatar_id": AVATAR, "voice_params": {"speed": 2.0}}, 1003),
        ({"avatar_id": AVATAR, "language": "xx"}, 1003),
        ({"avatar_id": AVATAR, "voice_id": "v1"}, 1003),
        ({"avatar_id": AVATAR, "scene_mode": "fast_dialogue", "voice_params": {"speed": 1.0}}, 1003),
        ({"avatar_id": AVATAR, "scene_mode": "fast_dialogue", "voice_params": {"voice_id": "emu_voice_dave"}}, 1003),
        ({"avatar_id": AVATAR, "e2e_type": "openai"}, 1003),
        ({"avatar_id": AVATAR, "credentials": {"agora_uid": 1, "agora_channel": "c"}}, 1003),
        ({"avatar_id": AVATAR, "credentials": {"agora_uid": "1", "agora_channel": "c", "agora_token": "t"}}, 1003),
        ({"avatar_id": AVATAR, "stream_type": "livekit", "credentials": {"livekit_url": "wss://x"}}, 1003),
        ({"avatar_id": AVATAR, "stream_type": "trtc", "credentials": {"trtc_app_id": 1, "trtc_room_id": "r"}}, 1003),
        ({"avatar_id": AVATAR, "voice_params": []}, 1003),
        ({"avatar_id": "dvp_Nobody"}, 1008),
        ({"avatar_id": AVATAR, "knowledge_id": "nope"}, 1232),
    ],
)
def test_create_validation_codes(state: EmulatorState, body: dict[str, Any], code: int) -> None:
    with pytest.raises(EmulatorApiError) as caught:
        state.create_session(body)
    assert caught.value.code == code
    assert state.sessions == {}


def test_status_billing_and_close(state: EmulatorState, clock: Clock) -> None:
    listener = Listener()
    state.add_listener(listener)
    session = state.create_session({"avatar_id": AVATAR, "duration": 100})
    assert state.session_data(session)["status"] == 1
    clock.now += 1
    assert state.get_session(session.id).status == 2
    clock.now += 30
    assert state.billed_seconds() == pytest.approx(31)
    state.close_session(session.id)
    clock.now += 500
    assert state.billed_seconds() == pytest.approx(31)
    assert session.status == 3
    assert session.close_reason == "closed"
    with pytest.raises(EmulatorApiError) as caught:
        state.close_session(session.id)
    assert caught.value.code == 1219
    with pytest.raises(EmulatorApiError) as unknown:
        state.close_session("missing")
    assert unknown.value.code == 1216
    assert listener.events == [("created", session.id, None), ("closed", session.id, "closed")]


def test_expiry(state: EmulatorState, clock: Clock) -> None:
    listener = Listener()
    state.add_listener(listener)
    short = state.create_session({"avatar_id": AVATAR, "duration": 10})
    long = state.create_session({"avatar_id": AVATAR, "duration": 60})
    assert state.next_expiry() == pytest.approx(clock.now + 10)
    clock.now += 10
    assert state.expire_due() == [short]
    assert state.open_sessions() == [long]
    assert state.next_expiry() == pytest.approx(clock.now + 50)
    clock.now += 1000
    assert state.expire_due() == [long]
    assert state.next_expiry() is None
    assert state.billed_seconds() == pytest.approx(70)  # capped at each duration
    assert ("closed", short.id, "expired") in listener.events


def test_quota_reserves_the_full_duration(clock: Clock) -> None:
    state = EmulatorState(clock=clock, quota_seconds=100)
    first = state.create_session({"avatar_id": AVATAR, "duration": 80})
    with pytest.raises(EmulatorApiError) as caught:
        state.create_session({"avatar_id": AVATAR, "duration": 30})
    assert caught.value.code == 1006
    clock.now += 10
    state.close_session(first.id)  # only 10 s billed: the rest is refunded
    state.create_session({"avatar_id": AVATAR, "duration": 90})


def test_check_join(state: EmulatorState, clock: Clock) -> None:
    session = state.create_session({"avatar_id": AVATAR, "duration": 10})
    uid, token = str(session.client_uid), session.client_token
    assert state.check_join(channel=session.channel, uid=uid, token=token) is session
    assert state.session_by_channel(session.channel) is session
    assert state.session_by_channel("other") is None
    for kwargs, reason in [
        ({"channel": "other", "uid": uid, "token": token}, "unknown_channel"),
        ({"channel": session.channel, "uid": "1", "token": token}, "bad_uid"),
        ({"channel": session.channel, "uid": uid, "token": "forged"}, "bad_token"),
    ]:
        with pytest.raises(JoinDenied) as caught:
            state.check_join(**kwargs)
        assert caught.value.reason == reason
    clock.now += 10
    with pytest.raises(JoinDenied) as expired:
        state.check_join(channel=session.channel, uid=uid, token=token)
    assert expired.value.reason == "closed"


def test_credentials_extra_and_secrets_out_of_repr(state: EmulatorState) -> None:
    state.credentials_extra["emulator_room_url"] = "ws://127.0.0.1:9/room"
    session = state.create_session({"avatar_id": AVATAR})
    credentials = state.session_data(session)["credentials"]
    assert credentials["emulator_room_url"] == "ws://127.0.0.1:9/room"
    assert credentials["agora_token"] == session.client_token
    assert session.client_token not in repr(session)
    assert "emu-key" not in repr(state)
    assert state.client_secret not in repr(state)


def test_auth(state: EmulatorState) -> None:
    state.authenticate({"x-api-key": "emu-key"})
    token = state.issue_token(state.client_id, state.client_secret)
    state.authenticate({"authorization": f"Bearer {token}", "x-api-key": "wrong"})  # Authorization wins
    for headers, code in [
        ({}, 1102),
        ({"x-api-key": "wrong"}, 1101),
        ({"authorization": "Bearer nope", "x-api-key": "emu-key"}, 1101),
    ]:
        with pytest.raises(EmulatorApiError) as caught:
            state.authenticate(headers)
        assert caught.value.code == code
    state.revoke_tokens()
    with pytest.raises(EmulatorApiError):
        state.authenticate({"authorization": f"Bearer {token}"})
    with pytest.raises(EmulatorApiError) as bad:
        state.issue_token(state.client_id, "wrong")
    assert bad.value.code == 1101


def test_upload_steps(state: EmulatorState, clock: Clock) -> None:
    state.avatar_step_seconds = 1.0
    assert (
        state.upload_avatar({"avatar_id": "me1", "url": "https://v", "name": "Me", "type": 2, "url_from": 1})["status"]
        == 1
    )
    with pytest.raises(EmulatorApiError) as not_ready:
        state.create_session({"avatar_id": "me1"})
    assert not_ready.value.code == 1003
    record_id = state.get_avatar("me1")["_id"]
    assert "status" not in state.get_avatar("me1")  # the v4 detail has no status (OAS); the v3 record has it
    assert state.get_avatar("me1")["available"] is False
    clock.now += 1
    assert [r["status"] for r in state.upload_records(record_id)] == [2]
    clock.now += 1
    assert [r["status"] for r in state.upload_records(record_id)] == [3]
    assert state.get_avatar("me1")["available"] is True
    state.create_session({"avatar_id": "me1"})
    bad = state.upload_avatar({"avatar_id": "bad1", "url": "https://fail", "name": "B", "type": 2, "url_from": 2})
    clock.now += 5
    assert state.upload_records(bad["_id"])[0]["status"] == 4
    for body, code in [
        ({"avatar_id": "me1", "url": "u", "name": "n", "type": 2, "url_from": 1}, 1222),
        ({"avatar_id": "has_underscore", "url": "u", "name": "n", "type": 2, "url_from": 1}, 1003),
        ({"avatar_id": "ünï", "url": "u", "name": "n", "type": 2, "url_from": 1}, 1003),  # OAS: ^[a-zA-Z0-9]+$
        ({"avatar_id": "ok2", "url": "u", "name": "n", "type": 1, "url_from": 1}, 1003),
        ({"avatar_id": "ok2", "url": "u", "name": "n", "type": "2", "url_from": 1}, 1003),  # integer enum [2]
        ({"avatar_id": "ok2", "url": "u", "name": "n", "type": 2, "url_from": 3}, 1003),
        ({"avatar_id": "ok2", "url": "u", "name": "n", "type": 2, "url_from": True}, 1003),
        ({"avatar_id": "ok2", "url": "u", "type": 2, "url_from": 1}, 1003),  # all required
        ({"avatar_id": "ok2", "name": "n", "type": 2, "url_from": 1}, 1003),
    ]:
        with pytest.raises(EmulatorApiError) as caught:
            state.upload_avatar(body)
        assert caught.value.code == code


def test_upload_records_need_a_known_id(state: EmulatorState) -> None:
    for record_id, code in [(None, 1003), ("", 1003), ("nope", 1008)]:
        with pytest.raises(EmulatorApiError) as caught:
            state.upload_records(record_id)
        assert caught.value.code == code


def test_faults_are_consumed(state: EmulatorState) -> None:
    state.fail_next("session/create", code=1215, times=2)
    state.delay_next("session/list", 0.5)
    assert [f.code for f in state.take_faults("/api/open/v4/liveAvatar/session/create")] == [1215]
    assert [f.code for f in state.take_faults("/api/open/v4/liveAvatar/session/create")] == [1215]
    assert state.take_faults("/api/open/v4/liveAvatar/session/create") == []
    assert [f.delay for f in state.take_faults("/api/open/v4/liveAvatar/session/list")] == [0.5]
    with pytest.raises(ValueError, match="code or an http_status"):
        state.fail_next("x")


def test_a_failing_listener_does_not_break_the_state(state: EmulatorState, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def session_created(self, session: EmulatedSession) -> None:
            raise RuntimeError("boom")

        def session_closed(self, session: EmulatedSession, reason: str) -> None:
            raise RuntimeError("boom")

    state.add_listener(Broken())
    session = state.create_session({"avatar_id": AVATAR})
    state.close_session(session.id)
    assert "boom" in caplog.text


@pytest.mark.parametrize(
    "options",
    [{"close_with_data": "yes"}, {"session_list_key": "items"}, {"trtc_names": "sdk"}, {"tokens_in_detail": 1}],
)
def test_response_shapes_refuse_undocumented_choices(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match="ResponseShapes"):
        ResponseShapes(**options)


def test_response_shape_variants_cover_each_documented_alternative() -> None:
    variants = ResponseShapes.variants()
    assert variants[0] == ResponseShapes()
    assert variants[0].describe() == "docs defaults"
    assert len({v.describe() for v in variants}) == len(variants) == 9
