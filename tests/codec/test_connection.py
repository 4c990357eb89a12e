"""ProtocolConnection: lanes, pacing, interrupt, ack matching, and a client/avatar pair talking to each other."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamclient.codec import (
    AvatarEvent,
    ChatDelta,
    ChatMessage,
    CommandReceived,
    CommandResult,
    Event,
    FrameRejected,
    Interrupted,
    MessageExpired,
    PacingLimits,
    ProtocolConnection,
    Role,
    UnknownFrame,
    decode_frame,
    interrupt,
    set_action,
    set_params,
)
from streamclient.codec import connection as connection_module
from streamclient.codec.frames import ChatFrame, CommandFrame
from streamclient.errors import InvalidArgumentError, LocalProtocolError, RemoteProtocolError

LONG = "A long answer that needs many frames to travel. " * 200


class Pair:
    """Moves datagrams between a client and an avatar endpoint on a fake clock (h11's ConnectionPair)."""

    def __init__(self, **kwargs: object) -> None:
        self.client = ProtocolConnection(Role.CLIENT, **kwargs)  # type: ignore[arg-type]  # test passthrough
        self.avatar = ProtocolConnection(Role.AVATAR, **kwargs)  # type: ignore[arg-type]  # test passthrough
        self.now = 0.0
        self.wire: list[tuple[float, str, bytes]] = []

    def pump(self, limit: float = 120.0) -> None:
        """Send everything both sides have queued, advancing the clock by the pacing delays."""
        while self.now < limit:
            delays = [d for d in (self.client.send_delay(self.now), self.avatar.send_delay(self.now)) if d is not None]
            if not delays:
                return
            self.now += min(delays)
            for data in self.client.data_to_send(self.now):
                self.wire.append((self.now, "client", data))
                self.avatar.receive_data(data, sender="client-uid", now=self.now)
            for data in self.avatar.data_to_send(self.now):
                self.wire.append((self.now, "avatar", data))
                self.client.receive_data(data, sender="avatar-uid", now=self.now)
        raise AssertionError("pump did not drain")


def _of(events: list[Event], kind: type) -> list:  # type: ignore[type-arg]  # heterogeneous on purpose
    return [e for e in events if isinstance(e, kind)]


def test_client_chat_reaches_the_avatar_and_the_reply_comes_back() -> None:
    pair = Pair()
    mid = pair.client.send_chat(LONG)
    pair.pump()
    (message,) = _of(pair.avatar.events_received(), ChatMessage)
    assert (message.sender, message.source, message.mid, message.text) == ("client-uid", None, mid, LONG)
    reply = pair.avatar.send_chat("Sure! " * 300)
    pair.pump()
    events = pair.client.events_received()
    (answer,) = _of(events, ChatMessage)
    assert (answer.source, answer.mid, answer.text) == ("bot", reply, "Sure! " * 300)
    assert _of(events, ChatDelta)
    for _, side, data in pair.wire:
        frame = decode_frame(data)
        assert len(data) <= pair.client.max_frame_bytes
        if isinstance(frame, ChatFrame):
            assert frame.source == (None if side == "client" else "bot")


def test_outgoing_traffic_respects_the_rate_limits() -> None:
    pair = Pair(pacing=PacingLimits(bytes_per_second=3000, messages_per_second=5))
    for _ in range(3):
        pair.client.send_chat(LONG)
    pair.client.send_command(set_params(mode=1))
    pair.pump(limit=1000)
    sent = [(t, len(d)) for t, side, d in pair.wire if side == "client"]
    assert len(sent) > 30
    for t, _ in sent:
        window = [n for s, n in sent if s <= t < s + 1.0]
        assert sum(window) <= 3000
        assert len(window) <= 5


def test_ack_matching_uses_the_original_cmd_and_accepts_type_cmd() -> None:
    pair = Pair()
    mid = pair.client.send_command(set_params(language="en"))
    other = pair.client.send_command(set_action(action="nod"))
    assert pair.client.pending_commands() == {mid: "set-params", other: "set-action"}
    pair.pump()
    received = _of(pair.avatar.events_received(), CommandReceived)
    assert [(c.mid, c.cmd) for c in received] == [(mid, "set-params"), (other, "set-action")]
    assert received[0].data == {"lang": "en"}
    pair.avatar.send_ack(mid, "whatever", code=1000, msg="OK")
    pair.pump()
    late = json.dumps({"v": 2, "type": "cmd", "mid": other, "pld": {"cmd": "x", "code": 1003, "msg": "bad"}})
    pair.client.receive_data(late.encode(), sender="avatar-uid", now=pair.now)
    stray = b'{"v":2,"type":"command","mid":"nobody","pld":{"cmd":"interrupt","code":1000}}'
    pair.client.receive_data(stray, sender="avatar-uid", now=pair.now)
    results = _of(pair.client.events_received(), CommandResult)
    assert [(r.mid, r.cmd, r.code, r.msg, r.matched, r.ok) for r in results] == [
        (mid, "set-params", 1000, "OK", True, True),
        (other, "set-action", 1003, "bad", True, False),
        ("nobody", "interrupt", 1000, "", False, True),
    ]
    assert pair.client.pending_commands() == {}


def test_command_without_code_at_the_client_is_an_echo() -> None:
    client = ProtocolConnection(Role.CLIENT)
    client.receive_data(b'{"v":2,"type":"command","mid":"e","pld":{"cmd":"interrupt"}}', sender="a", now=0)
    assert client.events_received() == [CommandReceived(sender="a", mid="e", cmd="interrupt", data={})]


def test_avatar_events_unknown_frames_and_garbage() -> None:
    pair = Pair()
    event_mid = pair.avatar.send_event("audio_start")
    pair.pump()
    pair.client.receive_data(b'{"v":2,"type":"sticker","x":1}', sender="a", now=1)
    pair.client.receive_data(b"\xff garbage", sender="a", now=1)
    events = pair.client.events_received()
    assert events[0] == AvatarEvent(
        sender="avatar-uid", mid=event_mid, name="audio_start", payload={"event": "audio_start"}
    )
    assert isinstance(events[1], UnknownFrame)
    assert events[1].frame.type == "sticker"
    assert isinstance(events[2], FrameRejected)
    assert events[2].error.reason == "not_utf8"
    assert events[2].raw == b"\xff garbage"


def test_commands_jump_ahead_of_queued_chat() -> None:
    client = ProtocolConnection(Role.CLIENT)
    client.send_chat(LONG)
    first = client.data_to_send(0.0)
    assert first
    queued = client.pending_chat_frames()
    assert queued > 0
    mid = client.send_command(set_action(expression="fear"))
    assert client.send_delay(0.0) == 0.0  # the reserve lets the command out despite the full chat window
    (data,) = client.data_to_send(0.0)
    assert decode_frame(data) == CommandFrame(mid=mid, cmd="set-action", data={"expression": "fear"})
    assert client.pending_chat_frames() == queued


def test_interrupt_drops_the_rest_of_the_message_in_flight_only() -> None:
    client = ProtocolConnection(Role.CLIENT)
    in_flight = client.send_chat(LONG)
    behind = client.send_chat("next message")
    sent = client.data_to_send(0.0)
    total = len(sent) + client.pending_chat_frames() - 1
    mid = client.send_interrupt()
    assert client.last_interrupted is not None
    assert client.last_interrupted.mid == in_flight
    assert client.last_interrupted.dropped == total - len(sent)
    assert client.pending_chat_frames() == 1
    assert client.pending_commands() == {mid: "interrupt"}
    delay = client.send_delay(0.0)
    assert delay is not None
    out = client.data_to_send(0.0 + delay)
    frames = [decode_frame(d) for d in out]
    assert isinstance(frames[0], CommandFrame)
    assert frames[0].cmd == "interrupt"
    later = frames[1:] + [decode_frame(d) for d in client.data_to_send(10.0)]
    assert [f.mid for f in later if isinstance(f, ChatFrame)] == [behind]
    assert client.send_delay(10.0) is None


def test_interrupt_with_nothing_in_flight() -> None:
    client = ProtocolConnection(Role.CLIENT)
    client.send_chat("queued but not started")
    client.send_interrupt()
    assert client.last_interrupted is None
    assert client.pending_chat_frames() == 1


def test_cancel_chat() -> None:
    client = ProtocolConnection(Role.CLIENT)
    mid = client.send_chat(LONG)
    count = client.pending_chat_frames()
    assert client.cancel_chat(mid) == count
    assert client.cancel_chat(mid) == 0
    assert client.send_delay(0.0) is None
    assert client.data_to_send(0.0) == []


def test_retry_later_puts_the_datagram_back_and_pauses() -> None:
    client = ProtocolConnection(Role.CLIENT)
    client.send_chat(LONG)
    first = client.data_to_send(0.0)
    refused = first[-1]
    client.retry_later(refused, now=0.0, delay=0.25)
    assert client.data_to_send(0.1) == []
    delay = client.send_delay(0.1)
    assert delay is not None
    assert delay == pytest.approx(0.15)  # the pause only: the refused datagram left the window
    again = client.data_to_send(5.0)
    assert again[0] == refused
    mid = client.send_command(interrupt())
    command = client.data_to_send(10.0)
    client.retry_later(command[0], now=10.0, delay=0.0)
    assert client.data_to_send(10.0)[0] == command[0]
    assert mid in client.pending_commands()


def test_a_refused_frame_leaves_the_window_and_goes_after_the_back_off_not_a_second_later() -> None:
    client = ProtocolConnection(Role.CLIENT, pacing=PacingLimits(window_margin=0))
    client.send_chat(LONG)
    taken = client.data_to_send(0.0)  # a window's worth
    for data in taken[:-1]:
        client.sent(data, now=0.0)
    full = client.pacer.window(0.0)
    client.retry_later(taken[-1], now=0.0, delay=0.1)
    assert client.pacer.window(0.0) == (full[0] - len(taken[-1]), full[1] - 1)  # not double-counted
    assert client.send_delay(0.0) == pytest.approx(0.1)
    assert client.data_to_send(0.1) == [taken[-1]]  # retried after the back-off, not when the window frees up


def test_not_sent_takes_a_datagram_out_of_the_window() -> None:
    client = ProtocolConnection(Role.CLIENT)
    client.send_chat("hello")
    (data,) = client.data_to_send(0.0)
    assert client.pacer.window(0.0) == (len(data), 1)
    client.not_sent(data)
    assert client.pacer.window(0.0) == (0, 0)


def test_sent_counts_the_datagram_from_when_the_transport_returned() -> None:
    client = ProtocolConnection(Role.CLIENT, pacing=PacingLimits(window_margin=0))
    client.send_chat(LONG)
    taken = client.data_to_send(0.0)
    for data in taken:
        client.sent(data, now=0.05)  # the calls returned 50 ms later
    assert client.pacer.window(1.01) == (sum(map(len, taken)), len(taken))
    assert client.send_delay(1.0) == pytest.approx(0.05)


def test_the_last_frame_counts_as_in_flight_until_the_driver_confirms_it() -> None:
    client = ProtocolConnection(Role.CLIENT)
    mid = client.send_chat("one frame")
    (data,) = client.data_to_send(0.0, limit=1)  # the last (only) frame is inside the transport call
    client.send_interrupt()
    assert client.last_interrupted == Interrupted(mid, 0)
    client.sent(data, now=0.0)
    client.send_chat("another")
    (other,) = client.data_to_send(0.0, limit=1)
    client.sent(other, now=0.0)
    client.send_interrupt()
    assert client.last_interrupted is None  # confirmed: nothing is being transmitted


def test_a_refused_last_frame_stays_in_flight_and_a_cancelled_one_does_not() -> None:
    client = ProtocolConnection(Role.CLIENT)
    mid = client.send_chat(LONG)
    now = 0.0
    while client.pending_chat_frames() > 1:
        now += 2.0
        for data in client.data_to_send(now, limit=1):
            client.sent(data, now=now)
    (last,) = client.data_to_send(1e6, limit=1)
    client.retry_later(last, now=1e6, delay=0.1)
    client.send_interrupt()
    assert client.last_interrupted == Interrupted(mid, 1)
    client.retry_later(last, now=1e6, delay=0.1)  # cancelled meanwhile: dropped, and nothing is in flight
    assert client.pending_chat_frames() == 0
    client.send_interrupt()
    assert client.last_interrupted is None


def test_mids_are_short_and_unique_per_connection() -> None:
    client = ProtocolConnection(Role.CLIENT)
    other = ProtocolConnection(Role.CLIENT)
    mids = [client.send_chat("x") for _ in range(2000)] + [client.send_interrupt() for _ in range(10)]
    assert len(set(mids)) == len(mids)
    assert max(map(len, mids)) <= 5
    assert other.next_mid() not in mids


def test_retry_later_drops_frames_of_a_cancelled_message() -> None:
    client = ProtocolConnection(Role.CLIENT)
    mid = client.send_chat(LONG)
    sent = client.data_to_send(0.0)
    client.cancel_chat(mid)
    client.retry_later(sent[-1], now=0.0, delay=0.0)
    assert client.pending_chat_frames() == 0


def test_oversize_command_is_a_local_error() -> None:
    client = ProtocolConnection(Role.CLIENT, max_frame_bytes=200)
    with pytest.raises(LocalProtocolError, match="budget"):
        client.send_command(set_params(background_url="https://example.com/" + "x" * 300))
    assert client.pending_commands() == {}
    assert client.send_delay(0.0) is None


def test_command_without_mid_gets_one() -> None:
    client = ProtocolConnection(Role.CLIENT)
    mid = client.send_command(CommandFrame(mid=None, cmd="interrupt"))
    assert mid
    (data,) = client.data_to_send(0.0)
    assert decode_frame(data) == CommandFrame(mid=mid, cmd="interrupt")


def test_pending_commands_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_module, "MAX_PENDING_COMMANDS", 3)
    client = ProtocolConnection(Role.CLIENT)
    mids = [client.send_command(interrupt()) for _ in range(5)]
    assert list(client.pending_commands()) == mids[2:]


