"""``RoomTransport``: the client transport for the local emulator's room, over a websocket.

The session uses it when the credentials point at the emulator (``emulator_room_url`` in the agora credentials);
it implements :class:`~streamclient.transport.base.Transport` exactly like the Agora adapter, so the session cannot
tell them apart. The wire sub-protocol is documented in :mod:`streamclient.emulator.room_endpoint`: JSON text
messages for control, binary messages for frames, and one ``result`` per send carrying the room's verdict, which
:meth:`RoomTransport.send` awaits and maps the way the Agora SDK's return codes map (-114 ->
:class:`~streamclient.errors.FrameTooLargeError`, -12 / -115 -> :class:`~streamclient.errors.SendRateLimitedError`).

Events: ``ConnectionStateChanged(CONNECTED, 1)`` once joined, then ``PeerJoined`` / ``PeerLeft`` /
``FrameReceived`` as they happen, and ``TokenWillExpire`` / ``TokenExpired`` when the room checks tokens. When the
room drops us (disconnect fault, session closed or expired, token lapsed) we get
``ConnectionStateChanged(FAILED, reason)`` and the stream ends; a socket that dies without a word gives
``FAILED`` with reason 14 (keep-alive timeout). After :meth:`RoomTransport.leave` the stream ends with
``ConnectionStateChanged(DISCONNECTED, 5)``.

Overflow policy: the event buffer holds ``max_buffered_events`` events; if the consumer falls that far behind, the
transport fails (``events()`` raises :class:`~streamclient.errors.TransportOverflowError`) rather than drop frames.

The websockets client is asyncio-only. No task reads the socket: the connection is a websockets
``ClientConnection`` that hands each complete message to the transport as the protocol parses it (in the
connection's ``data_received``), and reports the socket's end from ``connection_lost``. A consumer that uses
:meth:`RoomTransport.push_events` gets frames straight from there; with ``events()`` they go through the buffer.
(A reader parked in ``recv()`` between messages kept a chain of coroutines and futures alive for about a second
per session: with a thousand sessions, the garbage collector's young generations were full of them.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Any, Generic, TypeVar

import anyio

from streamclient.errors import (
    FrameTooLargeError,
    InvalidArgumentError,
    JoinError,
    SendError,
    SendRateLimitedError,
    TransportClosedError,
    TransportError,
    TransportOverflowError,
    TransportTimeoutError,
    TransportUnavailableError,
)
from streamclient.transport._push import EventPusher
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    PeerJoined,
    PeerLeft,
    TokenExpired,
    TokenWillExpire,
    TransportEndHandler,
    TransportEvent,
    TransportEventHandler,
    TransportLimits,
    check_frame,
)

__all__ = ("EventBuffer", "RoomTransport")

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: The websocket library's own logger for our connections. At DEBUG it logs every frame, the join message (with
#: the channel token) included, so it is held at INFO: secrets never reach a log, whatever the root level is.
_WIRE_LOGGER = logging.getLogger(__name__ + ".wire")
_WIRE_LOGGER.setLevel(logging.INFO)

_SEQ = struct.Struct(">I")
_REASON_JOIN_SUCCESS = 1
_REASON_LEAVE_CHANNEL = 5
_REASON_KEEP_ALIVE_TIMEOUT = 14
_ERR_TOO_OFTEN = -12
_ERR_NOT_IN_CHANNEL = -113
_ERR_SIZE_TOO_LARGE = -114
_ERR_BITRATE_LIMIT = -115
_ERR_TOKEN_EXPIRED = -109


def _set_nodelay(transport: Any) -> None:
    """Turn Nagle's algorithm off on the websocket's TCP socket (asyncio does for TCP sockets; be explicit).

    Every frame is one small message that must leave at once: with Nagle on, a send that follows another before the
    peer's delayed ACK waits ~40 ms.
    """
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@cache
def _room_connection_class() -> type[Any]:
    """The websockets connection class that pushes messages (built on first use: websockets is an extra)."""
    from websockets.asyncio.client import ClientConnection
    from websockets.frames import Frame, Opcode

    class RoomConnection(ClientConnection):
        """Hands each complete text or binary message to ``on_message`` and the socket's end to ``on_lost``.

        Until ``on_message`` is set, messages go to ``recv()`` as usual. Control frames (ping, pong, close) and the
        handshake stay with websockets.
        """

        on_message: Callable[[str | bytes], None] | None = None
        on_lost: Callable[[], None] | None = None
        _fragments: list[Any] | None = None

        def process_event(self, event: Any) -> None:
            handler = self.on_message
            if handler is None or self.response is None or not isinstance(event, Frame):
                super().process_event(event)
                return
            opcode = event.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                if event.fin:
                    self._hand_over(handler, opcode, bytes(event.data))
                else:
                    self._fragments = [event]
            elif opcode is Opcode.CONT:
                fragments = self._fragments
                if fragments is not None:
                    fragments.append(event)
                    if event.fin:
                        self._fragments = None
                        data = b"".join(bytes(f.data) for f in fragments)
                        self._hand_over(handler, fragments[0].opcode, data)
            else:
                super().process_event(event)

        @staticmethod
        def _hand_over(handler: Callable[[str | bytes], None], opcode: Any, data: bytes) -> None:
            # websockets has checked a text message's UTF-8 already (it closes the connection with 1007 otherwise).
            handler(data.decode("utf-8", errors="replace") if opcode is Opcode.TEXT else data)

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            on_lost = self.on_lost
            if on_lost is not None:
                on_lost()

    return RoomConnection


def _abort_socket(ws: Any) -> None:
    """Drop the websocket's TCP connection at once (no close handshake); its ``connection_lost`` follows."""
    if ws is not None and ws.transport is not None:
        ws.transport.abort()


