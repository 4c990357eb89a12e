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
* With a caller-owned ``room`` (:class:`~streamclient.session.room.AgoraRoom`), the create carries the avatar's
  bring-your-own credentials, we join as the room's bot uid, the avatar is the room's avatar uid (nobody else is
  taken for it), and our token is renewed on ``TokenWillExpire`` with a fresh one (``renew_token``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from typing_extensions import Unpack

from streamclient import _inflight, telemetry
from streamclient.codec import (
    CommandFrame,
    PacingLimits,
    ProtocolConnection,
    Role,
    set_action,
    set_params,
    tiled_frame_bytes,
)
from streamclient.errors import (
    AvatarJoinTimeoutError,
    CommandError,
    CommandTimeoutError,
    InvalidArgumentError,
    SessionClosedError,
    StreamClientError,
    TransportError,
)
from streamclient.session._fanout import EventFanout, EventSubscription
from streamclient.session._inbound import Inbound, PendingAck
from streamclient.session._options import CommandParams, CreateOptions, SessionOptions, check_keywords, keywords_checked
from streamclient.session._outbound import Outbound
from streamclient.session._sentences import SentenceSegmenter
from streamclient.session._speech import SpeechLine, StreamTurn
from streamclient.session._transport_factory import expected_avatar_uid, join_params_for, transport_for
from streamclient.session._waits import first_of
from streamclient.session.events import (
    CommandAcked,
    SessionClosed,
    SessionEvent,
    SessionExpiring,
)
from streamclient.session.room import AgoraRoom
from streamclient.session.stats import SessionStats
from streamclient.session.turns import Turn, TurnResult
from streamclient.transport.base import PushTransport, Transport, TransportEvent

if TYPE_CHECKING:
    from streamclient.api import AsyncAkoolClient
    from streamclient.api.models import Session as SessionInfo

__all__ = ("AvatarSession", "attach", "connect")

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
        self._timer_wakeup = anyio.Event()
        self._timer_until = math.inf  # when the timer task wakes up by itself
        self._task_group: anyio.abc.TaskGroup | None = None
        self._joined = False
        self._closed_reason: str | None = None
        self._closed = anyio.Event()
        self._close_started = False
        self._close_error: StreamClientError | None = None
        self._expires_at: float | None = None
        self._expiring_announced = False
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
            await self._close("cancelled" if isinstance(exc, anyio.get_cancelled_exc_class()) else "error")
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
        self._telemetry.error(exc)  # telemetry
        await self._close(reason)
        # Outside the shield: a task group must be exited from the cancel scope it was entered in.
        await self._exit_task_group()

    async def aclose(self) -> None:
        """Close the session now (interrupt if speaking, leave, close through the API). Idempotent.

        Can be called from any task; the ``async with`` block still ends normally afterwards.
        """
        if self._joined:
            await self._close("closed")

    async def _start(self) -> None:
        options = self._options
        self._telemetry.start()  # telemetry: the session's span
        if self._create is not None:
            # Shielded: once the request may have reached the server we must learn the session id, or a
            # cancellation here would leak a billed session. The API client's own timeout bounds this wait.
            create = self._create
            if self._room is not None:
                create = {**create, "credentials": self._room.avatar_credentials(create.get("duration"))}
            with anyio.CancelScope(shield=True), self._telemetry.span("create"):  # telemetry
                info = await self._client.sessions.create(**create)
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
            self._transport = transport_for(info, room_url=self._room.room_url if self._room is not None else None)
        transport = self._transport
        pacing = PacingLimits(
            bytes_per_second=transport.limits.bytes_per_second,
            messages_per_second=transport.limits.messages_per_second,
        )
        max_frame = transport.limits.max_message_bytes
        if options.max_frame_bytes is not None:
            max_frame = min(max_frame, options.max_frame_bytes)
        else:  # whole frames fill every paced window: 6 x 986 B at 6000 B/s instead of 5 x 1024 B (14% idle)
            max_frame = tiled_frame_bytes(pacing, max_frame)
        self._conn = ProtocolConnection(
            Role.CLIENT, max_frame_bytes=max_frame, pacing=pacing, message_timeout=options.message_timeout
        )
        self._inbound = Inbound(
            conn=self._conn,
            fanout=self._fanout,
            stats=self._stats,
            local_uid=lambda: transport.local_uid,
            on_connection_failed=self._on_connection_failed,
            label=info.id,
            avatar_uid=str(self._room.avatar_uid) if self._room is not None else expected_avatar_uid(info),
            on_token_will_expire=self._on_token_will_expire if self._room is not None else None,
        )
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
            on_failure=self._writer_failed,
        )
        self._speech = SpeechLine(
            conn=self._conn, turns=self._inbound.turns, wake_writer=self._wake_writer, start_task=self._start_task
        )
        self._task_group.start_soon(self._guard, self._timer, name="streamclient-timer")
        if isinstance(transport, PushTransport):  # no reader task waiting between frames (see PushTransport)
            transport.push_events(self._on_transport_event, self._on_transport_end)
        else:
            self._task_group.start_soon(self._guard, self._reader, name="streamclient-reader")
        if options.wait_for_avatar:
            with anyio.move_on_after(options.avatar_join_timeout):
                await first_of(self._inbound.avatar_joined, self._closed)
            if self._closed_reason is not None:
                raise SessionClosedError(
                    f"session closed while waiting for the avatar ({self._closed_reason})", reason=self._closed_reason
                )
            if self.avatar_uid is None:
                raise AvatarJoinTimeoutError(
                    f"the avatar did not join session {self._session_id} within {options.avatar_join_timeout:g} s"
                )

    async def _close(self, reason: str) -> None:
        """Close, in order, within ``close_timeout`` and shielded from cancellation; idempotent (first reason wins).

        Stop the writer; interrupt the avatar if it is speaking (unless the channel is gone); leave the channel
        (also after a failed join); close the session through the API; fail what still waits; end the events.
        A caller that comes second waits for the first to finish.
        """
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
                        await self._send_interrupt_now(transport, deadline)
                    waiting.what = f"{label}: leaving the channel"
                    with anyio.move_on_after(max(0.1, deadline - anyio.current_time())):
                        try:
                            await transport.leave(timeout=max(0.1, min(5.0, deadline - anyio.current_time())))
                        except TransportError as exc:
                            logger.warning("leaving the channel failed: %s", exc)
                await self._close_api_session(deadline)
                if self._outbound is not None:  # a send it was in (shielded) ended with the channel at the latest
                    with anyio.move_on_after(max(0.1, deadline - anyio.current_time())):
                        await self._outbound.stopped()
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
        self._timer_wakeup.set()

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
        if self._task_group is None or self._close_started or self._room is None:
            return False
        if not self._renewing:
            self._renewing = True
            self._task_group.start_soon(self._renew_token, name="streamclient-renew-token")
        return True

    async def _renew_token(self) -> None:
        """Mint a fresh token for our uid and hand it to the transport.

        A failure is logged: the channel then drops us when the old token lapses, and the session closes as
        disconnected.
        """
        room, transport = self._room, self._transport
        assert room is not None
        assert transport is not None
        try:
            await transport.renew_token(room.mint_token(room.bot_uid), timeout=self._options.send_timeout)
            self.token_renewals += 1
            logger.info("session %s: channel token renewed", self._session_id)
        except StreamClientError as exc:
            logger.error("session %s: renewing the channel token failed: %s", self._session_id, exc)
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

    def _writer_failed(self, exc: BaseException) -> None:
        self._failed_in_background("the writer", exc)

    def _failed_in_background(self, name: str, exc: BaseException) -> None:
        """:meth:`_guard` for work outside a task of ours (a loop callback, the writer): log, then close soon."""
        reason = self._background_failed(name, exc)
        if reason is not None:
            self._close_soon(reason)

    def _background_failed(self, name: str, exc: BaseException) -> str | None:
        """Log a background failure; the reason to close with, or ``None`` when it was our own close cutting it."""
        if self._close_started and isinstance(exc, TransportError):
            # We are leaving the channel: a send cut by our own close is not a failure.
            logger.debug("session %s: %s ended by the close: %s", self._session_id, name, exc)
            return None
        logger.error(
            "session %s: %s failed: %s",
            self._session_id,
            name,
            exc,
            exc_info=not isinstance(exc, StreamClientError),
        )
        return "disconnected" if isinstance(exc, TransportError) else "error"

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
        return self._telemetry.turn(  # telemetry
            speech.stream(
                chunks, segmenter=segmenter, timeout=self._options.reply_timeout if timeout is None else timeout
            )
        )

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
        mid = conn.send_interrupt()
        interrupted = conn.last_interrupted
        cut = inbound.turns.mark_interrupted(interrupted.mid if interrupted is not None else None, unsent=drop_queued)
        cut += [t for t in self._require_speech().interrupt(drop_queued=drop_queued) if t not in cut]
        now = anyio.current_time()
        for turn in cut:
            if turn.sent_at is None:  # not (fully) confirmed sent: its rest is dropped, no reply of its own will come
                conn.cancel_chat(turn.message_id)
                inbound.turns.resolve(turn, now)
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
        return await self._command(set_params(**params), timeout)

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
        pending = PendingAck(cmd)
        inbound.acks[mid] = pending
        self._stats.commands_sent += 1
        self._wake_writer()
        limit = self._options.command_timeout if timeout is None else timeout
        try:
            with anyio.move_on_after(limit):
                await pending.done.wait()
        finally:
            inbound.acks.pop(mid, None)
        now = anyio.current_time()
        for turn in on_ack:
            inbound.turns.resolve(turn, now)
        result = pending.result
        if result is None:
            if self._closed_reason is not None:
                raise SessionClosedError(f"session closed before {cmd} was acknowledged", reason=self._closed_reason)
            raise CommandTimeoutError(f"no ack for {cmd} (mid {mid}) within {limit:g} s")
        acked = CommandAcked(message_id=mid, command=result.cmd or cmd, code=result.code, message=result.msg)
        if not result.ok:
            raise CommandError(f"{cmd} failed: {result.code} {result.msg}", cmd=cmd, code=result.code, msg=result.msg)
        return acked

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

    async def _reader(self) -> None:
        """Read a transport that cannot push its events."""
        transport = self._transport
        assert transport is not None
        async for event in transport.events():
            self._handle_transport_event(event)
        if not self._close_started:
            await self._close("disconnected")

    def _handle_transport_event(self, event: TransportEvent) -> None:
        inbound, conn = self._inbound, self._conn
        assert inbound is not None
        assert conn is not None
        inbound.on_transport_event(event)
        deadline = conn.next_deadline()
        if deadline is not None and deadline < self._timer_until:
            # Only a deadline earlier than the timer's own wake-up needs it now: waking it for every frame made
            # each received frame cost a new event, cancel scope and timer handle (garbage for the collector).
            self._timer_wakeup.set()

    def _on_transport_event(self, event: TransportEvent) -> None:
        """A pushed event (see :class:`PushTransport`); a failure closes the session, as in the reader task."""
        try:
            self._handle_transport_event(event)
        except Exception as exc:
            self._failed_in_background(f"handling {type(event).__name__}", exc)

    def _on_transport_end(self, error: BaseException | None) -> None:
        """The pushed events ended: the channel is gone (or the transport failed), unless we are leaving it."""
        if error is not None:
            logger.error("session %s: the transport failed: %s", self._session_id, error)
        self._close_soon("disconnected")

    def _close_soon(self, reason: str) -> None:
        if self._task_group is not None and not self._close_started:
            self._task_group.start_soon(self._close, reason)

    async def _timer(self) -> None:
        conn, inbound = self._conn, self._inbound
        assert conn is not None
        assert inbound is not None
        margin = self._options.expiry_margin
        while True:
            wakeup = self._timer_wakeup = anyio.Event()
            now = anyio.current_time()
            deadline = conn.next_deadline()
            if deadline is not None and deadline <= now:
                conn.expire(now)
                inbound.dispatch(conn.events_received())
                continue
            deadlines = [d for d in (deadline,) if d is not None]
            if self._expires_at is not None:
                if now >= self._expires_at:
                    await self._close("expired")
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
                self._timer_until = min(deadlines)
                with anyio.move_on_after(max(0.0, self._timer_until - now)):
                    await wakeup.wait()
            else:
                self._timer_until = math.inf
                await wakeup.wait()


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
