"""The inspector of a running emulator: watches its rooms and sessions, feeds the page's model, acts in a room.

What the room pays, per frame, on its delivery path (issue 25: the page must cost the room nothing): every room has
a :class:`Tape` among its observers, which writes the frame's time, sender, role, data and verdict into five
parallel arrays, a ring of the room's newest ``FRAMES_PER_ROOM`` frames (``MAX_TAPE_BYTES`` of frame bytes over all
rooms, the oldest rooms' oldest frames going first), and counts it. No decoding, no dict, no tuple, no model, no
wake-up: not one object the garbage collector tracks is allocated, and the data is the frame's own ``bytes``, shared,
not copied.
Joins, leaves, opens, closes and sessions (a few per session, not per frame) go to a bounded queue (``MAX_PENDING``;
beyond it the oldest entry is dropped and counted in :attr:`Inspector.lost`) that :meth:`Inspector.run` applies to
the model at most every ``TICK_SECONDS``, so the rooms list and the participants are always there.

Kept always (cheap): the rooms, sessions and participants (model items, a few per session), each room's frame and
refusal counts, and its recent frames raw on its tape. Built only when a page asks (:meth:`Inspector.watch`, called
by the page's snapshot, its event stream and the recording download) and then at every tick while a page's stream
follows the room: the decoded frames, the conversation, the turns and the rate chart, fed from the tape in slices
of ``SLICE`` frames with a checkpoint between them (the room's deliveries go first). With no page connected the
inspector's task sleeps; with one, it feeds only the room the page shows, and re-sends the rooms' counters at most
once a second.

Acting in a room (the page's controls): :meth:`speak` injects an ASR transcript (the bot's session receives a
``UserTranscript``); :meth:`chat` and :meth:`interrupt` send a chat message or an ``interrupt`` command as a viewer
of the page's own (uid ``PAGE_UID_BASE + n``, joined on first use, paced by the codec's pacer like any client).
"""

from __future__ import annotations

import itertools
import logging
import time
from array import array
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from streamclient.codec import Pacer, encode_frame, interrupt, new_mid, split_text
from streamclient.emulator.avatar_room import AvatarRoom
from streamclient.emulator.inspector.model import (
    KEEP_REFUSED_BYTES,
    MAX_ROOMS,
    ROOM_ITEMS_EVERY,
    InspectorModel,
    Limits,
)
from streamclient.emulator.room import OK, PeerRole, Room, RoomEventKind, RoomPeer
from streamclient.errors import InvalidArgumentError

if TYPE_CHECKING:
    from streamclient.emulator.state import EmulatedSession

__all__ = ("MAX_PENDING", "MAX_TEXT_CHARS", "PAGE_UID_BASE", "Inspector", "InspectorActionError", "Tape")

logger = logging.getLogger(__name__)

#: Joins, leaves, opens, closes and sessions waiting for the next tick.
MAX_PENDING = 200_000
TICK_SECONDS = 0.1
SLICE = 8
#: Rooms whose counters are copied between two checkpoints.
SYNC_SLICE = 25
#: The page's viewer uids (Agora uids are 32-bit; the emulator's sessions use far smaller ones).
PAGE_UID_BASE = 4_000_000_000
#: The longest text the page may speak or chat.
MAX_TEXT_CHARS = 10_000
_ACT_TIMEOUT = 30.0

#: Frames kept raw on a room's tape (the newest).
FRAMES_PER_ROOM = 1000
#: Frame bytes kept raw, on all tapes together.
MAX_TAPE_BYTES = 24 * 1024 * 1024

_Pending = tuple[float, str, str, str, str, int, Any]
#: One frame on a tape: the clock's time, sender, role (``client`` / ``avatar`` / ``""``), data, the room's code.
_Taped = tuple[float, str, str, bytes, int]


class InspectorActionError(Exception):
    """The page asked for something the room cannot do now (closed, no avatar, refused frame...)."""