def test_send_chat_errors() -> None:
    client = ProtocolConnection(Role.CLIENT)
    for bad in ("", "\ud800"):
        with pytest.raises(LocalProtocolError):
            client.send_chat(bad)
    with pytest.raises(LocalProtocolError):
        client.send_chat("x", mid="")
    assert client.pending_chat_frames() == 0


@pytest.mark.parametrize("size", [0, 63, 1025, 960.0])
def test_max_frame_bytes_is_validated(size: float) -> None:
    with pytest.raises(InvalidArgumentError):
        ProtocolConnection(Role.CLIENT, max_frame_bytes=size)  # type: ignore[arg-type]  # bad values on purpose


def test_incoming_messages_expire_on_the_callers_clock() -> None:
    client = ProtocolConnection(Role.CLIENT, message_timeout=2.0)
    frame = b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":false,"pld":{"from":"bot","text":"Hel"}}'
    client.receive_data(frame, sender="a", now=1.0)
    assert client.next_deadline() == 3.0
    client.expire(2.5)
    assert _of(client.events_received(), MessageExpired) == []
    client.expire(3.0)
    (expired,) = client.events_received()
    assert expired == MessageExpired(
        sender="a", source="bot", mid="m", received=(0,), partial_text="Hel", text="Hel…", gaps=(3,)
    )
    assert client.next_deadline() is None