class EventBuffer(Generic[T]):
    """A bounded single-consumer queue that needs no closing (unlike memory object streams, nothing to leak).

    ``put`` never blocks: it returns False when the buffer is full (the owner applies its overflow policy).
    After ``close`` the consumer drains what is left, then iteration ends.
    """

    def __init__(self, capacity: int) -> None:
        self._items: deque[T] = deque()
        self._capacity = capacity
        self._closed = False
        self._wakeup = anyio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def drain(self) -> list[T]:
        """Take every buffered item at once (for a consumer that switches to pushed events)."""
        items = list(self._items)
        self._items.clear()
        return items

    def put(self, item: T) -> bool:
        """Append ``item``; False if the buffer is full. Items put after ``close`` are ignored (True)."""
        if self._closed:
            return True
        if len(self._items) >= self._capacity:
            return False
        self._items.append(item)
        self._wakeup.set()
        return True

    def close(self) -> None:
        """End the stream once the consumer has drained it (idempotent)."""
        self._closed = True
        self._wakeup.set()

    async def get(self) -> T:
        """The next item.

        Raises:
            anyio.EndOfStream: the buffer is closed and empty.
        """
        while not self._items:
            if self._closed:
                raise anyio.EndOfStream
            self._wakeup = anyio.Event()
            await self._wakeup.wait()
        return self._items.popleft()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while True:
            try:
                item = await self.get()
            except anyio.EndOfStream:
                return
            yield item


