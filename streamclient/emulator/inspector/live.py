"""The inspector of a running emulator: watches its rooms and sessions, feeds the page's model, acts in a room.

Cost on the room's path: a room calls :meth:`Inspector.room_event` in line for every join, leave, delivery and
refusal; it appends one tuple to a bounded queue (``MAX_PENDING``; beyond it the oldest entry is dropped and
counted in :attr:`Inspector.lost`) and returns. The model is fed later, by :meth:`Inspector.run`, at most every
``TICK_SECONDS`` and in slices of ``SLICE`` entries with a checkpoint between them, so the room's deliveries never
wait behind the inspector for long (``benchmarks/bench_inspector.py`` measures it).

Only the rooms a page watches are decoded: every frame is counted, but a room nobody has looked at keeps its
frames raw in a bounded backlog (``model.FRAMES_PER_ROOM`` per room, ``MAX_BACKLOG_BYTES`` in all) until a page
asks for it (:meth:`Inspector.watch`); then the backlog is decoded, in slices, and the room is followed live.

Acting in a room (the page's controls): :meth:`speak` injects an ASR transcript (the bot's session receives a
``UserTranscript``); :meth:`chat` and :meth:`interrupt` send a chat message or an ``interrupt`` command as a viewer
of the page's own (uid ``PAGE_UID_BASE + n``, joined on first use, paced by the codec's pacer like any client).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from streamclient.codec import Pacer, encode_frame, interrupt, new_mid, split_text
from streamclient.emulator.avatar_room import AvatarRoom
from streamclient.emulator.inspector.model import FRAMES_PER_ROOM, MAX_ROOMS, InspectorModel, Limits
from streamclient.emulator.room import OK, PeerRole, Room, RoomEventKind, RoomPeer
from streamclient.errors import InvalidArgumentError

if TYPE_CHECKING:
    from streamclient.emulator.state import EmulatedSession

__all__ = ("MAX_PENDING", "MAX_TEXT_CHARS", "PAGE_UID_BASE", "Inspector", "InspectorActionError")

logger = logging.getLogger(__name__)

MAX_PENDING = 200_000
TICK_SECONDS = 0.1
SLICE = 16
#: The page's viewer uids (Agora uids are 32-bit; the emulator's sessions use far smaller ones).
PAGE_UID_BASE = 4_000_000_000
#: The longest text the page may speak or chat.
MAX_TEXT_CHARS = 10_000
_ACT_TIMEOUT = 30.0

#: Frame bytes kept raw, in all rooms nobody watches.
MAX_BACKLOG_BYTES = 24 * 1024 * 1024

_Pending = tuple[float, str, str, str, str, bytes, int, Any]
_Raw = tuple[float, str, str, bytes, int, int]  # t, uid, role, data, code, n


class InspectorActionError(Exception):
    """The page asked for something the room cannot do now (closed, no avatar, refused frame...)."""


class Inspector:
    """Watches rooms (``attach``) and sessions (a state listener); run :meth:`run` in a task while it serves.

    Args:
        clock: the emulator's clock (item times are seconds since the inspector started).
        model: the store to feed (a fresh live one by default).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, model: InspectorModel | None = None) -> None:
        self.model = model if model is not None else InspectorModel(live=True)
        self._clock = clock
        self._start = clock()
        self._pending: deque[_Pending] = deque()
        self._wake = anyio.Event()
        self._woken = False
        self._changed = anyio.Event()
        self._closed = anyio.Event()
        self._rooms: dict[str, Room] = {}
        self._viewers: dict[str, tuple[RoomPeer, Pacer]] = {}
        self._uids = itertools.count(1)
        self._tg: TaskGroup | None = None
        self._backlog: dict[str, deque[_Raw]] = {}
        self._backlog_bytes = 0
        self._watched: dict[str, None] = {}  # ordered: the oldest watch goes first beyond MAX_ROOMS
        self._catching_up: dict[str, anyio.Event] = {}
        #: Room events dropped because the queue was full (the page shows the count).
        self.lost = 0

    def __repr__(self) -> str:
        return f"Inspector(rooms={len(self._rooms)}, pending={len(self._pending)}, lost={self.lost})"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (the page's live streams end)."""
        return self._closed.is_set()

    def close(self) -> None:
        """End the live streams (before the server stops, so it need not wait for them)."""
        self._closed.set()
        self._changed.set()

    async def wait_changed(self, timeout: float) -> None:
        """Wait until the model changes, the inspector closes, or ``timeout`` seconds pass."""
        changed = self._changed
        with anyio.move_on_after(timeout):
            await changed.wait()

    # -------------------------------------------------------------------------------------- observing

    def _t(self) -> float:
        return self._clock() - self._start

    def _push(self, entry: _Pending) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
            self.lost += 1
        self._pending.append(entry)
        if not self._woken:
            self._woken = True
            self._wake.set()

    def attach(self, room: Room) -> None:
        """Watch ``room`` from now on (the emulator calls it for every room it opens)."""
        self._rooms[room.channel] = room
        room.observers.append(self)
        self._push((self._t(), room.channel, "open", "", "", b"", 0, (room.session_id, room.limits)))

    def room_event(
        self, room: Room, kind: RoomEventKind, uid: str, *, role: str = "", data: bytes = b"", code: int = 0
    ) -> None:
        """Queue what happened (in line on the room's path: one append)."""
        self._push((self._clock() - self._start, room.channel, kind, uid, role, data, code, None))

    def session_created(self, session: EmulatedSession) -> None:
        """A session was created (state listener): show it, and take its client for the room's bot."""
        info = (session.id, session.avatar_id, session.mode_type, "open", str(session.client_uid))
        self._push((self._t(), session.channel, "session", "", "", b"", 0, info))

    def session_closed(self, session: EmulatedSession, reason: str) -> None:
        """A session was closed or expired (state listener)."""
        info = (session.id, session.avatar_id, session.mode_type, reason, "")
        self._push((self._t(), session.channel, "session", "", "", b"", 0, info))

    # -------------------------------------------------------------------------------------- feeding

    async def run(self) -> None:
        """Feed the model from the queue until cancelled (throttled, in slices)."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                while True:
                    await self._wake.wait()
                    await anyio.sleep(TICK_SECONDS)  # throttle: what comes meanwhile joins this batch
                    self._wake = anyio.Event()
                    self._woken = False
                    await self._drain()
            finally:
                self._tg = None

    async def _drain(self) -> None:
        pending = self._pending
        while pending:
            for _ in range(min(SLICE, len(pending))):
                self._apply(pending.popleft())
            await anyio.lowlevel.checkpoint()  # the room's deliveries go first
        self._publish()

    def _publish(self, *, all_counters: bool = False) -> None:
        self.model.flush(None if all_counters else self._t())
        self._changed.set()
        self._changed = anyio.Event()

    def drain_now(self) -> None:
        """Feed everything queued at once (tests)."""
        while self._pending:
            self._apply(self._pending.popleft())
        self._publish(all_counters=True)

    async def watch(self, channel: str) -> None:
        """Decode the room's backlog and follow it live from now on (a page asked for it)."""
        if channel in self._watched or not self.model.has_room(channel):
            return
        busy = self._catching_up.get(channel)
        if busy is not None:
            await busy.wait()
            return
        self._catching_up[channel] = done = anyio.Event()
        try:
            model = self.model
            backlog = self._backlog.get(channel)
            while backlog:  # frames that arrive meanwhile join the backlog, so the order holds
                for _ in range(min(SLICE, len(backlog))):
                    t, uid, role, data, code, n = backlog.popleft()
                    self._backlog_bytes -= len(data)
                    model.frame(channel, t=t, uid=uid, role=role, data=data, code=code, n=n)
                await anyio.lowlevel.checkpoint()
            self._backlog.pop(channel, None)
            if model.has_room(channel):
                self._watched[channel] = None
                while len(self._watched) > MAX_ROOMS:
                    del self._watched[next(iter(self._watched))]
            self._publish()
        finally:
            del self._catching_up[channel]
            done.set()

    def _stash(self, channel: str, raw: _Raw) -> None:
        backlog = self._backlog.get(channel)
        if backlog is None:
            backlog = self._backlog[channel] = deque()
        backlog.append(raw)
        self._backlog_bytes += len(raw[3])
        if len(backlog) > FRAMES_PER_ROOM:
            self._backlog_bytes -= len(backlog.popleft()[3])
        while self._backlog_bytes > MAX_BACKLOG_BYTES:
            oldest = next(q for q in self._backlog.values() if q)
            self._backlog_bytes -= len(oldest.popleft()[3])

    def _forget(self, channel: str) -> None:
        backlog = self._backlog.pop(channel, None)
        if backlog:
            self._backlog_bytes -= sum(len(raw[3]) for raw in backlog)
        self._watched.pop(channel, None)

    def _apply(self, entry: _Pending) -> None:
        model = self.model
        t, channel, kind, uid, role, data, code, extra = entry
        if kind == "frame" or kind == "refused":
            n = model.count_frame(channel, refused=code != 0)
            if n is None:
                return
            if channel in self._watched and channel not in self._catching_up:
                model.frame(channel, t=t, uid=uid, role=role, data=data, code=code, n=n)
            else:
                self._stash(channel, (t, uid, role, data, code, n))
        elif kind == "join" or kind == "leave":
            model.peer(channel, uid, role=role, joined=kind == "join", reason=code, t=t)
        elif kind == "close":
            model.room_closed(channel, reason=code, t=t)
            room = self._rooms.get(channel)
            if room is not None and room.closed:  # nothing to act on any more: let it go
                del self._rooms[channel]
        elif kind == "open":
            session_id, limits = extra
            self._forget(channel)
            model.room_opened(
                channel,
                session_id=session_id,
                limits=Limits(
                    max_message_bytes=limits.max_message_bytes,
                    bytes_per_second=limits.bytes_per_second,
                    messages_per_second=limits.messages_per_second,
                    window_seconds=limits.window_seconds,
                ),
                t=t,
            )
            if len(self._backlog) > MAX_ROOMS:  # the model forgot its oldest room: so does the backlog
                for gone in [c for c in self._backlog if not model.has_room(c)]:
                    self._forget(gone)
        elif kind == "session":
            session_id, avatar_id, mode, status, bot_uid = extra
            if bot_uid:
                model.mark_bot(channel, bot_uid)
            model.session(session_id, room=channel, avatar_id=avatar_id, mode=mode, status=status, t=t)
        elif kind == "own":
            model.mark_own(channel, uid)

    # -------------------------------------------------------------------------------------- acting

    def _room(self, channel: str) -> Room:
        room = self._rooms.get(channel)
        if room is None or room.closed:
            raise InspectorActionError(f"room {channel} is not open")
        return room

    @staticmethod
    def _check_text(text: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgumentError("the text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidArgumentError(f"the text is longer than {MAX_TEXT_CHARS} characters")
        return text

    async def speak(self, channel: str, text: str) -> str:
        """Say ``text`` as the user (an ASR transcript from the avatar); returns its mid.

        Raises:
            InvalidArgumentError: empty or too long a text.
            InspectorActionError: the room is not open or has no avatar.
        """
        room = self._room(channel)
        self._check_text(text)
        if not isinstance(room, AvatarRoom) or room.avatar is None:
            raise InspectorActionError(f"room {channel} has no avatar")
        try:
            with anyio.fail_after(_ACT_TIMEOUT):
                return await room.inject_user_speech(text)
        except TimeoutError as exc:
            raise InspectorActionError("the avatar has not joined the room") from exc

    def _viewer(self, room: Room) -> tuple[RoomPeer, Pacer]:
        viewer = self._viewers.get(room.channel)
        if viewer is not None and viewer[0].uid in room.peers:
            return viewer
        uid = str(PAGE_UID_BASE + next(self._uids))
        while uid in room.peers:
            uid = str(PAGE_UID_BASE + next(self._uids))
        self._push((self._t(), room.channel, "own", uid, "", b"", 0, None))
        peer = room.join(uid, role=PeerRole.CLIENT)
        pacer = Pacer()
        self._viewers[room.channel] = (peer, pacer)
        if self._tg is not None:
            self._tg.start_soon(self._drain_mailbox, peer)
        return peer, pacer

    async def _drain_mailbox(self, peer: RoomPeer) -> None:
        """The page's viewer reads nothing: its mailbox is emptied so it never fills."""
        async for _ in peer.events():
            pass
        self._viewers.pop(peer.room.channel, None)

    async def _send(self, room: Room, frames: list[bytes], *, priority: bool = False) -> None:
        peer, pacer = self._viewer(room)
        for data in frames:
            wait = pacer.delay(self._clock(), len(data), priority=priority)
            if wait > 0:
                await anyio.sleep(wait)
            code = peer.send(data)
            if code != OK:
                raise InspectorActionError(f"the room refused the page's frame ({code})")
            pacer.record(self._clock(), len(data))

    async def chat(self, channel: str, text: str) -> str:
        """Send ``text`` as a chat message from the page's viewer; returns its mid.

        Raises:
            InvalidArgumentError: empty or too long a text.
            InspectorActionError: the room is not open or refused a frame.
        """
        room = self._room(channel)
        mid = new_mid()
        frames = [encode_frame(f) for f in split_text(self._check_text(text), mid=mid)]
        with anyio.fail_after(_ACT_TIMEOUT):
            await self._send(room, frames)
        return mid

    async def interrupt(self, channel: str) -> str:
        """Send ``interrupt`` from the page's viewer; returns its mid.

        Raises:
            InspectorActionError: the room is not open or refused the frame.
        """
        room = self._room(channel)
        frame = interrupt()
        with anyio.fail_after(_ACT_TIMEOUT):
            await self._send(room, [encode_frame(frame)], priority=True)
        assert frame.mid is not None
        return frame.mid