def test_receive_data_expires_stale_messages_first() -> None:
    client = ProtocolConnection(Role.CLIENT, message_timeout=2.0)
    client.receive_data(b'{"v":2,"type":"chat","mid":"m","idx":1,"fin":true,"pld":{"text":"b"}}', sender="a", now=0)
    client.receive_data(b'{"v":2,"type":"chat","mid":"m","idx":0,"fin":false,"pld":{"text":"a"}}', sender="a", now=9)
    events = client.events_received()
    assert isinstance(events[0], MessageExpired)
    assert not _of(events, ChatMessage)  # the late chunk does not resurrect the expired message


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200) | st.text(max_size=100).map(str.encode), max_size=20))
def test_nothing_but_events_come_out_of_receive_data(datagrams: list[bytes]) -> None:
    client = ProtocolConnection(Role.CLIENT)
    for n, data in enumerate(datagrams):
        client.receive_data(data, sender="x", now=float(n))
    client.expire(math.inf)
    for event in client.events_received():
        if isinstance(event, FrameRejected):
            assert event.error.reason


def test_retry_later_with_an_undecodable_datagram_goes_to_the_priority_lane() -> None:
    client = ProtocolConnection(Role.CLIENT)
    client.send_chat("hello", mid="h")
    client.retry_later(b"opaque", now=0.0, delay=0.0)
    assert client.data_to_send(0.0) == [
        b"opaque",
        b'{"v":2,"type":"chat","mid":"h","idx":0,"fin":true,"pld":{"text":"hello"}}',
    ]


