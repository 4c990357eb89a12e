"""AkoolAvatarService: one AKOOL avatar session for the lifetime of a pipecat pipeline.

Shaped like pipecat's own services: an ``AIService`` whose ``start``/``stop``/``cancel`` follow the pipeline's
``StartFrame``/``EndFrame``/``CancelFrame``, that consumes text like a TTS service and reports the user's speech like
a speech-to-speech service with server-side turn detection (transcripts, proposed user turn frames, a
recommendation of ``ExternalUserTurnStrategies``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

import anyio
from pipecat.frames.frames import (
    AggregatedTextFrame,
    BotSpeakingFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EagerTranscriptionFrame,
    EndFrame,
    Frame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMAssistantPushAggregationFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    ServiceMetadataFrame,
    StartFrame,
    TextFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.ai_service import AIService
from pipecat.services.settings import ServiceSettings
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies
from pipecat.utils.text.base_text_aggregator import TextType

from streamclient import telemetry
from streamclient.api import AsyncAkoolClient
from streamclient.errors import InvalidArgumentError, StreamClientError
from streamclient.integrations.pipecat._answers import Answer, Close, Piece, wall_time
from streamclient.integrations.pipecat._user_input import AkoolUserInput, UserSpeech, pipecat_language
from streamclient.session import (
    AvatarSession,
    SessionOptions,
    SpeakingStarted,
    SpeakingStopped,
    UserTranscript,
    connect,
)
from streamclient.session._waits import first_of

__all__ = ("AkoolAvatarService",)

logger = logging.getLogger(__name__)

#: How often ``BotSpeakingFrame`` is broadcast while the avatar speaks (as pipecat's output transports do).
BOT_SPEAKING_PERIOD = 0.2
#: Beyond ``close_timeout``, how long closing may wait for a ``sessions.create`` request in flight (it is shielded:
#: the session's id must be learnt to close it); the API client's request timeout is 30 s by default.
CREATE_IN_FLIGHT_BOUND = 35.0
#: Text frames that are the user's words, never spoken (pipecat's TTS services skip the same ones).
_USER_TEXT = (TranscriptionFrame, InterimTranscriptionFrame, EagerTranscriptionFrame)


def _speakable(piece: str) -> bool:
    return any(ch.isalnum() for ch in piece)


class AkoolAvatarService(AIService):
    """An AKOOL streaming avatar that speaks the pipeline's LLM text and hears the user, in AKOOL's own room.

    Place it after the LLM, where a TTS service would go, and its :meth:`input` first, where a transport's input
    would go: ``[akool.input(), context.user(), llm, akool, context.assistant()]``.
    The user talks to the avatar in AKOOL's room (a browser joined to the session's channel); AKOOL recognises the
    speech and the avatar speaks with its own voice and lip-synced video, so the pipeline needs no STT, TTS or
    audio transport of its own.

    Lifecycle: ``StartFrame`` creates the session (in retelling mode, ``mode_type=1``) and joins it in the
    background; ``EndFrame`` lets the avatar finish what it is saying, then closes it; ``CancelFrame`` (and
    ``cleanup``) stops whatever stage the session is at (creating, joining, waiting for the avatar, speaking) and
    closes it before the cancel returns. Closing always goes through the session's shielded close, so no session
    is left billing. A session that cannot be created, or that ends on its own, is reported as an ``ErrorFrame``.

    Downstream in, spoken (like pipecat's TTS services): the text of an LLM reply (``LLMTextFrame``, and
    ``TextFrame``/``AggregatedTextFrame`` from processors such as LangChain's or ``LLMTextProcessor``, between
    ``LLMFullResponseStartFrame`` and ``LLMFullResponseEndFrame``) is cut into sentences, each said as soon as it is
    complete; text frames outside a reply and ``TTSSpeakFrame`` are said on their own. A ``TTSSpeakFrame`` that
    comes during a reply ("one moment please") is said next, between the reply's sentences, without splitting the
    sentence being written. Passed through unspoken: frames with ``skip_tts`` (recorded in the context as pipecat
    does, since the LLM said them) and the user's text (transcriptions). ``InterruptionFrame`` interrupts the avatar
    and drops everything not said yet.

    Downstream out, in the order spoken: ``TTSStartedFrame``, a ``TTSTextFrame`` (``TextType.SENTENCE``) for each
    piece of text the avatar reports having spoken, ``TTSStoppedFrame``, then ``LLMFullResponseEndFrame`` (an LLM
    reply) or ``LLMAssistantPushAggregationFrame`` (a ``TTSSpeakFrame`` outside a reply): the assistant aggregator
    records what the avatar said, and only that. After an interruption nothing more of the cut answers is
    reported (the ``InterruptionFrame`` ends the turn; the context keeps what was spoken up to the cut).
    ``BotStartedSpeakingFrame``, ``BotSpeakingFrame`` every 0.2 s and ``BotStoppedSpeakingFrame`` (both directions)
    while the avatar speaks. Metrics, through pipecat's helpers and with ``model`` set to ``akool/<avatar_id>``:
    TTFB from the first piece sent to the avatar's first reply chunk and to its ``audio_start`` (two entries per
    answer; ``report_only_initial_ttfb`` keeps the first one only), processing time (first piece sent to the
    answer spoken) and TTS usage (characters sent).

    The user's speech: ``InterimTranscriptionFrame``/``TranscriptionFrame`` (with the session's ``language`` when
    known) downstream from :meth:`input` (upstream from the service if the pipeline has no ``input()``), framed by
    ``ProposedUserStartedSpeakingFrame``/``ProposedUserStoppedSpeakingFrame``; the service recommends
    ``ExternalUserTurnStrategies`` so the user aggregator turns those into user turns and, while the avatar talks,
    into pipecat's interruption. The end of a turn waits until its start has passed the pipeline, so the reply it
    cut is in the context before the user's message (see ``_user_input``).

    Event handlers: ``on_avatar_ready(service, session)`` once the session is open and the avatar is in the room
    (the moment to let the user in).

    Args:
        avatar_id: the streaming avatar.
        api_key: the AKOOL API key (default ``AKOOL_API_KEY``); ignored when ``client`` is given.
        base_url: the API base URL (default ``AKOOL_BASE_URL`` or the public service).
        client: an API client to use (and not close) instead of creating one.
        create_options: other fields of ``sessions.create`` (``duration``, ``voice_id``, ``language``, ...);
            ``mode_type`` must be 1 if given.
        session_options: the session's timeouts and bounds.
        user_id: the ``user_id`` of the transcription frames.
        max_wait: how long a piece of the LLM's text may wait for its sentence to end before it is spoken anyway.
        interrupt_timeout: how long an interruption waits for the avatar's ack.
        should_interrupt: whether the user's speech interrupts the avatar (the recommended turn strategies').
        **kwargs: passed to ``AIService`` (``name``, ...).

    Raises:
        InvalidArgumentError: ``mode_type`` other than 1.
    """

    def __init__(
        self,
        *,
        avatar_id: str,
        api_key: str | None = None,
        base_url: str | None = None,
        client: AsyncAkoolClient | None = None,
        create_options: Mapping[str, Any] | None = None,
        session_options: SessionOptions | None = None,
        user_id: str = "user",
        max_wait: float = 1.0,
        interrupt_timeout: float = 5.0,
        should_interrupt: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings=ServiceSettings(model=f"akool/{avatar_id}"), **kwargs)
        options = dict(create_options or {})
        if options.setdefault("mode_type", 1) != 1:
            raise InvalidArgumentError("the avatar speaks the pipeline's text: mode_type must be 1 (retelling)")
        options.pop("avatar_id", None)
        self._avatar_id = avatar_id
        self._api_key = api_key
        self._base_url = base_url
        self._client = client
        self._create_options = options
        self._session_options = session_options or SessionOptions()
        self._user_id = user_id
        self._max_wait = max_wait
        self._interrupt_timeout = interrupt_timeout
        self._should_interrupt = should_interrupt
        self._session: AvatarSession | None = None
        self._runner: asyncio.Task[None] | None = None  # holds the session open
        self._run_scope = anyio.CancelScope()
        self._ready: anyio.Event | None = None
        self._stopping: anyio.Event | None = None
        self._ended: anyio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._current: Answer | None = None  # the LLM reply being fed
        self._queue: deque[Piece | Close] = deque()  # what is said, in order, until reported
        self._progress = anyio.Event()  # set (and renewed) whenever something may have moved
        self._deadline_changed = anyio.Event()
        self._bot_speaking = False
        self._heartbeat: asyncio.Task[None] | None = None
        self._last_said = ""  # the last text reported spoken
        voice_params = options.get("voice_params")
        stt_language = voice_params.get("stt_language") if isinstance(voice_params, Mapping) else None
        if stt_language is None:
            stt_language = getattr(voice_params, "stt_language", None)
        language = pipecat_language(stt_language or options.get("language"))
        self._user_speech = UserSpeech(user_id=user_id, service=self, user_input=None, language=language)
        self._register_event_handler("on_avatar_ready")

    def input(self) -> AkoolUserInput:
        """The processor where the user's transcripts enter the pipeline: put it first, before ``context.user()``.

        Without it the transcripts go upstream from the service itself, where an LLM busy streaming holds them
        back (and an interruption can drop them).
        """
        if self._user_speech.user_input is None:
            self._user_speech.user_input = AkoolUserInput(name=f"{self.name}::input")
        return self._user_speech.user_input

    @property
    def session(self) -> AvatarSession | None:
        """The avatar session, while it is open."""
        return self._session

    def can_generate_metrics(self) -> bool:
        """The service reports TTFB, processing and TTS usage metrics."""
        return True

    def service_metadata_frame(self) -> ServiceMetadataFrame:
        """Recommend turn strategies driven by AKOOL's speech recognition (it decides when the user's turn ends)."""
        return ServiceMetadataFrame(
            service_name=self.name,
            user_turn_strategies=ExternalUserTurnStrategies(enable_interruptions=self._should_interrupt),
        )

    # ------------------------------------------------------------------------------------------ lifecycle

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task = self.create_task(coroutine, name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start(self, frame: StartFrame) -> None:
        """Create and join the avatar session in the background (frames that need it wait until it is open)."""
        await super().start(frame)
        if self._runner is None:
            self._ready, self._stopping, self._ended = anyio.Event(), anyio.Event(), anyio.Event()
            self._run_scope = anyio.CancelScope()
            self._runner = self.create_task(self._run_session(), "akool-session")
            self._spawn(self._report(), "akool-speech")
            self._spawn(self._expire_pieces(), "akool-pieces")
            self._spawn(self._user_speech.run(), "akool-user-speech")

    async def stop(self, frame: EndFrame) -> None:
        """Let the avatar finish what it is saying (bounded by ``reply_timeout``), then close the session."""
        await super().stop(frame)
        if self._current is not None:
            await self._end_answer(self._current)
        with anyio.move_on_after(self._session_options.reply_timeout):
            while self._queue:
                await self._progress.wait()
        await self._close_session(cancel=False)

    async def cancel(self, frame: CancelFrame) -> None:
        """Stop at once, whatever stage the session is at, and close it (shielded) before returning."""
        await super().cancel(frame)
        await self._close_session(cancel=True)

    async def cleanup(self) -> None:
        """Close the session if it is still open (idempotent)."""
        await super().cleanup()  # type: ignore[no-untyped-call]
        await self._close_session(cancel=True)

    async def _close_session(self, *, cancel: bool) -> None:
        self._cut_answers()
        await self._bot_stopped()
        runner, self._runner = self._runner, None
        if runner is not None:
            assert self._stopping is not None
            assert self._ended is not None
            assert self._ready is not None
            if cancel or not self._ready.is_set():
                self._run_scope.cancel()  # creating, joining, waiting for the avatar: stop there
            self._stopping.set()
            with anyio.move_on_after(self._session_options.close_timeout + CREATE_IN_FLIGHT_BOUND):
                await self._ended.wait()
            if not self._ended.is_set():
                logger.error("%s: the AKOOL session did not close in time", self.name)
                await self.cancel_task(runner)
        for task in list(self._tasks):
            await self.cancel_task(task)

    async def _run_session(self) -> None:
        """Hold the session open until asked to stop or until it ends; then close it (shielded, bounded)."""
        assert self._ready is not None
        assert self._stopping is not None
        assert self._ended is not None
        gone = anyio.Event()
        try:
            with self._run_scope:
                async with contextlib.AsyncExitStack() as stack:
                    client = self._client
                    if client is None:
                        client = await stack.enter_async_context(
                            AsyncAkoolClient(self._api_key, base_url=self._base_url)
                        )
                    session = await stack.enter_async_context(
                        connect(
                            client, avatar_id=self._avatar_id, options=self._session_options, **self._create_options
                        )
                    )
                    events = session.events()
                    self._session = session
                    self._ready.set()
                    logger.info("%s: AKOOL session %s open", self.name, session.session_id)
                    await self._call_event_handler("on_avatar_ready", session)
                    async with anyio.create_task_group() as tg:

                        async def forward() -> None:
                            async for event in events:
                                await self._on_session_event(event)
                            gone.set()

                        tg.start_soon(forward)
                        await first_of(self._stopping, gone)
                        tg.cancel_scope.cancel()
                    if gone.is_set() and not self._stopping.is_set():
                        await self.push_error(
                            f"the AKOOL session ended ({session.close_reason})", force_treat_as_permanent=True
                        )
        except Exception as exc:
            if not self._stopping.is_set():
                what = "failed" if self._ready.is_set() else "could not be started"
                await self.push_error(
                    f"the AKOOL avatar session {what}: {exc}", exception=exc, force_treat_as_permanent=True
                )
        finally:
            self._session = None
            self._ready.set()
            self._ended.set()
            self._poke()

    async def _open_session(self) -> AvatarSession | None:
        """The session, once open (``None`` if it could not be opened or has ended)."""
        if self._ready is None:
            return None
        await self._ready.wait()
        return self._session

    # ------------------------------------------------------------------------------------------ downstream

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Speak the text, interrupt on ``InterruptionFrame``, pass everything else on."""
        await super().process_frame(frame, direction)
        downstream = direction == FrameDirection.DOWNSTREAM
        if isinstance(frame, InterruptionFrame):
            had_answers = self._cut_answers()  # first: nothing more of them reaches the context
            await self.push_frame(frame, direction)  # at once: the assistant aggregator commits what was spoken
            self._spawn(self._interrupt(had_answers), "akool-interrupt")
        elif not downstream:
            await self.push_frame(frame, direction)
        elif isinstance(frame, LLMFullResponseStartFrame) and not frame.skip_tts:
            await self.push_frame(frame, direction)
            await self._begin_reply()
        elif isinstance(frame, LLMFullResponseEndFrame) and not frame.skip_tts:
            if self._current is None:
                await self.push_frame(frame, direction)  # nothing was said: close the reply at once
            else:  # the closing frames follow what is said
                await self._end_answer(self._current)
        elif isinstance(frame, TTSSpeakFrame):
            await self._speak_alone(frame.text, append_to_context=frame.append_to_context)
        elif isinstance(frame, TextFrame) and not frame.skip_tts and not isinstance(frame, _USER_TEXT):
            await self._speak_text(frame)
        else:
            await self.push_frame(frame, direction)

    async def _begin_reply(self) -> Answer:
        if self._current is not None:
            await self._end_answer(self._current)
        answer = self._current = Answer(context_id=str(uuid.uuid4()), from_llm=True, max_wait=self._max_wait)
        self._deadline_changed.set()
        return answer

    async def _speak_text(self, frame: TextFrame) -> None:
        """Text of the reply being written.

        Outside a reply, a whole aggregation is said on its own and streamed text starts a reply of its own (ended
        by the next ``LLMFullResponseEndFrame`` or the pipeline's end).
        """
        answer = self._current
        if answer is None:
            if isinstance(frame, AggregatedTextFrame):
                await self._speak_alone(frame.text, append_to_context=frame.append_to_context)
                return
            answer = await self._begin_reply()
        text = frame.text
        if not frame.includes_inter_frame_spaces:
            text = answer.spaced(text)  # sentences from an aggregator come without the space between them
        await self._say(answer, answer.feed(text))

    async def _speak_alone(self, text: str, *, append_to_context: bool) -> None:
        """Say ``text`` as an answer of its own (a ``TTSSpeakFrame``): next, even inside a reply."""
        answer = Answer(
            context_id=str(uuid.uuid4()),
            from_llm=False,
            append_to_context=append_to_context,
            inside_reply=self._current is not None,
            max_wait=self._max_wait,
        )
        await self._say(answer, answer.feed(text))
        await self._end_answer(answer)

    async def _end_answer(self, answer: Answer) -> None:
        """No more text for ``answer``: say what is left, then its closing frames follow what it said."""
        await self._say(answer, answer.end())
        if self._current is answer:
            self._current = None
        if not answer.interrupted:
            self._queue.append(Close(answer))
            self._poke()

    async def _say(self, answer: Answer, pieces: list[str]) -> None:
        """Send ``pieces`` to the avatar, each as its own message, in order."""
        pieces = [p for p in pieces if _speakable(p)]
        if not pieces or answer.interrupted:
            return
        # Without yielding when the session is open: pieces from the feed and from the expiry timer keep their order.
        session = self._session if self._ready is not None and self._ready.is_set() else await self._open_session()
        if session is None:
            logger.warning("%s: no AKOOL session: %r is not spoken", self.name, "".join(pieces))
            return
        for text in pieces:
            try:
                with telemetry.turn_context(self):  # telemetry: the turn's span is a child of pipecat's turn span
                    turn = session.say(text)
            except StreamClientError as exc:
                logger.warning("%s: %r is not spoken: %s", self.name, text, exc)
                continue
            answer.turns.append(turn)
            self._queue.append(Piece(answer, turn))
        self._poke()

    async def _expire_pieces(self) -> None:
        """Say the start of a reply's sentence that waited ``max_wait`` for its end (a run-on or stalled reply)."""
        while True:
            self._deadline_changed = anyio.Event()
            answer = self._current
            deadline = answer.segmenter.next_deadline() if answer is not None else None
            now = anyio.current_time()
            if answer is not None and deadline is not None and deadline <= now:
                await self._say(answer, answer.expire())
                continue
            with anyio.move_on_after(deadline - now if deadline is not None else self._max_wait):
                await self._deadline_changed.wait()

    def _poke(self) -> None:
        progress, self._progress = self._progress, anyio.Event()
        progress.set()
        self._deadline_changed.set()

    def _cut_answers(self) -> bool:
        """Cut every answer not fully said: nothing more of it is said or reported. Whether there was any."""
        answers = {item.answer for item in self._queue}
        if self._current is not None:
            answers.add(self._current)
        for answer in answers:
            answer.cut()
        self._current = None
        self._queue.clear()
        self._last_said = ""
        self._poke()
        return bool(answers)

    async def _interrupt(self, had_answers: bool) -> None:
        """Stop the avatar and drop what is queued (if it has anything to stop)."""
        session = self._session
        if session is not None and (had_answers or session.speaking):
            try:
                await session.interrupt(drop_queued=True, timeout=self._interrupt_timeout)
            except StreamClientError as exc:
                await self.push_error(f"interrupting the avatar failed: {exc}", exception=exc)
        await self._bot_stopped()

    # ------------------------------------------------------------------------------------------ what was said

    async def _report(self) -> None:
        """Report what the avatar says, answer by answer, in the order it is said (runs until cancelled)."""
        while True:
            if not self._queue:
                if self._bot_speaking and (self._session is None or not self._session.speaking):
                    await self._bot_stopped()
                await self._progress.wait()
                continue
            item = self._queue[0]
            progress = self._progress
            if isinstance(item, Close):
                await self._close_answer(item.answer)
            else:
                await self._report_piece(item)
                if not item.turn.done and not item.answer.interrupted:
                    waited = anyio.current_time() - item.since
                    if waited < self._session_options.reply_timeout and self._session is not None:
                        with anyio.move_on_after(self._session_options.reply_timeout - waited):
                            await progress.wait()
                        continue
                    logger.warning("%s: no reply to %r; going on", self.name, item.turn.text)
            if self._queue and self._queue[0] is item:
                self._queue.popleft()
                if self._queue and isinstance(self._queue[0], Piece):
                    self._queue[0].since = anyio.current_time()
                self._poke()

    async def _report_piece(self, piece: Piece) -> None:
        """A ``TTSTextFrame`` for each new part of the piece's reply; the answer's TTFB metrics."""
        answer, turn = piece.answer, piece.turn
        parts = turn.reply_parts[piece.reported :]
        if answer.interrupted:
            return
        sent = answer.first_sent
        if parts:
            await self._answer_started(answer)
        for text in parts:
            last = self._last_said[-1:]
            if piece.reported == 0 and last.isascii() and last.strip() and text[:1].isalnum():
                text = " " + text  # a new piece right after another's last word: keep them apart
            piece.reported += 1
            if not text:
                continue
            frame = TTSTextFrame(text, text_type=TextType.SENTENCE, context_id=answer.context_id)
            frame.includes_inter_frame_spaces = True  # the avatar's text keeps its own spaces
            frame.append_to_context = answer.append_to_context
            self._last_said = text
            await self.push_frame(frame)
        if sent is None:
            return
        # TTFB to the first reply chunk and to audio_start, in the order they happened.
        marks = []
        if not answer.chunk_measured and turn.first_chunk_at is not None:
            answer.chunk_measured = True
            marks.append(turn.first_chunk_at)
        if not answer.audio_measured and turn.audio_start_at is not None:
            answer.audio_measured = True
            marks.append(turn.audio_start_at)
        offset = wall_time(0.0)
        for at in sorted(marks):
            await self.start_ttfb_metrics(start_time=sent + offset)
            await self.stop_ttfb_metrics(end_time=max(sent, at) + offset)

    async def _answer_started(self, answer: Answer) -> None:
        if not answer.started:
            answer.started = True
            await self.push_frame(
                TTSStartedFrame(context_id=answer.context_id, append_to_context=answer.append_to_context)
            )

    async def _close_answer(self, answer: Answer) -> None:
        """The answer was said: its metrics and closing frames."""
        sent = answer.first_sent
        if sent is not None:
            await self.start_processing_metrics(start_time=wall_time(sent))
            await self.stop_processing_metrics()
            await self.start_tts_usage_metrics(answer.sent_text())
        if answer.started:
            await self.push_frame(TTSStoppedFrame(context_id=answer.context_id))
        if not answer.inside_reply:
            self._last_said = ""  # the assistant's turn ends here
        if answer.from_llm:
            await self.push_frame(LLMFullResponseEndFrame())
        elif answer.started and answer.append_to_context and not answer.inside_reply:
            await self.push_frame(LLMAssistantPushAggregationFrame())

    # ------------------------------------------------------------------------------------------ from the session

    async def _on_session_event(self, event: object) -> None:
        match event:
            case UserTranscript(message_id=mid, text=text, final=final):
                self._user_speech.transcript(mid, text, final=final)
            case SpeakingStarted():
                await self._bot_started()
            case _:
                pass
        if isinstance(event, SpeakingStopped) and not self._queue:
            await self._bot_stopped()
        self._poke()

    async def _bot_started(self) -> None:
        if not self._bot_speaking:
            self._bot_speaking = True
            await self.broadcast_frame(BotStartedSpeakingFrame)
            self._heartbeat = self._spawn(self._speaking_heartbeat(), "akool-bot-speaking")

    async def _speaking_heartbeat(self) -> None:
        while self._bot_speaking:
            await self.broadcast_frame(BotSpeakingFrame)
            await anyio.sleep(BOT_SPEAKING_PERIOD)

    async def _bot_stopped(self) -> None:
        if self._bot_speaking:
            self._bot_speaking = False
            heartbeat, self._heartbeat = self._heartbeat, None
            if heartbeat is not None and heartbeat is not asyncio.current_task():
                await self.cancel_task(heartbeat)
            await self.broadcast_frame(BotStoppedSpeakingFrame)
