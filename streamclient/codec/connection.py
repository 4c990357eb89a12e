"""``ProtocolConnection``: one endpoint of the v2 data stream, as a sans-I/O outbox (house-style §2.3).

The caller moves bytes and time; this object holds all protocol state:

* ``send_*`` queue datagrams in two lanes: the **priority lane** (commands, acks, events) always goes out before
  the **chat lane** (chunks of chat messages, FIFO per message); ``data_to_send(now)`` hands out what pacing allows
  now and ``send_delay(now)`` says when to ask again.
* ``receive_data`` decodes, reassembles and matches acks; ``events_received()`` drains the resulting events.
  Malformed input becomes :class:`FrameRejected`, never an exception.
* Interrupt semantics (an open question upstream): the queued rest of the chat message being transmitted is dropped
  and no closing ``fin`` frame is sent; the avatar is told to stop by the ``interrupt`` command itself. A message
  counts as being transmitted from its first frame taken until the driver confirms its last one (:meth:`sent`), so
  an interrupt that arrives while the last frame is inside the transport call still names it.
* Sending is confirmed by the driver: :meth:`sent` when the transport accepted a datagram (its pacing record then
  runs from that moment, an upper bound of its arrival at the receiver), :meth:`retry_later` when it was refused for
  rate reasons (it leaves the pacing window and returns to its lane), :meth:`not_sent` when it was refused for good.
* Message ids are short (a random per-connection prefix and a counter, 3-5 characters): every byte of a chat
  frame's envelope is a byte of text less per paced second.
"""

from __future__ import annotations

import base64
import enum
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, replace

from streamclient.codec.chunking import DEFAULT_MAX_FRAME_BYTES, HARD_MAX_FRAME_BYTES, split_text
from streamclient.codec.commands import interrupt
from streamclient.codec.events import (
    AvatarEvent,
    CommandReceived,
    CommandResult,
    Event,
    FrameRejected,
    UnknownFrame,
)
from streamclient.codec.frames import (
    DEFAULT_MAX_DECODE_BYTES,
    ChatFrame,
    CommandAck,
    CommandFrame,
    EventFrame,
    Frame,
    decode_frame,
    encode_frame,
)
from streamclient.codec.pacing import Pacer, PacingLimits
from streamclient.codec.reassembly import Reassembler, ReassemblyLimits
from streamclient.errors import InvalidArgumentError, LocalProtocolError, RemoteProtocolError

__all__ = ("MAX_PENDING_COMMANDS", "Interrupted", "ProtocolConnection", "Role")

#: Commands awaiting an ack that are remembered for matching; older ones are forgotten first.
MAX_PENDING_COMMANDS = 1024
_REMEMBERED_CANCELLATIONS = 64
_UNCONFIRMED = 64


class Role(enum.Enum):
    """Which side of the data stream an endpoint is."""

    CLIENT = "client"  #: sends chat without ``from`` and commands; receives replies, acks and events
    AVATAR = "avatar"  #: sends chat with ``from: "bot"``, acks and events; receives chat and commands


@dataclass(frozen=True, slots=True)
class Interrupted:
    """What ``send_interrupt`` cut: ``dropped`` queued frames of the chat message ``mid``.

    ``dropped`` is 0 when the message's last frame was taken and is not yet confirmed sent: the message is cut,
    although nothing of it is left to drop.
    """

    mid: str
    dropped: int