def test_priority_lane_waits_when_even_the_full_limits_are_used() -> None:
    client = ProtocolConnection(
        Role.CLIENT, pacing=PacingLimits(messages_per_second=3, priority_reserve_messages=1, window_margin=0)
    )
    for _ in range(4):
        client.send_command(interrupt())
    assert len(client.data_to_send(0.0)) == 3
    assert client.data_to_send(0.5) == []
    delay = client.send_delay(0.5)
    assert delay == pytest.approx(0.5)
    assert len(client.data_to_send(1.0)) == 1


def test_cancellation_memory_is_bounded() -> None:
    client = ProtocolConnection(Role.CLIENT)
    for i in range(100):
        client.cancel_chat(f"m{i}")
    assert len(client._cancelled) == 64


def test_strict_mode_raises_instead_of_reporting() -> None:
    client = ProtocolConnection(Role.CLIENT, strict=True)
    with pytest.raises(RemoteProtocolError) as info:
        client.receive_data(b"[]", sender="a", now=0)
    assert info.value.reason == "not_object"
    assert client.events_received() == []


def test_data_to_send_with_a_limit_takes_one_at_a_time_so_an_interrupt_can_cut_in() -> None:
    client = ProtocolConnection(Role.CLIENT)
    mid = client.send_chat(LONG)
    (first,) = client.data_to_send(0.0, limit=1)
    chunk = decode_frame(first)
    assert isinstance(chunk, ChatFrame)
    assert (chunk.mid, chunk.idx, chunk.fin) == (mid, 0, False)
    assert client.send_delay(0.0) == 0.0  # more frames fit in this window, but only one was taken
    client.send_interrupt()
    assert client.last_interrupted is not None
    assert client.last_interrupted.mid == mid
    (second,) = client.data_to_send(0.0, limit=1)
    assert isinstance(decode_frame(second), CommandFrame)  # the interrupt, not the next chunk
    assert client.data_to_send(0.0, limit=1) == []
