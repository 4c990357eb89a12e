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

Who may join which room, and Agora's reason when someone may not, is :mod:`~streamclient.emulator.admission` (the
join rules); what a room then allows (one peer per uid, data-stream limits) is :mod:`~streamclient.emulator.room`.
In a room hosted for a session, the avatar's uid is the client's uid + 1,000,000.

Channels the caller owns (bring-your-own credentials, issue 15): configure an Agora project with
``EmulatorConfig.agora_app_id`` / ``agora_app_certificate`` and the emulator hosts a shared room for any channel of
it, keyed by channel name, opened by the first participant (the avatar, a bot or a viewer) and kept until the
emulator stops. Every join (the avatar's too) and every renewal presents a "007" token that is checked against the
project. A participant whose token lapses is warned 30 s before and removed (reason 9) unless it renewed. Token
times are read from ``wall_clock`` (epoch seconds; tests pass a fake one to move time). Closing a bring-your-own
session stops that session's avatar (the avatar object, not whoever has its uid); the others stay. An avatar the
channel refuses (its token, or its uid already in the room) stays out and its session fails (status 4); nothing a
participant or a REST call does stops the emulator.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from streamclient.emulator.admission import (
    REASON_INVALID_CHANNEL_NAME,
    REASON_REJECTED_BY_SERVER,
    REASON_TOKEN_EXPIRED,
    Admission,
    JoinRefused,
    JoinRequest,
)
from streamclient.emulator.avatar import Avatar, AvatarConfig
from streamclient.emulator.avatar_room import AvatarRoom
from streamclient.emulator.faults import FaultPlan
from streamclient.emulator.inspector import Inspector, inspector_routes
from streamclient.emulator.recording import Recorder
from streamclient.emulator.responders import Responder
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.room import REASON_BANNED_BY_SERVER, ROOM_PROFILES, Room, RoomLimits
from streamclient.emulator.room_endpoint import room_route
from streamclient.emulator.shapes import ResponseShapes
from streamclient.emulator.state import ACCEPTED_LANGUAGES, EmulatedSession, EmulatorState
from streamclient.errors import InvalidArgumentError, TransportTimeoutError

__all__ = ("Emulator", "EmulatorConfig")

logger = logging.getLogger(__name__)

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
        room_limits: the rooms' data-stream limits by profile name (:data:`~streamclient.emulator.room.ROOM_PROFILES`):
            ``"agora"`` (default) refuses what Agora refuses (1 KB a message, 60 messages/s, 30 KB/s per sender) and
            reports traffic over AKOOL's 6 KB/s guidance (``Room.guide_violations()``, a log warning); ``"guide"``
            refuses past the guidance (6,000 B/s, 30 messages/s), for tests of a sender's margin.
        room_bytes_per_second: per-sender byte limit of every sliding second of a room, on the room's clock
            (overrides the profile's).
        room_messages_per_second: per-sender message limit of every sliding second (overrides the profile's).
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
    room_limits: Literal["agora", "guide"] = "agora"
    room_bytes_per_second: int | None = None
    room_messages_per_second: int | None = None
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
        if self.room_limits not in ROOM_PROFILES:
            raise InvalidArgumentError(f"EmulatorConfig.room_limits must be one of {sorted(ROOM_PROFILES)}")
        if any(v is not None and v < 1 for v in (self.room_bytes_per_second, self.room_messages_per_second)):
            raise InvalidArgumentError(
                "EmulatorConfig: room_bytes_per_second and room_messages_per_second must be >= 1"
            )

    def limits(self) -> RoomLimits:
        """The rooms' limits: the ``room_limits`` profile with the explicit fields applied."""
        profile = ROOM_PROFILES[self.room_limits]
        nbytes, messages = self.room_bytes_per_second, self.room_messages_per_second
        return dataclasses.replace(
            profile,
            max_message_bytes=self.max_message_bytes,
            bytes_per_second=profile.bytes_per_second if nbytes is None else nbytes,
            messages_per_second=profile.messages_per_second if messages is None else messages,
        )


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
        #: Who may join which room (the join rules).
        self.admission = Admission(
            self.state.book,
            app_id=self.config.agora_app_id,
            app_certificate=self.config.agora_app_certificate,
            wall_clock=wall_clock,
        )
        self._rooms: dict[str, AvatarRoom] = {}  # by session id
        self._by_channel: dict[str, AvatarRoom] = {}
        self._avatars: dict[str, Avatar] = {}  # by session id
        self._tg: TaskGroup | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._recorder: Recorder | None = None
        self._sessions_changed = anyio.Event()
        #: Set by the next change; created by a waiter (a change with no one waiting costs no event).
        self._changed: anyio.Event | None = None
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
                    room_route("/room", self._resolve_join, check_token=self.admission.check_token),
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
    def rooms(self) -> dict[str, AvatarRoom]:
        """Every room by session id (a copy)."""
        return dict(self._rooms)

    def room_for(self, session_id: str) -> AvatarRoom | None:
        """The room of session ``session_id``, or ``None``."""
        return self._rooms.get(session_id)

    def room_for_channel(self, channel: str) -> AvatarRoom | None:
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
                    if self._changed is None:
                        self._changed = anyio.Event()
                    changed = self._changed
                    with anyio.move_on_after(_SAFETY_TICK_SECONDS):
                        await changed.wait()
        except TimeoutError as exc:
            raise TransportTimeoutError(f"condition still false after {timeout} s") from exc

    # ------------------------------------------------------------------------------ session listener

    def _open_room(self, channel: str, *, session_id: str | None) -> AvatarRoom:
        config = self.config
        room = AvatarRoom(
            channel,
            session_id=session_id,
            limits=config.limits(),
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

    def _shared_room(self, channel: str) -> AvatarRoom:
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
            gate: Callable[[], float | None] | None = functools.partial(self.admission.admit_avatar, session)
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
        room.add_avatar(avatar)
        self._rooms[session.id] = room
        self._avatars[session.id] = avatar
        self._pulse()
        if self._tg is not None:
            self._tg.start_soon(self._run_avatar, session, avatar)

    async def _run_avatar(self, session: EmulatedSession, avatar: Avatar) -> None:
        """Run a session's avatar; a join the room refused fails the session (status 4). Never raises.

        Nothing a participant or a REST call does may stop the emulator: an avatar that fails is logged and its
        session failed, and the emulator keeps serving everyone else.
        """
        try:
            await avatar.run()
        except Exception:
            logger.exception("emulator: the avatar of session %s failed", session.id)
            self.state.fail_session(session.id, "the avatar failed")
            return
        if avatar.join_refused is not None:
            self.state.fail_session(session.id, f"the channel refused the avatar's join (reason {avatar.join_refused})")

    def session_closed(self, session: EmulatedSession, reason: str) -> None:
        """End the session in its room.

        A hosted room closes (the avatar leaves, the client is disconnected); in a caller's room only this session's
        avatar leaves (the avatar object, not whoever has its uid).
        """
        room = self._rooms.get(session.id)
        avatar = self._avatars.get(session.id)
        if room is not None:
            if session.byo:
                if avatar is not None:
                    avatar.stop()
            else:
                room.close(reason=REASON_TOKEN_EXPIRED if reason == "expired" else REASON_BANNED_BY_SERVER)
        self._pulse()

    def _pulse(self) -> None:
        self._sessions_changed.set()
        self._sessions_changed = anyio.Event()
        self._notify_changed()

    def _notify_changed(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def _expiry_loop(self) -> None:
        while True:
            changed = self._sessions_changed
            due = self.state.next_expiry()
            wait = math.inf if due is None else max(0.0, due - self._clock())
            with anyio.move_on_after(wait):
                await changed.wait()
            self.state.expire_due()

    def _resolve_join(self, request: JoinRequest) -> Room:
        """The room a join goes into, by the join rules (:mod:`~streamclient.emulator.admission`)."""
        if not self.admission.is_hosted(request.channel):
            return self._resolve_shared(request)
        self.admission.admit_to_session(request)
        room = self._by_channel.get(request.channel)
        if room is None or room.closed:
            raise JoinRefused("the session's room is closed", reason=REASON_REJECTED_BY_SERVER)
        return room

    def _resolve_shared(self, request: JoinRequest) -> Room:
        """A join into a caller's channel: the project's shared room (its token is checked by the admission)."""
        if not self.admission.hosts_project:
            room = self._by_channel.get(request.channel)
            if room is None or room.closed:
                raise JoinRefused(f"no session uses channel {request.channel!r}", reason=REASON_INVALID_CHANNEL_NAME)
            return room
        self.admission.check_app_id(request)
        return self._shared_room(request.channel)
