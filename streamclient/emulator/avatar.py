"""The scripted avatar peer: joins the session's room and behaves as akool-api-and-protocol.md §2 describes.

Behaviour:

* Joins the room ``join_delay`` seconds after it is started (the emulator starts it when the session is created)
  and leaves when the room closes (session closed or expired).
* Receives through ``ProtocolConnection(Role.AVATAR)`` (reassembly, command parsing). Every complete client chat
  message is a turn: in **mode 1** (retelling) the avatar speaks the text back; in **mode 2** (dialogue) it speaks
  what the responder (:mod:`streamclient.emulator.responders`) answers.
* A reply is ``audio_start``, then the text as ``from: "bot"`` chat frames under the request's mid (the docs'
  examples; ``reply_mid="fresh"`` gives each reply a new mid instead; replies to injected speech always get one),
  released unit by unit (a sentence, or at most ``reply_chunk_chars`` characters) as it is "spoken": each unit takes
  ``len(unit) / speech_chars_per_second`` seconds, then ``audio_end``. The last frame has ``fin: true``. All frames
  are paced by the codec's :class:`~streamclient.codec.pacing.Pacer` (the rules the client must follow too).
* Replies queue: a chat that arrives while the avatar speaks is answered after the current reply ends.
* ``interrupt``: the current reply stops mid-way: no more frames for its mid and **no closing ``fin`` frame** (the
  client's reassembler sees an incomplete message and expires it), replies queued behind it are dropped,
  ``audio_end`` is sent, and the command is acked with 1000 (also when nothing was being said).
* ``set-params``: validated (``mode`` 1 or 2, ``lang`` in the emulator's language list, ``vparams`` an object whose
  ``speed`` is 0.8-1.2, ``vid``/``vurl``/``bgurl`` strings), applied, and acked 1000, or 1003 with a message and
  nothing applied. ``set-action``: ``action`` / ``expression`` must be documented values (at least one), else 1003.
  Unknown commands: 1003.
* A frame it cannot decode is logged (reason and a printable excerpt), counted in :attr:`Avatar.rejected_frames`,
  kept in :attr:`Avatar.refused`, and written to the recording (if any) as a refusal line.
* In a caller's channel (bring-your-own credentials) the avatar presents its token before joining, through the
  ``gate`` the emulator gives it: a refused token keeps it out (``join_refused`` holds Agora's reason), as Agora would.
  So does a room that refuses its uid (already in the room: reason 19); the room and its peers carry on.
* :meth:`Avatar.stop` ends this avatar only: before it joined, it never joins; after, it leaves through its own
  room handle (never removing another peer that has the same uid).
* Tests inject ASR transcripts with :meth:`Avatar.inject_user_speech`: sent as ``from: "user"`` chat; in mode 2
  the avatar then answers it like a client chat.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from streamclient.codec.chunking import new_mid, split_text
from streamclient.codec.commands import CMD_INTERRUPT, CMD_SET_ACTION, CMD_SET_PARAMS, Action, Expression
from streamclient.codec.connection import ProtocolConnection, Role
from streamclient.codec.events import (
    ChatMessage,
    CommandReceived,
    Event,
    FrameRejected,
    MessageDiscarded,
    MessageExpired,
    frame_excerpt,
)
from streamclient.codec.frames import ChatFrame, encode_frame
from streamclient.codec.pacing import PacingLimits
from streamclient.emulator.recording import Recorder
from streamclient.emulator.responders import Responder, SessionInfo, default_responder
from streamclient.emulator.room import (
    ERR_BITRATE_LIMIT,
    ERR_NOT_IN_CHANNEL,
    ERR_TOO_OFTEN,
    OK,
    PeerRole,
    Room,
    RoomJoinError,
    RoomPeer,
)
from streamclient.errors import AgoraTokenError
from streamclient.transport.base import ConnectionState, ConnectionStateChanged, FrameReceived

__all__ = ("DEFAULT_LANGUAGES", "Avatar", "AvatarConfig", "CommandRecord")

logger = logging.getLogger(__name__)

#: Language codes the emulator accepts when the REST side gives none.
DEFAULT_LANGUAGES = frozenset(
    {"ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "nl", "pl", "pt", "ru", "tr", "zh"}
)

_CODE_OK = 1000
_CODE_PARAM_ERROR = 1003
_RETRY_AFTER_RATE_LIMIT = 0.1


@dataclass(frozen=True, slots=True, kw_only=True)
class AvatarConfig:
    """How the scripted avatar behaves (the emulator builds it from ``EmulatorConfig``)."""

    join_delay: float = 0.2
    speech_chars_per_second: float = 40.0
    reply_chunk_chars: int = 60
    responder: Responder | None = None
    languages: frozenset[str] = DEFAULT_LANGUAGES
    #: voice ids ``vid`` may name (the emulator passes its voice list); ``None`` accepts any
    voices: frozenset[str] | None = None
    max_frame_bytes: int = 960
    pacing: PacingLimits = field(default_factory=PacingLimits)
    #: ``"request"``: a reply carries the mid of the chat it answers (the docs' examples); ``"fresh"``: a new mid.
    reply_mid: Literal["request", "fresh"] = "request"


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """A command the avatar received and how it answered."""

    cmd: str
    data: Mapping[str, Any]
    code: int
    msg: str


class Avatar:
    """The avatar peer of one room. Start :meth:`run` in a task; observe its public attributes in tests."""

    def __init__(
        self,
        room: Room,
        *,
        uid: str,
        config: AvatarConfig | None = None,
        session_id: str | None = None,
        avatar_id: str | None = None,
        mode: int = 2,
        language: str = "en",
        voice_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        recorder: Recorder | None = None,
        gate: Callable[[], float | None] | None = None,
    ) -> None:
        self.room = room
        self._recorder = recorder
        self._gate = gate
        #: Agora's reason when the gate refused the avatar's token or the room its uid (it then never joins).
        self.join_refused: int | None = None
        self._stopped = False
        self._run_scope: anyio.CancelScope | None = None
        self.uid = uid
        self.config = config if config is not None else AvatarConfig()
        self.session_id = session_id
        self.avatar_id = avatar_id
        self.mode = mode
        self.language = language
        self.voice_id = voice_id
        self.speed = 1.0
        self.action: str | None = None
        self.expression: str | None = None
        self._clock = clock
        self._conn = ProtocolConnection(
            Role.AVATAR, max_frame_bytes=self.config.max_frame_bytes, pacing=self.config.pacing
        )
        self._peer: RoomPeer | None = None
        self._reply_chat: deque[tuple[str, bytes]] = deque()
        self._jobs: deque[tuple[str, bool, str | None]] = deque()  # (text, answer_it, request mid) per turn
        self._current_mid: str | None = None
        self._current_scope: anyio.CancelScope | None = None
        self._wake_writer = anyio.Event()
        self._wake_speaker = anyio.Event()
        self._drained = anyio.Event()
        self.joined = anyio.Event()
        self.left = anyio.Event()
        #: True between ``audio_start`` and ``audio_end``.
        self.speaking = False
        #: Full texts of the replies spoken to the end, in order.
        self.replies: list[str] = []
        #: Mids of every reply started (completed or interrupted).
        self.reply_mids: list[str] = []
        #: Complete chat messages received from the client.
        self.received_texts: list[str] = []
        #: Transcripts injected with :meth:`inject_user_speech`.
        self.user_speech: list[str] = []
        #: Commands received, with the ack code sent.
        self.commands: list[CommandRecord] = []
        self.interrupted_count = 0
        #: Frames the avatar could not decode.
        self.rejected_frames = 0
        #: What it refused: ``(reason, excerpt)`` per frame it could not decode or message it discarded.
        self.refused: list[tuple[str, str]] = []
        self._turns = 0

    def __repr__(self) -> str:
        return f"Avatar(uid={self.uid!r}, channel={self.room.channel!r}, mode={self.mode}, speaking={self.speaking})"

    # ------------------------------------------------------------------------------------------ running

    async def run(self) -> None:
        """Join after the delay, serve the room until it closes or :meth:`stop`, then leave."""
        try:
            with anyio.CancelScope() as scope:
                self._run_scope = scope
                if self._stopped:
                    scope.cancel()
                await anyio.sleep(self.config.join_delay)
                peer = self._join()
                if peer is not None:
                    await self._serve(peer)
        finally:
            self._run_scope = None
            self.left.set()
            self.room.notify_changed()

    def stop(self) -> None:
        """End this avatar (idempotent): it never joins, or leaves through its own handle."""
        self._stopped = True
        if self._run_scope is not None:
            self._run_scope.cancel()

    def _join(self) -> RoomPeer | None:
        """Present the token (if gated) and join; ``None`` when the room is closed or the join was refused."""
        if self.room.closed:
            return None
        expires_at: float | None = None
        try:
            if self._gate is not None:
                expires_at = self._gate()
            peer = self.room.join(self.uid, role=PeerRole.AVATAR)
        except (AgoraTokenError, RoomJoinError) as exc:
            self.join_refused = exc.reason
            logger.warning("avatar %s: the channel refused its join (%s); it stays out", self.uid, exc)
            return None
        self._peer = peer
        self.room.set_token_expiry(self.uid, expires_at)
        self.joined.set()
        self.room.notify_changed()
        logger.debug("avatar %s joined room %s", self.uid, self.room.channel)
        return peer

    async def _serve(self, peer: RoomPeer) -> None:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._writer)
                tg.start_soon(self._speaker)
                await self._reader(peer)
                tg.cancel_scope.cancel()
        finally:
            self.speaking = False
            peer.leave()
            logger.debug("avatar %s left room %s", self.uid, self.room.channel)

    async def inject_user_speech(self, text: str) -> str:
        """Send ``text`` as an ASR transcript (``from: "user"``); in mode 2 the avatar then answers it.

        Waits until the avatar has joined. Returns the transcript's mid.
        """
        with anyio.fail_after(max(5.0, self.config.join_delay + 5.0)):
            await self.joined.wait()
        mid = self._conn.send_chat(text, source="user")
        self.user_speech.append(text)
        self._wake(self._wake_writer)
        if self.mode == 2:
            self._enqueue(text, answer=True, request_mid=None)
        return mid

    def session_info(self) -> SessionInfo:
        """The snapshot a responder receives."""
        return SessionInfo(
            session_id=self.session_id,
            avatar_id=self.avatar_id,
            mode=self.mode,
            language=self.language,
            voice_id=self.voice_id,
            speed=self.speed,
            turn=self._turns,
        )

    def _wake(self, event: anyio.Event) -> None:
        event.set()
        self.room.notify_changed()

    # ------------------------------------------------------------------------------------------ reading

    async def _reader(self, peer: RoomPeer) -> None:
        async for event in peer.mailbox:
            if isinstance(event, FrameReceived):
                self._conn.receive_data(event.data, sender=event.sender, now=self._clock())
                for codec_event in self._conn.events_received():
                    self._handle(codec_event)
            elif isinstance(event, ConnectionStateChanged) and event.state is ConnectionState.FAILED:
                return

    def _handle(self, event: Event) -> None:
        if isinstance(event, ChatMessage):
            if event.source is None:
                self.received_texts.append(event.text)
                self._enqueue(event.text, answer=self.mode == 2, request_mid=event.mid)
        elif isinstance(event, CommandReceived):
            self._command(event)
        elif isinstance(event, FrameRejected):
            self.rejected_frames += 1
            self._refuse(event.error.reason, frame_excerpt(event.raw), sender=event.sender)
        elif isinstance(event, (MessageDiscarded, MessageExpired)):
            reason = event.reason if isinstance(event, MessageDiscarded) else "incomplete"
            self._refuse(f"message {event.mid} {reason}", "", sender=event.sender)

    def _refuse(self, reason: str, excerpt: str, *, sender: str) -> None:
        self.refused.append((reason, excerpt))
        logger.warning("avatar %s: refused a frame from %s (%s): %s", self.uid, sender, reason, excerpt)
        if self._recorder is not None:
            self._recorder.record_refusal(
                reason=reason, by=self.uid, sender=sender, excerpt=excerpt, channel=self.room.channel
            )

    def _enqueue(self, text: str, *, answer: bool, request_mid: str | None) -> None:
        self._jobs.append((text, answer, request_mid))
        self._wake(self._wake_speaker)

    # ----------------------------------------------------------------------------------------- commands

    def _command(self, event: CommandReceived) -> None:
        data = dict(event.data)
        if event.cmd == CMD_SET_PARAMS:
            code, msg = self._set_params(data)
        elif event.cmd == CMD_INTERRUPT:
            self._interrupt()
            code, msg = _CODE_OK, "OK"
        elif event.cmd == CMD_SET_ACTION:
            code, msg = self._set_action(data)
        else:
            code, msg = _CODE_PARAM_ERROR, f"unknown command {event.cmd!r}"
        self.commands.append(CommandRecord(event.cmd, data, code, msg))
        if event.mid is not None:
            self._conn.send_ack(event.mid, event.cmd, code=code, msg=msg)
            self._wake(self._wake_writer)

    def _set_params(self, data: dict[str, Any]) -> tuple[int, str]:
        mode, lang, vparams = data.get("mode"), data.get("lang"), data.get("vparams", {})
        if mode is not None and (type(mode) is not int or mode not in (1, 2)):
            return _CODE_PARAM_ERROR, f"mode must be 1 or 2, got {mode!r}"
        if lang is not None and lang not in self.config.languages:
            return _CODE_PARAM_ERROR, f"unknown lang {lang!r}"
        if not isinstance(vparams, dict):
            return _CODE_PARAM_ERROR, "vparams must be an object"
        speed = vparams.get("speed")
        if speed is not None and (
            isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.8 <= speed <= 1.2
        ):
            return _CODE_PARAM_ERROR, f"vparams.speed must be between 0.8 and 1.2, got {speed!r}"
        for key, value in (*data.items(), *vparams.items()):
            if key in ("vid", "vurl", "bgurl") and not isinstance(value, str):
                return _CODE_PARAM_ERROR, f"{key} must be a string"
            if key == "vid" and self.config.voices is not None and value not in self.config.voices:
                return _CODE_PARAM_ERROR, f"unknown vid {value!r}"
        if mode is not None:
            self.mode = mode
        if lang is not None:
            self.language = lang
        voice = vparams.get("vid", data.get("vid"))
        if voice is not None:
            self.voice_id = voice
        if speed is not None:
            self.speed = float(speed)
        return _CODE_OK, "OK"

    def _set_action(self, data: dict[str, Any]) -> tuple[int, str]:
        action, expression = data.get("action"), data.get("expression")
        if action is None and expression is None:
            return _CODE_PARAM_ERROR, "set-action needs an action or an expression"
        if action is not None and action not in {a.value for a in Action}:
            return _CODE_PARAM_ERROR, f"unknown action {action!r}"
        if expression is not None and expression not in {e.value for e in Expression}:
            return _CODE_PARAM_ERROR, f"unknown expression {expression!r}"
        self.action, self.expression = action, expression
        return _CODE_OK, "OK"

    def _interrupt(self) -> None:
        self._jobs.clear()
        if self._current_scope is not None:
            self._current_scope.cancel()
        if self._current_mid is not None:
            mid = self._current_mid
            self._reply_chat = deque(item for item in self._reply_chat if item[0] != mid)
            self._conn.cancel_chat(mid)

    # ------------------------------------------------------------------------------------------ speaking

    async def _speaker(self) -> None:
        while True:
            while not self._jobs:
                self._wake_speaker = anyio.Event()
                await self._wake_speaker.wait()
            text, answer, request_mid = self._jobs.popleft()
            await self._reply(text, answer=answer, request_mid=request_mid)

    async def _reply(self, text: str, *, answer: bool, request_mid: str | None) -> None:
        self._turns += 1
        reuse = request_mid is not None and self.config.reply_mid == "request"
        mid = request_mid if reuse and request_mid is not None else new_mid()
        self._current_mid = mid
        self.reply_mids.append(mid)
        self.speaking = True
        self._conn.send_event("audio_start")
        self._wake(self._wake_writer)
        spoken: list[str] = []
        try:
            with anyio.CancelScope() as scope:
                self._current_scope = scope
                idx = 0
                pending: str | None = None
                async with (
                    contextlib.aclosing(self._answer(text) if answer else _single(text)) as pieces,
                    contextlib.aclosing(_units(pieces, self.config.reply_chunk_chars)) as units,
                ):
                    async for unit in units:
                        if pending is not None:
                            idx = await self._say(mid, idx, pending, fin=False)
                            spoken.append(pending)
                        pending = unit
                if pending is not None:
                    await self._say(mid, idx, pending, fin=True)
                    spoken.append(pending)
                await self._wait_drained()
            if scope.cancelled_caught:
                self.interrupted_count += 1
            elif spoken:
                self.replies.append("".join(spoken))
        except Exception:
            logger.exception("avatar %s: the responder failed; reply abandoned", self.uid)
        finally:
            self._current_scope = None
            self._current_mid = None
            self.speaking = False
            self._conn.send_event("audio_end")
            self._wake(self._wake_writer)

    async def _answer(self, text: str) -> AsyncGenerator[str, None]:
        responder = self.config.responder if self.config.responder is not None else default_responder
        result = responder(text, self.session_info())
        if inspect.isawaitable(result):
            yield await result
            return
        try:
            async for piece in result:
                yield piece
        finally:
            aclose = getattr(result, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _say(self, mid: str, idx: int, unit: str, *, fin: bool) -> int:
        """Queue ``unit`` as frames ``idx..`` of reply ``mid``, then take its speaking time. Returns the next idx."""
        # split_text numbers from 0; leave room for the wider idx of a long reply.
        frames = split_text(unit, mid=mid, max_frame_bytes=self.config.max_frame_bytes - 12, source="bot")
        for i, frame in enumerate(frames):
            last = fin and i == len(frames) - 1
            chunk = ChatFrame(mid=mid, idx=idx + i, fin=last, text=frame.text, source="bot")
            self._reply_chat.append((mid, encode_frame(chunk)))
        self._wake(self._wake_writer)
        await anyio.sleep(len(unit) / self.config.speech_chars_per_second)
        return idx + len(frames)

    async def _wait_drained(self) -> None:
        while self._reply_chat:
            self._drained = anyio.Event()
            await self._drained.wait()

    # ------------------------------------------------------------------------------------------- writing

    async def _writer(self) -> None:
        conn = self._conn
        while True:
            now = self._clock()
            for data in conn.data_to_send(now):
                self._transmit(data, now)
            own_delay: float | None = None
            if self._reply_chat and conn.send_delay(now) is None:
                data = self._reply_chat[0][1]
                own_delay = conn.pacer.delay(now, len(data))
                if own_delay <= 0:
                    self._reply_chat.popleft()
                    conn.pacer.record(now, len(data))
                    self._transmit(data, now)
                    if not self._reply_chat:
                        self._drained.set()
                    continue
            if not self._reply_chat:
                self._drained.set()
            waits = [d for d in (conn.send_delay(now), own_delay) if d is not None]
            self._wake_writer = wake = anyio.Event()
            if not waits:  # nothing due: wait for a wake without a timer
                await wake.wait()
                continue
            with anyio.move_on_after(min(waits)):
                await wake.wait()

    def _transmit(self, data: bytes, now: float) -> None:
        if self._peer is None:
            return
        code = self._peer.send(data)
        if code in (ERR_TOO_OFTEN, ERR_BITRATE_LIMIT):
            self._conn.retry_later(data, now=now, delay=_RETRY_AFTER_RATE_LIMIT)
        elif code == ERR_NOT_IN_CHANNEL:  # the room is gone (the session expired or was closed): nothing to tell
            logger.debug("avatar %s: no longer in the room; a frame was dropped", self.uid)
        elif code != OK:
            logger.warning("avatar %s: the room refused a frame (%d); dropped", self.uid, code)


async def _single(text: str) -> AsyncGenerator[str, None]:
    yield text


async def _units(pieces: AsyncIterator[str], max_chars: int) -> AsyncGenerator[str, None]:
    """Re-cut a stream of text pieces into speaking units: sentences, at most ``max_chars`` characters each."""
    buffer = ""
    async for piece in pieces:
        buffer += piece
        while True:
            cut = _cut_point(buffer, max_chars, final=False)
            if cut is None:
                break
            yield buffer[:cut]
            buffer = buffer[cut:]
    for unit in _split_all(buffer, max_chars):
        yield unit


def _split_all(text: str, max_chars: int) -> Iterator[str]:
    while text:
        cut = _cut_point(text, max_chars, final=True)
        assert cut is not None  # final=True always cuts
        yield text[:cut]
        text = text[cut:]


def _cut_point(text: str, max_chars: int, *, final: bool) -> int | None:
    """Where the first unit of ``text`` ends: after a sentence end, else at a space before ``max_chars``."""
    for i, ch in enumerate(text[:max_chars]):
        if ch in ".!?" and i + 1 < len(text) and text[i + 1] == " ":
            return i + 2
    if len(text) <= max_chars:
        return len(text) if final and text else None
    space = text.rfind(" ", 1, max_chars)
    return space + 1 if space > 0 else max_chars
