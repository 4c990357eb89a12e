"""Everything that arrives: transport events and decoded frames become session events, turn progress and acks.

Runs on the event loop, synchronously, from the session's reader task (and its timer, for expired messages). It
never raises and never waits: what needs I/O (closing after a lost connection, renewing the token) is handed back
through ``on_connection_failed`` and ``on_token_will_expire``.

Who is the avatar: when its uid is known (``avatar_uid``: bring-your-own credentials, or a LiveKit server identity)
only that participant is the avatar; otherwise the first other participant to join is (AKOOL-hosted rooms hold just
the two of us), with a warning when another one appears. Frames from anyone else are kept apart: their chat becomes
``ParticipantMessage``, the rest is counted in ``stats.frames_from_others``; none of it touches a turn, an ack or
the speaking state, and participants coming and going change nothing for the turn in progress. What they ask the
avatar does count: their chat messages and interrupts are requests the avatar answers in turn, so they go to the
turn tracker's ledger (see :mod:`streamclient.session._attribution`), and a reply owed to them is reported as
:class:`~streamclient.session.events.ReplyToOther`, never taken for our turn's.
"""

from __future__ import annotations

import logging
from asyncio import get_running_loop
from collections.abc import Callable

import anyio

from streamclient.codec import (
    AvatarEvent,
    ChatDelta,
    ChatMessage,
    CommandReceived,
    CommandResult,
    FrameRejected,
    MessageDiscarded,
    MessageExpired,
    ProtocolConnection,
    UnknownFrame,
    frame_excerpt,
)
from streamclient.codec import Event as CodecEvent
from streamclient.session._fanout import EventFanout
from streamclient.session._turn_tracker import OtherReply, TurnTracker
from streamclient.session.events import (
    AvatarJoined,
    AvatarLeft,
    BotMessage,
    BotTextDelta,
    CommandAcked,
    ConnectionChanged,
    FrameDropped,
    MessageIncomplete,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMessage,
    ReplyToOther,
    SpeakingStarted,
    SpeakingStopped,
    UserTranscript,
)
from streamclient.session.stats import SessionStats
from streamclient.session.turns import Turn
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    MessagesLost,
    PeerJoined,
    PeerLeft,
    SendFailed,
    TokenExpired,
    TokenWillExpire,
    TransportEvent,
)

__all__ = ("Inbound", "PendingAck")

logger = logging.getLogger(__name__)


class PendingAck:
    """A command waiting for its ack: ``done`` is set when ``result`` arrives (or the session closes)."""

    __slots__ = ("cmd", "done", "result")

    def __init__(self, cmd: str) -> None:
        self.cmd = cmd
        self.done = anyio.Event()
        self.result: CommandResult | None = None


