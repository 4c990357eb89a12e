"""The emulated RTC room: one per channel, relaying data-stream frames between its peers.

A :class:`Room` knows nothing about websockets, sessions or avatars: peers join it (the websocket endpoint joins a
client, the emulator's scripted avatar joins itself), send frames with :meth:`Room.send`, and read what happens in
the room as :mod:`streamclient.transport.base` events from their :class:`RoomPeer` mailbox (``PeerJoined``,
``PeerLeft``, ``FrameReceived``, ``ConnectionStateChanged``).

The room's rules, in one place:

* **Membership.** A uid is one peer: a join with a uid already in the room is refused (:class:`RoomJoinError`,
  Agora's reason 19, SAME_UID_LOGIN) and everyone else keeps going. A peer leaves through its own handle
  (:meth:`RoomPeer.leave`), which removes that peer and never another that later took the same uid.
* **Limits** (:class:`RoomLimits`), per sender, enforced on the room's own clock over every sliding second
  ``(now - 1, now]``, with the Agora SDK's return codes (agora-python-sdk.md §3), checked in this order; a refused
  frame is not counted in the window:

  * more than ``max_message_bytes`` -> ``-114`` (ERR_SIZE_TOO_LARGE);
  * more than ``messages_per_second`` messages in the rolling window -> ``-12`` (ERR_TOO_OFTEN);
  * more than ``bytes_per_second`` bytes in the rolling window -> ``-115`` (ERR_BITRATE_LIMIT);
  * a sender that is not in the room -> ``-113`` (ERR_NOT_IN_CHANNEL).

  The default is what Agora enforces (:data:`AGORA_LIMITS`: 1 KB a message, 60 messages/s per stream, 30 KB/s per
  user). AKOOL's implementation guide asks senders for at most 6 KB/s: a sender whose accepted bytes in a sliding
  second pass ``guide_bytes_per_second`` is *reported*, not refused: a warning in the log (once per sender) and a
  :class:`GuideViolation` record per sender (:meth:`Room.guide_violations`) with the number of frames sent over the
  guidance and the worst one-second window. The strict room that refuses past 6,000 B/s and 30 messages/s is the
  named profile ``"guide"`` (:data:`ROOM_PROFILES`), for tests of a sender's margin. A ``clock`` with skew or
  jitter can be given to test that margin too.

Accepted frames go through the direction's :class:`~streamclient.emulator.faults.FaultInjector` (``to_avatar`` for
frames from a client, ``to_client`` for frames from an avatar), are recorded when delivered, and land in every
other peer's mailbox. Delayed and reordered deliveries need :meth:`Room.run` to be running (the emulator starts it);
without it they are delivered at once.

When the room closes (session closed or expired), every peer gets ``PeerLeft`` for the others, then
``ConnectionStateChanged(FAILED, reason)`` and the end of its mailbox.

Tokens: a peer admitted with an expiring token (:meth:`Room.set_token_expiry`, wall-clock epoch seconds) gets
``TokenWillExpire`` ``TOKEN_WARNING_SECONDS`` before its join privilege lapses and, unless it renewed in time,
``TokenExpired`` then ``ConnectionStateChanged(FAILED, 9)`` (TOKEN_EXPIRED) when it does; the others see
``PeerLeft``. The watch runs inside :meth:`Room.run` and reads the injected ``wall_clock``, so tests move time with
a fake clock instead of waiting (the watch looks at the clock at least every ``TOKEN_POLL_SECONDS``).
"""

from __future__ import annotations

import enum
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import anyio
from anyio.abc import TaskGroup, TaskStatus

from streamclient.emulator.faults import Fault, FaultInjector, FaultPlan
from streamclient.emulator.recording import Recorder
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    PeerJoined,
    PeerLeft,
    TokenExpired,
    TokenWillExpire,
    TransportEvent,
)
from streamclient.transport.room import EventBuffer

