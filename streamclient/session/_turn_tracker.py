"""Attributes what the avatar says and does to the turn that caused it.

Which reply answers which request is decided by the rules of :mod:`streamclient.session._attribution` (a reply
whose mid names one of our turns is that turn's; one that names a participant's message is nobody's; otherwise the
order in which the avatar received every request, ours and everyone else's). This module applies the decisions: it
tracks the reply in progress, collects its text into the turn, and resolves turns.

A turn resolves when its reply message is complete and, if the avatar reported ``audio_start`` for it, once
``audio_end`` has arrived too; when its reply expired incomplete; when ``grace`` seconds passed after ``audio_end``
without the reply completing (chunks were lost: it resolves with every character that arrived, gaps marked); when
a newer reply starts; or when an interrupt that cut it is acknowledged or the avatar stops speaking after it.

Interrupts, from us or from anyone in the room: the avatar stops the reply in progress and drops the requests queued
behind it, so every request outstanding when it saw the interrupt is owed nothing any more. Our turns among them
are cut (``interrupted=True``); a reply that starts before the ack answers a cut message and belongs to no turn.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from streamclient.session._attribution import Decision, Ledger, Request, decide
from streamclient.session.turns import Turn

__all__ = ("OtherReply", "TurnTracker")

_REMEMBERED_REPLIES = 64
_REMEMBERED_INTERRUPTS = 64
#: Rules whose decision rests on the reply's mid: they overrule a provisional claim made at ``audio_start``.
_BY_MID = frozenset({"our_mid", "participant_mid", "mids_echo_requests"})


@dataclass(frozen=True, slots=True)
class OtherReply:
    """A reply that belongs to no turn of ours, and why (``asked_by``: a participant's uid, ``"user"``, or None)."""

    reply_mid: str | None
    asked_by: str | None
    request_mid: str | None
    rule: str


@dataclass(eq=False, slots=True)
class _Reply:
    owner: Request | None
    rule: str
    started: float
    key: Hashable | None = None
    ended: bool = False

    @property
    def turn(self) -> Turn | None:
        return self.owner.turn if self.owner is not None else None


def _same(a: Request | None, b: Request | None) -> bool:
    """Whether two requests are the same one (a rule may rebuild a request it no longer finds in the ledger)."""
    if a is None or b is None:
        return a is b
    return a is b or (a.kind == b.kind and a.mid == b.mid)


class TurnTracker:
    """Turn bookkeeping for one session. Runs on the event loop; every method is synchronous.

    Args:
        on_resolved: called with each turn that resolves.
        on_other_reply: called when a reply starts that is not ours (who asked for it, by which rule).
        grace: seconds after ``audio_end`` that a turn whose reply is still incomplete waits for missing chunks.
    """

    def __init__(
        self,
        *,
        on_resolved: Callable[[Turn], None] | None = None,
        on_other_reply: Callable[[OtherReply], None] | None = None,
        grace: float = 2.0,
    ) -> None:
        self._on_resolved = on_resolved
        self._on_other_reply = on_other_reply
        self.grace = grace
        self.ledger = Ledger()
        self._by_mid = self.ledger.turns_by_mid
        self._owners: OrderedDict[Hashable, Request | None] = OrderedDict()
        self._reply: _Reply | None = None
        self._current: Turn | None = None
        self._graces: dict[Turn, float] = {}
        #: Participants' interrupts seen and not acknowledged yet: mid -> the turns they cut.
        self._foreign: dict[str | None, list[Turn]] = {}
        self._acked: OrderedDict[str | None, None] = OrderedDict()
        #: Whether the avatar answers the user's voice (dialogue mode): its transcripts are then requests too.
        self.answers_user_speech = True

    @property
    def current(self) -> Turn | None:
        """The turn whose reply is in progress, if any."""
        return self._current if self._current is not None and not self._current.done else None

    def open_turns(self) -> list[Turn]:
        """Every turn that has not resolved yet, oldest first."""
        return [t for t in self._by_mid.values() if not t.done]

    def add(self, turn: Turn) -> None:
        """Track a newly queued turn."""
        self._by_mid[turn.message_id] = turn

    def get(self, message_id: str) -> Turn | None:
        """The turn that sent ``message_id``, if it is still tracked."""
        return self._by_mid.get(message_id)

    def in_flight(self, message_id: str | None) -> None:
        """The last frame of ``message_id`` is being handed to the transport (``None``: the call returned)."""
        self.ledger.in_flight = None if message_id is None else self._by_mid.get(message_id)

    def frame_sent(self, message_id: str, *, final: bool, now: float) -> None:
        """Record that a frame of ``message_id`` went out; the final one makes it a request the avatar owes."""
        turn = self._by_mid.get(message_id)
        if turn is None or not final or turn.done:
            return
        if turn.sent_at is not None:  # its reply started while the frame was in flight: claimed already
            return
        turn.sent_at = now
        self.ledger.append(Request("ours", message_id, "", turn))

    # ------------------------------------------------------------------------------------------ other requests

    def participant_request(self, sender: str, mid: str) -> None:
        """A participant's chat message reached the avatar: it owes that participant a reply."""
        self.ledger.append(Request("participant", mid, sender))

    def user_request(self, mid: str) -> None:
        """The user's voice was transcribed: in dialogue mode the avatar owes it a reply."""
        if self.answers_user_speech:
            self.ledger.append(Request("user", mid, "user"))

    # ------------------------------------------------------------------------------------------ replies

    def _claim(self, decision: Decision, now: float, *, key: Hashable | None, reply_mid: str | None) -> _Reply:
        """A new reply starts: it answers ``decision.request`` (resolving the previous reply's turn).

        A reply that is not ours is reported once its mid is known (``key``): ``audio_start`` alone only claims.
        """
        request = decision.request
        if request is not None:
            self.ledger.take(request)
            if decision.rule in ("our_mid", "participant_mid"):
                self.ledger.mids_echo = True
        previous = self._current
        turn = request.turn if request is not None else None
        if previous is not None and previous is not turn and not previous.done:
            self._finish(previous, now)
        self._current = turn
        if turn is not None and turn.sent_at is None:
            turn.sent_at = now  # (its transport call has not returned yet)
        reply = self._reply = _Reply(owner=request, rule=decision.rule, started=now, key=key)
        if key is not None:
            self._report(reply, reply_mid)
        return reply

    def _report(self, reply: _Reply, reply_mid: str | None) -> None:
        request = reply.owner
        if request is not None and request.kind != "ours" and self._on_other_reply is not None:
            self._on_other_reply(OtherReply(reply_mid, request.asked_by, request.mid, reply.rule))

    def _owner(self, key: Hashable, now: float) -> Turn | None:
        """The turn the message ``key`` belongs to (deciding it when its first chunk shows up)."""
        if key in self._owners:
            request = self._owners[key]
            return request.turn if request is not None else None
        mid = key[2] if isinstance(key, tuple) and len(key) == 3 and isinstance(key[2], str) else None
        decision = decide(self.ledger, mid)
        reply = self._reply
        if reply is not None and reply.key is None:
            # audio_start came first and claimed provisionally: the mid confirms, or overrules the claim.
            if decision.rule in _BY_MID and not _same(decision.request, reply.owner):
                provisional = reply.turn
                if reply.owner is not None:
                    self.ledger.put_back(reply.owner)
                if provisional is not None and not provisional.done:
                    provisional.audio_start_at = None
                    if self._current is provisional:
                        self._current = None  # owed again, not answered: it must not resolve now
                started = reply.started
                reply = self._claim(decision, now, key=key, reply_mid=mid)
                reply.started = started
                if reply.turn is not None:
                    reply.turn.mark_audio_start(started)
            else:
                if decision.rule in _BY_MID:  # the mid confirms the claim: say so
                    reply.rule = decision.rule
                    self.ledger.mids_echo = self.ledger.mids_echo or decision.rule != "mids_echo_requests"
                reply.key = key
                self._report(reply, mid)
            reply.key = key
        else:
            reply = self._claim(decision, now, key=key, reply_mid=mid)
        self._owners[key] = reply.owner
        while len(self._owners) > _REMEMBERED_REPLIES:
            self._owners.popitem(last=False)
        turn = reply.turn
        if turn is not None:
            turn.reply_key = key
        return turn

    def bot_delta(self, key: Hashable, text: str, now: float) -> None:
        """More text of the reply identified by ``key``."""
        turn = self._owner(key, now)
        if turn is None or turn.done:
            return
        turn.mark_first_chunk(now)
        turn.reply_parts.append(text)

    def bot_complete(self, key: Hashable, now: float) -> None:
        """The reply ``key`` completed."""
        turn = self._owner(key, now)
        if turn is None or turn.done:
            return
        turn.reply_complete = True
        if turn.audio_start_at is None or turn.audio_end_at is not None:
            self._finish(turn, now)

    def bot_incomplete(self, key: Hashable, now: float, *, text: str | None = None, gaps: tuple[int, ...] = ()) -> None:
        """The reply ``key`` expired with chunks missing: the turn resolves with what arrived (``text``, gaps)."""
        turn = self._owner(key, now)
        if turn is not None and not turn.done:
            if text is not None and not turn.interrupted:
                turn.reply_parts = [text]
                turn.reply_gaps = gaps
            turn.reply_lost = True
            self._finish(turn, now)

    def audio_start(self, now: float) -> None:
        """The avatar started speaking: a reply starts (claimed provisionally until its first chunk shows its mid)."""
        reply = self._reply
        if reply is not None and not reply.ended and reply.key is not None:
            turn = reply.turn  # the chunks came first: this audio_start is theirs
            if turn is not None and not turn.done and turn.audio_start_at is None:
                turn.mark_audio_start(now)
                return
        reply = self._claim(decide(self.ledger, None), now, key=None, reply_mid=None)
        if reply.turn is not None:
            reply.turn.mark_audio_start(now)

    def audio_end(self, now: float) -> None:
        """The avatar stopped speaking."""
        reply = self._reply
        if reply is None or reply.ended:
            return
        reply.ended = True
        turn = reply.turn
        if turn is None or turn.done:
            return
        turn.audio_end_at = now
        if turn.reply_complete or turn.interrupted:
            self._finish(turn, now)
        else:
            self._graces[turn] = now + self.grace

    # ------------------------------------------------------------------------------------------ grace

    def next_deadline(self) -> float | None:
        """When a turn's grace after ``audio_end`` runs out, if one is waiting."""
        return min(self._graces.values(), default=None)

    def graces_over(self, now: float) -> list[Turn]:
        """The turns whose grace ran out (their reply's missing chunks are not coming): the caller expires them."""
        over = [turn for turn, deadline in self._graces.items() if deadline <= now]
        for turn in over:
            del self._graces[turn]
        return [turn for turn in over if not turn.done]

    def give_up(self, turn: Turn, now: float) -> None:
        """Resolve ``turn`` with what arrived, its reply incomplete (no message of it was pending any more)."""
        if not turn.done:
            turn.reply_lost = True
            self._finish(turn, now)

    # ------------------------------------------------------------------------------------------ interrupts

    def mark_interrupted(self, dropped_message_id: str | None, *, unsent: bool = False) -> list[Turn]:
        """Our interrupt was queued: cut the turns that can no longer get a reply, until :meth:`interrupt_done`.

        Those are the speaking turn, every turn the avatar owes a reply, the turn being transmitted (frames dropped,
        or its last frame inside the transport call: ``dropped_message_id``) and, with ``unsent``, the turns still
        queued whole. When none of these exists, the oldest open turn is the one in progress (queued, its first
        frame about to go) and is cut. An interrupt stops the avatar's current reply and, in the emulator, the
        replies queued behind it (what the real service does with queued replies is undocumented), so no turn that
        was already sent may keep waiting for a reply that will not come.
        """
        cut = self._cut()
        if dropped_message_id is not None:
            dropped = self._by_mid.get(dropped_message_id)
            if dropped is not None and not dropped.done and dropped not in cut:
                dropped.interrupted = True
                cut.append(dropped)
        if unsent:
            for turn in self._by_mid.values():
                if not turn.done and turn.sent_at is None and turn not in cut:
                    turn.interrupted = True
                    cut.append(turn)
        if not cut:
            head = next((t for t in self._by_mid.values() if not t.done), None)
            if head is not None:
                head.interrupted = True
                cut.append(head)
        return cut

    def _cut(self) -> list[Turn]:
        """An interrupt reached the avatar: the reply in progress and the requests it owes are cut."""
        self.ledger.unacked_interrupts += 1
        cut: list[Turn] = []
        current = self.current
        if current is not None:
            cut.append(current)
        for request in self.ledger.clear():
            turn = request.turn
            if turn is not None and not turn.done and turn not in cut:
                cut.append(turn)
        for turn in cut:
            turn.interrupted = True
        return cut

    def interrupt_done(self) -> None:
        """An interrupt was acknowledged (or its wait ended): replies that start from now on are claimed again."""
        self.ledger.unacked_interrupts = max(0, self.ledger.unacked_interrupts - 1)

    def foreign_interrupt(self, mid: str | None) -> None:
        """Another participant sent an interrupt: it cuts our turn in progress and those the avatar owes replies."""
        if mid in self._acked or mid in self._foreign:
            return
        self._foreign[mid] = self._cut()

    def foreign_interrupt_acked(self, mid: str | None, now: float) -> None:
        """The avatar acknowledged an interrupt we did not send: the turns it cut resolve now, interrupted."""
        if mid in self._acked:
            return
        cut = self._foreign.pop(mid) if mid in self._foreign else self._cut()
        self._acked[mid] = None
        while len(self._acked) > _REMEMBERED_INTERRUPTS:
            self._acked.popitem(last=False)
        self.interrupt_done()
        for turn in cut:
            self._finish(turn, now)

    # ------------------------------------------------------------------------------------------ resolving

    def resolve(self, turn: Turn, now: float) -> None:
        """Resolve ``turn`` now with what it has."""
        self._finish(turn, now)

    def fail_all(self, error: BaseException) -> None:
        """Fail every open turn (the session closed)."""
        for turn in self.open_turns():
            turn.fail(error)
        self._by_mid.clear()
        self.ledger.clear()
        self._graces.clear()
        self._current = None

    def _finish(self, turn: Turn, now: float) -> None:
        if turn.done:
            return
        turn.resolve(now)
        if self._on_resolved is not None:
            self._on_resolved(turn)
        self._by_mid.pop(turn.message_id, None)
        self._graces.pop(turn, None)
        self.ledger.forget_turn(turn)
        if self._current is turn:
            self._current = None
        # A finished turn is not kept alive by its reply's key: later chunks of that reply belong to no turn.
        if turn.reply_key is not None and turn.reply_key in self._owners:
            self._owners[turn.reply_key] = None
        # Nor by the reply in progress, which stays until the next one starts (about a second per session under
        # load): the turn, its result and its events would survive into the collector's older generations. The
        # reply keeps who asked (a turn-less request of ours: what a finished turn's reply already claimed).
        reply = self._reply
        if reply is not None and reply.owner is not None and reply.owner.turn is turn:
            reply.owner = Request("ours", turn.message_id, "")