class RoomTransport:
    """Joins the emulator's room at ``url`` (``ws://127.0.0.1:PORT/room``). See the module docstring."""

    def __init__(self, url: str, *, limits: TransportLimits | None = None, max_buffered_events: int = 4096) -> None:
        self._url = url
        self._limits = limits if limits is not None else TransportLimits()
        self._ws: Any = None
        self._uid: str | None = None
        self._pending: dict[int, tuple[asyncio.Future[int], float]] = {}  # seq -> (verdict, deadline)
        self._watchdog: asyncio.TimerHandle | None = None  # fails the requests whose deadline passed
        self._watchdog_at = 0.0
        self._seq = 0
        self._events: EventBuffer[TransportEvent] = EventBuffer(max_buffered_events)
        self._consumer_chosen = False
        self._pusher: EventPusher | None = None
        self._pushing = False  # the pusher takes the events (from the first loop turn after push_events)
        self._join_reply: asyncio.Future[dict[str, Any]] | None = None
        self._join_uid = ""
        self._joined = False
        self._closed = False
        self._ended = False
        self._overflowed = False

    def __repr__(self) -> str:
        return f"RoomTransport(url={self._url!r}, uid={self._uid!r}, joined={self._joined})"

    @property
    def limits(self) -> TransportLimits:
        """The data-stream limits the session must pace to."""
        return self._limits

    @property
    def overflowed(self) -> bool:
        """True once the event buffer overflowed (the transport then fails; see the module docstring)."""
        return self._overflowed

    @property
    def local_uid(self) -> str | None:
        """Our uid once joined, else ``None``."""
        return self._uid if self._joined else None

    # ----------------------------------------------------------------------------------------- join

    async def join(self, params: JoinParams, *, timeout: float = 15.0) -> None:
        """Connect to the room and join with ``params``.

        Raises:
            JoinError: the room refused the credentials (``reason`` 8 bad token, 7 unknown channel, 10 closed
                session, 19 uid already in the room) or the socket could not be opened.
            TransportTimeoutError: not joined within ``timeout``.
            TransportClosedError: this transport was already used.
            TransportUnavailableError: the ``websockets`` package is missing.
        """
        if self._closed or self._ws is not None:
            raise TransportClosedError("this RoomTransport was already joined or left; create a new one")
        try:
            from websockets.asyncio.client import connect
            from websockets.exceptions import WebSocketException
        except ImportError as exc:  # pragma: no cover - the emulator extra is installed in tests
            raise TransportUnavailableError(
                "RoomTransport needs the 'websockets' package: pip install 'streamclient[emulator]'"
            ) from exc
        self._join_reply = asyncio.get_running_loop().create_future()
        self._join_uid = params.uid
        try:
            with anyio.fail_after(timeout):
                self._ws = await connect(
                    self._url,
                    proxy=None,
                    compression=None,
                    open_timeout=None,
                    max_size=2**20,
                    close_timeout=2,
                    logger=_WIRE_LOGGER,
                    create_connection=_room_connection_class(),
                )
                _set_nodelay(self._ws.transport)
                self._ws.on_message = self._on_message
                self._ws.on_lost = self._on_socket_lost
                await self._ws.send(
                    json.dumps(
                        {
                            "op": "join",
                            "app_id": params.app_id,
                            "channel": params.channel,
                            "uid": params.uid,
                            "token": params.token,
                        }
                    )
                )
                reply = await self._join_reply
        except TimeoutError as exc:
            await self._abort()
            raise TransportTimeoutError(f"joining the room at {self._url} took over {timeout} s") from exc
        except (OSError, WebSocketException, ValueError) as exc:
            await self._abort()
            raise JoinError(f"could not join the room at {self._url}: {type(exc).__name__}") from exc
        if reply.get("op") != "joined":
            await self._abort()
            reason = reply.get("reason")
            raise JoinError(
                f"the room refused the join: {reply.get('message', 'no reason given')}",
                reason=reason if isinstance(reason, int) else None,
            )
        logger.debug("joined room %s as %s", params.channel, self._uid)

    async def _abort(self) -> None:
        self._closed = True
        self._joined = False
        ws, self._ws = self._ws, None
        if ws is not None:
            with anyio.move_on_after(2.0, shield=True), contextlib.suppress(Exception):
                await ws.close()
        self._end_events()

    # ----------------------------------------------------------------------------------------- send

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:
        """Send one frame and wait for the room's verdict. See :meth:`Transport.send`."""
        data = check_frame(data, max_bytes=self._limits.max_message_bytes)
        code = await self._request(_SEQ.pack(self._next_seq()) + data, timeout=timeout, what="send")
        if code == 0:
            return
        if code == _ERR_SIZE_TOO_LARGE:
            raise FrameTooLargeError(f"the room refused a {len(data)}-byte frame as too large", code=code)
        if code == _ERR_TOO_OFTEN:
            raise SendRateLimitedError("the room refused the frame: too many messages per second", code=code)
        if code == _ERR_BITRATE_LIMIT:
            raise SendRateLimitedError("the room refused the frame: too many bytes per second", code=code)
        if code == _ERR_NOT_IN_CHANNEL:
            raise TransportClosedError("the room says we are not in the channel")
        raise SendError(f"the room refused the frame with code {code}", code=code)

    async def renew_token(self, token: str, *, timeout: float = 5.0) -> None:
        """Replace the channel token (call on ``TokenWillExpire``); the room checks it like a join's.

        Raises:
            InvalidArgumentError: the token is empty.
            TransportClosedError: not joined.
            TransportError: the room refused the token (code -110 invalid, -109 expired).
            TransportTimeoutError: not done in time.
        """
        if not isinstance(token, str) or not token:
            raise InvalidArgumentError("the new token must be a non-empty string")
        seq = self._next_seq()
        message = json.dumps({"op": "renew_token", "seq": seq, "token": token})
        code = await self._request(message, timeout=timeout, seq=seq)
        if code != 0:
            what = "expired" if code == _ERR_TOKEN_EXPIRED else "invalid"
            raise TransportError(f"the room refused the new token as {what} (code {code})")

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % 2**32
        return self._seq

    async def _request(self, message: str | bytes, *, timeout: float, what: str = "renew", seq: int = -1) -> int:
        """Write ``message`` and wait for the room's verdict on it (``result`` with the same ``seq``).

        The write is synchronous (the websocket protocol's ``send_*`` then the socket's ``write``): it never waits for
        the socket's buffer to drain, so the only wait is the verdict's, bounded by ``timeout``. The buffer cannot
        grow without bound: every send waits for its verdict, so a session has at most one frame (and a token
        renewal) in the buffer. The deadline is kept by the transport's one watchdog timer, not a timer or cancel
        scope per send: at a thousand sends a second those were a tenth of the client's CPU per turn, and each
        cancelled timer stayed in the event loop's heap (with its copied context) until pruned.
        """
        ws = self._ws
        if not self._joined or ws is None:
            raise TransportClosedError("not joined to the room (never joined, left, or disconnected)")
        if isinstance(message, bytes):
            (seq,) = _SEQ.unpack_from(message)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        deadline = loop.time() + timeout
        self._pending[seq] = (future, deadline)
        try:
            try:
                if isinstance(message, bytes):
                    ws.protocol.send_binary(message)
                else:
                    ws.protocol.send_text(message.encode())
                ws.send_data()
            except Exception as exc:
                raise TransportClosedError(f"the room connection is gone ({type(exc).__name__})") from exc
            if self._watchdog is None or deadline < self._watchdog_at:
                self._arm_watchdog(loop, deadline)
            return await future
        except TimeoutError as exc:
            raise TransportTimeoutError(f"the room did not answer the {what} within {timeout} s") from exc
        finally:
            self._pending.pop(seq, None)

    def _arm_watchdog(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog_at = when
        self._watchdog = loop.call_at(when, self._on_watchdog)

    def _on_watchdog(self) -> None:
        """Fail the requests whose deadline passed; re-arm for the earliest one still pending."""
        self._watchdog = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        earliest: float | None = None
        for future, deadline in self._pending.values():
            if future.done():
                continue
            if deadline <= now:
                future.set_exception(TimeoutError())
            elif earliest is None or deadline < earliest:
                earliest = deadline
        if earliest is not None:
            self._arm_watchdog(loop, earliest)

    # --------------------------------------------------------------------------------------- events

    async def events(self) -> AsyncIterator[TransportEvent]:
        """The room's events for one consumer; ends after ``leave`` or when the room drops us.

        Raises:
            TransportOverflowError: the consumer fell more than ``max_buffered_events`` behind.
            RuntimeError: :meth:`push_events` was called (one consumer, one way).
        """
        if self._pusher is not None:
            raise RuntimeError("the events are pushed (push_events was called): there is no events() to iterate")
        self._consumer_chosen = True
        async for event in self._events:
            yield event
        if self._overflowed:
            raise self._overflow_error()

    def push_events(self, on_event: TransportEventHandler, on_end: TransportEndHandler) -> None:
        """Hand the events to callbacks instead (see :class:`~streamclient.transport.base.PushTransport`).

        Frames are handed over from the socket's ``data_received``; the events buffered before this call, and what
        this transport's own calls produce (the ``DISCONNECTED`` of :meth:`leave`), from a ``call_soon``: never
        inside a call of the consumer's.

        Raises:
            RuntimeError: ``events()`` or ``push_events`` was already called.
        """
        if self._consumer_chosen:
            raise RuntimeError("the room transport's events have one consumer; it was already chosen")
        self._consumer_chosen = True
        self._pusher = EventPusher(on_event, on_end, label=f"room transport {self._uid}")
        asyncio.get_running_loop().call_soon(self._start_pushing)

    def _start_pushing(self) -> None:
        """Hand over what was buffered, then push as events come (until then they keep going to the buffer)."""
        pusher = self._pusher
        assert pusher is not None
        for event in self._events.drain():
            pusher.push(event)
        self._pushing = True
        if self._events.closed:
            pusher.end(self._overflow_error() if self._overflowed else None)

    @staticmethod
    def _overflow_error() -> TransportOverflowError:
        return TransportOverflowError("the room transport's event buffer overflowed; events were not consumed")

    def _post(self, event: TransportEvent) -> None:
        if self._pushing:
            assert self._pusher is not None
            self._pusher.push(event)
            return
        if not self._events.put(event):
            logger.error("room transport %s: event buffer overflow; failing the transport", self._uid)
            self._overflowed = True
            self._events.close()
            _abort_socket(self._ws)

    def _end_events(self) -> None:
        """No more events: end the stream (idempotent)."""
        self._events.close()
        if self._pushing:
            assert self._pusher is not None
            self._pusher.end()

    def _on_message(self, message: str | bytes) -> None:
        """One complete websocket message, from the connection's ``data_received``."""
        if self._ended:
            return
        join_reply = self._join_reply
        if join_reply is not None and not join_reply.done():
            try:
                reply = json.loads(message)
                if not isinstance(reply, dict):
                    raise ValueError("the join reply is not an object")
            except ValueError as exc:
                join_reply.set_exception(exc)
                return
            if reply.get("op") == "joined":
                # Joined from here, not when join() resumes: the room's next messages (the avatar already in the
                # channel, its first frames) may arrive in the same read as this reply.
                self._uid = str(reply.get("uid", self._join_uid))
                self._joined = True
                self._post(ConnectionStateChanged(ConnectionState.CONNECTED, _REASON_JOIN_SUCCESS))
            join_reply.set_result(reply)
            return
        if not self._joined:
            return
        if isinstance(message, bytes):
            n = message[0] if message else 0
            sender = message[1 : 1 + n].decode("utf-8", errors="replace")
            self._post(FrameReceived(sender, message[1 + n :]))
            return
        try:
            ended_by_room = self._handle_control(json.loads(message))
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("room transport %s: a malformed control message; dropping the connection", self._uid)
            self._socket_ended(ended_by_room=False)
            _abort_socket(self._ws)
            return
        if ended_by_room:
            self._socket_ended(ended_by_room=True)

    def _on_socket_lost(self) -> None:
        """The socket closed (from the connection's ``connection_lost``)."""
        join_reply = self._join_reply
        if join_reply is not None and not join_reply.done():
            join_reply.set_exception(ConnectionResetError("the room closed the connection before answering"))
        logger.debug("room transport %s: socket ended", self._uid)
        self._socket_ended(ended_by_room=False)

    def _socket_ended(self, *, ended_by_room: bool) -> None:
        if self._ended:
            return
        self._ended = True
        was_joined, self._joined = self._joined, False
        self._fail_pending()
        if not self._closed and was_joined:  # else leave() or the failed join ends the stream
            if not ended_by_room:
                self._post(ConnectionStateChanged(ConnectionState.FAILED, _REASON_KEEP_ALIVE_TIMEOUT))
            self._end_events()

    def _handle_control(self, obj: dict[str, Any]) -> bool:
        """Handle one control message; True when the room ended our connection."""
        op = obj.get("op")
        if op == "result":
            pending = self._pending.get(int(obj.get("seq", -1)))
            if pending is not None and not pending[0].done():
                pending[0].set_result(int(obj.get("code", 0)))
        elif op == "peer_joined":
            self._post(PeerJoined(str(obj["uid"])))
        elif op == "peer_left":
            self._post(PeerLeft(str(obj["uid"]), int(obj.get("reason", 0))))
        elif op == "token":
            self._post(TokenExpired() if obj.get("event") == "expired" else TokenWillExpire())
        elif op == "state":
            state = ConnectionState(int(obj["state"]))
            self._post(ConnectionStateChanged(state, int(obj.get("reason", 0))))
            return state in (ConnectionState.FAILED, ConnectionState.DISCONNECTED)
        return False

    def _fail_pending(self) -> None:
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(TransportClosedError("the room connection ended while a send was pending"))
        self._pending.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    # ---------------------------------------------------------------------------------------- leave

    async def leave(self, *, timeout: float = 5.0) -> None:
        """Leave the room; idempotent, safe after a failed join and while being cancelled."""
        if self._closed:
            return
        self._closed = True
        was_joined = self._joined
        self._joined = False
        ws, self._ws = self._ws, None
        with anyio.move_on_after(timeout, shield=True):
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.send(json.dumps({"op": "leave"}))
                with contextlib.suppress(Exception):
                    await ws.close()
        _abort_socket(ws)  # closed by now unless the close timed out
        self._ended = True
        self._fail_pending()
        if self._pusher is not None:  # never inside the consumer's call: from the loop, like a frame
            asyncio.get_running_loop().call_soon(self._finish_leave, was_joined)
        else:
            self._finish_leave(was_joined)
        logger.debug("left room as %s", self._uid)

    def _finish_leave(self, was_joined: bool) -> None:
        if was_joined:
            self._post(ConnectionStateChanged(ConnectionState.DISCONNECTED, _REASON_LEAVE_CHANNEL))
        self._end_events()