__all__ = (
    "AGORA_LIMITS",
    "ERR_BITRATE_LIMIT",
    "ERR_NOT_IN_CHANNEL",
    "ERR_SIZE_TOO_LARGE",
    "ERR_TOO_OFTEN",
    "GUIDE_LIMITS",
    "OK",
    "REASON_BANNED_BY_SERVER",
    "REASON_INTERRUPTED",
    "REASON_KEEP_ALIVE_TIMEOUT",
    "REASON_REJECTED_BY_SERVER",
    "REASON_SAME_UID",
    "REASON_TOKEN_EXPIRED",
    "ROOM_PROFILES",
    "TOKEN_WARNING_SECONDS",
    "GuideViolation",
    "PeerRole",
    "Room",
    "RoomEventKind",
    "RoomJoinError",
    "RoomLimits",
    "RoomObserver",
    "RoomPeer",
)

logger = logging.getLogger(__name__)

OK = 0
ERR_TOO_OFTEN = -12
ERR_NOT_IN_CHANNEL = -113
ERR_SIZE_TOO_LARGE = -114
ERR_BITRATE_LIMIT = -115

#: Agora connection-change reasons used by the room.
REASON_INTERRUPTED = 2
REASON_BANNED_BY_SERVER = 3
REASON_KEEP_ALIVE_TIMEOUT = 14
REASON_TOKEN_EXPIRED = 9
REASON_REJECTED_BY_SERVER = 10
REASON_SAME_UID = 19

#: Agora warns ``onTokenPrivilegeWillExpire`` this long before a token lapses (agora-python-sdk.md §7).
TOKEN_WARNING_SECONDS = 30.0
#: Longest wait between two looks at the wall clock while a token is being watched (fake clocks jump).
TOKEN_POLL_SECONDS = 0.1

_MAILBOX_SIZE = 4096


class PeerRole(enum.Enum):
    """Who a peer is; decides the fault direction of the frames it sends."""

    CLIENT = "client"
    AVATAR = "avatar"


class RoomJoinError(RuntimeError):
    """The room refused a join; ``reason`` is Agora's connection-change reason (19: the uid is in the room)."""

    def __init__(self, message: str, *, reason: int) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomLimits:
    """Data-stream limits per sender; the defaults are what Agora enforces (see the module docstring).

    Attributes:
        max_message_bytes: the largest message (Agora: 1 KB).
        bytes_per_second: refused past this many bytes in a sliding second (Agora: 30 KB/s per user).
        messages_per_second: refused past this many messages in a sliding second (Agora: 60 per stream).
        window_seconds: the sliding window.
        guide_bytes_per_second: reported (not refused) past this many bytes in a sliding second (AKOOL's guidance:
            6 KB/s); ``None`` reports nothing.
    """

    max_message_bytes: int = 1024
    bytes_per_second: int = 30 * 1024
    messages_per_second: int = 60
    window_seconds: float = 1.0
    guide_bytes_per_second: int | None = 6000


#: What Agora enforces (the default room).
AGORA_LIMITS = RoomLimits()
#: AKOOL's guidance enforced strictly (6,000 B/s, 30 messages/s): for tests of a sender's margin, and benchmarks.
GUIDE_LIMITS = RoomLimits(bytes_per_second=6000, messages_per_second=30)
#: The named room-limit profiles (``streamclient emulator --room-limits``).
ROOM_PROFILES: Mapping[str, RoomLimits] = {"agora": AGORA_LIMITS, "guide": GUIDE_LIMITS}


RoomEventKind = Literal["join", "leave", "frame", "refused", "close"]


