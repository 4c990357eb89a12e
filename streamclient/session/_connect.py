"""The entry points: :func:`connect` (create a session, then join it) and :func:`attach` (join an existing one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from streamclient.session._options import CreateOptions, SessionOptions, check_keywords
from streamclient.session._session import AvatarSession
from streamclient.session.room import AgoraRoom
from streamclient.transport.base import Transport

if TYPE_CHECKING:
    from streamclient.api import AsyncAkoolClient

__all__ = ("attach", "connect")


def connect(
    client: AsyncAkoolClient,
    *,
    avatar_id: str,
    transport: Transport | None = None,
    options: SessionOptions | None = None,
    room: AgoraRoom | None = None,
    **create_options: Unpack[CreateOptions],
) -> AvatarSession:
    """Create a streaming-avatar session and return it, to be entered with ``async with``.

    Entering creates the session through the API, picks the transport from the returned credentials (Agora, or the
    emulator's room) unless ``transport`` is given, joins, and waits for the avatar. Leaving (however it happens)
    interrupts the avatar if it is speaking, leaves the channel and closes the session through the API.

    Args:
        client: the API client.
        avatar_id: the streaming avatar to use.
        transport: a transport to use instead of the one the credentials call for.
        options: timeouts and bounds.
        room: an Agora channel the caller owns (:class:`~streamclient.session.room.AgoraRoom`): the avatar is sent
            into it with bring-your-own credentials, we join as the room's bot uid, and our token is renewed before
            it lapses. Without it the session joins the room AKOOL creates.
        **create_options: the other fields of ``client.sessions.create``, typed by
            :class:`~streamclient.session.CreateOptions` (``duration``, ``mode_type``, ``voice_id``, ``language``,
            ``knowledge_id``, ``background_url``, ``voice_params``, ...).

    Returns:
        The session (not yet started).

    Raises:
        InvalidArgumentError: an unknown keyword argument (say, ``mode_typ=``); nothing was created.
    """
    check_keywords("connect", create_options, CreateOptions)
    create: dict[str, Any] = {"avatar_id": avatar_id}
    create.update(create_options)
    return AvatarSession(client, create=create, transport=transport, options=options, room=room)


def attach(
    client: AsyncAkoolClient,
    session_id: str,
    *,
    transport: Transport | None = None,
    options: SessionOptions | None = None,
    close_on_exit: bool = False,
) -> AvatarSession:
    """Join an existing session (for example one created by another process).

    By default the session is left but not closed on exit; pass ``close_on_exit=True`` to close it too.
    """
    return AvatarSession(
        client, session_id=session_id, transport=transport, options=options, close_on_exit=close_on_exit
    )
