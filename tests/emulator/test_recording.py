"""Recordings: every delivered frame as JSONL, replayed to the same events through ProtocolConnection(CLIENT)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamclient.codec.commands import set_params
from streamclient.codec.connection import ProtocolConnection, Role
from streamclient.emulator import Emulator, FaultPlan, Recorder, replay
from streamclient.errors import InvalidArgumentError

from .emulator_harness import client_peer, fast_config


async def test_recording_replays_to_the_same_client_events(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    config = fast_config(record_path=path, faults_to_client=FaultPlan(duplicate=0.3, seed=4))
    async with Emulator(config) as emu, client_peer(emu, mode_type=1) as peer:
        await peer.command(set_params(mode=1))
        await peer.say("Recorded words. More recorded words to split into chunks.")
        await peer.wait_for(lambda: len(peer.messages()) == 1 and len(peer.avatar_events()) == 2)
        await peer.room.inject_user_speech("a transcript")
        await peer.wait_for(lambda: len(peer.messages("user")) == 1)
        seen = list(peer.events)
        channel = peer.room.channel

    records = list(replay(path))
    assert {r.dir for r in records} == {"in", "out"}
    assert all(r.channel == channel for r in records)
    assert [r.t for r in records] == sorted(r.t for r in records)
    outgoing = [json.loads(r.frame) for r in records if r.dir == "out"]
    assert [f["type"] for f in outgoing] == ["command", "chat"]

    replayed = ProtocolConnection(Role.CLIENT)
    # the live client had sent a command, so its ack matched; mark it pending the same way
    replayed.send_command(set_params(mode=1))
    events = []
    for record in records:
        if record.dir == "in":
            replayed.receive_data(record.data, sender=record.sender, now=0.0)
            events.extend(replayed.events_received())
    strip = [(type(e).__name__, getattr(e, "text", None), getattr(e, "name", None)) for e in events]
    assert strip == [(type(e).__name__, getattr(e, "text", None), getattr(e, "name", None)) for e in seen]


def test_recorder_lines_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    now = [10.0]
    with Recorder(path, clock=lambda: now[0]) as recorder:
        now[0] = 10.5
        recorder.record("in", sender="9", data='{"v":2,"text":"héllo"}'.encode(), channel="c")
        recorder.record("out", sender="1", data=b"\xff\xfe raw")
        assert recorder.count == 2
    recorder.record("in", sender="9", data=b"ignored after close")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {
        "t": 0.5,
        "dir": "in",
        "sender": "9",
        "frame": '{"v":2,"text":"héllo"}',
        "channel": "c",
    }
    assert "channel" not in json.loads(lines[1])
    assert [r.data for r in replay(path)] == ['{"v":2,"text":"héllo"}'.encode(), b"\xff\xfe raw"]


@given(st.binary(max_size=64))
def test_any_bytes_round_trip(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("rec") / "x.jsonl"
    with Recorder(path) as recorder:
        recorder.record("in", sender="s", data=data)
    assert [r.data for r in replay(path)] == [data]


@pytest.mark.parametrize("line", ["not json", '{"t":0,"dir":"sideways","sender":"1","frame":""}', '{"t":0}'])
def test_bad_lines_are_typed_errors(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"t":0,"dir":"in","sender":"1","frame":"x"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="line 3"):
        list(replay(path))
