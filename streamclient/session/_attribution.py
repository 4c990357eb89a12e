"""Who asked for a reply: the rules that give each reply of the avatar to one of our turns, or to nobody.

The avatar answers requests one at a time, in the order it receives them, whoever sent them: our chat messages,
other participants' chat messages (a browser in a shared room talks to the avatar too) and, in dialogue mode, the
user's voice. The session keeps a :class:`Ledger` of the requests the avatar has received and not answered yet, in
the order it saw them: our turns (once their last frame went out), participants' complete chat messages (``from``
absent), and the user's final transcripts (in dialogue mode). An interrupt, from anyone, empties it: the avatar
drops the replies it had queued.

When a reply starts (``audio_start``, or the first chunk of a message not seen yet), :data:`RULES` are tried in
order and the first that applies decides (protocol/README.md, "Reply attribution", gives the evidence):

1. ``our_mid``: the reply's mid names one of our open turns (the avatar reuses the request's mid) -> that turn.
2. ``participant_mid``: it names a participant's chat message -> no turn; reported with who asked.
3. ``during_interrupt``: an interrupt is waiting for its ack -> no turn (the reply answers a message the interrupt
   cut: the avatar stops before it acks, and each sender's stream is ordered).
4. ``mids_echo_requests``: replies were seen to reuse request mids, so an unknown mid cannot answer a chat message:
   it answers the user's voice -> the oldest user request, else nobody.
5. ``oldest_request``: the oldest request in the ledger (fresh reply mids: order is all there is) -> our turn if it
   is ours, else no turn, reported with who asked.
6. ``in_flight``: nothing is outstanding, but our turn's last frame is inside the transport call (the avatar
   answered before the call returned) -> that turn.
7. ``unasked``: no turn (a reply nobody we know of asked for).

``audio_start`` carries no mid: it claims provisionally (rules 3, 5, 6, 7), and the reply's first chunk confirms or
corrects the claim (a corrected claim goes back to the head of the ledger).

The residual ambiguity, with fresh reply mids only: two requests that reach the avatar within a network delay of
each other (ours and a participant's) may reach it in the other order than the one the session saw; and a request
the avatar never answers (a participant's message it refused) stays at the head of the ledger and shifts the order.
Reply mids that echo the request's (the docs' examples, the emulator's default) leave no ambiguity.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from streamclient.session.turns import Turn

__all__ = ("RULES", "Decision", "Ledger", "Request", "Rule", "decide")

#: Requests remembered at most (the oldest beyond are forgotten: the avatar cannot still owe them anything useful).
MAX_REQUESTS = 64
#: Participants' request mids remembered after they were answered or dropped (to recognise their late replies).
MAX_REMEMBERED_MIDS = 256

Kind = Literal["ours", "participant", "user"]


@dataclass(eq=False, slots=True)
class Request:
    """Something the avatar was asked and has not answered yet, as far as the session knows."""

    kind: Kind
    mid: str
    #: Who asked: a participant's uid, ``"user"`` for the user's voice, or our own uid (``kind == "ours"``).
    asked_by: str
    turn: Turn | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What a rule decided: the request the reply answers (``None``: unknown), and the rule's name."""

    rule: str
    request: Request | None

    @property
    def turn(self) -> Turn | None:
        """Our turn the reply belongs to, if it is ours."""
        return self.request.turn if self.request is not None else None


