"""AvatarSession: create a session, join its channel, talk to the avatar, and always close it.

Ownership and invariants:

* The session owns one :class:`~streamclient.codec.ProtocolConnection` (CLIENT role) and one transport. Only the
  writer task hands frames to the transport; only the reader task feeds received frames to the codec; the timer
  task expires stalled messages and the session's ``duration``. All three run in the session's task group and never
  raise: a failure closes the session and is reported as :class:`SessionClosed` and on pending waits.
* A session that this object created is closed through the API on every exit path (normal exit, exception,
  cancellation, Ctrl-C), shielded and bounded by ``SessionOptions.close_timeout``: an open session keeps billing.
  Creation is shielded too: a cancellation during the create request waits for the answer, then closes that session.
* Nothing here reads or logs a token; ``repr`` shows the session id and state only.
* With a caller-owned ``room`` (:class:`~streamclient.session.room.AgoraRoom`): the avatar's credentials come
  from it, we join as its bot uid, only its avatar uid is the avatar, and our token is renewed on expiry warnings.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from typing_extensions import Unpack

from streamclient import _inflight, telemetry
from streamclient.codec import CommandFrame, ProtocolConnection, set_action, set_params
from streamclient.errors import (
    InvalidArgumentError,
    SessionClosedError,
    StreamClientError,
)
from streamclient.session._closing import (
    close_api_session,
    create_session,
    failure_reason,
    leave_channel,
    renew_token,
    send_interrupt_now,
)
from streamclient.session._commands import await_ack, send_interrupt
from streamclient.session._fanout import EventFanout, EventSubscription
from streamclient.session._inbound import Inbound
from streamclient.session._options import CommandParams, SessionOptions, check_keywords, keywords_checked
from streamclient.session._outbound import Outbound
from streamclient.session._receiving import Receiver
from streamclient.session._sentences import SentenceSegmenter
from streamclient.session._speech import SpeechLine, StreamTurn
from streamclient.session._timer import SessionTimer
from streamclient.session._transport_factory import (
    check_transport_loads,
    connection_for,
    expected_avatar_uid,
    join_params_for,
    transport_for,
)
from streamclient.session._waits import wait_for_avatar
from streamclient.session.events import CommandAcked, SessionClosed, SessionEvent
from streamclient.session.room import AgoraRoom
from streamclient.session.stats import SessionStats
from streamclient.session.turns import Turn, TurnResult
from streamclient.transport.base import PushTransport, Transport

if TYPE_CHECKING:
    from streamclient.api import AsyncAkoolClient
    from streamclient.api.models import Session as SessionInfo

__all__ = ("AvatarSession",)

logger = logging.getLogger(__name__)


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
        room: AgoraRoom | None = None,
    ) -> None:
        if (session_id is None) == (create is None):
            raise InvalidArgumentError("give exactly one of session_id (attach) or create (connect)")
        if room is not None and not isinstance(room, AgoraRoom):
            raise InvalidArgumentError(f"room must be an AgoraRoom, not {type(room).__name__}")
        if room is not None and create is not None and create.get("credentials") is not None:
            raise InvalidArgumentError("give room= or credentials=, not both (the room makes the credentials)")
        self._room = room
        self._renewing = False
        #: How many times our channel token was renewed.
        self.token_renewals = 0
        self._client = client
        self._create = create
        self._session_id = session_id
        self._transport = transport
        self._options = options or SessionOptions()
        self._close_on_exit = close_on_exit
        self._info: SessionInfo | None = None
        self._conn: ProtocolConnection | None = None
        self._fanout = EventFanout(maxlen=self._options.event_buffer)
        self._stats = SessionStats()
        self._inbound: Inbound | None = None
        self._outbound: Outbound | None = None
        self._speech: SpeechLine | None = None
        self._timer: SessionTimer | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._joined = False
        self._closed_reason: str | None = None
        self._closed = anyio.Event()
        self._close_started = False
        self._close_error: StreamClientError | None = None
        self._expires_at: float | None = None
        self._telemetry = telemetry.session_telemetry(self)  # telemetry: spans and metrics (a no-op without OTel)

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
        return self._inbound.avatar_uid if self._inbound is not None else None

    @property
    def room(self) -> AgoraRoom | None:
        """The caller-owned room this session lives in, if any (mint viewer tokens with it)."""
        return self._room

    @property
    def speaking(self) -> bool:
        """Whether the avatar is speaking (between ``audio_start`` and ``audio_end``)."""
        return self._inbound is not None and self._inbound.speaking

    @property
    def closed(self) -> bool:
        """Whether the session has ended."""
        return self._closed_reason is not None

    @property
    def close_reason(self) -> str | None:
        """Why the session ended, once it has."""
        return self._closed_reason

    @property
    def close_error(self) -> StreamClientError | None:
        """Why closing the session through the API failed, if it did.

        The session may then still be billing until its ``duration`` runs out: retry with
        ``client.sessions.close(session.session_id)``.
        """
        return self._close_error

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
            self._telemetry.error(exc)  # telemetry
            await self._close(_failure_close_reason(exc))
            await self._exit_task_group()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._telemetry.error(exc)  # telemetry
        await self._close("closed" if exc is None else _failure_close_reason(exc))
        # Outside the shield: a task group must be exited from the cancel scope it was entered in.
        await self._exit_task_group()

    async def aclose(self) -> None:
        """Close now (interrupt if speaking, leave, close through the API); idempotent, callable from any task."""
        if self._joined:
            await self._close("closed")

    async def _start(self) -> None:
        options = self._options
        self._telemetry.start()  # telemetry: the session's span
        room_url = self._room.room_url if self._room is not None else None
        if self._create is not None:
            base_url = getattr(self._client, "base_url", None)
            if self._transport is None and isinstance(base_url, str):  # before anything billed: the transport loads
                await check_transport_loads(base_url, room_url=room_url)
            requested_at = anyio.current_time()  # the service's clock starts after this: it expires no earlier
            with self._telemetry.span("create"):  # telemetry
                info = self._info = await create_session(self._client, self._create, self._room)
            self._session_id = info.id
            if duration := self._create.get("duration"):
                self._expires_at = requested_at + float(duration)
            logger.info("session %s created", self._session_id)
        else:
            assert self._session_id is not None
            info = self._info = await self._client.sessions.get(self._session_id)
        transport = self._transport = self._transport or transport_for(info, room_url=room_url)
        self._conn = connection_for(transport, options)
        self._inbound = Inbound(
            conn=self._conn,
            fanout=self._fanout,
            stats=self._stats,
            local_uid=lambda: transport.local_uid,
            on_connection_failed=self._on_connection_failed,
            label=info.id,
            avatar_uid=str(self._room.avatar_uid) if self._room is not None else expected_avatar_uid(info),
            on_token_will_expire=self._on_token_will_expire if self._room is not None else None,
            reply_grace=options.reply_grace,
        )
        if self._create is not None and self._create.get("mode_type") == 1:
            self._inbound.turns.answers_user_speech = False  # retelling: the avatar does not answer the user's voice
        params = self._room.join_params() if self._room is not None else join_params_for(info)
        with self._telemetry.span("join"):  # telemetry
            await transport.join(params, timeout=options.join_timeout)
        self._joined = True
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._outbound = Outbound(
            conn=self._conn,
            transport=transport,
            inbound=self._inbound,
            stats=self._stats,
            send_timeout=options.send_timeout,
            rate_limit_backoff=options.rate_limit_backoff,
            on_failure=lambda exc: self._failed_in_background("the writer", exc),
        )
        self._speech = SpeechLine(
            conn=self._conn, turns=self._inbound.turns, wake_writer=self._wake_writer, start_task=self._start_task
        )
        self._timer = SessionTimer(
            self._inbound,
            self._fanout,
            expires_at=lambda: self._expires_at,
            margin=options.expiry_margin,
            close=self._close,
        )
        self._task_group.start_soon(self._guard, self._timer.run, name="streamclient-timer")
        receiver = Receiver(
            transport,
            self._inbound,
            self._timer,
            label=self._session_id,
            closing=lambda: self._close_started,
            close=self._close,
            close_soon=self._close_soon,
            failed=self._failed_in_background,
        )
        if isinstance(transport, PushTransport):  # no reader task waiting between frames (see PushTransport)
            transport.push_events(receiver.pushed, receiver.ended)
        else:
            self._task_group.start_soon(self._guard, receiver.read, name="streamclient-reader")
        if options.wait_for_avatar:
            await wait_for_avatar(
                self._inbound, self._closed, lambda: self._closed_reason, options.avatar_join_timeout, self._session_id
            )

    async def _close(self, reason: str) -> None:
        """Close, in order, within ``close_timeout`` and shielded from cancellation; idempotent (first reason wins).

        Stop the writer; interrupt the avatar if it is speaking (unless the channel is gone); leave the channel
        (also after a failed join); close the session through the API; fail what still waits; end the events.
        A caller that comes second waits for the first to finish.
        """
        if reason == "disconnected" and self._expires_at is not None and anyio.current_time() >= self._expires_at:
            reason = "expired"  # the service ended the channel because the duration ran out: a normal end
        with anyio.CancelScope(shield=True):
            if self._close_started:
                with anyio.move_on_after(self._options.close_timeout):
                    await self._closed.wait()
                return
            self._close_started = True
            deadline = anyio.current_time() + self._options.close_timeout
            label = f"session {self._session_id or '(not created)'} to close"
            with _inflight.waiting_for(label, self._options.close_timeout) as waiting:  # for a 2nd Ctrl-C
                if self._outbound is not None:
                    self._outbound.stop()
                transport = self._transport
                if transport is not None:
                    if self._joined and self.speaking and reason != "disconnected":
                        waiting.what = f"{label}: interrupting the avatar"
                        assert self._conn is not None
                        await send_interrupt_now(self._conn, transport, deadline)
                    waiting.what = f"{label}: leaving the channel"
                    await leave_channel(transport, deadline)
                if self._session_id is not None and self._close_on_exit:
                    self._close_error = await close_api_session(self._client, self._session_id, deadline)
                if self._outbound is not None:  # a send it was in (shielded) ended with the channel at the latest
                    with anyio.move_on_after(max(0.1, deadline - anyio.current_time())):
                        await self._outbound.stopped()
            self._finish(reason)

    def _finish(self, reason: str) -> None:
        if self._closed_reason is None:
            self._closed_reason = reason
        error = SessionClosedError(
            f"session {self._session_id} is closed ({self._closed_reason})", reason=self._closed_reason
        )
        if self._speech is not None:
            self._speech.fail_all(error)
        if self._inbound is not None:
            self._inbound.turns.fail_all(error)
            for pending in self._inbound.acks.values():
                pending.done.set()
        self._fanout.publish(SessionClosed(self._closed_reason))
        self._fanout.close()
        self._closed.set()
        self._wake_writer()
        if self._timer is not None:
            self._timer.stop()

    async def _exit_task_group(self) -> None:
        task_group, self._task_group = self._task_group, None
        if task_group is not None:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)

    def _wake_writer(self) -> None:
        if self._outbound is not None:
            self._outbound.wake()

    def _start_task(self, task: Callable[[], Any]) -> None:
        if self._task_group is not None:
            self._task_group.start_soon(task)

    def _on_token_will_expire(self) -> bool:
        """Start renewing our channel token (once at a time); True when a renewal is under way."""
        if self._task_group is None or self._close_started or self._room is None or self._transport is None:
            return False
        if not self._renewing:
            self._renewing = True
            self._task_group.start_soon(self._renew_token, name="streamclient-renew-token")
        return True

    async def _renew_token(self) -> None:
        assert self._room is not None
        assert self._transport is not None
        try:
            if await renew_token(self._room, self._transport, self._options.send_timeout, label=self._session_id):
                self.token_renewals += 1
        finally:
            self._renewing = False

    def _on_connection_failed(self) -> None:
        self._close_soon("disconnected")

    async def _guard(self, task: Callable[[], Any]) -> None:
        """Run a background task; any failure closes the session instead of crashing the task group."""
        try:
            await task()
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            reason = self._background_failed(getattr(task, "__name__", str(task)), exc)
            if reason is not None:
                await self._close(reason)

    def _failed_in_background(self, name: str, exc: BaseException) -> None:
        """:meth:`_guard` for work outside a task of ours (a loop callback, the writer): log, then close soon."""
        reason = self._background_failed(name, exc)
        if reason is not None:
            self._close_soon(reason)

    def _background_failed(self, name: str, exc: BaseException) -> str | None:
        return failure_reason(name, exc, label=self._session_id, closing=self._close_started)

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
        speech = self._require_speech()
        turn = Turn(
            message_id=speech.next_mid(),
            text=text,
            queued=anyio.current_time(),
            default_timeout=self._options.reply_timeout if timeout is None else timeout,
        )
        speech.say(turn)
        return self._telemetry.turn(turn)  # telemetry

    def say_stream(
        self,
        chunks: AsyncIterable[str],
        *,
        timeout: float | None = None,
        max_chars: int = 200,
        max_wait: float = 1.0,
    ) -> StreamTurn:
        """Speak a streamed answer (an LLM's text deltas) as it arrives, and return its one turn at once.

        The deltas are cut into sentences (and long clauses, see ``streamclient.session.SentenceSegmenter``); each
        piece is sent the moment it is complete, as its own chat message, in order. Other ``say``/``say_stream``
        calls made meanwhile go out after the last piece, never between pieces. :meth:`interrupt` stops consuming
        ``chunks`` at once (the async generator is closed) and drops the pieces not sent yet. ``await`` the turn
        for one :class:`TurnResult`: ``text`` is everything consumed, ``reply`` everything the avatar spoke back.
        If ``chunks`` raises, the turn raises that error (the pieces already sent are still spoken).

        Args:
            chunks: an async iterable of ``str`` deltas (an async generator, an LLM client's text stream).
            timeout: the longest wait for the next delta and for each piece's reply (default
                ``SessionOptions.reply_timeout``); exceeded, the turn raises :class:`ReplyTimeoutError`.
            max_chars: the longest piece, in characters.
            max_wait: seconds a piece may wait for its end before it is cut anyway (a run-on or stalled answer).

        Raises:
            SessionClosedError: the session is closed.
            InvalidArgumentError: ``chunks`` is not an async iterable, or a bound is not positive.
        """
        speech = self._require_speech()
        segmenter = SentenceSegmenter(max_chars=max_chars, max_wait=max_wait)
        limit = self._options.reply_timeout if timeout is None else timeout
        return self._telemetry.turn(speech.stream(chunks, segmenter=segmenter, timeout=limit))  # telemetry

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
        transmitted are dropped, so the avatar never receives the rest of an interrupted message. The turn in
        progress is cut whatever its stage: its frames still queued (it resolves with ``interrupted=True`` at once),
        its last frame inside the transport call (likewise), waiting for its reply or speaking (it resolves with
        ``interrupted=True`` when the ack arrives). When no turn has started, the oldest queued one is the turn in
        progress. Other turns still queued whole are sent afterwards, unless ``drop_queued`` (barge-in: drop
        everything not yet said). A reply that starts before the ack answers a cut message and belongs to no turn. A
        streamed answer (:meth:`say_stream`) being consumed always stops: its iterator is closed and its unsent pieces
        dropped.

        Raises:
            CommandTimeoutError: no ack within ``timeout`` (default ``SessionOptions.command_timeout``).
            CommandError: the ack carried a failure code.
            SessionClosedError: the session is closed.
        """
        conn, inbound = self._require_open()
        mid, cut = send_interrupt(conn, inbound.turns, self._require_speech(), drop_queued=drop_queued)
        try:
            return await self._await_ack(mid, "interrupt", timeout, on_ack=cut)
        finally:
            inbound.turns.interrupt_done()

    async def set_params(self, *, timeout: float | None = None, **params: Unpack[CommandParams]) -> CommandAcked:
        """Change the avatar's parameters (``voice_id``, ``language``, ``mode``, ``background_url``, voice params).

        Keyword arguments: :class:`~streamclient.session.CommandParams` (those of
        :func:`streamclient.codec.set_params`).

        Raises:
            InvalidArgumentError: an unknown parameter, or one out of range (nothing is sent).
            CommandTimeoutError: no ack in time.
            CommandError: the avatar refused (code != 1000).
            SessionClosedError: the session is closed.
        """
        check_keywords("set_params", params, CommandParams)
        acked = await self._command(set_params(**params), timeout)
        if params.get("mode") in (1, 2) and self._inbound is not None:
            self._inbound.turns.answers_user_speech = params.get("mode") == 2
        return acked

    @keywords_checked
    async def set_action(
        self, action: str | None = None, *, expression: str | None = None, timeout: float | None = None
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
        conn, _ = self._require_open()
        mid = conn.send_command(frame)
        return await self._await_ack(mid, frame.cmd, timeout, on_ack=[])

    @telemetry.traced_command  # telemetry: a span per command and its ack
    async def _await_ack(self, mid: str, cmd: str, timeout: float | None, *, on_ack: list[Turn]) -> CommandAcked:
        _, inbound = self._require_open()
        return await await_ack(
            inbound,
            self._stats,
            mid=mid,
            cmd=cmd,
            limit=self._options.command_timeout if timeout is None else timeout,
            on_ack=on_ack,
            wake_writer=self._wake_writer,
            closed_reason=lambda: self._closed_reason,
        )

    def _require_speech(self) -> SpeechLine:
        self._require_open()
        assert self._speech is not None
        return self._speech

    def _require_open(self) -> tuple[ProtocolConnection, Inbound]:
        if self._closed_reason is not None or self._close_started:
            raise SessionClosedError(f"session {self._session_id} is closed", reason=self._closed_reason or "closing")
        if self._conn is None or self._inbound is None or not self._joined:
            raise SessionClosedError("session is not open: use 'async with'", reason="not_started")
        return self._conn, self._inbound

    # ------------------------------------------------------------------------------------------ background tasks

    def _close_soon(self, reason: str) -> None:
        if self._task_group is not None and not self._close_started:
            self._task_group.start_soon(self._close, reason)


def _failure_close_reason(exc: BaseException) -> str:
    return "cancelled" if isinstance(exc, anyio.get_cancelled_exc_class()) else "error"
