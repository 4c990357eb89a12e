"""What the session says, in call order: plain ``say`` texts and streamed answers (``say_stream``).

A streamed answer is an async iterable of text deltas (an LLM's tokens). A :class:`SentenceSegmenter` cuts it into
pieces as it arrives and each piece goes out at once as its own chat message, through the codec's outbox like any
``say``. The whole answer is one :class:`StreamTurn`.

Order: while a streamed answer is being consumed it holds the line: ``say`` texts and other streams asked for
meanwhile wait, in call order, and go out right after its last piece, so nothing is interleaved with its pieces.

Interrupt: the stream being consumed stops at once (the iterator is cancelled and closed, its pieces not yet sent
are dropped) and its turn resolves as interrupted with what the avatar spoke. Waiting streams and ``say`` texts are
dropped too with ``drop_queued``, else they go out after the interrupt.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

import anyio

from streamclient.codec import ProtocolConnection, split_text
from streamclient.errors import InvalidArgumentError, ReplyTimeoutError, SessionClosedError
from streamclient.session._sentences import SentenceSegmenter
from streamclient.session._turn_tracker import TurnTracker
from streamclient.session.turns import Turn

__all__ = ("SpeechLine", "StreamTurn")

logger = logging.getLogger(__name__)


class StreamTurn(Turn):
    """The one turn of a streamed answer (``session.say_stream``). Await it for the :class:`TurnResult`.

    Its ``text`` grows as deltas are consumed; ``pieces`` are the turns of the chat messages sent so far. The result's
    ``reply`` is everything the avatar spoke back for all pieces, ``interrupted`` whether the answer was cut, and
    its timings run from the call (``queued``) and the first piece sent (``sent``) to the first reply chunk, the first
    ``audio_start`` and the last ``audio_end``.

    ``await turn`` waits without a time limit by default: every step it waits for is bounded by ``say_stream``'s
    ``timeout`` instead (each delta of the stream, each piece's reply).
    """

    def __init__(self, *, message_id: str, queued: float) -> None:
        super().__init__(message_id=message_id, text="", queued=queued, default_timeout=math.inf)
        self.pieces: list[Turn] = []

    def finish(self, now: float, *, cut: bool) -> None:
        """Resolve with what the pieces collected."""
        pieces = self.pieces
        self.reply_parts = [part for piece in pieces for part in piece.reply_parts]
        self.interrupted = cut or any(piece.interrupted for piece in pieces)
        self.sent_at = next((p.sent_at for p in pieces if p.sent_at is not None), None)
        self.audio_end_at = next((p.audio_end_at for p in reversed(pieces) if p.audio_end_at is not None), None)
        self.resolve(now)

    def __repr__(self) -> str:
        state = "done" if self.done else "streaming"
        return f"<StreamTurn {self.message_id} {state} {len(self.pieces)} pieces {len(self.text)} chars>"


class _PieceTurn(Turn):
    """One piece of a streamed answer: a normal turn that also marks its answer's first chunk and audio start."""

    def __init__(self, answer: StreamTurn, *, message_id: str, text: str, queued: float, timeout: float) -> None:
        super().__init__(message_id=message_id, text=text, queued=queued, default_timeout=timeout)
        self._answer = answer

    def mark_first_chunk(self, now: float) -> None:
        super().mark_first_chunk(now)
        self._answer.mark_first_chunk(now)

    def mark_audio_start(self, now: float) -> None:
        super().mark_audio_start(now)
        self._answer.mark_audio_start(now)


def _speakable(piece: str) -> bool:
    return any(ch.isalnum() for ch in piece)


class _StreamRun:
    """Consumes one streamed answer: feeds the segmenter, sends each piece, then waits for the pieces' replies."""

    def __init__(
        self,
        line: SpeechLine,
        chunks: AsyncIterator[str],
        turn: StreamTurn,
        segmenter: SentenceSegmenter,
        timeout: float,
    ) -> None:
        self._line = line
        self._chunks = chunks
        self.turn = turn
        self._segmenter = segmenter
        self._timeout = timeout
        self._feeding = anyio.CancelScope()
        self._timer_wakeup = anyio.Event()
        self.cut = False
        self._error: BaseException | None = None

    def cut_now(self) -> list[Turn]:
        """Stop consuming; return the pieces not sent yet (marked interrupted, for the caller to drop)."""
        self.cut = True
        self._feeding.cancel()
        unsent = [p for p in self.turn.pieces if not p.done and p.sent_at is None]
        for piece in unsent:
            piece.interrupted = True
        return unsent

    async def run(self) -> None:
        """Feed, close the iterator, hand the line on, then collect the replies and resolve the turn."""
        try:
            if not self.cut:
                with self._feeding:
                    await self._feed()
        finally:
            self._line.fed(self)
            await self._close_iterator()
        await self._collect()

    async def _feed(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._timer)
            try:
                await self._consume()
            except Exception as exc:  # the caller's iterator failed, or a piece could not be encoded
                logger.warning("streamed answer %s stopped: %s", self.turn.message_id, exc)
                self._error = exc
            tg.cancel_scope.cancel()

    async def _consume(self) -> None:
        while True:
            with anyio.move_on_after(self._timeout):
                try:
                    chunk = await anext(self._chunks)
                except StopAsyncIteration:
                    break
                self._on_chunk(chunk)
                continue
            raise ReplyTimeoutError(f"the text stream yielded nothing for {self._timeout:g} s")
        self._send(self._segmenter.flush())

    def _on_chunk(self, chunk: object) -> None:
        if not isinstance(chunk, str):
            raise InvalidArgumentError(f"say_stream takes str deltas, got {type(chunk).__name__}")
        self.turn.text += chunk
        self._send(self._segmenter.feed(chunk, anyio.current_time()))
        self._timer_wakeup.set()

    async def _timer(self) -> None:
        """Cut a piece that waited ``max_wait`` (a run-on or stalled answer)."""
        while True:
            wakeup = self._timer_wakeup = anyio.Event()
            deadline = self._segmenter.next_deadline()
            now = anyio.current_time()
            if deadline is None:
                await wakeup.wait()
            elif deadline <= now:
                self._send(self._segmenter.expire(now))
            else:
                with anyio.move_on_after(deadline - now):
                    await wakeup.wait()

    def _send(self, pieces: list[str]) -> None:
        for text in pieces:
            if self.cut or not _speakable(text):
                continue
            piece = _PieceTurn(
                self.turn,
                message_id=self._line.next_mid(),
                text=text,
                queued=anyio.current_time(),
                timeout=self._timeout,
            )
            self._line.send_now(piece)
            self.turn.pieces.append(piece)

    async def _close_iterator(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is None:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(5.0):
            try:
                await aclose()
            except Exception as exc:
                logger.warning("closing the text stream of %s failed: %s", self.turn.message_id, exc)

    async def _collect(self) -> None:
        error = self._error
        if error is None:
            for piece in list(self.turn.pieces):
                try:
                    await piece.wait()
                except Exception as exc:
                    error = exc
                    break
        if error is not None:
            self.turn.fail(error)
        else:
            self.turn.finish(anyio.current_time(), cut=self.cut)


class SpeechLine:
    """Orders what one session says; see the module docstring."""

    def __init__(
        self,
        *,
        conn: ProtocolConnection,
        turns: TurnTracker,
        wake_writer: Callable[[], None],
        start_task: Callable[[Callable[[], Awaitable[None]]], None],
    ) -> None:
        self._conn = conn
        self._turns = turns
        self._wake_writer = wake_writer
        self._start_task = start_task
        self._active: _StreamRun | None = None
        self._waiting: deque[Turn | _StreamRun] = deque()
        self._closed = False

    def next_mid(self) -> str:
        """A fresh message id from the connection's short counter (a short ``mid`` leaves more room for text)."""
        return self._conn.next_mid()

    def say(self, turn: Turn) -> None:
        """Queue a ``say`` text: now, or after the streamed answers before it.

        Raises:
            LocalProtocolError: the text is empty or cannot be encoded (checked at once either way).
        """
        if self._active is None:
            self._conn.send_chat(turn.text, mid=turn.message_id)
            self._wake_writer()
        else:
            split_text(turn.text, mid=turn.message_id, max_frame_bytes=self._conn.max_frame_bytes)
            self._waiting.append(turn)
        self._turns.add(turn)

    def stream(self, chunks: AsyncIterable[str], *, segmenter: SentenceSegmenter, timeout: float) -> StreamTurn:
        """Start (or queue) a streamed answer and return its turn.

        Raises:
            InvalidArgumentError: ``chunks`` is not an async iterable.
        """
        try:
            iterator = aiter(chunks)
        except TypeError:
            raise InvalidArgumentError(
                f"say_stream takes an async iterable of str, got {type(chunks).__name__}"
            ) from None
        turn = StreamTurn(message_id=self.next_mid(), queued=anyio.current_time())
        run = _StreamRun(self, iterator, turn, segmenter, timeout)
        if self._active is None:
            self._start(run)
        else:
            self._waiting.append(run)
        return turn

    def send_now(self, piece: Turn) -> None:
        """Queue a piece of the active stream in the codec's outbox."""
        self._conn.send_chat(piece.text, mid=piece.message_id)
        self._turns.add(piece)
        self._wake_writer()

    def fed(self, run: _StreamRun) -> None:
        """``run`` has queued its last piece: what waited behind it goes out now, up to the next stream."""
        if self._active is not run:
            return
        self._active = None
        while self._waiting and not self._closed:
            item = self._waiting.popleft()
            if isinstance(item, _StreamRun):
                self._start(item)
                return
            if not item.done:  # an interrupt with drop_queued resolved it
                self._conn.send_chat(item.text, mid=item.message_id)
                self._wake_writer()

    def interrupt(self, *, drop_queued: bool) -> list[Turn]:
        """Stop the streamed answer being consumed (and, with ``drop_queued``, those waiting).

        Returns:
            The pieces that were queued but not sent: the caller drops them from the outbox and resolves them.
        """
        unsent: list[Turn] = []
        if self._active is not None:
            unsent = self._active.cut_now()
        if drop_queued:
            for item in [i for i in self._waiting if isinstance(i, _StreamRun)]:
                self._waiting.remove(item)
                item.cut_now()
                self._start_task(item.run)  # closes its iterator and resolves its turn, interrupted and empty
        return unsent

    def fail_all(self, error: SessionClosedError) -> None:
        """The session closed: fail every streamed answer still open (plain turns are failed by the tracker)."""
        self._closed = True
        runs = [self._active] if self._active is not None else []
        runs += [i for i in self._waiting if isinstance(i, _StreamRun)]
        for run in runs:
            run.cut = True
            run.turn.fail(error)
        for item in self._waiting:
            if isinstance(item, _StreamRun):
                self._start_task(item.run)  # closes its iterator, never consumed
        self._waiting.clear()

    def _start(self, run: _StreamRun) -> None:
        self._active = run
        self._start_task(run.run)
