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
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import anyio
from anyio.abc import TaskGroup
from starlette.applications import Starlette

from streamclient.emulator._serve import serve
from streamclient.emulator.avatar import DEFAULT_LANGUAGES, Avatar, AvatarConfig
from streamclient.emulator.faults import FaultPlan
from streamclient.emulator.recording import Recorder
from streamclient.emulator.responders import Responder
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.room import REASON_BANNED_BY_SERVER, Room, RoomLimits
from streamclient.emulator.room_endpoint import JoinRefused, JoinRequest, room_route
from streamclient.emulator.state import LANGUAGES, EmulatedSession, EmulatorState, JoinDenied
from streamclient.errors import InvalidArgumentError, TransportTimeoutError

__all__ = ("Emulator", "EmulatorConfig")

logger = logging.getLogger(__name__)

REASON_INVALID_APP_ID = 6
REASON_TOKEN_EXPIRED = 9
_JOIN_REASONS = {"unknown_channel": 7, "closed": 10, "bad_uid": 8, "bad_token": 8}
_AVATAR_UID_OFFSET = 1_000_000
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

    def __post_init__(self) -> None:
        if self.avatar_join_delay < 0 or self.speech_chars_per_second <= 0 or self.reply_chunk_chars < 1:
            raise InvalidArgumentError("EmulatorConfig: delays must be >= 0, speeds and chunk sizes > 0")
        if self.default_mode not in (1, 2):
            raise InvalidArgumentError("EmulatorConfig.default_mode must be 1 or 2")


class Emulator:
    """A running local AKOOL: ``async with Emulator(config) as emu``. See the module docstring."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self._clock = clock
        self.state = EmulatorState(
            api_key=self.config.api_key,
            clock=clock,
            quota_seconds=self.config.quota_seconds,
            avatar_step_seconds=self.config.avatar_step_seconds,
        )
        self._rooms: dict[str, Room] = {}  # by session id
        self._by_channel: dict[str, Room] = {}
        self._tg: TaskGroup | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._recorder: Recorder | None = None
        self._sessions_changed = anyio.Event()
        self._changed = anyio.Event()
        self._base_url: str | None = None

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
            app = Starlette(routes=[*rest_routes(self.state), room_route("/room", self._resolve_join)])
            self._base_url = await stack.enter_async_context(serve(app, host=self.config.host, port=self.config.port))
            stack.callback(self._close_rooms)
            self.state.credentials_extra["emulator_room_url"] = self.room_url
            self.state.add_listener(self)
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
        for room in self._rooms.values():
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

    def session_created(self, session: EmulatedSession) -> None:
        """Open the session's room and start its avatar."""
        config = self.config
        room = Room(
            session.channel,
            session_id=session.id,
            limits=RoomLimits(
                max_message_bytes=config.max_message_bytes,
                bytes_per_second=config.room_bytes_per_second,
                messages_per_second=config.room_messages_per_second,
            ),
            seed=config.seed,
            clock=self._clock,
            recorder=self._recorder,
            on_change=self._notify_changed,
        )
        room.set_faults(to_client=config.faults_to_client, to_avatar=config.faults_to_avatar)
        languages = frozenset(lang["lang_code"] for lang in LANGUAGES) | DEFAULT_LANGUAGES
        avatar = Avatar(
            room,
            uid=str(session.client_uid + _AVATAR_UID_OFFSET),
            config=AvatarConfig(
                join_delay=config.avatar_join_delay,
                speech_chars_per_second=config.speech_chars_per_second,
                reply_chunk_chars=config.reply_chunk_chars,
                responder=config.responder,
                languages=languages,
            ),
            session_id=session.id,
            avatar_id=session.avatar_id,
            mode=session.mode_type if session.mode_type is not None else config.default_mode,
            language=session.language or "en",
            voice_id=session.voice_id,
            clock=self._clock,
        )
        room.avatar = avatar
        self._rooms[session.id] = room
        self._by_channel[session.channel] = room
        self._pulse()
        if self._tg is not None:
            self._tg.start_soon(room.run)
            self._tg.start_soon(avatar.run)

    def session_closed(self, session: EmulatedSession, reason: str) -> None:
        """Close the session's room: the avatar leaves and the client is disconnected."""
        room = self._rooms.get(session.id)
        if room is not None:
            room.close(reason=REASON_TOKEN_EXPIRED if reason == "expired" else REASON_BANNED_BY_SERVER)
        self._pulse()

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

    def _resolve_join(self, request: JoinRequest) -> Room:
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
