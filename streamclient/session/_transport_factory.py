"""Choose and configure the transport that a session's credentials call for.

The transport layer knows nothing about the REST API (house-style §2.2), so the conversion from the API's
credentials to :class:`~streamclient.transport.JoinParams` lives here.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import anyio

from streamclient.api.models import AgoraCredentials, LiveKitCredentials, Session
from streamclient.codec import PacingLimits, ProtocolConnection, Role, tiled_frame_bytes
from streamclient.errors import ConfigurationError, JoinTokenMissingError
from streamclient.session._options import SessionOptions
from streamclient.transport.base import JoinParams, Transport

__all__ = ("check_transport_loads", "connection_for", "expected_avatar_uid", "join_params_for", "transport_for")


def _is_loopback(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def check_transport_loads(base_url: str, *, room_url: str | None) -> None:
    """Before anything billed is created: make sure the transport the session will need can be loaded.

    A room relay (``room_url``) or a service on a loopback address (a local emulator, whose credentials name its own
    room) needs no extra; anything else needs the Agora SDK (the ``agora`` extra), loaded here in a worker thread.

    Raises:
        TransportUnavailableError: the Agora SDK is missing or unusable (the message says how to install it).
    """
    if room_url or _is_loopback(base_url):
        return
    from streamclient.transport._agora_sdk import load_agora

    await anyio.to_thread.run_sync(load_agora)


def connection_for(transport: Transport, options: SessionOptions) -> ProtocolConnection:
    """The client's protocol connection, paced and framed for ``transport``'s limits."""
    limits = transport.limits
    pacing = PacingLimits(bytes_per_second=limits.bytes_per_second, messages_per_second=limits.messages_per_second)
    max_frame = limits.max_message_bytes
    if options.max_frame_bytes is not None:
        max_frame = min(max_frame, options.max_frame_bytes)
    else:  # whole frames fill every paced window: 6 x 986 B at 6000 B/s instead of 5 x 1024 B (14% idle)
        max_frame = tiled_frame_bytes(pacing, max_frame)
    return ProtocolConnection(
        Role.CLIENT, max_frame_bytes=max_frame, pacing=pacing, message_timeout=options.message_timeout
    )


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
