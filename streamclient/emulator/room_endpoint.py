"""The room's websocket endpoint (``/room``): how a client joins a :class:`~streamclient.emulator.room.Room`.

Sub-protocol (one websocket per joined client; ``RoomTransport`` is the reference client)::

    client -> room
      text   {"op":"join","app_id":s,"channel":s,"uid":s,"token":s}   first message, within 10 s
      binary <4-byte big-endian seq><frame bytes>                      send one data-stream message
      text   {"op":"renew_token","seq":n,"token":s}                    replace the token
      text   {"op":"leave"}                                           leave; the room closes the socket
    room -> client
      text   {"op":"joined","uid":s}                                  join accepted; peer_joined events follow
      text   {"op":"join_error","reason":n,"message":s}               join refused (Agora reason code); socket closes
      text   {"op":"result","seq":n,"code":c}                         verdict for the send/renew ``seq``: 0 accepted,
                                                                      -114 too large, -12 too often, -115 bitrate;
                                                                      renew: -110 invalid token, -109 expired
      binary <1-byte uid length><uid UTF-8><frame bytes>               a frame from that peer (FrameReceived)
      text   {"op":"peer_joined","uid":s}
      text   {"op":"peer_left","uid":s,"reason":n}
      text   {"op":"state","state":n,"reason":n}                      connection state (5 FAILED: the socket closes)
      text   {"op":"token","event":"will_expire"|"expired"}             the token lapses in 30 s / has lapsed

Every send gets exactly one ``result``, so the client can report the room's verdict synchronously, the way the SDK's
``send_stream_message`` return code does. Tokens are never logged.

With a ``check_token`` callable, every join and every renewal presents its token to it: it returns when the token
lapses (the room then watches it, see :meth:`~streamclient.emulator.room.Room.set_token_expiry`) or raises
:class:`JoinRefused` with Agora's reason (a refused renewal answers -110, or -109 for an expired token).
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections.abc import Callable
from typing import Any

import anyio
from starlette.routing import WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket

from streamclient.emulator.admission import JoinRefused, JoinRequest
from streamclient.emulator.room import PeerRole, Room, RoomJoinError, RoomPeer
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    PeerJoined,
    PeerLeft,
    TokenExpired,
    TokenWillExpire,
    TransportEvent,
)

__all__ = ("JoinRefused", "JoinRequest", "TokenCheck", "room_route")

logger = logging.getLogger(__name__)

JOIN_TIMEOUT = 10.0
SEND_TIMEOUT = 10.0
_SEQ = struct.Struct(">I")
#: A send's verdict, the way ``json.dumps`` writes it with ``separators=(",", ":")`` (one a frame: no encoder).
_RESULT = '{"op":"result","seq":%d,"code":%d}'

#: Agora reasons used for join refusals.
REASON_INVALID_CHANNEL_NAME = 7
REASON_INVALID_TOKEN = 8
REASON_REJECTED_BY_SERVER = 10
REASON_SAME_UID = 19
REASON_TOKEN_EXPIRED = 9
#: What a refused ``renew_token`` returns (the SDK's negated ERR_INVALID_TOKEN / ERR_TOKEN_EXPIRED).
ERR_INVALID_TOKEN = -110
ERR_TOKEN_EXPIRED = -109


#: Validates a join and returns the room to join; raises :class:`JoinRefused`.
JoinResolver = Callable[[JoinRequest], Room]
#: Checks the token of a join or renewal; returns when it lapses (epoch seconds, ``None``: never); raises
#: :class:`JoinRefused`.
TokenCheck = Callable[[JoinRequest], "float | None"]


def room_route(path: str, resolve: JoinResolver, *, check_token: TokenCheck | None = None) -> WebSocketRoute:
    """A Starlette websocket route serving the room sub-protocol at ``path``."""

    async def endpoint(websocket: WebSocket) -> None:
        await _RoomConnection(websocket, resolve, check_token).serve()

    return WebSocketRoute(path, endpoint)


def encode_frame_message(sender: str, data: bytes) -> bytes:
    """The binary message that carries a frame from ``sender`` to the client."""
    uid = sender.encode("utf-8")
    return bytes((len(uid),)) + uid + data


class _RoomConnection:
    def __init__(self, websocket: WebSocket, resolve: JoinResolver, check_token: TokenCheck | None) -> None:
        self._ws = websocket
        self._resolve = resolve
        self._check_token = check_token
        self._request: JoinRequest | None = None
        #: The joined connection's scope: cancelled by the watchdog when a send takes over ``SEND_TIMEOUT``.
        self._scope: anyio.CancelScope | None = None
        self._sending_since: float | None = None  # when the send in progress started (loop clock)
        self._watchdog: asyncio.TimerHandle | None = None
        # fast_acquire: an uncontended send (nearly all of them) takes the lock without a checkpoint.
        self._lock = anyio.Lock(fast_acquire=True)

    async def _send_json(self, obj: dict[str, Any]) -> None:
        await self._send_text(json.dumps(obj, separators=(",", ":")))

    async def _send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def _send_bytes(self, data: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": data})

    async def _send(self, message: Message) -> None:
        """Send one message, bounded by ``SEND_TIMEOUT``.

        Once joined, a send only records when it started: the connection's one watchdog timer (armed by the first
        send after it last fired, so one timer per ``SEND_TIMEOUT`` at most) cancels the connection's scope when a
        send has taken longer, which ends the connection. A timer or deadline move per send cost a third of a
        frame's CPU.
        """
        async with self._lock:
            if self._scope is None:
                with anyio.fail_after(SEND_TIMEOUT):
                    await self._ws.send(message)
                return
            loop = asyncio.get_running_loop()
            self._sending_since = now = loop.time()
            if self._watchdog is None:
                self._watchdog = loop.call_at(now + SEND_TIMEOUT, self._on_watchdog)
            try:
                await self._ws.send(message)
            finally:
                self._sending_since = None

    def _on_watchdog(self) -> None:
        """End the connection if the send in progress is late; else watch it (or stop until the next send)."""
        self._watchdog = None
        since, scope = self._sending_since, self._scope
        if since is None or scope is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - since >= SEND_TIMEOUT:
            scope.cancel()
        else:
            self._watchdog = loop.call_at(since + SEND_TIMEOUT, self._on_watchdog)

    async def serve(self) -> None:
        await self._ws.accept()
        try:
            peer = await self._join()
        except Exception:
            logger.debug("room socket: join failed", exc_info=True)
            await self._close()
            return
        if peer is None:
            await self._close()
            return
        try:
            with anyio.CancelScope() as self._scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._pump, peer, tg.cancel_scope)
                    await self._read(peer)
                    tg.cancel_scope.cancel()
            if self._scope.cancelled_caught:
                logger.debug("room socket of %s: a send timed out after %s s", peer.uid, SEND_TIMEOUT)
        except Exception:
            logger.debug("room socket of %s ended with an error", peer.uid, exc_info=True)
        finally:
            self._scope = None
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            peer.leave()
            await self._close()

    async def _close(self) -> None:
        with anyio.move_on_after(2.0, shield=True):
            try:
                await self._ws.close()
            except Exception:  # already closed by the peer or the server
                logger.debug("room socket: close failed", exc_info=True)

    async def _join(self) -> RoomPeer | None:
        with anyio.fail_after(JOIN_TIMEOUT):
            message = await self._ws.receive()
        text = message.get("text")
        try:
            obj = json.loads(text) if isinstance(text, str) else None
            if not isinstance(obj, dict) or obj.get("op") != "join":
                raise ValueError("first message must be a join")
            request = JoinRequest(
                app_id=str(obj.get("app_id", "")),
                channel=str(obj["channel"]),
                uid=str(obj["uid"]),
                token=str(obj.get("token", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            await self._send_json({"op": "join_error", "reason": REASON_REJECTED_BY_SERVER, "message": str(exc)})
            return None
        try:
            # The token first: a refused join must not open a shared room for its channel.
            expires_at = self._check_token(request) if self._check_token is not None else None
            room = self._resolve(request)
            peer = room.join(request.uid, role=PeerRole.CLIENT)
        except JoinRefused as exc:
            await self._send_json({"op": "join_error", "reason": exc.reason, "message": exc.message})
            return None
        except RoomJoinError as exc:  # the uid is in the room (19), or the room closed (10)
            await self._send_json({"op": "join_error", "reason": exc.reason, "message": str(exc)})
            return None
        logger.debug("room %s: client %s joined over websocket", room.channel, request.uid)
        self._request = request
        await self._send_json({"op": "joined", "uid": request.uid})
        room.set_token_expiry(request.uid, expires_at)
        return peer

    async def _read(self, peer: RoomPeer) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if isinstance(data, bytes):
                if len(data) < _SEQ.size:
                    return
                (seq,) = _SEQ.unpack_from(data)
                code = peer.send(data[_SEQ.size :])
                await self._send_text(_RESULT % (seq, code))
                continue
            try:
                obj = json.loads(message.get("text") or "")
            except ValueError:
                return
            op = obj.get("op") if isinstance(obj, dict) else None
            if op == "leave":
                return
            if op == "renew_token":
                code = self._renew(peer, str(obj.get("token", "")))
                await self._send_json({"op": "result", "seq": obj.get("seq", 0), "code": code})

    def _renew(self, peer: RoomPeer, token: str) -> int:
        """Check a renewal's token like a join's; on success the room watches the new expiry."""
        if self._check_token is None or self._request is None:
            return 0
        request = JoinRequest(app_id=self._request.app_id, channel=peer.room.channel, uid=peer.uid, token=token)
        try:
            expires_at = self._check_token(request)
        except JoinRefused as exc:
            logger.info("room %s: renewal by %s refused: %s", peer.room.channel, peer.uid, exc.message)
            return ERR_TOKEN_EXPIRED if exc.reason == REASON_TOKEN_EXPIRED else ERR_INVALID_TOKEN
        peer.room.set_token_expiry(peer.uid, expires_at)
        return 0

    async def _pump(self, peer: RoomPeer, scope: anyio.CancelScope) -> None:
        try:
            async for event in peer.mailbox:
                await self._forward(event)
                if isinstance(event, ConnectionStateChanged) and event.state is ConnectionState.FAILED:
                    break
        finally:
            scope.cancel()

    async def _forward(self, event: TransportEvent) -> None:
        if isinstance(event, FrameReceived):
            await self._send_bytes(encode_frame_message(event.sender, event.data))
        elif isinstance(event, PeerJoined):
            await self._send_json({"op": "peer_joined", "uid": event.uid})
        elif isinstance(event, PeerLeft):
            await self._send_json({"op": "peer_left", "uid": event.uid, "reason": event.reason})
        elif isinstance(event, ConnectionStateChanged):
            await self._send_json({"op": "state", "state": int(event.state), "reason": event.reason})
        elif isinstance(event, TokenWillExpire):
            await self._send_json({"op": "token", "event": "will_expire"})
        elif isinstance(event, TokenExpired):
            await self._send_json({"op": "token", "event": "expired"})
