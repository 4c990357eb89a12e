"""Spans and metrics of one avatar session, fed by a few hook calls in the session (each marked ``# telemetry``).

It watches the session through what the session already exposes: its event stream (avatar ready, incomplete
messages, close), its turns (their timings and outcome, when they resolve) and its stats (frames, bytes, refusals).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio

from streamclient.codec import split_text
from streamclient.telemetry import _runtime
from streamclient.telemetry._names import TURN_EVENTS, Attr, Span
from streamclient.telemetry._runtime import Runtime, runtime, text_hash

if TYPE_CHECKING:
    from streamclient.session import AvatarSession
    from streamclient.session.events import SessionEvent
    from streamclient.session.turns import Turn, TurnResult

__all__ = ("NOOP", "SessionTelemetry", "session_telemetry", "traced_command", "turn_context")

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
#: More than a chat frame's JSON envelope without its text ({"v":2,"type":"chat","mid":...,"pld":{...}}).
_ENVELOPE_BYTES = 256
_TurnT = TypeVar("_TurnT", bound="Turn")
_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])


class _NoopTelemetry:
    """What a session uses when OpenTelemetry is not installed: every hook does nothing."""

    enabled = False

    def start(self) -> None:
        """Nothing to do."""

    def span(self, kind: str) -> contextlib.AbstractContextManager[None]:  # noqa: ARG002
        """A context manager that does nothing."""
        return contextlib.nullcontext()

    def turn(self, turn: _T) -> _T:
        """Return ``turn`` as it is."""
        return turn

    def error(self, exc: BaseException | None) -> None:
        """Nothing to do."""


NOOP = _NoopTelemetry()


class SessionTelemetry:
    """The spans and metrics of one session."""

    enabled = True

    def __init__(self, rt: Runtime, session: AvatarSession) -> None:
        self._rt = rt
        self._session = session
        self._span: Any = None
        self._outer_span_id = 0
        # Made once at start, reused by every turn: the session span's context, its span id, a link to it, and
        # whether it records (an SDK is configured and sampled it).
        self._context: Any = None
        self._session_span_id = 0
        self._links: list[Any] = []
        self._recording = False
        self._observer: Any = None  # what a turn under the session's own span calls when it resolves
        self._offset = 0
        self._offset_read = -1e9
        self._reconnecting: Any = None  # the reconnect span, while the transport's SDK retries
        self._stats_key: int | None = None
        self._counted_open = False
        self._counted_created = False
        self._turns = 0

    # -- the session's life

    def start(self) -> None:
        """The session starts (before create or attach): open its span, follow its events and stats."""
        rt, session = self._rt, self._session
        self._outer_span_id = rt.trace.get_current_span().get_span_context().span_id
        attributes: dict[str, Any] = {Attr.ATTACHED: session._create is None}
        create = session._create or {}
        if create.get("avatar_id"):
            attributes[Attr.AVATAR_ID] = str(create["avatar_id"])
        duration = _seconds(create.get("duration"))
        if duration is not None:
            attributes[Attr.DURATION] = duration
        if session.session_id is not None:
            attributes[Attr.SESSION_ID] = session.session_id
        span = self._span = rt.tracer.start_span(Span.SESSION, attributes=attributes)
        self._context = rt.trace.set_span_in_context(span)
        self._session_span_id = span.get_span_context().span_id
        self._links = [rt.Link(span.get_span_context())]
        self._recording = span.is_recording()
        self._observer = functools.partial(self._turn_done_safely, self._context, None)
        self._stats_key = rt.register(session.stats)
        from streamclient.session.events import AvatarJoined, ConnectionChanged, MessageIncomplete, SessionClosed

        for kind in (AvatarJoined, ConnectionChanged, MessageIncomplete, SessionClosed):  # not called for the others
            session.on(self._on_event, kind)

    @contextlib.contextmanager
    def span(self, kind: str) -> Iterator[None]:
        """A child span of the session's for one step of its start (``create``, ``join``); errors recorded."""
        rt = self._rt
        name = Span.CREATE if kind == "create" else Span.JOIN
        if kind == "join":
            self._created()
        with rt.tracer.start_as_current_span(name, context=self._context, record_exception=False) as span:
            try:
                yield
            except BaseException as exc:
                _record_error(rt, span, exc)
                raise
        session = self._session
        if kind == "join":
            transport = session.transport
            if transport is not None:
                self._span.set_attribute(Attr.TRANSPORT, type(transport).__name__)
            self._span.add_event("joined")

    def _created(self) -> None:
        """Once the session id is known: name the span; count a session we created (once)."""
        session, rt = self._session, self._rt
        if session.session_id is None or self._span is None:
            return
        self._span.set_attribute(Attr.SESSION_ID, session.session_id)
        if session._create is not None and not self._counted_created:
            self._counted_created = self._counted_open = True
            rt.add("streamclient.sessions.created", 1)
            rt.add("streamclient.sessions.open", 1)
            duration = _seconds(session._create.get("duration"))
            if duration is not None:
                rt.add("streamclient.sessions.billed_duration", duration)

    def error(self, exc: BaseException | None) -> None:
        """An exception ends the session (cancellation is a close reason, not an error)."""
        if exc is not None and not isinstance(exc, anyio.get_cancelled_exc_class()) and self._span is not None:
            _record_error(self._rt, self._span, exc)

    def _on_event(self, event: SessionEvent) -> None:
        from streamclient.session.events import AvatarJoined, ConnectionChanged, MessageIncomplete, SessionClosed

        if isinstance(event, MessageIncomplete):
            self._rt.tally("streamclient.replies.incomplete")
        elif isinstance(event, AvatarJoined):
            self._span.add_event("avatar_ready")
        elif isinstance(event, ConnectionChanged):
            self._span.add_event("connection_changed", {"state": event.state, "reason": event.reason})
            self._reconnect(event.state, event.reason)
        elif isinstance(event, SessionClosed):
            self._finish(event.reason)

    def _reconnect(self, state: str, reason: int) -> None:
        """The transport's SDK lost the channel and retries (``RECONNECTING``) until ``CONNECTED`` or ``FAILED``.

        Outcomes: ``reconnected``, ``failed`` (status ERROR), ``disconnected`` (the channel was left meanwhile),
        ``closed`` (the session ended meanwhile).

        streamclient has no reconnect of its own: this span is the SDK's reconnect as the session sees it.
        """
        rt = self._rt
        if state == "RECONNECTING":
            if self._reconnecting is None:
                self._reconnecting = rt.tracer.start_span(
                    Span.RECONNECT, context=self._context, attributes={Attr.CONNECTION_REASON: reason}
                )
        elif self._reconnecting is not None and state in ("CONNECTED", "FAILED", "DISCONNECTED"):
            self._end_reconnect({"CONNECTED": "reconnected", "FAILED": "failed"}.get(state, "disconnected"))

    def _end_reconnect(self, outcome: str) -> None:
        span, self._reconnecting = self._reconnecting, None
        span.set_attribute(Attr.RECONNECT_OUTCOME, outcome)
        if outcome == "failed":
            span.set_status(self._rt.StatusCode.ERROR, "reconnect failed")
        span.end()
        self._rt.add("streamclient.reconnects", 1, {Attr.RECONNECT_OUTCOME: outcome})

    def _finish(self, reason: str) -> None:
        rt, span, session = self._rt, self._span, self._session
        self._created()  # (a session whose join failed)
        if self._reconnecting is not None:
            self._end_reconnect("closed")
        if self._stats_key is not None:
            rt.unregister(self._stats_key)
            self._stats_key = None
        rt.add("streamclient.sessions.closed", 1, {Attr.CLOSE_REASON: reason})
        if self._counted_open:
            self._counted_open = False
            rt.add("streamclient.sessions.open", -1)
        span.set_attribute(Attr.CLOSE_REASON, reason)
        span.set_attribute(Attr.TURNS, self._turns)
        if session.close_error is not None:
            span.set_attribute(Attr.CLOSE_ERROR, type(session.close_error).__name__)
        if reason == "error":
            span.set_status(rt.StatusCode.ERROR, "the session ended with an error")
        span.end()

    # -- turns

    def turn(self, turn: _TurnT) -> _TurnT:
        """A turn was queued (``say``, ``ask``, ``say_stream``): note its parent; its span is made when it resolves.

        The span is started then, at the turn's ``queued`` time, with every attribute at once: one attribute set
        cleaned by the SDK per turn, no lock taken per attribute, nothing done while the turn is in flight.
        """
        self._turns += 1
        rt = self._rt
        current = rt.trace.get_current_span().get_span_context()
        if current.is_valid and current.span_id not in (self._outer_span_id, self._session_span_id):
            # A span newer than the session's (pipecat's turn, the application's request) is current: the turn
            # belongs to it, and links to the session.
            turn.observer = functools.partial(self._turn_done_safely, rt.context.get_current(), self._links)
        else:
            turn.observer = self._observer
        return turn

    def _turn_done_safely(self, parent: Any, links: Any, turn: Turn) -> None:
        try:
            self._turn_done(parent, links, turn)
        except Exception:  # telemetry never breaks a session
            logger.exception("streamclient telemetry: recording turn %s failed", turn.message_id)

    def _turn_done(self, parent: Any, links: Any, turn: Turn) -> None:
        rt = self._rt
        result, error = turn.outcome()
        if result is not None:
            timings = result.timings
            outcome = "interrupted" if result.interrupted else "incomplete" if result.incomplete else "completed"
            sent = timings.sent
            if sent is not None:
                if timings.first_chunk is not None:
                    rt.first_chunk_latency.record(timings.first_chunk - sent)
                if timings.audio_start is not None:
                    rt.audio_start_latency.record(timings.audio_start - sent)
        else:
            outcome = "failed"
        rt.tally("streamclient.turns", (outcome,))
        if not self._recording and links is None:
            return  # the session's trace is not sampled: its turn's span would not be either (no span made)
        pieces: list[Turn] | None = getattr(turn, "pieces", None)
        attributes = self._turn_attributes(turn, pieces, result, outcome)
        offset = self._clock_offset()
        end_time = None if result is None else int(result.timings.done * 1e9) + offset
        name = Span.TURN_SAY if pieces is None else Span.TURN_STREAM
        start_time = int(turn.queued_at * 1e9) + offset
        span = rt.tracer.start_span(name, context=parent, links=links, start_time=start_time, attributes=attributes)
        if result is not None and _runtime.stage_events() and span.is_recording():
            stages = [(at, stage) for stage in TURN_EVENTS if (at := getattr(result.timings, stage)) is not None]
            for at, stage in sorted(stages):
                span.add_event(stage, timestamp=int(at * 1e9) + offset)
        if error is not None:
            _record_error(rt, span, error)
        span.end(end_time=end_time)

    def _turn_attributes(
        self, turn: Turn, pieces: list[Turn] | None, result: TurnResult | None, outcome: str
    ) -> dict[str, Any]:
        """The turn span's attributes, in one dict (the SDK cleans them once, as a whole).

        Lengths and a hash prefix of the text, frames, outcome, the stages (seconds after queued); the interrupted and
        incomplete flags only when true (absent: false, and the outcome says it too).
        """
        text = turn.text
        attributes: dict[str, Any] = {
            Attr.MESSAGE_ID: turn.message_id,
            Attr.OUTCOME: outcome,
            Attr.TEXT_LENGTH: len(text),
            Attr.TEXT_HASH: text_hash(text),
        }
        if _runtime._record_text:
            attributes[Attr.TEXT] = text
        frames = self._frames([turn] if pieces is None else pieces)
        if frames is not None:
            attributes[Attr.FRAMES] = frames
        if pieces is not None:
            attributes[Attr.PIECES] = len(pieces)
        if result is None:
            return attributes
        attributes[Attr.REPLY_LENGTH] = len(result.reply)
        if _runtime._record_text:
            attributes[Attr.REPLY] = result.reply
        if result.interrupted:
            attributes[Attr.INTERRUPTED] = True
        if result.incomplete:
            attributes[Attr.INCOMPLETE] = True
        timings = result.timings
        queued = timings.queued
        if (at := timings.sent) is not None:
            attributes[Attr.SENT] = round(at - queued, 6)
        if (at := timings.first_chunk) is not None:
            attributes[Attr.FIRST_CHUNK] = round(at - queued, 6)
        if (at := timings.audio_start) is not None:
            attributes[Attr.AUDIO_START] = round(at - queued, 6)
        if (at := timings.audio_end) is not None:
            attributes[Attr.AUDIO_END] = round(at - queued, 6)
        return attributes

    def _clock_offset(self) -> int:
        """What converts the event loop's clock (seconds, times 1e9) to epoch nanoseconds (re-read every 10 s)."""
        now = time.monotonic()
        if now - self._offset_read > 10.0:
            self._offset = time.time_ns() - int(anyio.current_time() * 1e9)
            self._offset_read = now
        return self._offset

    def _frames(self, pieces: list[Any]) -> int | None:
        """How many frames the turn's text took (recomputed: only when its span records)."""
        conn = self._session._conn
        if conn is None:
            return None
        total = 0
        limit = conn.max_frame_bytes - _ENVELOPE_BYTES
        for piece in pieces:
            text = piece.text
            if not text:
                continue
            if len(text) * 6 <= limit:  # fits one frame, whatever its characters (\uXXXX: 6 B)
                total += 1
            elif text.isascii() and text.isprintable() and len(text) + text.count('"') + text.count("\\") <= limit:
                total += 1  # printable ASCII: 1 B a character, 2 B for " and \\ (exact)
            else:
                total += len(split_text(text, mid=piece.message_id, max_frame_bytes=conn.max_frame_bytes))
        return total


