"""AkoolAvatarService: one AKOOL avatar session for the lifetime of a pipecat pipeline.

Shaped like pipecat's own services: an ``AIService`` whose ``start``/``stop``/``cancel`` follow the pipeline's
``StartFrame``/``EndFrame``/``CancelFrame``, that consumes the LLM's text like a TTS service and reports the user's
speech like a speech-to-speech service with server-side turn detection (upstream transcripts, proposed user turn
frames, a recommendation of ``ExternalUserTurnStrategies``).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import anyio
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    LLMAssistantPushAggregationFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    ServiceMetadataFrame,
    StartFrame,
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

from streamclient.api import AsyncAkoolClient
from streamclient.errors import InvalidArgumentError, SessionClosedError, StreamClientError
from streamclient.integrations.pipecat._answers import Answer
from streamclient.integrations.pipecat._user_input import AkoolUserInput, UserSpeech
from streamclient.session import (
    AvatarSession,
    BotTextDelta,
    SessionOptions,
    SpeakingStarted,
    SpeakingStopped,
    UserTranscript,
    connect,
)
from streamclient.session._waits import first_of

__all__ = ("AkoolAvatarService",)

logger = logging.getLogger(__name__)


class AkoolAvatarService(AIService):
    """An AKOOL streaming avatar that speaks the pipeline's LLM text and hears the user, in AKOOL's own room.

    Place it after the LLM, where a TTS service would go, and its :meth:`input` first, where a transport's input
    would go: ``[akool.input(), context.user(), llm, akool, context.assistant()]``.
    The user talks to the avatar in AKOOL's room (a browser joined to the session's channel); AKOOL recognises the
    speech and the avatar speaks with its own voice and lip-synced video, so the pipeline needs no STT, TTS or
    audio transport of its own.

    Lifecycle: ``StartFrame`` creates the session (in retelling mode, ``mode_type=1``) and joins it in the
    background; ``EndFrame`` lets the avatar finish what it is saying, then closes it; ``CancelFrame`` (and
    ``cleanup``) closes it at once. Closing always goes through the session's shielded close, so no session is
    left billing. A session that cannot be created, or that ends on its own, is reported as an ``ErrorFrame``.

    Downstream in: ``LLMFullResponseStartFrame``, ``LLMTextFrame`` frames and ``LLMFullResponseEndFrame`` are spoken
    through ``session.say_stream`` (the first sentence goes out as soon as it is complete); ``TTSSpeakFrame`` is
    spoken on its own; ``InterruptionFrame`` interrupts the avatar and drops everything queued.

    Downstream out: ``LLMFullResponseStartFrame``, ``TTSStartedFrame``, a ``TTSTextFrame`` for each piece of text the
    avatar reports having spoken, then ``TTSStoppedFrame`` and ``LLMFullResponseEndFrame`` (not after an
    interruption: the ``InterruptionFrame`` ends the turn, so the context keeps what was spoken up to the cut);
    ``BotStartedSpeakingFrame``/``BotStoppedSpeakingFrame`` (both directions) around the avatar's speech;
    ``MetricsFrame`` with TTFB data per reply (``model="first_chunk"`` and ``model="audio_start"``: from the first
    piece sent to the avatar's first reply chunk and to its ``audio_start``) when metrics are enabled.

    The user's speech: ``InterimTranscriptionFrame``/``TranscriptionFrame`` downstream from :meth:`input` (upstream
    from the service if the pipeline has no ``input()``), framed by ``ProposedUserStartedSpeakingFrame``/
    ``ProposedUserStoppedSpeakingFrame``; the service recommends ``ExternalUserTurnStrategies`` so the user
    aggregator turns those into user turns and, while the avatar talks, into pipecat's interruption.

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
        super().__init__(settings=ServiceSettings(model=None), **kwargs)  # (no model to choose)
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
        self._runner: Any = None  # the asyncio task that holds the session open
        self._ready: anyio.Event | None = None
        self._stopping: anyio.Event | None = None
        self._ended: anyio.Event | None = None
        self._answers: list[Answer] = []
        self._current: Answer | None = None
        self._finishers: set[Any] = set()
        self._bot_speaking = False
        self._user_speech = UserSpeech(user_id=user_id, service=self, user_input=None)
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
        """The service reports TTFB metrics per reply."""
        return True

    def service_metadata_frame(self) -> ServiceMetadataFrame:
        """Recommend turn strategies driven by AKOOL's speech recognition (it decides when the user's turn ends)."""
        return ServiceMetadataFrame(
            service_name=self.name,
            user_turn_strategies=ExternalUserTurnStrategies(enable_interruptions=self._should_interrupt),
        )

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self, frame: StartFrame) -> None:
        """Create and join the avatar session in the background (frames that need it wait until it is open)."""
        await super().start(frame)
        if self._runner is None:
            self._ready, self._stopping, self._ended = anyio.Event(), anyio.Event(), anyio.Event()
            self._runner = self.create_task(self._run_session(), "akool-session")

    async def stop(self, frame: EndFrame) -> None:
        """Let the avatar finish what it is saying (bounded by ``reply_timeout``), then close the session."""
        await super().stop(frame)
        if self._current is not None:
            self._current.end()
            self._current = None
        with anyio.move_on_after(self._session_options.reply_timeout):
            for answer in list(self._answers):
                with contextlib.suppress(Exception):
                    await answer.turn
        await self._close_session()

    async def cancel(self, frame: CancelFrame) -> None:
        """Close the session now."""
        await super().cancel(frame)
        await self._close_session()

    async def cleanup(self) -> None:
        """Close the session if it is still open (idempotent)."""
        await super().cleanup()  # type: ignore[no-untyped-call]
        await self._close_session()

    async def _close_session(self) -> None:
        for answer in self._answers:
            answer.cut()
        self._current = None
        runner, self._runner = self._runner, None
        if runner is None:
            return
        assert self._stopping is not None
        assert self._ended is not None
        self._stopping.set()
        with anyio.move_on_after(self._session_options.close_timeout + 5.0):
            await self._ended.wait()
        if not self._ended.is_set():
            await self.cancel_task(runner)
        for task in list(self._finishers):
            await self.cancel_task(task)

    async def _run_session(self) -> None:
        """Hold the session open until asked to stop or until it ends; then close it (shielded, bounded)."""
        assert self._ready is not None
        assert self._stopping is not None
        assert self._ended is not None
        gone = anyio.Event()
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = self._client
                if client is None:
                    client = await stack.enter_async_context(AsyncAkoolClient(self._api_key, base_url=self._base_url))
                session = await stack.enter_async_context(
                    connect(client, avatar_id=self._avatar_id, options=self._session_options, **self._create_options)
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
            what = "failed" if self._ready.is_set() else "could not be started"
            await self.push_error(
                f"the AKOOL avatar session {what}: {exc}", exception=exc, force_treat_as_permanent=True
            )
        finally:
            self._session = None
            self._ready.set()
            self._ended.set()

    async def _open_session(self) -> AvatarSession | None:
        """The session, once open (``None`` if it could not be opened or has ended)."""
        if self._ready is None:
            return None
        await self._ready.wait()
        return self._session

    # ------------------------------------------------------------------------------------------ downstream

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Speak the LLM's text, interrupt on ``InterruptionFrame``, pass everything else on."""
        await super().process_frame(frame, direction)
        downstream = direction == FrameDirection.DOWNSTREAM
        if isinstance(frame, InterruptionFrame):
            cut = self._cut_answers()  # first: nothing more of them reaches the context
            await self.push_frame(frame, direction)  # at once: the assistant aggregator commits what was spoken
            await self._interrupt(cut)
        elif downstream and isinstance(frame, LLMFullResponseStartFrame) and not frame.skip_tts:
            await self.push_frame(frame, direction)
            await self._begin(from_llm=True)
        elif downstream and isinstance(frame, LLMTextFrame) and not frame.skip_tts:
            answer = self._current or await self._begin(from_llm=True)
            if answer is not None:
                answer.feed(frame.text)
        elif downstream and isinstance(frame, LLMFullResponseEndFrame) and not frame.skip_tts:
            if self._current is None:
                await self.push_frame(frame, direction)  # nothing was spoken: close the reply at once
            else:  # its finisher pushes the end frame after the spoken text
                self._current.end()
                self._current = None
        elif downstream and isinstance(frame, TTSSpeakFrame):
            answer = await self._begin(from_llm=False, append_to_context=frame.append_to_context)
            if answer is not None:
                answer.feed(frame.text)
                answer.end()
        else:
            await self.push_frame(frame, direction)

    async def _begin(self, *, from_llm: bool, append_to_context: bool = True) -> Answer | None:
        """Start speaking a new reply (after the session opened); ``None`` if there is no session."""
        if self._current is not None:
            self._current.end()
            self._current = None
        session = await self._open_session()
        if session is None:
            logger.warning("%s: no AKOOL session: the reply is not spoken", self.name)
            return None
        try:
            answer = Answer(
                session,
                context_id=str(uuid.uuid4()),
                from_llm=from_llm,
                append_to_context=append_to_context,
                max_wait=self._max_wait,
            )
        except StreamClientError as exc:
            logger.warning("%s: the reply is not spoken: %s", self.name, exc)
            return None
        self._answers.append(answer)
        if from_llm:
            self._current = answer
        await self.push_frame(TTSStartedFrame(context_id=answer.context_id, append_to_context=append_to_context))
        task = self.create_task(self._finish(answer), "akool-reply")
        self._finishers.add(task)
        task.add_done_callback(self._finishers.discard)
        return answer

    async def _finish(self, answer: Answer) -> None:
        """When a reply has been spoken: its metrics and closing frames (none after an interruption)."""
        try:
            result = await answer.turn
        except SessionClosedError as exc:
            logger.info("%s: reply %s cut by the end of the session: %s", self.name, answer.context_id, exc)
            result = None
        except Exception as exc:
            logger.warning("%s: reply %s failed: %s", self.name, answer.context_id, exc)
            result = None
        if answer in self._answers:
            self._answers.remove(answer)
        if result is not None and self.metrics_enabled:
            data = answer.metrics(result, self.name)
            if data:
                await self.push_frame(MetricsFrame(data=list(data)))
        if not answer.interrupted:
            await self.push_frame(TTSStoppedFrame(context_id=answer.context_id))
            if answer.from_llm:
                await self.push_frame(LLMFullResponseEndFrame())
            elif answer.append_to_context:
                await self.push_frame(LLMAssistantPushAggregationFrame())
        if not self._answers:
            await self._bot_stopped()

    def _cut_answers(self) -> list[Answer]:
        """Cut every reply still open: no more text is fed to it or reported from it."""
        cut = [answer for answer in self._answers if not answer.turn.done]
        for answer in cut:
            answer.cut()
        self._current = None
        return cut

    async def _interrupt(self, cut: list[Answer]) -> None:
        """Stop the avatar and drop what is queued (if it has anything to stop)."""
        session = self._session
        if session is not None and (cut or session.speaking):
            try:
                await session.interrupt(drop_queued=True, timeout=self._interrupt_timeout)
            except StreamClientError as exc:
                await self.push_error(f"interrupting the avatar failed: {exc}", exception=exc)
        await self._bot_stopped()

    # ------------------------------------------------------------------------------------------ from the session

    async def _on_session_event(self, event: object) -> None:
        match event:
            case UserTranscript(message_id=mid, text=text, final=final):
                await self._user_speech.transcript(mid, text, final=final)
            case SpeakingStarted():
                if not self._bot_speaking:
                    self._bot_speaking = True
                    await self.broadcast_frame(BotStartedSpeakingFrame)
            case SpeakingStopped():
                if not any(not answer.turn.done for answer in self._answers):
                    await self._bot_stopped()
            case BotTextDelta(text=text):
                await self._on_spoken(text)
            case _:
                pass

    async def _on_spoken(self, text: str) -> None:
        """Text the avatar spoke: a ``TTSTextFrame`` of the reply being spoken (dropped once it was cut)."""
        answer = next((a for a in self._answers if not a.turn.done), None)
        if answer is None or answer.interrupted or not text:
            return
        frame = TTSTextFrame(text, text_type=TextType.WORD, context_id=answer.context_id)
        frame.includes_inter_frame_spaces = True  # the avatar's text keeps its own spaces
        frame.append_to_context = answer.append_to_context
        await self.push_frame(frame)

    async def _bot_stopped(self) -> None:
        if self._bot_speaking:
            self._bot_speaking = False
            await self.broadcast_frame(BotStoppedSpeakingFrame)