class RoomObserver(Protocol):
    """The room's observation hook: told of every join, leave, delivery, refusal and the close of the rooms it watches.

    A :class:`Room` calls every observer in its ``observers`` list in line, on the room's
    own code path, so an observer must be cheap and must not raise: the inspector only appends a tuple to a bounded
    queue and does its work later, on its own task.

    Kinds:

    * ``"join"`` / ``"leave"``: ``uid`` joined (``role``: ``"client"`` or ``"avatar"``) or left (``code``: the reason);
    * ``"frame"``: the room delivered ``data`` from ``uid`` (after fault injection: what the receivers got);
    * ``"refused"``: the room refused ``data`` from ``uid`` with the SDK code ``code`` (-114, -12, -115, -113);
    * ``"close"``: the room closed (``code``: the reason; ``uid`` is empty).
    """

    def room_event(
        self, room: Room, kind: RoomEventKind, uid: str, *, role: str = "", data: bytes = b"", code: int = 0
    ) -> None:
        """One thing that happened in ``room`` (see the module docstring); must be cheap and must not raise."""


@dataclass(frozen=True, slots=True)
class GuideViolation:
    """A sender's traffic over AKOOL's 6 KB/s guidance (accepted by the room, reported here).

    Attributes:
        sender: the sender's uid.
        frames: frames accepted while its sliding second was over the guidance.
        worst_window_bytes: the most bytes it had accepted in one sliding second.
        guide_bytes_per_second: the guidance it was measured against.
    """

    sender: str
    frames: int
    worst_window_bytes: int
    guide_bytes_per_second: int


class _RateWindow:
    """Messages and bytes a sender got accepted over the rolling window."""

    def __init__(self, limits: RoomLimits) -> None:
        self._limits = limits
        self._sent: deque[tuple[float, int]] = deque()
        self._bytes = 0

    @property
    def window_bytes(self) -> int:
        """Bytes accepted in the current window (as of the last check)."""
        return self._bytes

    def check(self, now: float, nbytes: int) -> int:
        limits = self._limits
        if nbytes > limits.max_message_bytes:
            return ERR_SIZE_TOO_LARGE
        while self._sent and now - self._sent[0][0] >= limits.window_seconds:
            self._bytes -= self._sent.popleft()[1]
        if len(self._sent) + 1 > limits.messages_per_second:
            return ERR_TOO_OFTEN
        if self._bytes + nbytes > limits.bytes_per_second:
            return ERR_BITRATE_LIMIT
        self._sent.append((now, nbytes))
        self._bytes += nbytes
        return OK


class RoomPeer:
    """One participant's handle: its uid, role and mailbox of transport events."""

    def __init__(self, room: Room, uid: str, role: PeerRole) -> None:
        self.room = room
        self.uid = uid
        self.role = role
        self._mailbox: EventBuffer[TransportEvent] = EventBuffer(_MAILBOX_SIZE)
        self.lost_events = 0
        #: When this peer's join privilege lapses (wall-clock epoch seconds), ``None`` if it never does.
        self.token_expires_at: float | None = None
        self.token_warned = False

    def __repr__(self) -> str:
        return f"RoomPeer(uid={self.uid!r}, role={self.role.value}, channel={self.room.channel!r})"

    @property
    def mailbox(self) -> EventBuffer[TransportEvent]:
        """The events for this peer; ends when the peer leaves or the room closes."""
        return self._mailbox

    async def events(self) -> AsyncIterator[TransportEvent]:
        """Iterate over the mailbox until it ends."""
        async for event in self._mailbox:
            yield event

    def send(self, data: bytes) -> int:
        """Send one frame into the room; returns the SDK-style code (0 = accepted)."""
        return self.room.send(self.uid, data)

    def leave(self) -> None:
        """Leave the room (idempotent); removes this peer only, never another that took its uid since."""
        self.room._leave_peer(self)

    def _post(self, event: TransportEvent) -> None:
        if not self._mailbox.put(event):
            self.lost_events += 1
            logger.warning("room %s: mailbox of %s is full; event dropped", self.room.channel, self.uid)

    def _close(self) -> None:
        self._mailbox.close()


