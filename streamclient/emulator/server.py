"""``Emulator``: the REST API, the rooms and the scripted avatars on one loopback server.

::

    async with Emulator(EmulatorConfig(avatar_join_delay=0.05)) as emu:
        client = AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url)
        ...                                     # create a session; its credentials carry emulator_room_url
        room = emu.room_for(session_id)         # script faults, inject user speech, read counters
        await emu.wait_until(lambda: emu.open_session_count() == 0)

One Starlette app serves the REST routes (``rest.py``) and the room websocket at ``/room``. A session listener
opens a :class:`~streamclient.emulator.room.Room` and starts an :class:`~streamclient.emulator.avatar.Avatar` for
every created session, and closes the room when the session is closed (connection reason 3, BANNED_BY_SERVER) or
expires (reason 9, TOKEN_EXPIRED); a background task expires sessions when their ``duration`` runs out.

Join checks (``state.check_join``) map to Agora reasons: unknown channel 7, closed/expired session 10, wrong uid or
token 8, wrong app id 6. The avatar's uid is the client's uid + 1,000,000.

Channels the caller owns (bring-your-own credentials, issue 15): configure an Agora project with
``EmulatorConfig.agora_app_id`` / ``agora_app_certificate`` and the emulator hosts a shared room for any channel of
it, keyed by channel name, opened by the first participant (the avatar, a bot or a viewer) and kept until the
emulator stops. Every join (the avatar's too) and every renewal presents a "007" token that is checked against the
project (:func:`streamclient.tokens.agora.check_rtc_token`): another app id -> 6, bad signature, another channel or
uid -> 8, expired -> 9. A participant whose token lapses is warned 30 s before and removed (reason 9) unless it
renewed. Token times are read from ``wall_clock`` (epoch seconds; tests pass a fake one to move time). Closing a
bring-your-own session takes its avatar out of the room; the others stay.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import anyio
from anyio.abc import TaskGroup
from starlette.applications import Starlette

from streamclient.emulator._serve import serve
from streamclient.emulator.avatar import Avatar, AvatarConfig
from streamclient.emulator.faults import FaultPlan
from streamclient.emulator.inspector import Inspector, inspector_routes
from streamclient.emulator.recording import Recorder
from streamclient.emulator.responders import Responder
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.room import REASON_BANNED_BY_SERVER, Room, RoomLimits
from streamclient.emulator.room_endpoint import JoinRefused, JoinRequest, room_route
from streamclient.emulator.shapes import ResponseShapes
from streamclient.emulator.state import ACCEPTED_LANGUAGES, EmulatedSession, EmulatorState, JoinDenied
from streamclient.errors import AgoraTokenError, InvalidArgumentError, TransportTimeoutError
from streamclient.tokens.agora import check_rtc_token

__all__ = ("Emulator", "EmulatorConfig")

logger = logging.getLogger(__name__)

REASON_INVALID_APP_ID = 6
REASON_TOKEN_EXPIRED = 9
_JOIN_REASONS = {"unknown_channel": 7, "closed": 10, "bad_uid": 8, "bad_token": 8}
_SAFETY_TICK_SECONDS = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorConfig:
    """Everything the emulator can be told. Defaults suit interactive use; tests shorten the delays.

    Attributes:
        host: interface to listen on (loopback by default).
        port: TCP port; 0 picks a free one.
        api_key: the API key to accept; random per run when ``None``.
        quota_seconds: session seconds the account may reserve (``None``: unlimited; beyond -> 1006).
        avatar_join_delay: seconds from session create to the avatar joining the room.
        speech_chars_per_second: speaking speed of the avatar (reply pacing).
        reply_chunk_chars: longest speaking unit (one chat frame group) of a reply.
        seed: seed for every fault injector that has no seed of its own.
        room_bytes_per_second: per-sender byte limit of every sliding second of a room, on the room's clock (the
            implementation guide's 6 KB/s by default; Agora's 4.x SDK allows 30 KiB/s).
        room_messages_per_second: per-sender message limit of every sliding second (30 by default; SDK 4.x: 60).
        max_message_bytes: per-message limit of a room (Agora: 1024).
        responder: the mode-2 answerer (``None``: the deterministic default).
        record_path: write every delivered frame to this JSONL file.
        faults_to_client: fault plan of new rooms, avatar -> client.
        faults_to_avatar: fault plan of new rooms, client -> avatar.
        avatar_step_seconds: avatar upload status step time (REST side).
        default_mode: the avatar's mode when the session does not set ``mode_type``.
        agora_app_id: the Agora project whose channels the emulator hosts for bring-your-own credentials.
        agora_app_certificate: that project's certificate (tokens are checked with it); a secret.
        shapes: which documented answer shape the REST side uses where the docs show several (defaults: the
            docs' primary shapes; see :class:`~streamclient.emulator.shapes.ResponseShapes`).
        reply_mid: ``"request"`` (default, as in the docs' examples): the avatar's reply reuses the mid of the chat
            it answers; ``"fresh"``: every reply gets a new mid. Whether AKOOL reuses it is undocumented.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = field(default=None, repr=False)
    quota_seconds: float | None = None
    avatar_join_delay: float = 0.2
    speech_chars_per_second: float = 40.0
    reply_chunk_chars: int = 60
    seed: int = 0
    room_bytes_per_second: int = 6000
    room_messages_per_second: int = 30
    max_message_bytes: int = 1024
    responder: Responder | None = None
    record_path: str | Path | None = None
    faults_to_client: FaultPlan = field(default_factory=FaultPlan)
    faults_to_avatar: FaultPlan = field(default_factory=FaultPlan)
    avatar_step_seconds: float = 0.05
    default_mode: int = 2
    agora_app_id: str | None = None
    agora_app_certificate: str | None = field(default=None, repr=False)
    shapes: ResponseShapes = field(default_factory=ResponseShapes)
    # -- data-stream variants the docs allow (issue 10, decoder side)
    reply_mid: Literal["request", "fresh"] = "request"
    #: Serve the inspector page at ``/inspector/`` (issue 25); off: rooms are not watched at all.
    inspector: bool = True

    def __post_init__(self) -> None:
        if self.avatar_join_delay < 0 or self.speech_chars_per_second <= 0 or self.reply_chunk_chars < 1:
            raise InvalidArgumentError("EmulatorConfig: delays must be >= 0, speeds and chunk sizes > 0")
        if self.default_mode not in (1, 2):
            raise InvalidArgumentError("EmulatorConfig.default_mode must be 1 or 2")
        if self.reply_mid not in ("request", "fresh"):
            raise InvalidArgumentError("EmulatorConfig.reply_mid must be 'request' or 'fresh'")
        if (self.agora_app_id is None) != (self.agora_app_certificate is None):
            raise InvalidArgumentError("EmulatorConfig: give both agora_app_id and agora_app_certificate, or neither")


class Emulator:
    """A running local AKOOL: ``async with Emulator(config) as emu``. See the module docstring."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self._clock = clock
        self._wall_clock = wall_clock
        self.state = EmulatorState(
            api_key=self.config.api_key,
            clock=clock,
            quota_seconds=self.config.quota_seconds,
            avatar_step_seconds=self.config.avatar_step_seconds,
            shapes=self.config.shapes,
        )
        self._rooms: dict[str, Room] = {}  # by session id
        self._by_channel: dict[str, Room] = {}
        self._tg: TaskGroup | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._recorder: Recorder | None = None
        self._sessions_changed = anyio.Event()
        self._changed = anyio.Event()
        self._base_url: str | None = None
        #: The inspector page's watcher while running (``None`` when ``config.inspector`` is off).
        self.inspector: Inspector | None = None

    def __repr__(self) -> str:
        return f"Emulator(base_url={self._base_url!r}, rooms={len(self._rooms)})"

    # --------------------------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Emulator:
        if self._stack is not None:
            raise RuntimeError("this Emulator is already running")
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        try:
            if self.config.record_path is not None:
                self._recorder = stack.enter_context(Recorder(self.config.record_path, clock=self._clock))
            self._tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(self._tg.cancel_scope.cancel)
            self.inspector = Inspector(clock=self._clock) if self.config.inspector else None
            app = Starlette(
                routes=[
                    *rest_routes(self.state),
                    room_route("/room", self._resolve_join, check_token=self._check_token),
                    *(inspector_routes(self.inspector) if self.inspector is not None else ()),
                ]
            )
            self._base_url = await stack.enter_async_context(serve(app, host=self.config.host, port=self.config.port))
            stack.callback(self._close_rooms)
            self.state.credentials_extra["emulator_room_url"] = self.room_url
            self.state.add_listener(self)
            if self.inspector is not None:  # after the emulator's listener: a session's room exists when it hears
                stack.callback(self.inspector.close)  # its page's streams end before the server stops
                self.state.add_listener(self.inspector)
                self._tg.start_soon(self.inspector.run)
            self._tg.start_soon(self._expiry_loop)
        except BaseException:
            await stack.__aexit__(None, None, None)
            raise
        self._stack = stack
        logger.info("emulator listening on %s", self._base_url)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)
        self._tg = None
        self._base_url = None

    def _close_rooms(self) -> None:
        for room in self._by_channel.values():
            room.close(reason=REASON_BANNED_BY_SERVER)

    # ------------------------------------------------------------------------------------------ access

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the REST base URL)."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not running")
        return self._base_url

    @property
    def room_url(self) -> str:
        """``ws://127.0.0.1:PORT/room`` (what ``RoomTransport`` connects to)."""
        return "ws" + self.base_url.removeprefix("http") + "/room"

    @property
    def inspector_url(self) -> str | None:
        """``http://127.0.0.1:PORT/inspector/``: the live inspector page (``None`` when it is off)."""
        return None if self.inspector is None else self.base_url + "/inspector/"

    @property
    def api_key(self) -> str:
        """The API key the REST side accepts (not a user secret: local and random per run unless configured)."""
        return self.state.api_key

    @property
    def rooms(self) -> dict[str, Room]:
        """Every room by session id (a copy)."""
        return dict(self._rooms)

    def room_for(self, session_id: str) -> Room | None:
        """The room of session ``session_id``, or ``None``."""
        return self._rooms.get(session_id)

    def room_for_channel(self, channel: str) -> Room | None:
        """The room of ``channel`` (a session's, or a caller's shared room), or ``None``."""
        return self._by_channel.get(channel)

    def open_session_count(self) -> int:
        """Sessions neither closed nor expired."""
        return len(self.state.open_sessions())

    def billed_seconds(self) -> float:
        """Seconds billed so far over all sessions."""
        return self.state.billed_seconds()

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Wait until ``condition()`` is true.

        The condition is checked whenever a room, an avatar or a session changes, and at least every 50 ms (for
        conditions on other things).

        Raises:
            TransportTimeoutError: still false after ``timeout`` seconds.
        """
        try:
            with anyio.fail_after(timeout):
                while not condition():
                    changed = self._changed
                    with anyio.move_on_after(_SAFETY_TICK_SECONDS):
                        await changed.wait()
        except TimeoutError as exc:
            raise TransportTimeoutError(f"condition still false after {timeout} s") from exc

    # ------------------------------------------------------------------------------ session listener

    def _open_room(self, channel: str, *, session_id: str | None) -> Room:
        config = self.config
        room = Room(
            channel,
            session_id=session_id,
            limits=RoomLimits(
                max_message_bytes=config.max_message_bytes,
                bytes_per_second=config.room_bytes_per_second,
                messages_per_second=config.room_messages_per_second,
            ),
            seed=config.seed,
            clock=self._clock,
            wall_clock=self._wall_clock,
            recorder=self._recorder,
            on_change=self._notify_changed,
        )
        room.set_faults(to_client=config.faults_to_client, to_avatar=config.faults_to_avatar)
        if self.inspector is not None:
            self.inspector.attach(room)
        self._by_channel[channel] = room
        if self._tg is not None:
            self._tg.start_soon(room.run)
        return room

    def _shared_room(self, channel: str) -> Room:
        """The caller's room of ``channel``, opened on first use."""
        room = self._by_channel.get(channel)
        if room is None or room.closed:
            room = self._open_room(channel, session_id=None)
            logger.info("emulator: opened the shared room of channel %s", channel)
        return room

    def session_created(self, session: EmulatedSession) -> None:
        """Open the session's room (or find the caller's shared room) and start its avatar."""
        config = self.config
        if session.byo:
            room = self._shared_room(session.channel)
            gate: Callable[[], float | None] | None = functools.partial(self._admit_avatar, session)
        else:
            room = self._open_room(session.channel, session_id=session.id)
            gate = None
        # set-params is checked against the same language and voice lists as session create (state.py)
        elevenlabs = bool(session.voice_params.get("elevenlabs_settings"))
        avatar = Avatar(
            room,
            uid=session.avatar_uid,
            config=AvatarConfig(
                join_delay=config.avatar_join_delay,
                speech_chars_per_second=config.speech_chars_per_second,
                reply_chunk_chars=config.reply_chunk_chars,
                responder=config.responder,
                languages=ACCEPTED_LANGUAGES,
                voices=None if elevenlabs else self.state.voice_ids(),
                reply_mid=config.reply_mid,
            ),
            session_id=session.id,
            avatar_id=session.avatar_id,
            mode=session.mode_type if session.mode_type is not None else config.default_mode,
            language=session.language or "en",
            voice_id=session.voice_id,
            clock=self._clock,
            recorder=self._recorder,
            gate=gate,
        )
        room.avatar = avatar
        self._rooms[session.id] = room
        self._pulse()
        if self._tg is not None:
            self._tg.start_soon(avatar.run)

    def session_closed(self, session: EmulatedSession, reason: str) -> None:
        """End the session in its room.

        A hosted room closes (the avatar leaves, the client is disconnected); in a caller's room only the avatar
        leaves.
        """
        room = self._rooms.get(session.id)
        if room is not None:
            if session.byo:
                room.leave(session.avatar_uid)
            else:
                room.close(reason=REASON_TOKEN_EXPIRED if reason == "expired" else REASON_BANNED_BY_SERVER)
        self._pulse()

    def _admit_avatar(self, session: EmulatedSession) -> float | None:
        """The avatar's join check in a caller's channel; returns when its token lapses.

        Raises:
            AgoraTokenError: the token is refused (the avatar stays out).
        """
        request = JoinRequest(
            app_id=session.app_id, channel=session.channel, uid=session.avatar_uid, token=session.avatar_token
        )
        try:
            return self._check_token(request)
        except JoinRefused as exc:
            raise AgoraTokenError(exc.message, reason=exc.reason) from exc

    def _pulse(self) -> None:
        self._sessions_changed.set()
        self._sessions_changed = anyio.Event()
        self._notify_changed()

    def _notify_changed(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _expiry_loop(self) -> None:
        while True:
            changed = self._sessions_changed
            due = self.state.next_expiry()
            wait = math.inf if due is None else max(0.0, due - self._clock())
            with anyio.move_on_after(wait):
                await changed.wait()
            self.state.expire_due()

    def _check_token(self, request: JoinRequest) -> float | None:
        """Check the token of a join or renewal in a caller's channel; returns when its join privilege lapses.

        AKOOL-hosted rooms are checked by ``state.check_join`` instead (their tokens are opaque), and without a
        configured Agora project nothing is checked.
        """
        config = self.config
        if self.state.session_by_channel(request.channel) is not None:
            return None
        if config.agora_app_id is None or config.agora_app_certificate is None:
            return None
        if request.app_id and request.app_id != config.agora_app_id:
            raise JoinRefused("the app id is not this project's", reason=REASON_INVALID_APP_ID)
        try:
            token = check_rtc_token(
                request.token,
                app_id=config.agora_app_id,
                app_certificate=config.agora_app_certificate,
                channel=request.channel,
                uid=request.uid,
                now=self._wall_clock(),
            )
        except AgoraTokenError as exc:
            raise JoinRefused(exc.message, reason=exc.reason) from exc
        grant = token.grant_for(request.channel, request.uid)
        assert grant is not None  # check_rtc_token found it
        return float(token.lapses_at(grant))

    def _resolve_join(self, request: JoinRequest) -> Room:
        if self.state.session_by_channel(request.channel) is None:
            return self._resolve_shared(request)
        try:
            session = self.state.check_join(channel=request.channel, uid=request.uid, token=request.token)
        except JoinDenied as exc:
            raise JoinRefused(str(exc), reason=_JOIN_REASONS.get(exc.reason, 10)) from exc
        if request.app_id and request.app_id != session.app_id:
            raise JoinRefused("unknown app id", reason=REASON_INVALID_APP_ID)
        room = self._by_channel.get(request.channel)
        if room is None or room.closed:
            raise JoinRefused("the session's room is closed", reason=10)
        return room

    def _resolve_shared(self, request: JoinRequest) -> Room:
        """A join into a caller's channel: the project's shared room (its token is checked by ``_check_token``)."""
        if self.config.agora_app_id is None:
            room = self._by_channel.get(request.channel)
            if room is None or room.closed:
                raise JoinRefused(f"no session uses channel {request.channel!r}", reason=7)
            return room
        if request.app_id and request.app_id != self.config.agora_app_id:
            raise JoinRefused("the app id is not this project's", reason=REASON_INVALID_APP_ID)
        return self._shared_room(request.channel)
