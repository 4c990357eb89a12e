"""AvatarSession: create a session, join its channel, talk to the avatar, and always close it.

Ownership and invariants:

* The session owns one :class:`~streamclient.codec.ProtocolConnection` (CLIENT role) and one transport. Only the
  writer task hands frames to the transport; only the reader task feeds received frames to the codec; the timer
  task expires stalled messages and the session's ``duration``. All three run in the session's task group and never
  raise: a failure closes the session and is reported as :class:`SessionClosed` and on pending waits.
* A session that this object created is closed through the API on every exit path (normal exit, exception,
  cancellation, Ctrl-C), shielded from cancellation and bounded by ``SessionOptions.close_timeout``, because an open
  session keeps billing. Creation itself is shielded too: a cancellation that arrives while the create request is in
  flight waits for the answer, then closes the session it created.
* Nothing here reads or logs a token; ``repr`` shows the session id and state only.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio

from streamclient.codec import (
    AvatarEvent,
    ChatDelta,
    ChatFrame,
    ChatMessage,
    CommandFrame,
    CommandReceived,
    CommandResult,
    FrameRejected,
    MessageDiscarded,
    MessageExpired,
    PacingLimits,
    ProtocolConnection,
    Role,
    UnknownFrame,
    decode_frame,
    set_action,
    set_params,
)
from streamclient.codec import Event as CodecEvent
from streamclient.errors import (
    AvatarJoinTimeoutError,
    CommandError,
    CommandTimeoutError,
    SendError,
    SendRateLimitedError,
    SessionClosedError,
    StreamClientError,
    TransportClosedError,
    TransportError,
)
from streamclient.session._fanout import EventFanout, EventSubscription
from streamclient.session._options import SessionOptions
from streamclient.session._transport_factory import join_params_for, transport_for
from streamclient.session._turn_tracker import TurnTracker
from streamclient.session.events import (
    AvatarJoined,
    AvatarLeft,
    BotMessage,
    BotTextDelta,
    CommandAcked,
    ConnectionChanged,
    FrameDropped,
    MessageIncomplete,
    SessionClosed,
    SessionEvent,
    SessionExpiring,
    SpeakingStarted,
    SpeakingStopped,
    UserTranscript,
)
from streamclient.session.turns import Turn, TurnResult
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    MessagesLost,
    PeerJoined,
    PeerLeft,
    SendFailed,
    TokenExpired,
    TokenWillExpire,
    Transport,
    TransportEvent,
)

if TYPE_CHECKING:
    from streamclient.api import AsyncAkoolClient
    from streamclient.api.models import Session as SessionInfo

__all__ = ("AvatarSession", "SessionStats", "attach", "connect")

logger = logging.getLogger(__name__)

_MAX_BACKOFF = 2.0


@dataclass(slots=True)
class SessionStats:
    """Counters and latency figures of one session (read them any time; they only grow)."""

    frames_sent: int = 0
    bytes_sent: int = 0
    frames_received: int = 0
    bytes_received: int = 0
    send_retries: int = 0
    send_failures: int = 0
    frames_rejected: int = 0
    unknown_frames: int = 0
    messages_incomplete: int = 0
    messages_lost: int = 0
    commands_sent: int = 0
    turns_completed: int = 0
    #: seconds from a turn's last frame sent to its first reply chunk, for the most recent 100 turns
    reply_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=100))


class _PendingAck:
    __slots__ = ("cmd", "done", "result")

    def __init__(self, cmd: str) -> None:
        self.cmd = cmd
        self.done = anyio.Event()
        self.result: CommandResult | None = None


class AvatarSession:
    """One live avatar session. Use :func:`connect` (create + join) or :func:`attach` (join an existing session).

    Inside ``async with``: :meth:`say` / :meth:`ask` talk to the avatar, :meth:`interrupt`, :meth:`set_params` and
    :meth:`set_action` send commands and await their acks, :meth:`events` streams what happens.
    """

    def __init__(
        self,
        client: AsyncAkoolClient,
        *,
        session_id: str | None = None,
        create: dict[str, Any] | None = None,
        transport: Transport | None = None,
        options: SessionOptions | None = None,
        close_on_exit: bool = True,
    ) -> None:
        if (session_id is None) == (create is None):
            raise ValueError("give exactly one of session_id (attach) or create (connect)")
        self._client = client
        self._create = create
        self._session_id = session_id
        self._transport = transport
        self._options = options or SessionOptions()
        self._close_on_exit = close_on_exit
        self._info: SessionInfo | None = None
        self._conn: ProtocolConnection | None = None
        self._fanout = EventFanout(maxlen=self._options.event_buffer)
        self._turns = TurnTracker(on_resolved=self._turn_resolved)
        self._acks: dict[str, _PendingAck] = {}
        self._stats = SessionStats()
        self._avatar_uid: str | None = None
        self._avatar_joined = anyio.Event()
        self._speaking = False
        self._writer_wakeup = anyio.Event()
        self._timer_wakeup = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._writer_scope: anyio.CancelScope | None = None
        self._joined = False
        self._closed_reason: str | None = None
        self._closed = anyio.Event()
        self._close_started = False
        self._close_error: StreamClientError | None = None
        self._expires_at: float | None = None
        self._expiring_announced = False
        self._backoff = self._options.rate_limit_backoff

    # ------------------------------------------------------------------------------------------ properties

    @property
    def session_id(self) -> str | None:
        """The AKOOL session id (``None`` until created)."""
        return self._session_id

    @property
    def info(self) -> SessionInfo | None:
        """The session as the API returned it (credentials included, their tokens kept secret)."""
        return self._info

    @property
    def avatar_uid(self) -> str | None:
        """The avatar's uid in the channel, once it joined."""
        return self._avatar_uid

    @property
    def speaking(self) -> bool:
        """Whether the avatar is speaking (between ``audio_start`` and ``audio_end``)."""
        return self._speaking

    @property
    def closed(self) -> bool:
        """Whether the session has ended."""
        return self._closed_reason is not None

    @property
    def close_reason(self) -> str | None:
        """Why the session ended, once it has."""
        return self._closed_reason

    @property
    def stats(self) -> SessionStats:
        """Counters and latency figures."""
        return self._stats

    @property
    def transport(self) -> Transport | None:
        """The transport in use (after ``__aenter__``)."""
        return self._transport

    def __repr__(self) -> str:
        state = f"closed ({self._closed_reason})" if self._closed_reason else ("open" if self._joined else "new")
        return f"<AvatarSession {self._session_id or '-'} {state}>"

    # ------------------------------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> AvatarSession:
        try:
            await self._start()
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self._shutdown("error", cause=exc)
            await self._exit_task_group()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            reason = "closed"
        elif isinstance(exc, anyio.get_cancelled_exc_class()):
            reason = "cancelled"
        else:
            reason = "error"
        with anyio.CancelScope(shield=True):
            await self._shutdown(reason, cause=exc)
        # Outside the shield: a task group must be exited from the cancel scope it was entered in.
        await self._exit_task_group()

    async def aclose(self) -> None:
        """Close the session now (interrupt if speaking, leave, close through the API). Idempotent.

        Can be called from any task; the ``async with`` block still ends normally afterwards.
        """
        if not self._joined:
            return
        await self._close_from_inside("closed")
        with anyio.move_on_after(self._options.close_timeout):
            await self._closed.wait()

    async def _start(self) -> None:
        options = self._options
        if self._create is not None:
            # Shielded: once the request may have reached the server we must learn the session id, or a
            # cancellation here would leak a billed session. The API client's own timeout bounds this wait.
            with anyio.CancelScope(shield=True):
                info = await self._client.sessions.create(**self._create)
            self._info = info
            self._session_id = info.id
            duration = self._create.get("duration")
            if duration:
                self._expires_at = anyio.current_time() + float(duration)
            logger.info("session %s created", self._session_id)
        else:
            assert self._session_id is not None
            info = self._info = await self._client.sessions.get(self._session_id)
        if self._transport is None:
            self._transport = transport_for(info)
        transport = self._transport
        max_frame = transport.limits.max_message_bytes
        if options.max_frame_bytes is not None:
            max_frame = min(max_frame, options.max_frame_bytes)
        self._conn = ProtocolConnection(
            Role.CLIENT,
            max_frame_bytes=max_frame,
            pacing=PacingLimits(
                bytes_per_second=transport.limits.bytes_per_second,
                messages_per_second=transport.limits.messages_per_second,
            ),
            message_timeout=options.message_timeout,
        )
        await transport.join(join_params_for(info), timeout=options.join_timeout)
        self._joined = True
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._guard, self._reader, name="streamclient-reader")
        self._task_group.start_soon(self._guard, self._writer, name="streamclient-writer")
        self._task_group.start_soon(self._guard, self._timer, name="streamclient-timer")
        if options.wait_for_avatar:
            with anyio.move_on_after(options.avatar_join_timeout):
                await self._wait_avatar_or_close()
            if self._closed_reason is not None:
                raise SessionClosedError(
                    f"session closed while waiting for the avatar ({self._closed_reason})", reason=self._closed_reason
                )
            if self._avatar_uid is None:
                raise AvatarJoinTimeoutError(
                    f"the avatar did not join session {self._session_id} within {options.avatar_join_timeout:g} s"
                )

    async def _wait_avatar_or_close(self) -> None:
        async with anyio.create_task_group() as tg:

            async def on_close() -> None:
                await self._closed.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(on_close)
            await self._avatar_joined.wait()
            tg.cancel_scope.cancel()

    async def _shutdown(self, reason: str, *, cause: BaseException | None) -> None:
        """Stop everything, in order, within ``close_timeout``. Idempotent; the first reason wins."""
        if self._close_started:
            with anyio.move_on_after(self._options.close_timeout):
                await self._closed.wait()
            return
        self._close_started = True
        if cause is not None and not isinstance(cause, anyio.get_cancelled_exc_class()):
            logger.debug("session %s closing after %s", self._session_id, type(cause).__name__)
        deadline = anyio.current_time() + self._options.close_timeout
        if self._writer_scope is not None:
            self._writer_scope.cancel()
        transport = self._transport
        if transport is not None and self._joined:
            if self._speaking and self._conn is not None and reason != "disconnected":
                await self._send_interrupt_now(transport, deadline)
            with anyio.move_on_after(max(0.1, deadline - anyio.current_time())):
                try:
                    await transport.leave(timeout=max(0.1, min(5.0, deadline - anyio.current_time())))
                except TransportError as exc:
                    logger.warning("leaving the channel failed: %s", exc)
        await self._close_api_session(deadline)
        self._finish(reason)

    async def _send_interrupt_now(self, transport: Transport, deadline: float) -> None:
        assert self._conn is not None
        self._conn.send_interrupt()
        with anyio.move_on_after(max(0.1, min(1.0, deadline - anyio.current_time()))):
            try:
                for datagram in self._conn.data_to_send(anyio.current_time()):
                    await transport.send(datagram, timeout=1.0)
            except TransportError as exc:
                logger.debug("final interrupt not sent: %s", exc)

    async def _close_api_session(self, deadline: float) -> None:
        if self._session_id is None or not self._close_on_exit:
            return
        with anyio.move_on_after(max(0.5, deadline - anyio.current_time())) as scope:
            try:
                await self._client.sessions.close(self._session_id)
                logger.info("session %s closed", self._session_id)
            except StreamClientError as exc:
                self._close_error = exc
                logger.warning("closing session %s through the API failed: %s", self._session_id, exc)
        if scope.cancelled_caught:
            logger.warning("closing session %s through the API timed out", self._session_id)

    def _finish(self, reason: str) -> None:
        if self._closed_reason is None:
            self._closed_reason = reason
        error = SessionClosedError(
            f"session {self._session_id} is closed ({self._closed_reason})", reason=self._closed_reason
        )
        self._turns.fail_all(error)
        for pending in self._acks.values():
            pending.done.set()
        self._fanout.publish(SessionClosed(self._closed_reason))
        self._fanout.close()
        self._closed.set()
        self._writer_wakeup.set()
        self._timer_wakeup.set()

    async def _exit_task_group(self) -> None:
        task_group, self._task_group = self._task_group, None
        if task_group is not None:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)

    async def _close_from_inside(self, reason: str) -> None:
        """A background task saw the end (expiry, lost connection): close now, without waiting for ``__aexit__``."""
        if self._close_started:
            return
        self._close_started = True
        deadline = anyio.current_time() + self._options.close_timeout
        with anyio.CancelScope(shield=True):
            if self._writer_scope is not None:
                self._writer_scope.cancel()
            transport = self._transport
            if transport is not None:
                if reason == "expired" and self._speaking:
                    await self._send_interrupt_now(transport, deadline)
                try:
                    await transport.leave(timeout=max(0.1, min(5.0, deadline - anyio.current_time())))
                except TransportError as exc:
                    logger.warning("leaving the channel failed: %s", exc)
            await self._close_api_session(deadline)
            self._finish(reason)

    async def _guard(self, task: Callable[[], Any]) -> None:
        """Run a background task; any failure closes the session instead of crashing the task group."""
        try:
            await task()
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            logger.error(
                "session %s: %s failed: %s",
                self._session_id,
                getattr(task, "__name__", task),
                exc,
                exc_info=not isinstance(exc, StreamClientError),
            )
            reason = "disconnected" if isinstance(exc, TransportError) else "error"
            await self._close_from_inside(reason)

    # ------------------------------------------------------------------------------------------ public API

    def events(self) -> EventSubscription:
        """Events from now on, as an async iterator that ends when the session closes.

        Each call gets its own buffer of ``SessionOptions.event_buffer`` events; when a consumer falls that far
        behind, its oldest events are discarded and it receives :class:`EventsDropped` with the count. The session
        itself never waits for a consumer.
        """
        return self._fanout.subscribe()

    def on(self, callback: Callable[[SessionEvent], object], kind: type[SessionEvent] | None = None) -> None:
        """Call ``callback(event)`` for each event (of ``kind`` only, if given), on the event loop.

        The callback must be a plain function that returns quickly; exceptions are logged. Coroutine functions are
        rejected: use :meth:`events` to consume events asynchronously.

        Raises:
            TypeError: ``callback`` is a coroutine function.
        """
        import inspect

        if inspect.iscoroutinefunction(callback):
            raise TypeError("callbacks must be plain functions; iterate session.events() for async handling")
        self._fanout.add_callback(callback, kind)

    def say(self, text: str, *, timeout: float | None = None) -> Turn:
        """Send ``text`` to the avatar (chunked and paced) and return the turn at once.

        Concurrent calls are sent in call order, never interleaved. ``await`` the returned turn for the
        :class:`TurnResult`: in retelling mode (1) the text the avatar spoke back, in dialogue mode (2) its answer.

        Args:
            text: the text; any Unicode, any length.
            timeout: how long ``await turn`` waits for the reply (default ``SessionOptions.reply_timeout``).

        Raises:
            SessionClosedError: the session is closed.
            LocalProtocolError: ``text`` is empty or cannot be encoded (lone surrogates).
        """
        conn = self._require_open()
        mid = conn.send_chat(text)
        turn = Turn(
            message_id=mid,
            text=text,
            queued=anyio.current_time(),
            default_timeout=self._options.reply_timeout if timeout is None else timeout,
        )
        self._turns.add(turn)
        self._writer_wakeup.set()
        return turn

    async def ask(self, text: str, *, timeout: float | None = None) -> TurnResult:
        """Send ``text`` and wait for the avatar's answer (dialogue mode); see :meth:`say`.

        Raises:
            ReplyTimeoutError: no complete answer within ``timeout``.
            SessionClosedError: the session closed first.
            LocalProtocolError: ``text`` is empty or cannot be encoded.
        """
        return await self.say(text, timeout=timeout).wait()

    async def interrupt(self, *, drop_queued: bool = False, timeout: float | None = None) -> CommandAcked:
        """Stop the avatar now.

        The interrupt goes out ahead of every queued chat frame, and the unsent frames of the message being
        transmitted are dropped, so the avatar never receives the rest of an interrupted message. Every turn that
        was speaking or waiting for its reply resolves with ``interrupted=True`` once the ack arrives. Turns still
        queued whole are sent afterwards, unless ``drop_queued`` (barge-in: drop everything not yet said).

        Raises:
            CommandTimeoutError: no ack within ``timeout`` (default ``SessionOptions.command_timeout``).
            CommandError: the ack carried a failure code.
            SessionClosedError: the session is closed.
        """
        conn = self._require_open()
        mid = conn.send_interrupt()
        interrupted = conn.last_interrupted
        cut = self._turns.mark_interrupted(interrupted.mid if interrupted is not None else None, unsent=drop_queued)
        now = anyio.current_time()
        for turn in cut:
            if turn.sent_at is None:  # its text never fully went out: no reply will come
                conn.cancel_chat(turn.message_id)
                self._turns.resolve(turn, now)
        return await self._await_ack(mid, "interrupt", timeout, on_ack=cut)

    async def set_params(self, *, timeout: float | None = None, **params: Any) -> CommandAcked:
        """Change the avatar's parameters (``voice_id``, ``language``, ``mode``, ``background_url``, voice params).

        Keyword arguments are those of :func:`streamclient.codec.set_params`.

        Raises:
            InvalidArgumentError: a parameter is out of range (nothing is sent).
            CommandTimeoutError: no ack in time.
            CommandError: the avatar refused (code != 1000).
            SessionClosedError: the session is closed.
        """
        return await self._command(set_params(**params), timeout)

    async def set_action(
        self, action: str, *, expression: str | None = None, timeout: float | None = None
    ) -> CommandAcked:
        """Play a gesture and/or expression (ultra avatars).

        Raises:
            InvalidArgumentError: unknown action or expression.
            CommandTimeoutError: no ack in time.
            CommandError: the avatar refused.
            SessionClosedError: the session is closed.
        """
        return await self._command(set_action(action=action, expression=expression), timeout)

    async def wait_closed(self) -> str:
        """Wait until the session ends (expiry, disconnect or close) and return the reason."""
        await self._closed.wait()
        assert self._closed_reason is not None
        return self._closed_reason

    # ------------------------------------------------------------------------------------------ commands

    async def _command(self, frame: CommandFrame, timeout: float | None) -> CommandAcked:
        conn = self._require_open()
        mid = conn.send_command(frame)
        return await self._await_ack(mid, frame.cmd, timeout, on_ack=[])

    async def _await_ack(self, mid: str, cmd: str, timeout: float | None, *, on_ack: list[Turn]) -> CommandAcked:
        pending = _PendingAck(cmd)
        self._acks[mid] = pending
        self._stats.commands_sent += 1
        self._writer_wakeup.set()
        limit = self._options.command_timeout if timeout is None else timeout
        try:
            with anyio.move_on_after(limit):
                await pending.done.wait()
        finally:
            self._acks.pop(mid, None)
        now = anyio.current_time()
        for turn in on_ack:
            self._turns.resolve(turn, now)
        result = pending.result
        if result is None:
            if self._closed_reason is not None:
                raise SessionClosedError(f"session closed before {cmd} was acknowledged", reason=self._closed_reason)
            raise CommandTimeoutError(f"no ack for {cmd} (mid {mid}) within {limit:g} s")
        acked = CommandAcked(message_id=mid, command=result.cmd or cmd, code=result.code, message=result.msg)
        if not result.ok:
            raise CommandError(f"{cmd} failed: {result.code} {result.msg}", cmd=cmd, code=result.code, msg=result.msg)
        return acked

    def _require_open(self) -> ProtocolConnection:
        if self._closed_reason is not None or self._close_started:
            raise SessionClosedError(f"session {self._session_id} is closed", reason=self._closed_reason or "closing")
        if self._conn is None or not self._joined:
            raise SessionClosedError("session is not open: use 'async with'", reason="not_started")
        return self._conn

    # ------------------------------------------------------------------------------------------ background tasks

    async def _writer(self) -> None:
        conn, transport = self._conn, self._transport
        assert conn is not None
        assert transport is not None
        with anyio.CancelScope() as scope:
            self._writer_scope = scope
            while True:
                wakeup = self._writer_wakeup = anyio.Event()
                # One datagram at a time: an interrupt queued while a send is in progress goes out next, and the
                # unsent rest of the interrupted message can still be dropped (never a stale local batch).
                sent_all = True
                while batch := conn.data_to_send(anyio.current_time(), limit=1):
                    if not await self._send_one(conn, transport, batch[0]):
                        sent_all = False
                        break
                delay = conn.send_delay(anyio.current_time())
                if delay is None:
                    await wakeup.wait()
                elif delay > 0 or not sent_all:
                    with anyio.move_on_after(delay):
                        await wakeup.wait()

    async def _send_one(self, conn: ProtocolConnection, transport: Transport, datagram: bytes) -> bool:
        """Send one datagram; False when the rest of this batch must wait (rate limit)."""
        try:
            await transport.send(datagram, timeout=self._options.send_timeout)
        except SendRateLimitedError:
            self._stats.send_retries += 1
            conn.retry_later(datagram, now=anyio.current_time(), delay=self._backoff)
            self._backoff = min(_MAX_BACKOFF, self._backoff * 2)
            return False
        except (TransportClosedError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise TransportClosedError(f"the channel closed while sending: {exc}") from exc
        except SendError as exc:
            self._stats.send_failures += 1
            self._on_send_failed(conn, datagram, exc)
            return True
        self._backoff = self._options.rate_limit_backoff
        self._stats.frames_sent += 1
        self._stats.bytes_sent += len(datagram)
        frame = decode_frame(datagram)
        if isinstance(frame, ChatFrame):
            self._turns.frame_sent(frame.mid, final=frame.fin, now=anyio.current_time())
        return True

    def _on_send_failed(self, conn: ProtocolConnection, datagram: bytes, exc: SendError) -> None:
        frame = decode_frame(datagram)
        logger.warning("frame %s not sent: %s", frame.mid, exc)
        if isinstance(frame, ChatFrame):
            conn.cancel_chat(frame.mid)
            turn = self._turns.get(frame.mid)
            if turn is not None:
                turn.fail(exc)
        elif frame.mid is not None and frame.mid in self._acks:
            self._acks[frame.mid].done.set()

    async def _reader(self) -> None:
        transport = self._transport
        assert transport is not None
        async for event in transport.events():
            self._on_transport_event(event)
        if not self._close_started:
            await self._close_from_inside("disconnected")

    async def _timer(self) -> None:
        conn = self._conn
        assert conn is not None
        margin = self._options.expiry_margin
        while True:
            wakeup = self._timer_wakeup = anyio.Event()
            now = anyio.current_time()
            deadline = conn.next_deadline()
            if deadline is not None and deadline <= now:
                conn.expire(now)
                self._dispatch(conn.events_received(), sender_fallback=None)
                continue
            deadlines = [d for d in (deadline,) if d is not None]
            if self._expires_at is not None:
                if now >= self._expires_at:
                    await self._close_from_inside("expired")
                    return
                announce_at = self._expires_at - margin
                if not self._expiring_announced:
                    if now >= announce_at:
                        self._expiring_announced = True
                        self._fanout.publish(SessionExpiring(remaining=max(0.0, self._expires_at - now)))
                        continue
                    deadlines.append(announce_at)
                deadlines.append(self._expires_at)
            if deadlines:
                with anyio.move_on_after(max(0.0, min(deadlines) - now)):
                    await wakeup.wait()
            else:
                await wakeup.wait()

    # ------------------------------------------------------------------------------------------ event handling

    def _on_transport_event(self, event: TransportEvent) -> None:
        conn = self._conn
        assert conn is not None
        match event:
            case FrameReceived(sender=sender, data=data):
                self._stats.frames_received += 1
                self._stats.bytes_received += len(data)
                conn.receive_data(data, sender=sender, now=anyio.current_time())
                self._dispatch(conn.events_received(), sender_fallback=sender)
                self._timer_wakeup.set()
            case PeerJoined(uid=uid):
                if uid != self._transport_local_uid() and (self._avatar_uid is None or self._avatar_uid == uid):
                    self._avatar_uid = uid
                    self._fanout.publish(AvatarJoined(uid))
                    self._avatar_joined.set()
            case PeerLeft(uid=uid, reason=reason):
                if uid == self._avatar_uid:
                    self._speaking = False
                    self._fanout.publish(AvatarLeft(uid, reason))
            case ConnectionStateChanged(state=state, reason=reason):
                self._fanout.publish(ConnectionChanged(state.name, reason))
                if state is ConnectionState.FAILED and self._task_group is not None:
                    self._task_group.start_soon(self._close_from_inside, "disconnected")
            case TokenWillExpire():
                logger.warning(
                    "session %s: the channel token expires soon (AKOOL has no renewal endpoint)", self._session_id
                )
            case TokenExpired():
                logger.warning("session %s: the channel token expired", self._session_id)
            case SendFailed(code=code):
                self._stats.send_failures += 1
                logger.warning("session %s: a send failed later with code %d", self._session_id, code)
            case MessagesLost(missed=missed):
                self._stats.messages_lost += missed

    def _transport_local_uid(self) -> str | None:
        return self._transport.local_uid if self._transport is not None else None

    def _dispatch(self, events: list[CodecEvent], *, sender_fallback: str | None) -> None:
        now = anyio.current_time()
        for event in events:
            match event:
                case ChatDelta(source="user", mid=mid, text=text):
                    self._fanout.publish(UserTranscript(mid, text, final=False))
                case ChatMessage(source="user", mid=mid, text=text):
                    self._fanout.publish(UserTranscript(mid, text, final=True))
                case ChatDelta(sender=sender, source=source, mid=mid, text=text):
                    self._turns.bot_delta((sender, source, mid), text, now)
                    self._fanout.publish(BotTextDelta(mid, text))
                case ChatMessage(sender=sender, source=source, mid=mid, text=text):
                    self._turns.bot_complete((sender, source, mid), now)
                    self._fanout.publish(BotMessage(mid, text))
                case MessageExpired(sender=sender, source=source, mid=mid, received=received, partial_text=partial):
                    self._stats.messages_incomplete += 1
                    self._turns.bot_incomplete((sender, source, mid), now)
                    self._fanout.publish(MessageIncomplete(mid, source, tuple(received), partial))
                case MessageDiscarded(mid=mid, reason=reason):
                    self._stats.messages_incomplete += 1
                    self._fanout.publish(FrameDropped(f"message {mid} discarded: {reason}"))
                case CommandResult(mid=mid):
                    pending = self._acks.get(mid) if mid is not None else None
                    if pending is not None:
                        pending.result = event
                        pending.done.set()
                    self._fanout.publish(CommandAcked(mid or "", event.cmd, event.code, event.msg))
                case AvatarEvent(name="audio_start"):
                    self._speaking = True
                    self._turns.audio_start(now)
                    self._fanout.publish(SpeakingStarted())
                case AvatarEvent(name="audio_end"):
                    self._speaking = False
                    self._turns.audio_end(now)
                    self._fanout.publish(SpeakingStopped())
                case AvatarEvent(name=name):
                    logger.debug("avatar event %s ignored", name)
                case CommandReceived(cmd=cmd):
                    logger.debug("command echo %s ignored", cmd)
                case UnknownFrame():
                    self._stats.unknown_frames += 1
                case FrameRejected(error=error):
                    self._stats.frames_rejected += 1
                    self._fanout.publish(FrameDropped(error.reason))
        del sender_fallback

    def _turn_resolved(self, turn: Turn) -> None:
        self._stats.turns_completed += 1
        if turn.sent_at is not None:
            first = turn.first_chunk_at if turn.first_chunk_at is not None else turn.audio_start_at
            if first is not None:
                self._stats.reply_latencies.append(first - turn.sent_at)
                logger.debug("turn %s: first reply after %.3f s", turn.message_id, first - turn.sent_at)


def connect(
    client: AsyncAkoolClient,
    *,
    avatar_id: str,
    transport: Transport | None = None,
    options: SessionOptions | None = None,
    **create_options: Any,
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
        **create_options: any other field of ``client.sessions.create`` (``duration``, ``mode_type``, ``voice_id``,
            ``language``, ``knowledge_id``, ``background_url``, ``voice_params``, ...).

    Returns:
        The session (not yet started).
    """
    return AvatarSession(
        client, create={"avatar_id": avatar_id, **create_options}, transport=transport, options=options
    )


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
