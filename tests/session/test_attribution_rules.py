"""The attribution rules, one by one: which request a starting reply answers (streamclient.session._attribution)."""

from __future__ import annotations

from streamclient.session._attribution import RULES, Ledger, Request, decide
from streamclient.session.turns import Turn


def _turn(mid: str) -> Turn:
    return Turn(message_id=mid, text=f"text of {mid}", queued=0.0, default_timeout=5)


def _started(turn: Turn) -> float | None:
    return turn.audio_start_at


def _done(turn: Turn) -> bool:
    return turn.done


def _ledger(*requests: Request) -> Ledger:
    ledger = Ledger()
    for request in requests:
        if request.turn is not None:
            ledger.turns_by_mid[request.mid] = request.turn
        ledger.append(request)
    return ledger


def test_the_rules_are_a_table_tried_in_order() -> None:
    assert [name for name, _ in RULES] == [
        "our_mid",
        "participant_mid",
        "during_interrupt",
        "mids_echo_requests",
        "oldest_request",
        "in_flight",
        "unasked",
    ]


def test_a_reply_with_our_turns_mid_is_that_turns_whatever_the_order() -> None:
    ours = Request("ours", "B", "", _turn("B"))
    ledger = _ledger(Request("participant", "V", "3001"), ours)
    decision = decide(ledger, "B")
    assert (decision.rule, decision.request, decision.turn) == ("our_mid", ours, ours.turn)


def test_a_reply_with_a_participants_mid_is_nobodys_and_says_who_asked() -> None:
    ledger = _ledger(Request("participant", "V", "3001"), Request("ours", "B", "", _turn("B")))
    decision = decide(ledger, "V")
    assert decision.rule == "participant_mid"
    assert decision.turn is None
    assert decision.request is not None
    assert decision.request.asked_by == "3001"
    ledger.take(ledger.requests[0])  # answered and gone: its late chunks are still recognised
    assert decide(ledger, "V").rule == "participant_mid"


def test_during_an_interrupt_a_reply_is_nobodys() -> None:
    ledger = _ledger(Request("ours", "B", "", _turn("B")))
    ledger.unacked_interrupts = 1
    assert (decide(ledger, "fresh-1").rule, decide(ledger, "fresh-1").turn) == ("during_interrupt", None)
    assert decide(ledger, "B").rule == "our_mid"  # its own mid still wins


def test_once_mids_are_echoed_an_unknown_mid_answers_the_users_voice() -> None:
    ledger = _ledger(Request("ours", "B", "", _turn("B")), Request("user", "U", "user"))
    ledger.mids_echo = True
    decision = decide(ledger, "fresh-1")
    assert decision.rule == "mids_echo_requests"
    assert decision.request is not None
    assert decision.request.kind == "user"
    assert decide(ledger, None).rule == "oldest_request"  # audio_start has no mid: order decides provisionally


def test_fresh_mids_follow_the_order_the_avatar_received_requests_in() -> None:
    ours = Request("ours", "B", "", _turn("B"))
    ledger = _ledger(Request("participant", "V", "3001"), ours)
    first = decide(ledger, "fresh-1")
    assert (first.rule, first.turn) == ("oldest_request", None)
    assert first.request is not None
    ledger.take(first.request)
    assert decide(ledger, "fresh-2").turn is ours.turn


def test_in_flight_and_unasked() -> None:
    ledger = Ledger()
    assert decide(ledger, "x").rule == "unasked"
    turn = _turn("B")
    ledger.in_flight = turn
    decision = decide(ledger, "x")
    assert (decision.rule, decision.turn) == ("in_flight", turn)


def test_the_ledger_is_bounded_and_keeps_our_turns_longest() -> None:
    ledger = _ledger(Request("ours", "B", "", _turn("B")))
    for i in range(200):
        ledger.append(Request("participant", f"V{i}", "3001"))
    assert len(ledger.requests) == 64
    assert ledger.requests[0].kind == "ours"
    assert len(ledger.participant_mids) <= 256


def test_a_provisional_claim_at_audio_start_is_overruled_by_the_replys_mid() -> None:
    # Reused mids: the avatar received the viewer's message before ours although we saw ours first. audio_start
    # claims our turn provisionally; the first chunk's mid (the viewer's) overrules it, and our turn waits on.
    from streamclient.session._turn_tracker import OtherReply, TurnTracker

    others: list[OtherReply] = []
    tracker = TurnTracker(on_other_reply=others.append)
    ours = _turn("B")
    tracker.add(ours)
    tracker.frame_sent("B", final=True, now=1.0)
    tracker.participant_request("3001", "V")
    tracker.audio_start(2.0)
    assert _started(ours) == 2.0  # provisional
    tracker.bot_delta(("5001", "bot", "V"), "The viewer's answer.", 2.1)
    tracker.bot_complete(("5001", "bot", "V"), 2.2)
    tracker.audio_end(2.3)
    assert not _done(ours)
    assert _started(ours) is None
    assert [(o.asked_by, o.request_mid, o.rule) for o in others] == [("3001", "V", "participant_mid")]
    tracker.audio_start(3.0)
    tracker.bot_delta(("5001", "bot", "B"), "text of B", 3.1)
    tracker.bot_complete(("5001", "bot", "B"), 3.2)
    tracker.audio_end(3.3)
    assert _done(ours)
    assert ours.reply_parts == ["text of B"]
    assert _started(ours) == 3.0
