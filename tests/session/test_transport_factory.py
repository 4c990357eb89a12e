"""The session picks its transport from the credentials the API returned."""

from __future__ import annotations

from typing import Any

import pytest

from streamclient.api.models import Session
from streamclient.errors import ConfigurationError, JoinTokenMissingError
from streamclient.session._transport_factory import expected_avatar_uid, join_params_for, transport_for
from streamclient.transport.agora import AgoraTransport
from streamclient.transport.room import RoomTransport

AGORA = {"agora_uid": 100, "agora_app_id": "app", "agora_channel": "chan", "agora_token": "SECRET-token"}


def session(stream_type: str, credentials: dict[str, Any]) -> Session:
    return Session.model_validate({"_id": "s1", "status": 1, "stream_type": stream_type, "credentials": credentials})


def test_agora_credentials_get_the_agora_adapter_without_loading_the_sdk() -> None:
    info = session("agora", AGORA)
    assert isinstance(transport_for(info), AgoraTransport)  # the SDK loads at join, not here
    params = join_params_for(info)
    assert (params.app_id, params.channel, params.uid, params.token) == ("app", "chan", "100", "SECRET-token")
    assert "SECRET" not in repr(params)


def test_emulator_credentials_get_the_room_transport() -> None:
    info = session("agora", {**AGORA, "emulator_room_url": "ws://127.0.0.1:1/room"})
    assert isinstance(transport_for(info), RoomTransport)


@pytest.mark.parametrize(
    ("stream_type", "credentials"),
    [
        ("livekit", {"livekit_url": "wss://x", "livekit_token": "t"}),
        ("trtc", {"trtc_app_id": 1, "trtc_room_id": "r", "trtc_user_id": "u", "trtc_user_sig": "s"}),
    ],
)
def test_other_stream_types_are_a_clear_configuration_error(stream_type: str, credentials: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="pass transport="):
        transport_for(session(stream_type, credentials))


def test_a_session_without_credentials_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        join_params_for(Session.model_validate({"_id": "s1", "status": 1}))


def test_credentials_without_a_token_parse_but_refuse_to_join() -> None:
    # the older docs' session detail and list examples: no agora_token (issue 10, case 3)
    info = session("agora", {"agora_uid": 100000, "agora_app_id": "", "agora_channel": ""})
    with pytest.raises(JoinTokenMissingError, match="create answer"):
        transport_for(info)
    with pytest.raises(JoinTokenMissingError, match="create answer"):
        join_params_for(info)


def test_a_null_app_id_joins_with_an_empty_one() -> None:
    params = join_params_for(session("agora", {**AGORA, "agora_app_id": None}))
    assert params.app_id == ""


def test_the_avatar_is_named_by_a_livekit_server_identity_only() -> None:
    livekit = {"livekit_url": "wss://x", "livekit_token": "t", "livekit_server_identity": "akool-avatar-agent"}
    assert expected_avatar_uid(session("livekit", livekit)) == "akool-avatar-agent"
    assert expected_avatar_uid(session("livekit", {"livekit_url": "wss://x", "livekit_token": "t"})) is None
    assert expected_avatar_uid(session("agora", AGORA)) is None  # AKOOL-hosted Agora rooms name only our uid


def test_a_room_url_overrides_the_credentials() -> None:
    assert isinstance(transport_for(session("agora", AGORA), room_url="ws://127.0.0.1:1/room"), RoomTransport)
