"""Reassembly: order, duplicates, interleaving, truncation, expiry, conflicting fin, and hard memory bounds."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamclient.codec import (
    ChatDelta,
    ChatFrame,
    ChatMessage,
    Event,
    MessageDiscarded,
    MessageExpired,
    Reassembler,
    ReassemblyLimits,
    split_text,
)
from streamclient.codec.reassembly import CHUNK_OVERHEAD_BYTES, DISCARD_REASONS
from streamclient.errors import InvalidArgumentError

TEXT = "The avatar says: 我能吞下玻璃而不伤身体。😀 " * 40


def _frames(text: str = TEXT, mid: str = "m", source: str | None = "bot", size: int = 120) -> list[ChatFrame]:
    frames = split_text(text, mid=mid, max_frame_bytes=size, source=source)
    assert len(frames) > 5
    return frames


def _feed_all(r: Reassembler, frames: list[ChatFrame], *, sender: str = "av", now: float = 0.0) -> list[Event]:
    out: list[Event] = []
    for frame in frames:
        out.extend(r.feed(frame, sender=sender, now=now))
    return out


def _messages(events: list[Event]) -> list[ChatMessage]:
    return [e for e in events if isinstance(e, ChatMessage)]


def _deltas_text(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ChatDelta))


def _orders(frames: list[ChatFrame]) -> dict[str, list[ChatFrame]]:
    shuffled = frames[:]
    random.Random(7).shuffle(shuffled)
    return {
        "in_order": frames,
        "reversed": frames[::-1],
        "shuffled": shuffled,
        "duplicated": [f for f in frames for _ in range(2)],
        "replayed": frames + frames,
    }


@pytest.mark.parametrize("order", ["in_order", "reversed", "shuffled", "duplicated", "replayed"])
def test_every_order_completes_exactly_once(order: str) -> None:
    frames = _frames()
    events = _feed_all(Reassembler(), _orders(frames)[order])
    messages = _messages(events)
    assert messages == [ChatMessage(sender="av", source="bot", mid="m", text=TEXT, chunks=len(frames))]
    assert _deltas_text(events) == TEXT  # every chunk shown once, in order
    deltas = [e.index for e in events if isinstance(e, ChatDelta)]
    assert deltas == list(range(len(frames)))
    assert isinstance(events[-1], ChatMessage)


def test_deltas_surface_only_the_contiguous_prefix() -> None:
    frames = _frames()
    r = Reassembler()
    assert r.feed(frames[2], sender="a", now=0) == []
    assert r.feed(frames[1], sender="a", now=0) == []
    events = r.feed(frames[0], sender="a", now=0)
    assert [e.index for e in events if isinstance(e, ChatDelta)] == [0, 1, 2]


def test_interleaved_messages_and_senders_do_not_mix() -> None:
    a = _frames("first message " * 30, mid="m1")
    b = _frames("second message " * 30, mid="m2")
    c = _frames("first message " * 30, mid="m1", source="user")  # same mid, other source
    mixed = [f for group in zip(a, b, c, strict=False) for f in group] + a[len(b) :] + b[len(a) :] + c[len(a) :]
    r = Reassembler()
    events = _feed_all(r, mixed, sender="x") + _feed_all(r, a, sender="y")
    got = {(m.sender, m.source, m.mid): m.text for m in _messages(events)}
    assert got == {
        ("x", "bot", "m1"): "first message " * 30,
        ("x", "bot", "m2"): "second message " * 30,
        ("x", "user", "m1"): "first message " * 30,
        ("y", "bot", "m1"): "first message " * 30,
    }


def test_frames_after_completion_are_ignored() -> None:
    frames = _frames()
    r = Reassembler()
    _feed_all(r, frames)
    assert _feed_all(r, frames) == []
    assert r.pending_messages == 0
    assert r.buffered_bytes == 0


def test_truncated_message_expires_with_what_arrived() -> None:
    frames = _frames()
    r = Reassembler(message_timeout=5.0)
    missing = 3
    events = _feed_all(r, [f for f in frames if f.idx != missing], now=10.0)
    assert not _messages(events)
    assert r.next_deadline() == 15.0
    assert r.expire(14.999) == []
    (expired,) = r.expire(15.0)
    assert isinstance(expired, MessageExpired)
    assert expired.received == tuple(i for i in range(len(frames)) if i != missing)
    assert expired.partial_text == "".join(f.text for f in frames[:missing])
    assert r.next_deadline() is None
    assert r.buffered_bytes == 0
    assert r.feed(frames[missing], sender="av", now=16.0) == []  # late frame of an expired message: ignored


def test_each_new_chunk_extends_the_deadline() -> None:
    frames = _frames()
    r = Reassembler(message_timeout=5.0)
    r.feed(frames[0], sender="a", now=0.0)
    r.feed(frames[2], sender="a", now=4.0)
    assert r.next_deadline() == 9.0
    assert r.expire(6.0) == []


def test_missing_fin_expires_at_end_of_input() -> None:
    frames = _frames()[:-1]
    r = Reassembler()
    events = _feed_all(r, frames)
    assert _deltas_text(events) == "".join(f.text for f in frames)
    (expired,) = r.expire(math.inf)
    assert isinstance(expired, MessageExpired)


def _discards(events: list[Event]) -> list[str]:
    return [e.reason for e in events if isinstance(e, MessageDiscarded)]


def test_second_fin_at_another_index_discards() -> None:
    r = Reassembler()
    r.feed(ChatFrame(mid="m", idx=1, fin=True, text="b"), sender="a", now=0)
    events = r.feed(ChatFrame(mid="m", idx=2, fin=True, text="c"), sender="a", now=0)
    assert _discards(events) == ["conflicting_fin"]
    assert r.feed(ChatFrame(mid="m", idx=0, fin=False, text="a"), sender="a", now=0) == []


def test_chunk_beyond_fin_discards() -> None:
    r = Reassembler()
    r.feed(ChatFrame(mid="m", idx=1, fin=True, text="b"), sender="a", now=0)
    assert _discards(r.feed(ChatFrame(mid="m", idx=5, fin=False, text="x"), sender="a", now=0)) == ["conflicting_fin"]


def test_fin_below_a_received_index_discards() -> None:
    r = Reassembler()
    r.feed(ChatFrame(mid="m", idx=4, fin=False, text="b"), sender="a", now=0)
    assert _discards(r.feed(ChatFrame(mid="m", idx=2, fin=True, text="x"), sender="a", now=0)) == ["conflicting_fin"]


def test_fin_on_an_index_already_received_without_fin_discards() -> None:
    r = Reassembler()
    r.feed(ChatFrame(mid="m", idx=1, fin=False, text="b"), sender="a", now=0)
    assert _discards(r.feed(ChatFrame(mid="m", idx=1, fin=True, text="b"), sender="a", now=0)) == ["conflicting_fin"]


def test_duplicate_with_other_text_keeps_the_first_copy() -> None:
    r = Reassembler()
    r.feed(ChatFrame(mid="m", idx=1, fin=True, text="B"), sender="a", now=0)
    assert r.feed(ChatFrame(mid="m", idx=1, fin=False, text="X"), sender="a", now=0) == []
    events = r.feed(ChatFrame(mid="m", idx=0, fin=False, text="A"), sender="a", now=0)
    assert _messages(events)[0].text == "AB"


def test_single_frame_message_with_empty_text() -> None:
    events = Reassembler().feed(ChatFrame(mid="m", idx=0, fin=True, text=""), sender="a", now=0)
    assert _messages(events)[0].text == ""


def test_idx_beyond_max_chunks_discards() -> None:
    r = Reassembler(ReassemblyLimits(max_chunks_per_message=10))
    assert _discards(r.feed(ChatFrame(mid="m", idx=10, fin=False, text=""), sender="a", now=0)) == ["too_many_chunks"]
    assert r.pending_messages == 0
    assert r.feed(ChatFrame(mid="m", idx=0, fin=True, text="late"), sender="a", now=0) == []


def test_message_too_large_discards() -> None:
    r = Reassembler(ReassemblyLimits(max_message_bytes=100))
    r.feed(ChatFrame(mid="m", idx=1, fin=False, text="x" * 40), sender="a", now=0)
    events = r.feed(ChatFrame(mid="m", idx=2, fin=False, text="x" * 40), sender="a", now=0)
    assert _discards(events) == ["message_too_large"]
    assert r.buffered_bytes == 0


def test_too_many_pending_evicts_the_least_recently_active() -> None:
    r = Reassembler(ReassemblyLimits(max_pending_messages=3))
    for i in range(3):
        r.feed(ChatFrame(mid=f"m{i}", idx=1, fin=False, text="x"), sender="a", now=i)
    r.feed(ChatFrame(mid="m0", idx=2, fin=False, text="x"), sender="a", now=5)  # m0 is active again
    events = r.feed(ChatFrame(mid="m9", idx=1, fin=False, text="x"), sender="a", now=6)
    assert [(e.mid, e.reason) for e in events if isinstance(e, MessageDiscarded)] == [
        ("m1", "evicted_too_many_pending")
    ]
    assert r.pending_messages == 3


def test_buffer_full_evicts_oldest_then_self() -> None:
    limit = 3 * (100 + CHUNK_OVERHEAD_BYTES)
    r = Reassembler(ReassemblyLimits(max_buffered_bytes=limit, max_message_bytes=10 * limit))
    r.feed(ChatFrame(mid="a", idx=1, fin=False, text="x" * 100), sender="s", now=0)
    r.feed(ChatFrame(mid="b", idx=1, fin=False, text="x" * 100), sender="s", now=0)
    events = r.feed(ChatFrame(mid="c", idx=1, fin=False, text="x" * 200), sender="s", now=0)
    assert [(e.mid, e.reason) for e in events if isinstance(e, MessageDiscarded)] == [
        ("a", "evicted_buffer_full"),
    ]
    events = r.feed(ChatFrame(mid="c", idx=2, fin=False, text="x" * 200), sender="s", now=0)
    assert [(e.mid, e.reason) for e in events if isinstance(e, MessageDiscarded)] == [
        ("b", "evicted_buffer_full"),
        ("c", "evicted_buffer_full"),
    ]
    assert r.buffered_bytes == 0


def _unfinished(r: Reassembler, sender: str, mids: range, *, now: float = 0.0) -> list[Event]:
    out: list[Event] = []
    for i in mids:
        out.extend(r.feed(ChatFrame(mid=f"{sender}-{i}", idx=1, fin=False, text="x" * 50), sender=sender, now=now))
    return out


def test_another_senders_flood_never_evicts_the_avatars_reply() -> None:
    # Issue 20, case 1: two viewers keep sending unfinished messages while the avatar's reply is on its way.
    r = Reassembler()
    r.feed(ChatFrame(mid="reply", idx=0, fin=False, text="The answer ", source="bot"), sender="avatar", now=0)
    events = _unfinished(r, "viewer1", range(200)) + _unfinished(r, "viewer2", range(200))
    discarded = [e for e in events if isinstance(e, MessageDiscarded)]
    assert discarded  # the viewers' own oldest messages went
    assert {(e.sender, e.reason) for e in discarded} == {
        ("viewer1", "evicted_too_many_pending"),
        ("viewer2", "evicted_too_many_pending"),
    }
    done = r.feed(ChatFrame(mid="reply", idx=1, fin=True, text="is 42.", source="bot"), sender="avatar", now=1)
    assert [e.text for e in done if isinstance(e, ChatMessage)] == ["The answer is 42."]
    assert r.pending_from("viewer1")[0] == r.limits.max_pending_messages
    assert r.pending_messages == 2 * r.limits.max_pending_messages


def test_a_sender_with_room_for_one_message_replaces_it_and_keeps_its_place() -> None:
    r = Reassembler(ReassemblyLimits(max_pending_messages=1, max_senders=1))
    r.feed(ChatFrame(mid="a", idx=1, fin=False, text="x"), sender="s", now=0)
    events = r.feed(ChatFrame(mid="b", idx=1, fin=False, text="y"), sender="s", now=0)
    assert [(e.mid, e.reason) for e in events if isinstance(e, MessageDiscarded)] == [("a", "evicted_too_many_pending")]
    assert r.pending_from("s") == (1, 1 + CHUNK_OVERHEAD_BYTES)
    refused = r.feed(ChatFrame(mid="c", idx=1, fin=False, text="z"), sender="t", now=0)
    assert [(e.sender, e.reason) for e in refused if isinstance(e, MessageDiscarded)] == [("t", "too_many_senders")]
    assert len(r.expire(math.inf)) == 1
    assert r.pending_from("s") == (0, 0)
    assert r.feed(ChatFrame(mid="d", idx=1, fin=False, text="z"), sender="t", now=0) == []


def test_another_senders_bytes_never_evict_the_avatars() -> None:
    limit = 3 * (100 + CHUNK_OVERHEAD_BYTES)
    r = Reassembler(ReassemblyLimits(max_buffered_bytes=limit, max_message_bytes=10 * limit))
    r.feed(ChatFrame(mid="reply", idx=0, fin=False, text="x" * 100, source="bot"), sender="avatar", now=0)
    for i in range(2, 40):
        events = r.feed(ChatFrame(mid="v", idx=i, fin=False, text="y" * 100), sender="viewer", now=0)
        assert all(e.sender == "viewer" for e in events)
    assert r.pending_from("avatar") == (1, 100 + CHUNK_OVERHEAD_BYTES)
    assert r.pending_from("viewer") == (0, 0)  # its message outgrew its own budget and was discarded
    assert r.pending_from("nobody") == (0, 0)


def test_one_sender_too_many_is_refused_but_a_reserved_sender_always_has_a_place() -> None:
    r = Reassembler(ReassemblyLimits(max_senders=2))
    r.reserve("avatar")
    r.reserve("avatar")  # idempotent
    _unfinished(r, "v1", range(1))
    _unfinished(r, "v2", range(1))
    events = _unfinished(r, "v3", range(1))
    assert [(e.sender, e.reason) for e in events if isinstance(e, MessageDiscarded)] == [("v3", "too_many_senders")]
    assert _unfinished(r, "avatar", range(3)) == []
    assert r.pending_from("avatar")[0] == 3
    # A sender reserved while it holds messages stops counting against max_senders: v3 gets a place.
    r.reserve("v1")
    assert _unfinished(r, "v3", range(1, 2)) == []
    # A sender whose messages all completed or expired frees its place.
    r.expire(math.inf)
    assert r.pending_messages == 0
    assert _unfinished(r, "v4", range(1)) == []
    assert _unfinished(r, "v5", range(1)) == []


def test_an_expired_message_keeps_every_character_that_arrived_with_the_gaps_marked() -> None:
    r = Reassembler()
    texts = ["Hel", "lo ", "wor", "ld, ", "how ", "are ", "you"]
    for idx in (0, 1, 3, 5, 6):
        r.feed(ChatFrame(mid="m", idx=idx, fin=idx == 6, text=texts[idx], source="bot"), sender="a", now=0)
    (expired,) = r.expire(math.inf)
    assert isinstance(expired, MessageExpired)
    assert expired.partial_text == "Hello "
    assert expired.text == "Hello …ld, …are you"
    assert expired.gaps == (6, 11)
    assert [expired.text[g] for g in expired.gaps] == ["…", "…"]
    assert expired.received == (0, 1, 3, 5, 6)


def test_an_expired_message_marks_a_missing_start_and_a_missing_end() -> None:
    r = Reassembler()
    r.feed(ChatFrame(mid="m", idx=2, fin=False, text="mid\ud83d", source="bot"), sender="a", now=0)
    (expired,) = r.expire(math.inf)
    assert isinstance(expired, MessageExpired)
    assert expired.partial_text == ""
    assert expired.text == "…mid\ufffd…"  # a lone half of a pair cannot be printed: U+FFFD
    assert expired.gaps == (0, 5)


def test_expire_message_reports_one_message_now() -> None:
    r = Reassembler()
    r.feed(ChatFrame(mid="m", idx=0, fin=False, text="Hi", source="bot"), sender="a", now=0)
    r.feed(ChatFrame(mid="n", idx=0, fin=False, text="Yo", source="bot"), sender="a", now=0)
    assert r.expire_message("a", "bot", "zzz") == []
    (expired,) = r.expire_message("a", "bot", "m")
    assert isinstance(expired, MessageExpired)
    assert (expired.mid, expired.text, expired.gaps) == ("m", "Hi…", (2,))
    assert r.pending_messages == 1
    assert r.feed(ChatFrame(mid="m", idx=1, fin=True, text="!", source="bot"), sender="a", now=0) == []
    r.feed(ChatFrame(mid="o", idx=1, fin=False, text="Z", source="bot"), sender="b", now=0)
    r.feed(ChatFrame(mid="u", idx=1, fin=False, text="U", source="user"), sender="a", now=0)
    assert [(e.mid, e.text) for e in r.expire_sender("a", "bot") if isinstance(e, MessageExpired)] == [("n", "Yo…")]
    assert r.pending_messages == 2


def test_limits_are_validated() -> None:
    with pytest.raises(InvalidArgumentError):
        ReassemblyLimits(max_pending_messages=0)
    with pytest.raises(InvalidArgumentError):
        Reassembler(message_timeout=0)


hostile_frames = st.lists(
    st.builds(
        ChatFrame,
        mid=st.sampled_from([f"m{i}" for i in range(40)]) | st.text(min_size=1, max_size=6),
        idx=st.integers(0, 300),
        fin=st.booleans(),
        text=st.text(max_size=300),
        source=st.sampled_from([None, "bot", "user"]),
    ),
    max_size=400,
)


@settings(max_examples=60, deadline=None)
@given(frames=hostile_frames, sender_count=st.integers(1, 3))
def test_hostile_peer_cannot_grow_memory_without_bound(frames: list[ChatFrame], sender_count: int) -> None:
    limits = ReassemblyLimits(
        max_pending_messages=8,
        max_chunks_per_message=200,
        max_message_bytes=4000,
        max_buffered_bytes=10_000,
        remembered_messages=16,
    )
    r = Reassembler(limits, message_timeout=10.0)
    completed: set[tuple[str, str | None, str]] = set()
    for n, frame in enumerate(frames):
        for event in r.feed(frame, sender=f"s{n % sender_count}", now=n * 0.1):
            if isinstance(event, ChatMessage):
                key = (event.sender, event.source, event.mid)
                assert key not in completed or len(completed) > limits.remembered_messages
                completed.add(key)
            if isinstance(event, MessageDiscarded):
                assert event.reason in DISCARD_REASONS
        for sender in {f"s{i}" for i in range(sender_count)}:
            messages, nbytes = r.pending_from(sender)
            assert messages <= limits.max_pending_messages
            assert nbytes <= limits.max_buffered_bytes
        budgets = r._budgets
        assert r._others == sum(not b.reserved for b in budgets.values())
        assert all(b.messages > 0 or b.reserved for b in budgets.values())
        for sender, budget in budgets.items():
            mine = [p for k, p in r._pending.items() if k[0] == sender]
            assert (budget.messages, budget.nbytes) == (len(mine), sum(p.nbytes for p in mine))
            assert all(p.budget is budget for p in mine)
        assert r.pending_messages <= sender_count * limits.max_pending_messages
        assert r.buffered_bytes <= sender_count * limits.max_buffered_bytes
        assert len(r._finished) <= limits.remembered_messages
        for pending in r._pending.values():
            assert len(pending.chunks) <= limits.max_chunks_per_message
            assert pending.nbytes <= limits.max_message_bytes
    r.expire(math.inf)
    assert r.pending_messages == 0
    assert r.buffered_bytes == 0


@settings(max_examples=150, deadline=None)
@given(text=st.text(min_size=1, max_size=2000), seed=st.integers(), dup=st.integers(0, 5))
def test_reassemble_of_shuffled_split_is_identity(text: str, seed: int, dup: int) -> None:
    frames = split_text(text, mid="m", max_frame_bytes=100, source="bot")
    rng = random.Random(seed)
    stream = frames + [rng.choice(frames) for _ in range(dup)]
    rng.shuffle(stream)
    events = _feed_all(Reassembler(), stream)
    assert [m.text for m in _messages(events)] == [text]
    assert _deltas_text(events) == text


def test_remembered_keys_are_bounded() -> None:
    r = Reassembler(ReassemblyLimits(remembered_messages=2, max_chunks_per_message=5))
    for i in range(4):
        r.feed(ChatFrame(mid=f"done{i}", idx=0, fin=True, text="x"), sender="a", now=0)
        r.feed(ChatFrame(mid=f"bad{i}", idx=9, fin=True, text="x"), sender="a", now=0)
    assert len(r._finished) == 2
    # the oldest completed key was forgotten: its late duplicate is a new message again
    events = r.feed(ChatFrame(mid="done0", idx=0, fin=True, text="x"), sender="a", now=0)
    assert _messages(events)
