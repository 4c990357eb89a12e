"""What a session does outside on its own behalf: the last interrupt, closing through the API, renewing tokens."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from streamclient.codec import ProtocolConnection
from streamclient.errors import LiveAvatarClosedError, StreamClientError, TransportError
from streamclient.transport.base import Transport

if TYPE_CHECKING:
    from streamclient.api import AsyncAkoolClient
    from streamclient.api.models import Session
    from streamclient.session.room import AgoraRoom

__all__ = (
    "close_api_session",
    "create_session",
    "failure_reason",
    "leave_channel",
    "renew_token",
    "send_interrupt_now",
)

logger = logging.getLogger(__name__)


async def send_interrupt_now(conn: ProtocolConnection, transport: Transport, deadline: float) -> None:
    """Stop the avatar before we leave: the interrupt goes straight to the transport (the writer has stopped)."""
    conn.send_interrupt()
    with anyio.move_on_after(max(0.1, min(1.0, deadline - anyio.current_time()))):
        try:
            for datagram in conn.data_to_send(anyio.current_time()):
                await transport.send(datagram, timeout=1.0)
        except TransportError as exc:
            logger.debug("final interrupt not sent: %s", exc)


async def close_api_session(client: AsyncAkoolClient, session_id: str, deadline: float) -> StreamClientError | None:
    """Close ``session_id`` through the API by ``deadline`` (at least 0.5 s); the error if that failed."""
    error: StreamClientError | None = None
    with anyio.move_on_after(max(0.5, deadline - anyio.current_time())) as scope:
        try:
            await client.sessions.close(session_id)
            logger.info("session %s closed", session_id)
        except LiveAvatarClosedError:  # 1219: the service closed it already (expiry, or a close elsewhere)
            logger.info("session %s was already closed by the service", session_id)
        except StreamClientError as exc:
            error = exc
            logger.warning("closing session %s through the API failed: %s", session_id, exc)
    if scope.cancelled_caught:
        logger.warning("closing session %s through the API timed out", session_id)
    return error


async def renew_token(room: AgoraRoom, transport: Transport, timeout: float, *, label: str | None) -> bool:
    """Mint a fresh token for our uid and hand it to the transport; whether that worked.

    A failure is logged: the channel then drops us when the old token lapses, and the session closes as disconnected.
    """
    try:
        await transport.renew_token(room.bot_token(), timeout=timeout)
    except StreamClientError as exc:
        logger.error("session %s: renewing the channel token failed: %s", label, exc)
        return False
    logger.info("session %s: channel token renewed", label)
    return True


async def create_session(client: AsyncAkoolClient, create: Mapping[str, Any], room: AgoraRoom | None) -> Session:
    """Create the session (with the room's avatar credentials, if any), shielded from cancellation.

    Once the request may have reached the server we must learn the session id, or a cancellation here would leak a
    billed session. The API client's own timeout bounds this wait.
    """
    body = dict(create)
    if room is not None:
        body["credentials"] = room.avatar_credentials(body.get("duration"))
    with anyio.CancelScope(shield=True):
        info = await client.sessions.create(**body)
    return info


async def leave_channel(transport: Transport, deadline: float) -> None:
    """Leave the channel by ``deadline`` (at least 0.1 s); a failure is logged."""
    with anyio.move_on_after(max(0.1, deadline - anyio.current_time())):
        try:
            await transport.leave(timeout=max(0.1, min(5.0, deadline - anyio.current_time())))
        except TransportError as exc:
            logger.warning("leaving the channel failed: %s", exc)


def failure_reason(name: str, exc: BaseException, *, label: str | None, closing: bool) -> str | None:
    """Log a background failure; the reason to close with, or ``None`` when it was our own close cutting it."""
    if closing and isinstance(exc, TransportError):
        # We are leaving the channel: a send cut by our own close is not a failure.
        logger.debug("session %s: %s ended by the close: %s", label, name, exc)
        return None
    logger.error("session %s: %s failed: %s", label, name, exc, exc_info=not isinstance(exc, StreamClientError))
    return "disconnected" if isinstance(exc, TransportError) else "error"