class Ledger:
    """The requests the avatar owes replies to, oldest first, and what the session learned about reply mids."""

    def __init__(self) -> None:
        self.requests: deque[Request] = deque()
        self.turns_by_mid: dict[str, Turn] = {}  # our open turns (set by the tracker)
        self.participant_mids: dict[str, str] = {}  # participants' request mids -> who asked (bounded, newest kept)
        self.in_flight: Turn | None = None
        self.unacked_interrupts = 0
        #: A reply reused a request's mid: replies echo request mids (known once seen).
        self.mids_echo = False

    def append(self, request: Request) -> None:
        """Add a request the avatar received."""
        if request.kind == "participant":
            self.participant_mids[request.mid] = request.asked_by
            while len(self.participant_mids) > MAX_REMEMBERED_MIDS:
                del self.participant_mids[next(iter(self.participant_mids))]
        self.requests.append(request)
        while len(self.requests) > MAX_REQUESTS:
            oldest = next((r for r in self.requests if r.kind != "ours"), self.requests[0])
            self.requests.remove(oldest)

    def take(self, request: Request) -> None:
        """``request`` was answered (or claimed): it leaves the ledger."""
        if request in self.requests:
            self.requests.remove(request)

    def put_back(self, request: Request) -> None:
        """A provisional claim was wrong: ``request`` is owed again, first in line."""
        if request not in self.requests:
            self.requests.appendleft(request)

    def forget_turn(self, turn: Turn) -> None:
        """Our ``turn`` resolved: the avatar owes it nothing any more (as far as attribution goes)."""
        for request in self.requests:
            if request.turn is turn:
                self.requests.remove(request)
                return

    def find(self, mid: str) -> Request | None:
        """The outstanding request with ``mid``."""
        return next((r for r in self.requests if r.mid == mid), None)

    def clear(self) -> list[Request]:
        """An interrupt dropped every queued request: return them (the caller cuts our turns among them)."""
        dropped = list(self.requests)
        self.requests.clear()
        return dropped


Rule = Callable[[Ledger, "str | None"], "Decision | None"]


def _our_mid(ledger: Ledger, mid: str | None) -> Decision | None:
    turn = ledger.turns_by_mid.get(mid) if mid is not None else None
    if turn is None or turn.done:
        return None
    request = ledger.find(mid) if mid is not None else None
    return Decision("our_mid", request if request is not None else Request("ours", turn.message_id, "", turn))


def _participant_mid(ledger: Ledger, mid: str | None) -> Decision | None:
    if mid is None or mid not in ledger.participant_mids:
        return None
    request = ledger.find(mid)
    return Decision(
        "participant_mid",
        request if request is not None else Request("participant", mid, ledger.participant_mids[mid]),
    )


def _during_interrupt(ledger: Ledger, mid: str | None) -> Decision | None:  # noqa: ARG001
    return Decision("during_interrupt", None) if ledger.unacked_interrupts else None


def _mids_echo_requests(ledger: Ledger, mid: str | None) -> Decision | None:
    if mid is None or not ledger.mids_echo:
        return None
    return Decision("mids_echo_requests", next((r for r in ledger.requests if r.kind == "user"), None))


def _oldest_request(ledger: Ledger, mid: str | None) -> Decision | None:  # noqa: ARG001
    return Decision("oldest_request", ledger.requests[0]) if ledger.requests else None


def _in_flight(ledger: Ledger, mid: str | None) -> Decision | None:  # noqa: ARG001
    turn = ledger.in_flight
    if turn is None or turn.done or turn.sent_at is not None:
        return None
    return Decision("in_flight", Request("ours", turn.message_id, "", turn))


def _unasked(ledger: Ledger, mid: str | None) -> Decision | None:  # noqa: ARG001
    return Decision("unasked", None)


#: The rules, in the order they are tried (see the module docstring); the first that returns a decision wins.
RULES: tuple[tuple[str, Rule], ...] = (
    ("our_mid", _our_mid),
    ("participant_mid", _participant_mid),
    ("during_interrupt", _during_interrupt),
    ("mids_echo_requests", _mids_echo_requests),
    ("oldest_request", _oldest_request),
    ("in_flight", _in_flight),
    ("unasked", _unasked),
)


def decide(ledger: Ledger, mid: str | None) -> Decision:
    """Which request a reply starting now answers (``mid``: the reply's mid; ``None`` for ``audio_start``)."""
    for _, rule in RULES:
        decision = rule(ledger, mid)
        if decision is not None:
            return decision
    raise AssertionError("the last rule always decides")  # pragma: no cover