def _seconds(value: object) -> float | None:
    """A duration given to create, as seconds; ``None`` when absent or not a number (create refuses those)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _record_error(rt: Runtime, span: Any, exc: BaseException) -> None:
    """Record ``exc`` on ``span`` by its class (its message may quote user input: only the class is kept)."""
    kind = type(exc).__name__
    span.set_attribute(Attr.ERROR_TYPE, kind)
    span.add_event("exception", {"exception.type": f"{type(exc).__module__}.{kind}"})
    span.set_status(rt.StatusCode.ERROR, kind)


def session_telemetry(session: AvatarSession) -> SessionTelemetry | _NoopTelemetry:
    """The telemetry of ``session``: a no-op without the OpenTelemetry API, or with the API and no SDK set up."""
    rt = runtime()
    return NOOP if rt is None or not rt.active() else SessionTelemetry(rt, session)


def traced_command(method: _F) -> _F:
    """Trace a session's command wait (``_await_ack(mid, cmd, timeout, ...)``): a span per command, its ack code."""

    @functools.wraps(method)
    async def wrapper(session: Any, mid: str, cmd: str, *args: Any, **kwargs: Any) -> Any:
        observer: Any = getattr(session, "_telemetry", NOOP)
        if not observer.enabled:
            return await method(session, mid, cmd, *args, **kwargs)
        rt: Runtime = observer._rt
        if cmd == "interrupt":
            rt.tally("streamclient.interrupts")
        attributes: dict[str, Any] = {Attr.COMMAND: cmd}
        parent = observer._context if not rt.trace.get_current_span().is_recording() else None
        with rt.tracer.start_as_current_span(
            f"{Span.COMMAND} {cmd}",
            context=parent,
            attributes={**attributes, Attr.MESSAGE_ID: mid},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                acked = await method(session, mid, cmd, *args, **kwargs)
            except BaseException as exc:
                code = getattr(exc, "code", None)
                if isinstance(code, int):
                    attributes[Attr.ACK_CODE] = code
                    span.set_attribute(Attr.ACK_CODE, code)
                attributes[Attr.ERROR_TYPE] = type(exc).__name__
                _record_error(rt, span, exc)
                rt.add("streamclient.commands", 1, attributes)
                raise
            attributes[Attr.ACK_CODE] = acked.code
            span.set_attribute(Attr.ACK_CODE, acked.code)
            rt.add("streamclient.commands", 1, attributes)
            return acked

    return cast(_F, wrapper)


@contextlib.contextmanager
def turn_context(service: object) -> Iterator[None]:
    """Make pipecat's current turn span (``service._tracing_context``) the current span, when pipecat traces."""
    rt = runtime()
    tracing = getattr(service, "_tracing_context", None) if rt is not None else None
    context = None
    if tracing is not None:
        context = tracing.get_turn_context() or tracing.get_conversation_context()
    if rt is None or context is None:
        yield
        return
    token = rt.context.attach(context)
    try:
        yield
    finally:
        rt.context.detach(token)


def api_retry(method: str, error: BaseException) -> None:
    """A REST request is retried (rate limit, 5xx, network)."""
    rt = runtime()
    if rt is not None:
        rt.add("streamclient.api.retries", 1, {Attr.HTTP_METHOD: method, Attr.ERROR_TYPE: type(error).__name__})
