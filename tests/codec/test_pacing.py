"""Pacing: no rolling one-second window ever exceeds the limits; the priority lane is not held up by chat."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamclient.codec import Pacer, PacingLimits, tiled_frame_bytes
from streamclient.codec.pacing import WINDOW_SECONDS
from streamclient.errors import InvalidArgumentError


def _assert_windows_within(sent: list[tuple[float, int]], limits: PacingLimits) -> None:
    # The byte/message totals are step functions that only rise at send times: checking at each send is exhaustive.
    for t, _ in sent:
        window = [n for s, n in sent if s <= t < s + WINDOW_SECONDS]
        assert len(window) <= limits.messages_per_second
        assert sum(window) <= limits.bytes_per_second or len(window) == 1


sends = st.lists(
    st.tuples(st.integers(1, 1500), st.floats(0, 0.3), st.booleans()),
    min_size=1,
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(
    plan=sends,
    bps=st.integers(1000, 8000),
    mps=st.integers(3, 40),
    start=st.floats(-1e6, 1e6),
)
def test_no_rolling_window_exceeds_the_limits(
    plan: list[tuple[int, float, bool]], bps: int, mps: int, start: float
) -> None:
    limits = PacingLimits(
        bytes_per_second=bps, messages_per_second=mps, priority_reserve_bytes=200, priority_reserve_messages=1
    )
    pacer = Pacer(limits)
    now = start
    sent: list[tuple[float, int]] = []
    for nbytes, idle, priority in plan:
        now += idle
        wait = pacer.delay(now, nbytes, priority=priority)
        assert wait >= 0
        now += wait
        assert pacer.delay(now, nbytes, priority=priority) == 0.0
        pacer.record(now, nbytes)
        sent.append((now, nbytes))
    _assert_windows_within(sent, limits)


def test_delay_is_zero_when_there_is_room() -> None:
    pacer = Pacer()
    assert pacer.delay(0.0, 960) == 0.0
    pacer.record(0.0, 960)
    assert pacer.delay(0.0, 960) == 0.0


def test_bytes_limit_waits_for_the_oldest_send_to_leave_the_window() -> None:
    pacer = Pacer(PacingLimits(bytes_per_second=2000, priority_reserve_bytes=0, window_margin=0))
    pacer.record(10.0, 900)
    pacer.record(10.25, 900)
    assert pacer.delay(10.5, 900) == pytest.approx(0.5)
    assert pacer.window(10.5) == (1800, 2)
    assert pacer.window(11.1) == (900, 1)


def test_messages_limit() -> None:
    pacer = Pacer(PacingLimits(messages_per_second=3, priority_reserve_messages=0, window_margin=0))
    for i in range(3):
        pacer.record(i * 0.1, 10)
    assert pacer.delay(0.3, 10) == pytest.approx(0.7)


def test_priority_lane_uses_the_reserve_chat_leaves_free() -> None:
    pacer = Pacer(PacingLimits(bytes_per_second=6000, priority_reserve_bytes=256))
    pacer.record(0.0, 5700)
    assert pacer.delay(0.0, 100) > 0  # chat would eat into the reserve
    assert pacer.delay(0.0, 100, priority=True) == 0.0  # an interrupt goes now


def test_oversize_datagram_goes_alone_once_the_window_is_empty() -> None:
    pacer = Pacer(PacingLimits(bytes_per_second=1000, priority_reserve_bytes=0, window_margin=0))
    assert pacer.delay(0.0, 5000) == 0.0
    pacer.record(0.0, 5000)
    assert pacer.delay(0.5, 5000) == pytest.approx(0.5)


def test_penalize_blocks_both_lanes() -> None:
    pacer = Pacer()
    pacer.penalize(1.0, 0.5)
    assert pacer.delay(1.0, 10) == pytest.approx(0.5)
    assert pacer.delay(1.2, 10, priority=True) == pytest.approx(0.3)
    assert pacer.delay(1.5, 10) == 0.0
    pacer.penalize(2.0, -3)  # a negative penalty is no penalty
    assert pacer.delay(2.0, 10) == 0.0


def test_the_window_is_one_second_plus_the_margin() -> None:
    pacer = Pacer(PacingLimits(bytes_per_second=2000, priority_reserve_bytes=0, window_margin=0.02))
    pacer.record(10.0, 1500)
    assert pacer.delay(10.5, 1000) == pytest.approx(0.52)
    assert pacer.window(10.999) == (1500, 1)
    assert pacer.window(11.02) == (0, 0)


def test_restamp_moves_the_oldest_unconfirmed_record_of_that_size_later_only() -> None:
    pacer = Pacer(PacingLimits(bytes_per_second=2000, priority_reserve_bytes=0, window_margin=0))
    pacer.record(10.0, 900)
    pacer.record(10.0, 700)
    pacer.restamp(10.3, 900)  # the transport call returned at 10.3: the receiver counted it by then
    pacer.restamp(9.0, 700)  # earlier than the record: ignored
    pacer.restamp(10.3, 123)  # never recorded: ignored
    assert pacer.window(11.0) == (900, 1)  # the 700 B datagram left at 11.0, the 900 B one leaves at 11.3
    assert pacer.delay(11.0, 1500) == pytest.approx(0.3)
    pacer.record(11.0, 500)
    pacer.record(11.0, 500)
    pacer.restamp(11.1, 500)
    pacer.restamp(11.2, 500)  # two of a size are confirmed in sending order
    pacer.restamp(11.4, 500)  # both already confirmed: ignored
    assert pacer.window(12.15) == (500, 1)


def test_unrecord_takes_a_refused_datagram_out_of_the_window() -> None:
    pacer = Pacer(PacingLimits(bytes_per_second=2000, priority_reserve_bytes=0, window_margin=0))
    pacer.record(10.0, 900)
    pacer.record(10.1, 900)
    pacer.restamp(10.1, 900)  # the first one was accepted
    pacer.unrecord(900)
    pacer.unrecord(900)  # no unconfirmed one left: ignored
    pacer.unrecord(5)  # never recorded: ignored
    assert pacer.window(10.2) == (900, 1)
    assert pacer.delay(10.2, 1100) == 0.0


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.integers(50, 1024), min_size=20, max_size=120),
    latencies=st.lists(st.floats(0.0, 0.05), min_size=1, max_size=50),
    rate=st.floats(0.995, 1.005),
    jitter=st.lists(st.floats(-0.002, 0.002), min_size=1, max_size=50),
    priority=st.lists(st.booleans(), min_size=1, max_size=50),
)
def test_a_strict_receiver_with_a_skewed_jittery_clock_never_sees_a_window_over_the_budget(
    sizes: list[int], latencies: list[float], rate: float, jitter: list[float], priority: list[bool]
) -> None:
    """The driver sends one datagram at a time; the receiver stamps it on its own clock (0.5% faster or slower than
    ours, +-2 ms of jitter) at a random moment inside the transport call, and the driver re-stamps our record when
    the call returns. A receiver enforcing 6000 B and 30 messages in every sliding second never refuses."""
    limits = PacingLimits()
    pacer = Pacer(limits)
    now = 0.0
    arrivals: list[tuple[float, int]] = []
    for i, nbytes in enumerate(sizes):
        lane = priority[i % len(priority)] and nbytes < limits.priority_reserve_bytes
        now += pacer.delay(now, nbytes, priority=lane)
        pacer.record(now, nbytes)
        call = latencies[i % len(latencies)]
        at = now + call * (i % 3) / 2  # the receiver's moment: start, middle or end of the call
        arrivals.append((at * rate + jitter[i % len(jitter)], nbytes))
        now += call
        pacer.restamp(now, nbytes)
    arrivals.sort()
    for t, _ in arrivals:
        window = [n for s, n in arrivals if t - WINDOW_SECONDS < s <= t]
        assert len(window) <= limits.messages_per_second
        assert sum(window) <= limits.bytes_per_second


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bytes_per_second": 0},
        {"messages_per_second": -1},
        {"bytes_per_second": 1.5},
        {"priority_reserve_bytes": 6000},
        {"priority_reserve_messages": -1},
        {"window_margin": -0.01},
        {"window_margin": True},
        {"window_margin": "0.02"},
    ],
)
def test_limits_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        PacingLimits(**kwargs)  # type: ignore[arg-type]  # bad values on purpose


def test_defaults_are_agoras() -> None:
    limits = PacingLimits()
    assert (limits.bytes_per_second, limits.messages_per_second) == (6000, 30)


@pytest.mark.parametrize(
    ("limits", "cap", "expected"),
    [
        (PacingLimits(), 1024, 986),  # 6 x 986 = 5916 <= 5920: the whole chat share of a window
        (PacingLimits(), 960, 845),  # 7 x 845 = 5915
        (PacingLimits(), 500, 493),  # 12 x 493 = 5916
        (PacingLimits(bytes_per_second=800, priority_reserve_bytes=0), 1024, 800),  # never more than a window
        (PacingLimits(bytes_per_second=30 * 1024), 1024, 1021),
    ],
)
def test_tiled_frame_bytes_fills_the_chat_share(limits: PacingLimits, cap: int, expected: int) -> None:
    size = tiled_frame_bytes(limits, cap)
    assert size == expected
    chat_share = limits.bytes_per_second - limits.priority_reserve_bytes
    if chat_share > cap:
        assert size <= cap
        frames = chat_share // size
        assert frames * size <= chat_share
        assert chat_share - frames * size < frames  # no room left for a larger tile


def test_tiled_frame_bytes_rejects_a_bad_cap() -> None:
    with pytest.raises(InvalidArgumentError):
        tiled_frame_bytes(PacingLimits(), 0)