class ProtocolConnection:
    """One endpoint of the v2 data stream (see the module docstring).

    Args:
        role: which side this endpoint plays.
        max_frame_bytes: budget for every outgoing frame (at most 1024, the Agora/TRTC hard cap).
        pacing: rate limits for outgoing datagrams.
        reassembly: memory bounds for incoming chat.
        message_timeout: seconds without a new chunk after which an incoming message expires.
        max_decode_bytes: larger incoming datagrams are rejected unparsed.
        strict: raise :class:`RemoteProtocolError` from :meth:`receive_data` instead of reporting
            :class:`FrameRejected` (for tests and debugging).

    Raises:
        InvalidArgumentError: ``max_frame_bytes`` is out of range or ``message_timeout`` is not positive.
    """

    def __init__(
        self,
        role: Role,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        pacing: PacingLimits | None = None,
        reassembly: ReassemblyLimits | None = None,
        message_timeout: float = 30.0,
        max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
        strict: bool = False,
    ) -> None:
        if type(max_frame_bytes) is not int or not 64 <= max_frame_bytes <= HARD_MAX_FRAME_BYTES:
            raise InvalidArgumentError(f"max_frame_bytes must be in [64, {HARD_MAX_FRAME_BYTES}]")
        self.role = role
        self.max_frame_bytes = max_frame_bytes
        self.max_decode_bytes = max_decode_bytes
        self.strict = strict
        self.pacer = Pacer(pacing)
        self.reassembler = Reassembler(reassembly, message_timeout=message_timeout)
        self._priority: deque[bytes] = deque()
        self._chat: deque[tuple[str, bytes]] = deque()
        self._in_flight: str | None = None  # mid of the chat message partly sent (last frame not confirmed)
        self._unconfirmed: deque[bytes] = deque(maxlen=_UNCONFIRMED)  # taken datagrams not yet confirmed
        self._mid_prefix = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii")[:2]
        self._mid_counter = 0
        self._pending_commands: OrderedDict[str, str] = OrderedDict()
        self._cancelled: OrderedDict[str, None] = OrderedDict()  # recently cancelled chat mids (for retry_later)
        self._events: list[Event] = []
        self.last_interrupted: Interrupted | None = None

    # ------------------------------------------------------------------------------------------- sending

    def next_mid(self) -> str:
        """A fresh message id, unique on this connection: a random 2-character prefix and a base-36 counter.

        Short on purpose (the official clients' ``msg-<milliseconds>`` is 17 characters, a uuid 22 to 36): each
        byte saved in the envelope of a chat frame is one more byte of text per frame, six frames a second. Unlike
        milliseconds, a counter cannot repeat. Ids only need to be unique per sender within a channel (that is how
        messages are reassembled); the random prefix also keeps apart two connections of the same uid, such as a
        re-join after a dropped connection (1 in 4096 to collide).
        """
        self._mid_counter += 1
        return self._mid_prefix + _base36(self._mid_counter)

    def send_chat(self, text: str, *, mid: str | None = None, source: str | None = None) -> str:
        """Split ``text`` into frames and queue them in the chat lane.

        Args:
            text: the message.
            mid: the message id; a fresh one when omitted.
            source: ``pld.from``; the AVATAR role defaults to ``"bot"``, the CLIENT role sends none.

        Returns:
            The message id.

        Raises:
            LocalProtocolError: empty text, lone surrogates, an empty ``mid`` or a budget too small.
        """
        if source is None and self.role is Role.AVATAR:
            source = "bot"
        mid = self.next_mid() if mid is None else mid
        frames = split_text(text, mid=mid, max_frame_bytes=self.max_frame_bytes, source=source)
        self._chat.extend((mid, encode_frame(frame)) for frame in frames)
        return mid

    def _queue_priority(self, frame: Frame) -> bytes:
        data = encode_frame(frame)
        if len(data) > self.max_frame_bytes:
            raise LocalProtocolError(
                f"{type(frame).__name__} encodes to {len(data)} bytes, over the {self.max_frame_bytes}-byte budget"
            )
        self._priority.append(data)
        return data

    def send_command(self, frame: CommandFrame) -> str:
        """Queue a command in the priority lane and remember its mid for ack matching.

        Args:
            frame: a command built with :func:`set_params`, :func:`interrupt`, :func:`set_action` (or by hand).

        Returns:
            The command's mid (a fresh one is assigned if the frame has none).

        Raises:
            LocalProtocolError: the encoded command exceeds the frame budget or cannot be encoded.
        """
        mid = frame.mid or self.next_mid()
        if mid != frame.mid:
            frame = replace(frame, mid=mid)
        self._queue_priority(frame)
        self._pending_commands[mid] = frame.cmd
        self._pending_commands.move_to_end(mid)
        while len(self._pending_commands) > MAX_PENDING_COMMANDS:
            self._pending_commands.popitem(last=False)
        return mid

    def send_interrupt(self) -> str:
        """Queue an ``interrupt`` command and drop the unsent rest of the chat message being transmitted.

        Messages queued behind it that have not started stay queued. What was dropped is recorded in
        :attr:`last_interrupted` (``None`` when no message was mid-transmission).

        Returns:
            The interrupt command's mid.
        """
        self.last_interrupted = None
        if self._in_flight is not None:
            mid = self._in_flight
            self.last_interrupted = Interrupted(mid, self.cancel_chat(mid))
        return self.send_command(interrupt(mid=self.next_mid()))

    def cancel_chat(self, mid: str) -> int:
        """Drop every still-queued frame of chat message ``mid``.

        Returns:
            The number of frames dropped.
        """
        self._cancelled[mid] = None
        while len(self._cancelled) > _REMEMBERED_CANCELLATIONS:
            self._cancelled.popitem(last=False)
        before = len(self._chat)
        self._chat = deque(item for item in self._chat if item[0] != mid)
        if self._in_flight == mid:
            self._in_flight = None
        return before - len(self._chat)

    def send_ack(self, mid: str, cmd: str, *, code: int = 1000, msg: str = "OK") -> None:
        """(AVATAR) Queue an ack for command ``mid`` in the priority lane.

        Raises:
            LocalProtocolError: the ack exceeds the frame budget.
        """
        self._queue_priority(CommandAck(mid=mid, cmd=cmd, code=code, msg=msg))

    def send_event(self, name: str, *, mid: str | None = None) -> str:
        """(AVATAR) Queue an event frame (``audio_start``, ``audio_end``, ...) in the priority lane.

        Returns:
            The event's mid.

        Raises:
            LocalProtocolError: the event exceeds the frame budget.
        """
        mid = self.next_mid() if mid is None else mid
        self._queue_priority(EventFrame(mid=mid, name=name))
        return mid

    def sent(self, datagram: bytes, *, now: float) -> None:
        """The transport accepted ``datagram`` (taken from :meth:`data_to_send`); ``now`` is when its call returned.

        Its pacing record moves to ``now`` (the receiver counted it at or before then), and a chat message whose
        last frame this was is no longer being transmitted.
        """
        self._confirm(datagram)
        self.pacer.restamp(now, len(datagram))

    def not_sent(self, datagram: bytes) -> None:
        """The transport refused ``datagram`` for good: it leaves the pacing window (it is not sent again)."""
        self._confirm(datagram)
        self.pacer.unrecord(len(datagram))

    def _confirm(self, datagram: bytes) -> None:
        for i, item in enumerate(self._unconfirmed):
            if item is datagram or item == datagram:
                del self._unconfirmed[i]
                break
        if (
            self._in_flight is not None
            and not self._unconfirmed
            and not any(mid == self._in_flight for mid, _ in self._chat)
        ):
            self._in_flight = None

    def retry_later(self, datagram: bytes, *, now: float, delay: float) -> None:
        """Put back a datagram the transport refused for rate reasons, and pause sending for ``delay`` seconds.

        The refused datagram leaves the pacing window (the receiver did not count it) and returns to the front of
        its lane (chat frames of a message cancelled meanwhile are dropped).
        """
        self._confirm(datagram)
        self.pacer.unrecord(len(datagram))
        self.pacer.penalize(now, delay)
        try:
            frame = decode_frame(datagram, max_bytes=max(len(datagram), 1))
        except RemoteProtocolError:
            self._priority.appendleft(datagram)
            return
        if not isinstance(frame, ChatFrame):
            self._priority.appendleft(datagram)
        elif frame.mid not in self._cancelled:
            self._chat.appendleft((frame.mid, datagram))
            self._in_flight = frame.mid if frame.idx > 0 else None

    def pending_chat_frames(self) -> int:
        """Chat frames still queued."""
        return len(self._chat)

    def pending_commands(self) -> dict[str, str]:
        """Commands sent and not yet acked: mid -> cmd."""
        return dict(self._pending_commands)

    def send_delay(self, now: float) -> float | None:
        """Seconds until the next queued datagram may go (0.0 if now), or ``None`` when nothing is queued."""
        if self._priority:
            return self.pacer.delay(now, len(self._priority[0]), priority=True)
        if self._chat:
            return self.pacer.delay(now, len(self._chat[0][1]))
        return None

    def data_to_send(self, now: float, *, limit: int | None = None) -> list[bytes]:
        """Take the datagrams that may go out at ``now`` (priority lane first); they are recorded as sent.

        A driver that learns the transport's verdict reports it with :meth:`sent`, :meth:`retry_later` or
        :meth:`not_sent`; until then a chat message whose last frame was taken still counts as being transmitted.

        Args:
            now: the current time.
            limit: take at most this many. A driver that awaits each send should take one at a time, so that an
                interrupt queued meanwhile goes out next and can still cancel the rest of the message.

        Returns:
            The datagrams, in sending order (possibly none).
        """
        out: list[bytes] = []
        pacer = self.pacer
        while limit is None or len(out) < limit:
            if self._priority:
                data = self._priority[0]
                if pacer.delay(now, len(data), priority=True) > 0:
                    break
                self._priority.popleft()
            elif self._chat:
                mid, data = self._chat[0]
                if pacer.delay(now, len(data)) > 0:
                    break
                self._chat.popleft()
                self._in_flight = mid
            else:
                break
            pacer.record(now, len(data))
            self._unconfirmed.append(data)
            out.append(data)
        return out

    # ----------------------------------------------------------------------------------------- receiving

    def receive_data(self, data: bytes, *, sender: str, now: float) -> None:
        """Process one received datagram from ``sender``; results go to :meth:`events_received`.

        Expired incoming messages (see :meth:`expire`) are reported first.

        Raises:
            RemoteProtocolError: only with ``strict=True``, when the datagram is not a valid frame.
        """
        self.expire(now)
        try:
            frame = decode_frame(data, max_bytes=self.max_decode_bytes)
        except RemoteProtocolError as exc:
            if self.strict:
                raise
            self._events.append(FrameRejected(sender=sender, raw=exc.raw, error=exc))
            return
        if isinstance(frame, ChatFrame):
            self._events.extend(self.reassembler.feed(frame, sender=sender, now=now))
        elif isinstance(frame, CommandAck):
            original = self._pending_commands.pop(frame.mid, None) if frame.mid is not None else None
            self._events.append(
                CommandResult(
                    sender=sender,
                    mid=frame.mid,
                    cmd=original if original is not None else frame.cmd,
                    code=frame.code,
                    msg=frame.msg if frame.msg is not None else "",
                    matched=original is not None,
                )
            )
        elif isinstance(frame, CommandFrame):
            data_map = frame.data if frame.data is not None else {}
            self._events.append(CommandReceived(sender=sender, mid=frame.mid, cmd=frame.cmd, data=data_map))
        elif isinstance(frame, EventFrame):
            payload = {"event": frame.name, **frame.pld_extra}
            self._events.append(AvatarEvent(sender=sender, mid=frame.mid, name=frame.name, payload=payload))
        else:
            self._events.append(UnknownFrame(sender=sender, frame=frame))

    def events_received(self) -> list[Event]:
        """Drain and return the events produced so far, in order."""
        # A copy, and the list kept: a fresh empty list per call would live until the next frame (about a second with
        # many quiet sessions), long enough to crowd the garbage collector's young generations.
        events = self._events[:]
        self._events.clear()
        return events

    def expire(self, now: float) -> None:
        """Move incoming messages idle for longer than ``message_timeout`` to the events, as ``MessageExpired``."""
        self._events.extend(self.reassembler.expire(now))

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has something to do, or ``None``."""
        return self.reassembler.next_deadline()


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if not value:
            return out
