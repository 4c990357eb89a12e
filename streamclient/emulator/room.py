"""The emulated RTC room: one per session channel, relaying data-stream frames between its peers.

A :class:`Room` knows nothing about websockets: peers join it (the websocket endpoint joins the client, the
:class:`~streamclient.emulator.avatar.Avatar` joins itself), send frames with :meth:`Room.send`, and read what
happens in the room as :mod:`streamclient.transport.base` events from their :class:`RoomPeer` mailbox
(``PeerJoined``, ``PeerLeft``, ``FrameReceived``, ``ConnectionStateChanged``).

Limits, per sender, enforced strictly on the room's own clock over every sliding second ``(now - 1, now]``, with the
Agora SDK's return codes (agora-python-sdk.md §3), checked in this order; a refused frame is not counted in the
window. The defaults are the implementation guide's figures (1 KB a message, 6 KB/s, 30 messages/s), which the
official clients pace to; the 4.x SDK's own 30 KiB/s and 60 messages/s are a configuration away. A ``clock`` with
skew or jitter can be given to test a sender's margin:

* more than ``max_message_bytes`` -> ``-114`` (ERR_SIZE_TOO_LARGE);
* more than ``messages_per_second`` messages in the rolling window -> ``-12`` (ERR_TOO_OFTEN);
* more than ``bytes_per_second`` bytes in the rolling window -> ``-115`` (ERR_BITRATE_LIMIT);
* a sender that is not in the room -> ``-113`` (ERR_NOT_IN_CHANNEL).

Accepted frames go through the direction's :class:`~streamclient.emulator.faults.FaultInjector` (``to_avatar`` for
frames from the client, ``to_client`` for frames from the avatar), are recorded when delivered, and land in every
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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup, TaskStatus

from streamclient.emulator.faults import Fault, FaultInjector, FaultPlan
from streamclient.emulator.observers import RoomObserver
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

if TYPE_CHECKING:
    from streamclient.emulator.avatar import Avatar

__all__ = (
    "ERR_BITRATE_LIMIT",
    "ERR_NOT_IN_CHANNEL",
    "ERR_SIZE_TOO_LARGE",
    "ERR_TOO_OFTEN",
    "OK",
    "REASON_BANNED_BY_SERVER",
    "REASON_INTERRUPTED",
    "REASON_KEEP_ALIVE_TIMEOUT",
    "REASON_TOKEN_EXPIRED",
    "TOKEN_WARNING_SECONDS",
    "PeerRole",
    "Room",
    "RoomLimits",
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

#: Agora warns ``onTokenPrivilegeWillExpire`` this long before a token lapses (agora-python-sdk.md §7).
TOKEN_WARNING_SECONDS = 30.0
#: Longest wait between two looks at the wall clock while a token is being watched (fake clocks jump).
TOKEN_POLL_SECONDS = 0.1

_MAILBOX_SIZE = 4096


class PeerRole(enum.Enum):
    """Who a peer is; decides the fault direction of the frames it sends."""

    CLIENT = "client"
    AVATAR = "avatar"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomLimits:
    """Data-stream limits per sender (defaults: the implementation guide's 1 KB, 6 KB/s; 30 messages/s)."""

    max_message_bytes: int = 1024
    bytes_per_second: int = 6000
    messages_per_second: int = 30
    window_seconds: float = 1.0


class _RateWindow:
    """Messages and bytes a sender got accepted over the rolling window."""

    def __init__(self, limits: RoomLimits) -> None:
        self._limits = limits
        self._sent: deque[tuple[float, int]] = deque()
        self._bytes = 0

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
        """Leave the room (idempotent)."""
        self.room.leave(self.uid)

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
        #: The scripted avatar of this room (set by the emulator; ``None`` for a bare room).
        self.avatar: Avatar | None = None
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

    async def inject_user_speech(self, text: str) -> str:
        """Make the avatar send ``text`` as a ``from: "user"`` transcript (mode 2: then answer it); returns the mid.

        Raises:
            RuntimeError: the room has no avatar.
        """
        if self.avatar is None:
            raise RuntimeError(f"room {self.channel} has no avatar")
        return await self.avatar.inject_user_speech(text)

    # ----------------------------------------------------------------------------------- membership

    def join(self, uid: str, *, role: PeerRole) -> RoomPeer:
        """Add a peer; it first receives ``PeerJoined`` for the peers already there.

        Raises:
            RuntimeError: the room is closed or ``uid`` is taken (the endpoint maps these to join errors).
        """
        if self.closed:
            raise RuntimeError(f"room {self.channel} is closed")
        if uid in self._peers:
            raise RuntimeError(f"uid {uid} is already in room {self.channel}")
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
        code = self._windows[sender].check(self._clock(), len(data))
        if code != OK:
            self.rejected[code] += 1
            for observer in self.observers:
                observer.room_event(self, "refused", sender, role=peer.role.value, data=data, code=code)
            self.notify_changed()
            logger.debug("room %s: frame of %d bytes from %s refused (%d)", self.channel, len(data), sender, code)
            return code
        injector = self._faults[peer.role]
        if injector.plan.is_noop and not injector.holding:
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