class Room:
    """An emulated RTC channel with its limits, faults, counters and recording."""

    def __init__(
        self,
        channel: str,
        *,
        session_id: str | None = None,
        limits: RoomLimits | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        recorder: Recorder | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.channel = channel
        self._wall_clock = wall_clock
        self._tokens_changed = anyio.Event()
        #: Peers removed because their token lapsed, by uid (in order).
        self.token_expired: list[str] = []
        self._on_change = on_change
        self.session_id = session_id
        self.limits = limits if limits is not None else RoomLimits()
        self._seed = seed
        self._clock = clock
        self._recorder = recorder
        self._peers: dict[str, RoomPeer] = {}
        self._windows: dict[str, _RateWindow] = {}
        self._faults: dict[PeerRole, FaultInjector] = {}
        self._hold_generation: Counter[PeerRole] = Counter()
        self._tg: TaskGroup | None = None
        self._delayed = 0
        self._closed = anyio.Event()
        self.close_reason: int | None = None
        #: Frames delivered to the avatar / to the client (after faults; a duplicate counts twice).
        self.frames_to_avatar = 0
        self.frames_to_client = 0
        #: Refused sends by SDK code (-114, -12, -115, -113).
        self.rejected: Counter[int] = Counter()
        #: Frames removed by a drop fault.
        self.dropped = 0
        #: Senders over the guidance, by uid (see :meth:`guide_violations`).
        self._violations: dict[str, GuideViolation] = {}
        #: Watchers of joins, leaves, deliveries and refusals (the inspector); called in line, they must not raise.
        self.observers: list[RoomObserver] = []
        self.set_faults(to_client=FaultPlan(), to_avatar=FaultPlan())

    def __repr__(self) -> str:
        return f"Room(channel={self.channel!r}, peers={sorted(self._peers)}, closed={self.closed})"

    # ------------------------------------------------------------------------------------------ state

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed.is_set()

    @property
    def faults_pending(self) -> bool:
        """True while a delayed or reordered frame still waits to be delivered."""
        return self._delayed > 0 or any(injector.holding for injector in self._faults.values())

    @property
    def peers(self) -> dict[str, RoomPeer]:
        """The peers in the room by uid (a copy)."""
        return dict(self._peers)

    def set_faults(self, *, to_client: FaultPlan | None = None, to_avatar: FaultPlan | None = None) -> None:
        """Replace the fault plan of one or both directions (a new plan starts a new, reseeded injector)."""
        if to_client is not None:
            self._faults[PeerRole.AVATAR] = FaultInjector(to_client, seed=self._seed, direction="to_client")
        if to_avatar is not None:
            self._faults[PeerRole.CLIENT] = FaultInjector(to_avatar, seed=self._seed, direction="to_avatar")

    def notify_changed(self) -> None:
        """Tell the owner (the emulator's ``wait_until``) that something observable changed."""
        if self._on_change is not None:
            self._on_change()

    def guide_violations(self) -> list[GuideViolation]:
        """Senders whose accepted traffic went over AKOOL's guidance (``limits.guide_bytes_per_second``), in order."""
        return list(self._violations.values())

    # ----------------------------------------------------------------------------------- membership

    def join(self, uid: str, *, role: PeerRole) -> RoomPeer:
        """Add a peer; it first receives ``PeerJoined`` for the peers already there.

        Raises:
            RoomJoinError: the room is closed (reason 10) or ``uid`` is in the room (reason 19); the peers there
                are not affected.
        """
        if self.closed:
            raise RoomJoinError(f"room {self.channel} is closed", reason=REASON_REJECTED_BY_SERVER)
        if uid in self._peers:
            raise RoomJoinError(f"uid {uid} is already in room {self.channel}", reason=REASON_SAME_UID)
        peer = RoomPeer(self, uid, role)
        for other in self._peers.values():
            peer._post(PeerJoined(other.uid))
            other._post(PeerJoined(uid))
        self._peers[uid] = peer
        self._tokens_changed.set()
        self._windows[uid] = _RateWindow(self.limits)
        logger.debug("room %s: %s %s joined", self.channel, role.value, uid)
        for observer in self.observers:
            observer.room_event(self, "join", uid, role=role.value)
        self.notify_changed()
        return peer

    def leave(self, uid: str, *, reason: int = 0) -> None:
        """Remove a peer (idempotent); the others get ``PeerLeft(uid, reason)``."""
        peer = self._peers.pop(uid, None)
        if peer is None:
            return
        self._windows.pop(uid, None)
        peer._close()
        for other in self._peers.values():
            other._post(PeerLeft(uid, reason))
        logger.debug("room %s: %s left (reason %d)", self.channel, uid, reason)
        for observer in self.observers:
            observer.room_event(self, "leave", uid, role=peer.role.value, code=reason)
        self.notify_changed()

    def _leave_peer(self, peer: RoomPeer) -> None:
        """Remove ``peer`` if it is still the room's peer for its uid (identity, not uid)."""
        if self._peers.get(peer.uid) is peer:
            self.leave(peer.uid)
        else:
            peer._close()

    def disconnect(self, uid: str, *, reason: int = REASON_KEEP_ALIVE_TIMEOUT) -> None:
        """Drop a peer's connection: it gets ``ConnectionStateChanged(FAILED, reason)``, the others ``PeerLeft(1)``."""
        peer = self._peers.get(uid)
        if peer is None:
            return
        peer._post(ConnectionStateChanged(ConnectionState.FAILED, reason))
        self.leave(uid, reason=1)

    def close(self, *, reason: int = REASON_BANNED_BY_SERVER) -> None:
        """Close the room (idempotent): the avatar leaves first, then the others are disconnected with ``reason``."""
        if self.closed:
            return
        self.close_reason = reason
        for uid in [u for u, p in self._peers.items() if p.role is PeerRole.AVATAR]:
            self.leave(uid)
        for uid in list(self._peers):
            self.disconnect(uid, reason=reason)
        self._closed.set()
        for observer in self.observers:
            observer.room_event(self, "close", "", code=reason)
        self.notify_changed()
        logger.debug("room %s closed (reason %d)", self.channel, reason)

    async def wait_closed(self) -> None:
        """Wait until the room is closed."""
        await self._closed.wait()

    def set_token_expiry(self, uid: str, expires_at: float | None) -> None:
        """Watch ``uid``'s token: it lapses at ``expires_at`` (epoch seconds; ``None``: never).

        A renewal calls it again with the new token's time, which also re-arms the warning.
        """
        peer = self._peers.get(uid)
        if peer is None:
            return
        peer.token_expires_at = expires_at
        peer.token_warned = False
        self._tokens_changed.set()

    def check_tokens(self) -> None:
        """Warn and remove the peers whose token is due, at the wall clock's current time (also run by the watch)."""
        now = self._wall_clock()
        for uid, peer in list(self._peers.items()):
            expires_at = peer.token_expires_at
            if expires_at is None:
                continue
            if now >= expires_at:
                logger.info("room %s: the token of %s expired; removing it", self.channel, uid)
                self.token_expired.append(uid)
                peer._post(TokenExpired())
                self.disconnect(uid, reason=REASON_TOKEN_EXPIRED)
            elif not peer.token_warned and now >= expires_at - TOKEN_WARNING_SECONDS:
                peer.token_warned = True
                peer._post(TokenWillExpire())
                self.notify_changed()

    async def _watch_tokens(self) -> None:
        while True:
            self._tokens_changed = changed = anyio.Event()
            self.check_tokens()
            watched = [p.token_expires_at for p in self._peers.values() if p.token_expires_at is not None]
            if not watched:
                await changed.wait()
                continue
            with anyio.move_on_after(TOKEN_POLL_SECONDS):
                await changed.wait()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Host delayed deliveries and the token watch until the room closes (start it with ``task_group.start``)."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._watch_tokens)
                task_status.started()
                await self._closed.wait()
                tg.cancel_scope.cancel()
        finally:
            self._tg = None

    # -------------------------------------------------------------------------------------- frames

    def send(self, sender: str, data: bytes) -> int:
        """Offer one frame from ``sender``; returns the SDK-style code (0 accepted, else negative)."""
        peer = self._peers.get(sender)
        if peer is None:
            self.rejected[ERR_NOT_IN_CHANNEL] += 1
            for observer in self.observers:
                observer.room_event(self, "refused", sender, data=data, code=ERR_NOT_IN_CHANNEL)
            return ERR_NOT_IN_CHANNEL
        window = self._windows[sender]
        code = window.check(self._clock(), len(data))
        if code != OK:
            self.rejected[code] += 1
            for observer in self.observers:
                observer.room_event(self, "refused", sender, role=peer.role.value, data=data, code=code)
            self.notify_changed()
            logger.debug("room %s: frame of %d bytes from %s refused (%d)", self.channel, len(data), sender, code)
            return code
        guide = self.limits.guide_bytes_per_second
        if guide is not None and window.window_bytes > guide:
            self._report_over_guide(sender, window.window_bytes, guide)
        injector = self._faults[peer.role]
        if injector.passes_through:
            self._deliver(peer.role, sender, data)
            return OK
        was_holding = injector.holding
        outcome = injector.process(data)
        if outcome.disconnect:
            self._disconnect_receivers(peer)
            return OK
        if Fault.DROP in outcome.faults:
            self.dropped += 1
        for delivery in outcome.deliveries:
            if delivery.delay > 0 and self._tg is not None:
                self._delayed += 1
                self._tg.start_soon(self._deliver_later, delivery.delay, peer.role, sender, delivery.data)
            else:
                self._deliver(peer.role, sender, delivery.data)
        if injector.holding and not was_holding:
            self._hold_generation[peer.role] += 1
            if self._tg is not None:
                self._tg.start_soon(self._flush_later, peer.role, sender, self._hold_generation[peer.role], injector)
        return OK

    def _report_over_guide(self, sender: str, window_bytes: int, guide: int) -> None:
        before = self._violations.get(sender)
        if before is None:
            logger.warning(
                "room %s: %s sent %d B in one second, over AKOOL's guidance of %d B/s (accepted: Agora allows %d B/s)",
                self.channel,
                sender,
                window_bytes,
                guide,
                self.limits.bytes_per_second,
            )
            self._violations[sender] = GuideViolation(sender, 1, window_bytes, guide)
        else:
            worst = max(before.worst_window_bytes, window_bytes)
            self._violations[sender] = replace(before, frames=before.frames + 1, worst_window_bytes=worst)

    def _disconnect_receivers(self, sender: RoomPeer) -> None:
        """A disconnect fault: the receiving side loses its connection."""
        for uid, peer in list(self._peers.items()):
            if uid == sender.uid:
                continue
            if peer.role is PeerRole.CLIENT:
                self.disconnect(uid, reason=REASON_KEEP_ALIVE_TIMEOUT)
            else:
                self.leave(uid, reason=1)

    async def _deliver_later(self, delay: float, role: PeerRole, sender: str, data: bytes) -> None:
        try:
            await anyio.sleep(delay)
            self._deliver(role, sender, data)
        finally:
            self._delayed -= 1

    async def _flush_later(self, role: PeerRole, sender: str, generation: int, injector: FaultInjector) -> None:
        await anyio.sleep(injector.plan.reorder_hold_seconds)
        if self._hold_generation[role] == generation and self._faults.get(role) is injector:
            held = injector.flush()
            if held is not None:
                self._deliver(role, sender, held)

    def _deliver(self, role: PeerRole, sender: str, data: bytes) -> None:
        if self.closed:
            return
        for uid, peer in self._peers.items():
            if uid == sender:
                continue
            if peer.role is PeerRole.AVATAR:
                self.frames_to_avatar += 1
            else:
                self.frames_to_client += 1
            peer._post(FrameReceived(sender, data))
        if self._recorder is not None:
            self._recorder.record(
                "out" if role is PeerRole.CLIENT else "in", sender=sender, data=data, channel=self.channel
            )
        for observer in self.observers:
            observer.room_event(self, "frame", sender, role=role.value, data=data)
        self.notify_changed()
