"""Choose and configure the transport that a session's credentials call for.

The transport layer knows nothing about the REST API (house-style §2.2), so the conversion from the API's
credentials to :class:`~streamclient.transport.JoinParams` lives here.
"""

from __future__ import annotations

from streamclient.api.models import AgoraCredentials, LiveKitCredentials, Session
from streamclient.errors import ConfigurationError, JoinTokenMissingError
from streamclient.transport.base import JoinParams, Transport

__all__ = ("expected_avatar_uid", "join_params_for", "transport_for")


def _agora_credentials(info: Session) -> AgoraCredentials:
    credentials = info.credentials
    if not isinstance(credentials, AgoraCredentials):
        raise ConfigurationError(
            f"session {info.id} uses stream_type {info.stream_type!r}; streamclient joins 'agora' channels "
            "(and the emulator's rooms) only: pass transport=... to use another"
        )
    if credentials.agora_token is None:
        # Detail and list answers may carry no token (the older docs' examples): only the create answer has it.
        raise JoinTokenMissingError(
            f"session {info.id}'s credentials carry no agora_token: session detail and list answers may leave it "
            "out, and tokens come only from the create answer; join with the Session that sessions.create "
            "returned (connect() does)"
        )
    return credentials


def expected_avatar_uid(info: Session) -> str | None:
    """The avatar's identity when the credentials name it (LiveKit's ``livekit_server_identity``), else ``None``."""
    credentials = info.credentials
    if isinstance(credentials, LiveKitCredentials) and credentials.livekit_server_identity:
        return credentials.livekit_server_identity
    return None


def transport_for(info: Session, *, room_url: str | None = None) -> Transport:
    """The transport for ``info``'s credentials: the emulator's room if they (or ``room_url``) point at one, else Agora.

    Raises:
        ConfigurationError: the stream type is not supported.
        JoinTokenMissingError: the credentials carry no token (a detail or list answer).
    """
    credentials = _agora_credentials(info)
    url = room_url or credentials.emulator_room_url
    if url:
        from streamclient.transport.room import RoomTransport

        return RoomTransport(url)
    from streamclient.transport.agora import AgoraTransport

    return AgoraTransport()


def join_params_for(info: Session) -> JoinParams:
    """The channel, uid and token to join ``info``'s channel with.

    Raises:
        ConfigurationError: the stream type is not supported.
        JoinTokenMissingError: the credentials carry no token (a detail or list answer).
    """
    credentials = _agora_credentials(info)
    assert credentials.agora_token is not None  # checked by _agora_credentials
    return JoinParams(
        app_id=credentials.agora_app_id or "",
        channel=credentials.agora_channel,
        uid=str(credentials.agora_uid),
        token=credentials.agora_token.get_secret_value(),
    )