class Inbound:
    """Routes what the transport and the codec report to the application, the turns and the pending acks."""

    def __init__(
        self,
        *,
        conn: ProtocolConnection,
        fanout: EventFanout,
        stats: SessionStats,
        local_uid: Callable[[], str | None],
        on_connection_failed: Callable[[], None],
        label: str,
        avatar_uid: str | None = None,
        on_token_will_expire: Callable[[], bool] | None = None,
        reply_grace: float = 2.0,
    ) -> None:
        self._conn = conn
        self._fanout = fanout
        self._stats = stats
        self._local_uid = local_uid
        self._on_connection_failed = on_connection_failed
        self._label = label
        self.turns = TurnTracker(on_resolved=self._turn_resolved, on_other_reply=self._other_reply, grace=reply_grace)
        self.acks: dict[str, PendingAck] = {}
        self._expected_avatar = avatar_uid
        if avatar_uid is not None:
            conn.reassembler.reserve(avatar_uid)  # no other participant's messages can push the avatar's out
        self._on_token_will_expire = on_token_will_expire
        self.avatar_uid: str | None = None
        self.avatar_joined = anyio.Event()
        self.speaking = False
        #: Other participants in the channel (not us, not the avatar).
        self.participants: set[str] = set()

    def on_transport_event(self, event: TransportEvent) -> None:
        """Handle one event from the transport."""
        match event:
            case FrameReceived(sender=sender, data=data):
                self._stats.frames_received += 1
                self._stats.bytes_received += len(data)
                if not self._from_avatar(sender):
                    self._stats.frames_from_others += 1
                self._conn.receive_data(data, sender=sender, now=get_running_loop().time())
                self.dispatch(self._conn.events_received())
            case PeerJoined(uid=uid):
                self._peer_joined(uid)
            case PeerLeft(uid=uid, reason=reason):
                if uid == self.avatar_uid:
                    self.speaking = False
                    self._fanout.publish(AvatarLeft(uid, reason))
                elif uid in self.participants:
                    self.participants.discard(uid)
                    self._fanout.publish(ParticipantLeft(uid, reason))
            case ConnectionStateChanged(state=state, reason=reason):
                self._fanout.publish(ConnectionChanged(state.name, reason))
                if state is ConnectionState.FAILED:
                    self._on_connection_failed()
            case TokenWillExpire():
                if self._on_token_will_expire is None or not self._on_token_will_expire():
                    logger.warning(
                        "session %s: the channel token expires soon (AKOOL has no renewal endpoint)", self._label
                    )
            case TokenExpired():
                logger.warning("session %s: the channel token expired", self._label)
            case SendFailed(code=code):
                self._stats.send_failures += 1
                logger.warning("session %s: a send failed later with code %d", self._label, code)
            case MessagesLost(missed=missed):
                self._stats.messages_lost += missed

    def _peer_joined(self, uid: str) -> None:
        if uid == self._local_uid():
            return
        if self._expected_avatar is not None:
            is_avatar = uid == self._expected_avatar
        else:
            # The credentials name only our uid: the avatar is the first other participant.
            is_avatar = self.avatar_uid in (None, uid)
            if not is_avatar:
                logger.warning(
                    "session %s: participant %s joined besides the avatar %s; the avatar was taken to be the first "
                    "to join (name it with bring-your-own credentials to be sure)",
                    self._label,
                    uid,
                    self.avatar_uid,
                )
        if is_avatar:
            self.avatar_uid = uid
            self._conn.reassembler.reserve(uid)
            self._fanout.publish(AvatarJoined(uid))
            self.avatar_joined.set()
        elif uid not in self.participants:
            self.participants.add(uid)
            self._fanout.publish(ParticipantJoined(uid))

    def _from_avatar(self, sender: str) -> bool:
        if self._expected_avatar is not None:
            return sender == self._expected_avatar
        return self.avatar_uid is None or sender == self.avatar_uid

    def _from_other(self, event: CodecEvent) -> None:
        """What a participant other than the avatar sent: kept apart."""
        match event:
            case ChatDelta(sender=sender, source=source, mid=mid, text=text):
                self._fanout.publish(ParticipantMessage(sender, mid, text, source, final=False))
            case ChatMessage(sender=sender, source=source, mid=mid, text=text):
                if source is None:  # a chat message for the avatar (not a relayed transcript or reply)
                    self.turns.participant_request(sender, mid)
                self._fanout.publish(ParticipantMessage(sender, mid, text, source, final=True))
            case CommandReceived(cmd="interrupt", mid=mid):
                self.turns.foreign_interrupt(mid)
            case _:
                logger.debug(
                    "session %s: %s from participant %s kept apart", self._label, type(event).__name__, event.sender
                )

    def dispatch(self, events: list[CodecEvent]) -> None:
        """Handle what the codec decoded (or expired)."""
        now = get_running_loop().time()  # anyio.current_time() on asyncio, without its backend lookup
        publish = self._fanout.publish
        for event in events:
            if not self._from_avatar(event.sender):
                self._from_other(event)
                continue
            match event:
                case ChatDelta(source="user", mid=mid, text=text):
                    publish(UserTranscript(mid, text, final=False))
                case ChatMessage(source="user", mid=mid, text=text, unpaired_surrogates=unpaired):
                    self._count_unpaired(event)
                    self.turns.user_request(mid)
                    publish(UserTranscript(mid, text, final=True, unpaired_surrogates=unpaired))
                case ChatDelta(sender=sender, source=source, mid=mid, text=text):
                    self.turns.bot_delta((sender, source, mid), text, now)
                    publish(BotTextDelta(mid, text))
                case ChatMessage(sender=sender, source=source, mid=mid, text=text, unpaired_surrogates=unpaired):
                    self._count_unpaired(event)
                    self.turns.bot_complete((sender, source, mid), now)
                    publish(BotMessage(mid, text, unpaired))
                case MessageExpired(sender=sender, source=source, mid=mid, received=received, partial_text=partial):
                    self._stats.messages_incomplete += 1
                    if source != "user":
                        self.turns.bot_incomplete((sender, source, mid), now, text=event.text, gaps=event.gaps)
                    publish(MessageIncomplete(mid, source, tuple(received), partial, event.text, event.gaps))
                case MessageDiscarded(mid=mid, reason=reason):
                    self._stats.messages_incomplete += 1
                    logger.warning("session %s: message %s discarded (%s)", self._label, mid, reason)
                    publish(FrameDropped(f"message {mid} discarded: {reason}"))
                case CommandResult(mid=mid):
                    pending = self.acks.get(mid) if mid is not None else None
                    if pending is not None:
                        pending.result = event
                        pending.done.set()
                    elif not event.matched and event.cmd == "interrupt":  # someone else stopped the avatar
                        self.turns.foreign_interrupt_acked(mid, now)
                    publish(CommandAcked(mid or "", event.cmd, event.code, event.msg))
                case AvatarEvent(name="audio_start"):
                    self.speaking = True
                    self.turns.audio_start(now)
                    publish(SpeakingStarted())
                case AvatarEvent(name="audio_end"):
                    self.speaking = False
                    self.turns.audio_end(now)
                    publish(SpeakingStopped())
                case AvatarEvent(name=name):
                    logger.debug("avatar event %s ignored", name)
                case CommandReceived(cmd=cmd):
                    logger.debug("command echo %s ignored", cmd)
                case UnknownFrame():
                    self._stats.unknown_frames += 1
                case FrameRejected(sender=sender, raw=raw, error=error):
                    self._stats.frames_rejected += 1
                    excerpt = frame_excerpt(raw)
                    logger.warning(
                        "session %s: refused a frame from %s (%s): %s", self._label, sender, error.reason, excerpt
                    )
                    publish(FrameDropped(error.reason, excerpt))

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has something to do: an incoming message's expiry or a reply's grace."""
        deadline, grace = self._conn.next_deadline(), self.turns.next_deadline()
        if deadline is None or grace is None:
            return grace if deadline is None else deadline
        return min(deadline, grace)

    def expire(self, now: float) -> None:
        """Expire stalled incoming messages, and the replies whose grace after ``audio_end`` ran out."""
        self._conn.expire(now)
        self.dispatch(self._conn.events_received())
        for turn in self.turns.graces_over(now):
            sender, source, mid = turn.reply_key if isinstance(turn.reply_key, tuple) else (None, "bot", None)
            avatar = sender if isinstance(sender, str) else self.avatar_uid
            if avatar is not None:
                reassembler = self._conn.reassembler
                if isinstance(mid, str):
                    self.dispatch(reassembler.expire_message(avatar, source, mid))
                else:  # no chunk of it was in order yet: its message is the avatar's pending reply
                    self.dispatch(reassembler.expire_sender(avatar, "bot"))
            self.turns.give_up(turn, now)

    def _other_reply(self, reply: OtherReply) -> None:
        self._fanout.publish(ReplyToOther(reply.reply_mid, reply.asked_by, reply.request_mid, reply.rule))

    def _count_unpaired(self, message: ChatMessage) -> None:
        if message.unpaired_surrogates:
            self._stats.unpaired_surrogates += message.unpaired_surrogates
            logger.warning(
                "session %s: message %s held %d unpaired surrogate(s), replaced by U+FFFD",
                self._label,
                message.mid,
                message.unpaired_surrogates,
            )

    def _turn_resolved(self, turn: Turn) -> None:
        self._stats.turns_completed += 1
        if turn.sent_at is None:
            return
        first = turn.first_chunk_at if turn.first_chunk_at is not None else turn.audio_start_at
        if first is not None:
            self._stats.reply_latencies.append(first - turn.sent_at)
            logger.debug("turn %s: first reply after %.3f s", turn.message_id, first - turn.sent_at)