class Tape:
    """One room's observer: its newest frames, raw, in a bounded ring; everything else goes to the inspector's queue.

    The ring is five parallel arrays (times, senders, roles, data, codes), filled by appending and then
    overwritten in place, so taping a frame allocates no object the garbage collector tracks: not even a tuple.
    Frames are numbered from 1 (``count`` is the newest); the tape holds the numbers ``first`` to ``count``.
    """

    __slots__ = (
        "_clock",
        "_owner",
        "capacity",
        "channel",
        "codes",
        "count",
        "data",
        "fed",
        "feeding",
        "first",
        "refused",
        "roles",
        "times",
        "uids",
    )

    def __init__(self, owner: Inspector, channel: str, clock: Callable[[], float]) -> None:
        self._owner = owner
        self._clock = clock
        self.channel = channel
        self.capacity = FRAMES_PER_ROOM
        self.times = array("d")
        self.uids: list[str] = []
        self.roles: list[str] = []
        self.data: list[bytes] = []
        self.codes = array("i")
        self.count = 0
        self.first = 1
        self.refused = 0
        #: The number of the last frame fed to the model (0: none yet).
        self.fed = 0
        #: Set while :meth:`Inspector._feed` works on this tape (it awaits between slices).
        self.feeding: anyio.Event | None = None

    def __repr__(self) -> str:
        return f"Tape(channel={self.channel!r}, count={self.count}, kept={self.kept}, fed={self.fed})"

    @property
    def kept(self) -> int:
        """Frames on the tape."""
        return self.count - self.first + 1

    def room_event(
        self, room: Room, kind: RoomEventKind, uid: str, *, role: str = "", data: bytes = b"", code: int = 0
    ) -> None:
        """In line on the room's path: a frame is taped and counted; the rest is queued (see the module)."""
        if kind == "frame" or kind == "refused":
            owner = self._owner
            if code:
                self.refused += 1
                if len(data) > KEEP_REFUSED_BYTES:
                    data = data[:KEEP_REFUSED_BYTES]
            n = self.count
            if n < self.capacity:  # filling up
                self.times.append(self._clock())
                self.uids.append(uid)
                self.roles.append(role)
                self.data.append(data)
                self.codes.append(code)
            else:  # full: the oldest frame's place
                i = n % self.capacity
                owner.tape_bytes -= len(self.data[i])
                self.times[i] = self._clock()
                self.uids[i] = uid
                self.roles[i] = role
                self.data[i] = data
                self.codes[i] = code
                if self.first < n - self.capacity + 2:  # (trimming may have dropped more)
                    self.first = n - self.capacity + 2
            self.count = n + 1
            owner.tape_bytes += len(data)
            if owner.tape_bytes > MAX_TAPE_BYTES:
                owner._trim_tapes()
        else:
            self._owner._push((self._clock(), room.channel, kind, uid, role, code, None))

    def drop_oldest(self) -> int:
        """Forget the oldest frame on the tape; returns its size (0: the tape is empty)."""
        if self.first > self.count:
            return 0
        i = (self.first - 1) % self.capacity
        size = len(self.data[i])
        self.data[i] = b""
        self.first += 1
        return size

    def clear(self) -> int:
        """Forget every frame on the tape (the count stays); returns their size."""
        size = sum(map(len, self.data))
        self.data = [b""] * len(self.data)
        self.first = self.count + 1
        return size

    def unfed(self) -> tuple[int, list[_Taped]]:
        """The frames not yet fed to the model that are still on the tape, and the number of the first of them."""
        start = max(self.fed + 1, self.first)
        capacity, times, uids, roles, data, codes = (
            self.capacity,
            self.times,
            self.uids,
            self.roles,
            self.data,
            self.codes,
        )
        taped = []
        for n in range(start, self.count + 1):
            i = (n - 1) % capacity
            taped.append((times[i], uids[i], roles[i], data[i], codes[i]))
        return start, taped


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
        self._tapes: OrderedDict[str, Tape] = OrderedDict()
        self._viewers: dict[str, tuple[RoomPeer, Pacer]] = {}
        self._uids = itertools.count(1)
        self._tg: TaskGroup | None = None
        #: The rooms the pages' live streams follow (a room may have several pages), and all pages connected.
        self._followed: Counter[str] = Counter()
        self._pages = 0
        self._synced: dict[str, tuple[int, int, int]] = {}
        self._synced_at = -float("inf")
        #: Frame bytes on all tapes.
        self.tape_bytes = 0
        #: Room events dropped because the queue was full (the page shows the count).
        self.lost = 0
        #: Frames fed to the model (decoded), in all: nothing is fed while no page asks.
        self.frames_fed = 0

    def __repr__(self) -> str:
        return f"Inspector(rooms={len(self._rooms)}, pending={len(self._pending)}, lost={self.lost})"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (the page's live streams end)."""
        return self._closed.is_set()

    @property
    def pages(self) -> int:
        """The pages' live streams connected now."""
        return self._pages

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

    def attach(self, room: Room) -> Tape:
        """Watch ``room`` from now on (the emulator calls it for every room it opens); returns its tape."""
        channel = room.channel
        old = self._tapes.pop(channel, None)
        if old is not None:
            self._drop_tape(old)
        tape = self._tapes[channel] = Tape(self, channel, self._clock)
        while len(self._tapes) > MAX_ROOMS:  # as the model does: the oldest room goes
            self._drop_tape(self._tapes.pop(next(iter(self._tapes))))
        self._rooms[channel] = room
        room.observers.append(tape)
        self._push((self._clock(), channel, "open", "", "", 0, (room.session_id, room.limits)))
        return tape

    def tape(self, channel: str) -> Tape | None:
        """The tape of the room of ``channel`` (``None`` when it is not kept)."""
        return self._tapes.get(channel)

    def _drop_tape(self, tape: Tape) -> None:
        self._synced.pop(tape.channel, None)
        self.tape_bytes -= tape.clear()
        room = self._rooms.get(tape.channel)
        if room is not None and tape in room.observers:
            room.observers.remove(tape)

    def _trim_tapes(self) -> None:
        """Over ``MAX_TAPE_BYTES``: the oldest rooms' oldest frames go (rare: 24 MiB is 24,000 full frames)."""
        for tape in self._tapes.values():
            while tape.kept and self.tape_bytes > MAX_TAPE_BYTES:
                self.tape_bytes -= tape.drop_oldest()
            if self.tape_bytes <= MAX_TAPE_BYTES:
                return

    def session_created(self, session: EmulatedSession) -> None:
        """A session was created (state listener): show it, and take its client for the room's bot."""
        info = (session.id, session.avatar_id, session.mode_type, "open", str(session.client_uid))
        self._push((self._clock(), session.channel, "session", "", "", 0, info))

    def session_closed(self, session: EmulatedSession, reason: str) -> None:
        """A session was closed or expired (state listener)."""
        info = (session.id, session.avatar_id, session.mode_type, reason, "")
        self._push((self._clock(), session.channel, "session", "", "", 0, info))

    # -------------------------------------------------------------------------------------- feeding

    async def run(self) -> None:
        """Apply the queue and follow the pages' rooms until cancelled (throttled, in slices)."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                while True:
                    if not self._pages:  # nothing to follow: sleep until a room event or a page comes
                        await self._wake.wait()
                    await anyio.sleep(TICK_SECONDS)  # throttle: what comes meanwhile joins this batch
                    self._wake = anyio.Event()
                    self._woken = False
                    await self._tick()
            finally:
                self._tg = None

    async def _tick(self) -> None:
        seq = self.model.seq
        await self._apply_pending()
        if self._pages:
            for channel in list(self._followed):
                tape = self._tapes.get(channel)
                if tape is not None and tape.fed < tape.count:
                    await self._feed(tape)
            now = self._t()
            if now - self._synced_at >= ROOM_ITEMS_EVERY:  # the model sends them no more often anyway
                self._synced_at = now
                await self._sync_counts_sliced()
        self.model.flush(self._t())
        if self.model.seq != seq:
            self._publish()

    async def _apply_pending(self) -> None:
        pending = self._pending
        while pending:
            for _ in range(min(SLICE, len(pending))):
                self._apply(pending.popleft())
            await anyio.lowlevel.checkpoint()  # the room's deliveries go first

    def _publish(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _sync_counts(self) -> None:
        """Copy the tapes' counters to the rooms' items (the model re-sends changed ones at most once a second)."""
        self._sync_tapes(list(self._tapes.values()))

    async def _sync_counts_sliced(self) -> None:
        """:meth:`_sync_counts` in slices, with a checkpoint between them (the room's deliveries go first)."""
        tapes = list(self._tapes.values())
        for start in range(0, len(tapes), SYNC_SLICE):
            self._sync_tapes(tapes[start : start + SYNC_SLICE])
            await anyio.lowlevel.checkpoint()

    def _sync_tapes(self, tapes: list[Tape]) -> None:
        model = self.model
        synced = self._synced
        for tape in tapes:
            counts = (tape.count, tape.refused, tape.kept)
            if synced.get(tape.channel) != counts:
                synced[tape.channel] = counts
                model.room_counts(tape.channel, frames=tape.count, refused=tape.refused, oldest=tape.first)

    def drain_now(self) -> None:
        """Apply everything queued and feed every room a page has asked for, at once (tests)."""
        while self._pending:
            self._apply(self._pending.popleft())
        for tape in self._tapes.values():
            if tape.fed:
                start, frames = tape.unfed()
                self._feed_slice(tape, start, frames)
        self._sync_counts()
        self.model.flush()
        self._publish()

    def page_opened(self, channel: str | None) -> None:
        """A page's live stream connected (following ``channel``, or only the rooms list): the ticks run."""
        self._pages += 1
        if channel is not None:
            self._followed[channel] += 1
        if not self._woken:
            self._woken = True
            self._wake.set()

    def page_closed(self, channel: str | None) -> None:
        """That stream ended."""
        self._pages -= 1
        if channel is not None:
            self._followed[channel] -= 1
            if self._followed[channel] <= 0:
                del self._followed[channel]

    async def watch(self, channel: str | None) -> None:
        """Bring the model up to date for a page: the rooms list, and the room ``channel`` in full.

        The queued room events are applied, the rooms' counters copied, and the room's frames on its tape that
        the model has not seen yet are decoded (in slices). A page's snapshot, its event stream and the recording
        download call it.
        """
        seq = self.model.seq
        await self._apply_pending()  # the room and its participants first
        tape = self._tapes.get(channel) if channel is not None else None
        if tape is not None and self.model.has_room(tape.channel):
            await self._feed(tape)
        await self._sync_counts_sliced()
        self.model.flush(self._t())
        if self.model.seq != seq:
            self._publish()

    async def _feed(self, tape: Tape) -> None:
        """Feed the tape's unfed frames to the model, in slices (one feeder per tape: the order holds)."""
        busy = tape.feeding
        if busy is not None:
            await busy.wait()
            return
        tape.feeding = done = anyio.Event()
        try:
            while tape.fed < tape.count:
                start, frames = tape.unfed()
                if not frames:
                    break
                for i in range(0, len(frames), SLICE):
                    self._feed_slice(tape, start + i, frames[i : i + SLICE])
                    await anyio.lowlevel.checkpoint()  # the room's deliveries go first
        finally:
            tape.feeding = None
            done.set()

    def _feed_slice(self, tape: Tape, n: int, frames: list[_Taped]) -> None:
        model, channel, start = self.model, tape.channel, self._start
        for t, uid, role, data, code in frames:
            model.frame(channel, t=t - start, uid=uid, role=role, data=data, code=code, n=n)
            tape.fed = n
            n += 1
        self.frames_fed += len(frames)

    def _apply(self, entry: _Pending) -> None:
        model = self.model
        t, channel, kind, uid, role, code, extra = entry
        t -= self._start
        if kind == "join" or kind == "leave":
            model.peer(channel, uid, role=role, joined=kind == "join", reason=code, t=t)
        elif kind == "close":
            model.room_closed(channel, reason=code, t=t)
            room = self._rooms.get(channel)
            if room is not None and room.closed:  # nothing to act on any more: let it go
                del self._rooms[channel]
        elif kind == "open":
            session_id, limits = extra
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
            self._synced.pop(channel, None)
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
        self._push((self._clock(), room.channel, "own", uid, "", 0, None))
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
