"""The inspector without a browser: its model (conversation, turns, verdicts, rates, bounds), its HTTP side (the
snapshot, the event stream, the controls, the download), secrets kept out, and the recording viewer."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from streamclient.codec import encode_frame, interrupt
from streamclient.codec.frames import ChatFrame, CommandAck, EventFrame
from streamclient.emulator import Emulator
from streamclient.emulator.inspector import Inspector
from streamclient.emulator.inspector import live as live_module
from streamclient.emulator.inspector import model as model_module
from streamclient.emulator.inspector.model import InspectorModel, Limits
from streamclient.emulator.inspector.offline import load_recording, serve_recording
from streamclient.emulator.recording import refusals, replay
from streamclient.emulator.room import PeerRole, Room

from .emulator_harness import client_peer, fast_config

LIMITS = Limits(max_message_bytes=1024, bytes_per_second=6000, messages_per_second=30)
BOT, AVATAR = "7", "1000007"


def chat(mid: str, text: str, *, idx: int = 0, fin: bool = True, source: str | None = None) -> bytes:
    return encode_frame(ChatFrame(mid=mid, idx=idx, fin=fin, text=text, source=source))


def event(name: str) -> bytes:
    return encode_frame(EventFrame(mid="e", name=name))


def items_of(model: InspectorModel, kind: str, room: str = "c") -> list[dict[str, Any]]:
    return [i for i in model.snapshot(room)["items"] if i["k"] == kind and i.get("room", room) == room]


def opened(**kwargs: Any) -> InspectorModel:
    model = InspectorModel(**kwargs)
    model.room_opened("c", session_id="s1", limits=LIMITS, t=0.0)
    model.mark_bot("c", BOT)
    return model


def test_the_conversation_grows_chunk_by_chunk_and_turns_get_their_times() -> None:
    model = opened()
    model.frame("c", t=1.0, uid=BOT, role="client", data=chat("m1", "Hello", idx=0, fin=False), code=0)
    model.frame("c", t=1.1, uid=BOT, role="client", data=chat("m1", " world", idx=1, fin=True), code=0)
    model.frame("c", t=1.2, uid=AVATAR, role="avatar", data=event("audio_start"), code=0)
    model.frame("c", t=1.3, uid=AVATAR, role="avatar", data=chat("m1", "Hel", fin=False, source="bot"), code=0)
    [reply] = [s for s in items_of(model, "say") if s["who"] == "avatar"]
    assert (reply["text"], reply["fin"]) == ("Hel", False)
    model.frame("c", t=1.4, uid=AVATAR, role="avatar", data=chat("m1", "lo", idx=1, source="bot"), code=0)
    model.frame("c", t=1.5, uid=AVATAR, role="avatar", data=event("audio_end"), code=0)
    says = {s["who"]: s for s in items_of(model, "say")}
    assert says["bot"]["text"] == "Hello world"
    assert (says["avatar"]["text"], says["avatar"]["fin"], says["avatar"]["chunks"]) == ("Hello", True, 2)
    [turn] = items_of(model, "turn")
    assert (turn["t0"], turn["t1"], turn["first"], turn["astart"], turn["aend"]) == (1.0, 1.1, 1.3, 1.2, 1.5)
    assert [n["what"] for n in items_of(model, "note")] == ["audio_start", "audio_end"]


def test_fresh_reply_mids_user_speech_and_an_interrupt_with_its_ack() -> None:
    model = opened()
    model.session("s1", room="c", avatar_id="a", mode=2, status="open", t=0.0)
    model.frame("c", t=1.0, uid=AVATAR, role="avatar", data=chat("u1", "what time is it", source="user"), code=0)
    model.frame("c", t=1.1, uid=AVATAR, role="avatar", data=event("audio_start"), code=0)
    model.frame("c", t=1.2, uid=AVATAR, role="avatar", data=chat("fresh", "It is", fin=False, source="bot"), code=0)
    stop = interrupt(mid="x1")
    model.frame("c", t=1.3, uid="55", role="client", data=encode_frame(stop), code=0)
    ack = CommandAck(mid="x1", cmd="interrupt", code=1000, msg="OK")
    model.frame("c", t=1.35, uid=AVATAR, role="avatar", data=encode_frame(ack), code=0)
    model.frame("c", t=1.4, uid=AVATAR, role="avatar", data=event("audio_end"), code=0)
    [turn] = items_of(model, "turn")
    assert (turn["by"], turn["first"], turn["aend"], turn["interrupted"]) == ("user", 1.2, 1.4, True)
    [command] = [n for n in items_of(model, "note") if n["what"] == "interrupt"]
    assert (command["role"], command["ack"]) == ("viewer", {"code": 1000, "t": 1.35})
    assert [s["who"] for s in items_of(model, "say")] == ["user", "avatar"]


def test_in_mode_1_a_transcript_is_not_a_turn() -> None:
    model = opened()
    model.session("s1", room="c", avatar_id="a", mode=1, status="open", t=0.0)
    model.frame("c", t=1.0, uid=AVATAR, role="avatar", data=chat("u1", "hello", source="user"), code=0)
    assert items_of(model, "turn") == []


def test_verdicts_refused_undecodable_and_over_the_guide() -> None:
    model = opened()
    model.frame("c", t=0.5, uid=BOT, role="client", data=b"x" * 3000, code=-114)
    model.frame("c", t=0.6, uid=BOT, role="client", data=b"not json", code=0)
    for i in range(7):  # 7 x ~960 B inside one second: over AKOOL's 6 KB/s from the 7th on
        model.frame("c", t=1.0 + i * 0.1, uid=BOT, role="client", data=chat(f"g{i}", "y" * 900), code=0)
    frames = items_of(model, "frame")
    assert (frames[0]["code"], frames[0]["codename"], frames[0]["size"], len(frames[0]["text"])) == (
        -114,
        "ERR_SIZE_TOO_LARGE",
        3000,
        model_module.KEEP_REFUSED_BYTES,
    )
    assert frames[1]["bad"] == "not_json"
    assert [f["guide"] for f in frames[2:]] == [False] * 6 + [True]
    model.flush()
    rates = items_of(model, "rate")
    assert max(r["bytes"] for r in rates) > 6000
    assert max(r["msgs"] for r in rates) == 7
    [room] = items_of(model, "room")
    assert (room["frames"], room["refused"]) == (9, 1)


def test_every_buffer_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_module, "FRAMES_PER_ROOM", 50)
    monkeypatch.setattr(model_module, "MESSAGES_PER_ROOM", 10)
    monkeypatch.setattr(model_module, "TURNS_PER_ROOM", 5)
    monkeypatch.setattr(model_module, "MAX_ROOMS", 3)
    monkeypatch.setattr(model_module, "MAX_FRAME_BYTES_TOTAL", 20_000)
    model = opened()
    for i in range(500):
        model.frame("c", t=i * 0.01, uid=BOT, role="client", data=chat(f"m{i}", "z" * 200), code=0)
    snap = model.snapshot("c")
    assert len([i for i in snap["items"] if i["k"] == "frame"]) <= 50
    assert len([i for i in snap["items"] if i["k"] == "say"]) == 10
    assert len([i for i in snap["items"] if i["k"] == "turn"]) == 5
    [room] = items_of(model, "room")
    assert room["dropped"] >= 450
    for n in range(6):
        model.room_opened(f"r{n}", session_id=None, limits=LIMITS, t=1.0)
        for i in range(100):
            model.frame(f"r{n}", t=1.0, uid=BOT, role="client", data=chat(f"m{i}", "z" * 200), code=0)
    assert len(model.rooms()) == 3
    kept = sum(len(item["text"]) for r in model.rooms() for item in items_of(model, "frame", r))
    assert kept <= 20_000
    assert len(model._log) <= model_module.LOG_ITEMS


def test_a_page_behind_the_bounded_log_is_told_to_reload(monkeypatch: pytest.MonkeyPatch) -> None:
    model = opened()
    model._log = type(model._log)(model._log, maxlen=20)
    for i in range(50):
        model.frame("c", t=i * 0.01, uid=BOT, role="client", data=chat(f"m{i}", "z"), code=0)
    assert model.items_after(0, room="c")[2] is True
    items, last, reset = model.items_after(model.seq - 5, room="c")
    assert (len(items), last, reset) == (5, model.seq, False)
    other, _, _ = model.items_after(model.seq - 5, room="elsewhere")
    assert all(i["k"] in ("room", "counts", "session", "peer") for i in other)


async def test_the_page_sees_a_live_session_and_acts_in_it(tmp_path: Path) -> None:
    async with Emulator(fast_config(api_key="local-key-xyz")) as emu:
        assert emu.inspector_url == emu.base_url + "/inspector/"
        async with client_peer(emu, mode_type=2) as peer, httpx.AsyncClient(base_url=emu.base_url) as http:
            room = peer.room
            token = emu.state.sessions[peer.session_id].client_token
            await peer.say("Hello inspector")
            await peer.wait_for(lambda: len(peer.messages()) == 1)
            assert room.send("999", b"x") == -113  # not in the room
            answer = await http.post(
                f"/inspector/api/rooms/{room.channel}/speak", json={"text": "the user speaks"}, timeout=10
            )
            assert answer.status_code == 200
            await peer.wait_for(lambda: any(m.text == "the user speaks" for m in peer.messages("user")))
            assert (
                await http.post(f"/inspector/api/rooms/{room.channel}/chat", json={"text": "hi"})
            ).status_code == 200
            await peer.wait_for(lambda: room.avatar is not None and "hi" in room.avatar.received_texts)
            interrupted = await http.post(f"/inspector/api/rooms/{room.channel}/interrupt", json={})
            assert interrupted.status_code == 200
            # refused: not JSON, empty text, unknown room and action
            form = await http.post(f"/inspector/api/rooms/{room.channel}/chat", content=b"text=hi")
            assert form.status_code == 415
            empty = await http.post(f"/inspector/api/rooms/{room.channel}/speak", json={"text": " "})
            assert empty.status_code == 400
            assert (await http.post("/inspector/api/rooms/nope/speak", json={"text": "x"})).status_code == 409
            assert (await http.post(f"/inspector/api/rooms/{room.channel}/dance", json={})).status_code == 404
            await anyio.sleep(0.3)
            assert emu.inspector is not None
            emu.inspector.drain_now()
            snapshot = await http.get("/inspector/api/snapshot", params={"room": room.channel})
            page = await http.get("/inspector/")
            download = await http.get(f"/inspector/api/rooms/{room.channel}/recording.jsonl")
        for text in (snapshot.text, page.text, download.text):
            assert "local-key-xyz" not in text
            assert token not in text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        whos = {s["who"] for s in snapshot.json()["items"] if s["k"] == "say"}
        assert whos == {"bot", "avatar", "user", "page"}
        saved = tmp_path / "room.jsonl"
        saved.write_text(download.text, encoding="utf-8")
        assert {r.dir for r in replay(saved)} == {"in", "out"}
        assert [r.reason for r in refusals(saved)] == ["room:-113"]
        # and the same file opens in the recording viewer
        model, frames, skipped = load_recording(saved)
        assert (frames, skipped) == (len(download.text.splitlines()), 0)
        assert not model.live
        assert {s["who"] for s in items_of(model, "say", room.channel)} == {"bot", "avatar", "user", "viewer"}


async def test_the_event_stream_sends_batches_and_ends_with_the_emulator() -> None:
    async with Emulator(fast_config()) as emu:
        async with client_peer(emu) as peer, httpx.AsyncClient(base_url=emu.base_url, timeout=10) as http:
            await peer.say("streamed")
            await peer.wait_for(lambda: len(peer.messages()) == 1)
            params = {"room": peer.room.channel, "after": "0"}
            async with http.stream("GET", "/inspector/api/events", params=params) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                seen = await _until_the_avatar_finishes(response)
            assert any(i["k"] == "say" and i["text"] == "streamed" for i in seen)
            assert (await http.get("/inspector/api/events", params={"after": "x"})).status_code == 400


async def test_the_inspector_can_be_off() -> None:
    async with Emulator(fast_config(inspector=False)) as emu:
        assert emu.inspector is None
        assert emu.inspector_url is None
        async with client_peer(emu) as peer, httpx.AsyncClient(base_url=emu.base_url) as http:
            assert peer.room.observers == []
            assert (await http.get("/inspector/")).status_code == 404


async def test_a_recording_is_served_read_only(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    line = {"t": 0.1, "dir": "out", "sender": "7", "frame": chat("m", "hi").decode(), "channel": "c"}
    path.write_text(json.dumps(line) + "\n" + "garbage\n", encoding="utf-8")
    async with serve_recording(path) as (url, frames, skipped), httpx.AsyncClient() as http:
        assert (frames, skipped) == (1, 1)
        snap = (await http.get(url + "api/snapshot", params={"room": "c"})).json()
        assert snap["live"] is False
        assert [i["text"] for i in snap["items"] if i["k"] == "say"] == ["hi"]
        acted = await http.post(url + "api/rooms/c/speak", json={"text": "x"})
        assert acted.status_code == 409


async def test_a_room_nobody_watches_is_counted_and_decoded_only_when_a_page_asks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_module, "FRAMES_PER_ROOM", 5)
    inspector = Inspector()
    room = Room("c")
    inspector.attach(room)
    room.join(BOT, role=PeerRole.CLIENT)
    room.join(AVATAR, role=PeerRole.AVATAR)
    for i in range(8):
        assert room.send(BOT, chat(f"m{i}", "hi")) == 0
    inspector.drain_now()
    model = inspector.model
    assert items_of(model, "frame") == []
    assert items_of(model, "room")[0]["frames"] == 8
    tape = inspector.tape("c")
    assert tape is not None
    assert (tape.kept, inspector.frames_fed) == (5, 0)  # bounded, and nothing decoded
    await inspector.watch("c")
    assert [f["n"] for f in items_of(model, "frame")] == [4, 5, 6, 7, 8]
    assert items_of(model, "room")[0]["dropped"] == 3
    assert room.send(BOT, chat("m9", "live")) == 0
    inspector.drain_now()
    assert [f["n"] for f in items_of(model, "frame")][-1] == 9


def _count_calls(monkeypatch: pytest.MonkeyPatch, obj: object, names: tuple[str, ...]) -> dict[str, int]:
    calls = dict.fromkeys(names, 0)
    for name in names:
        method = getattr(obj, name)

        def counted(*args: Any, _name: str = name, _method: Any = method, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _method(*args, **kwargs)

        monkeypatch.setattr(obj, name, counted)
    return calls


async def test_no_frame_reaches_the_model_until_a_page_asks_and_then_the_page_sees_the_recent_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Emulator(fast_config()) as emu:
        inspector = emu.inspector
        assert inspector is not None
        calls = _count_calls(monkeypatch, inspector.model, ("frame", "count_frame"))
        async with client_peer(emu) as peer, httpx.AsyncClient(base_url=emu.base_url, timeout=10) as http:
            await peer.say("nobody is watching yet")
            await peer.wait_for(lambda: len(peer.messages()) == 1)
            inspector.drain_now()  # whatever the inspector's task would do by now, done
            assert calls == {"frame": 0, "count_frame": 0}  # taped raw, never decoded or counted per frame
            tape = inspector.tape(peer.room.channel)
            assert tape is not None
            assert tape.count >= 3  # the bot's frame, audio start, the reply...
            assert inspector.frames_fed == 0
            snap = (await http.get("/inspector/api/snapshot")).json()  # a page connects: the rooms list
            [room_item] = [i for i in snap["items"] if i["k"] == "room"]
            assert (room_item["room"], room_item["frames"]) == (peer.room.channel, tape.count)
            assert {i["role"] for i in snap["items"] if i["k"] == "peer"} == {"bot", "avatar"}
            assert calls == {"frame": 0, "count_frame": 0}
            snap = (await http.get("/inspector/api/snapshot", params={"room": peer.room.channel})).json()
            frames = [i for i in snap["items"] if i["k"] == "frame"]
            assert [f["n"] for f in frames] == list(range(1, tape.count + 1))
            says = {i["who"]: i["text"] for i in snap["items"] if i["k"] == "say"}
            assert (says["bot"], set(says)) == ("nobody is watching yet", {"bot", "avatar"})
            assert calls["frame"] == tape.count


async def test_a_page_stream_follows_its_room_while_it_is_connected_and_no_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Emulator(fast_config()) as emu:
        inspector = emu.inspector
        assert inspector is not None
        hung_up = anyio.Event()
        page_closed = inspector.page_closed

        def closed(channel: str | None) -> None:
            page_closed(channel)
            hung_up.set()

        monkeypatch.setattr(inspector, "page_closed", closed)
        async with client_peer(emu) as peer, httpx.AsyncClient(base_url=emu.base_url, timeout=10) as http:
            params = {"room": peer.room.channel, "after": "0"}
            async with http.stream("GET", "/inspector/api/events", params=params) as response:
                assert inspector.pages == 1
                await peer.say("followed live")
                await _until_the_avatar_finishes(response)
            with anyio.fail_after(10):  # the server sees the page hang up
                await hung_up.wait()
            assert inspector.pages == 0
            fed = inspector.frames_fed
            assert fed > 0
            await peer.say("after the page left")
            await peer.wait_for(lambda: len(peer.messages()) == 2)
            await inspector._tick()
            assert inspector.frames_fed == fed


def test_a_rooms_counters_are_sent_as_a_small_counts_item_at_most_once_a_second() -> None:
    model = opened()
    seq = model.seq
    model.room_counts("c", frames=1500, refused=2, oldest=501)  # the feeder holds frames 501-1500
    model.flush(now=10.0)
    model.room_counts("c", frames=1501, refused=2, oldest=502)
    model.flush(now=10.5)  # within the second: not re-sent yet
    items, _, _ = model.items_after(seq, room=None)
    assert items == [{"k": "counts", "room": "c", "frames": 1500, "refused": 2, "dropped": 500, "seq": seq + 1}]
    [room] = items_of(model, "room")  # the snapshot's room item is always current
    assert (room["frames"], room["dropped"]) == (1501, 501)


def test_taping_a_frame_on_the_rooms_path_allocates_no_tracked_object() -> None:
    inspector = Inspector()
    room = Room("c")
    inspector.attach(room)
    [observer] = room.observers
    data = chat("m", "hello")
    observer.room_event(room, "frame", BOT, role="client", data=data)  # warm (first-call caches)
    gc.collect()
    gc.disable()
    ballast: list[list[int]] = [[] for _ in range(10_000)]  # the collector's count never goes below 0
    try:
        gc.get_count()  # (its first call allocates its answer)
        before = gc.get_count()[0]
        for _ in range(5000):  # beyond the tape's 1,000: filling, then overwriting the oldest
            observer.room_event(room, "frame", BOT, role="client", data=data)
        allocated = gc.get_count()[0] - before
    finally:
        gc.enable()
    del ballast
    assert allocated == 0  # not even a tuple: nothing for the collector to count, trace or promote
    tape = inspector.tape("c")
    assert tape is not None
    assert (tape.count, tape.kept, tape.first) == (5001, 1000, 4002)
    start, frames = tape.unfed()
    assert (start, len(frames), frames[-1][1:]) == (4002, 1000, (BOT, "client", data, 0))
    assert inspector.tape_bytes == 1000 * len(data)


def test_the_tapes_hold_at_most_their_bytes_the_oldest_rooms_oldest_frames_going_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_module, "MAX_TAPE_BYTES", 10_000)
    inspector = Inspector()
    rooms = [Room(f"r{k}") for k in range(2)]
    for room in rooms:
        inspector.attach(room)
    for room in rooms:
        for _i in range(60):
            room.observers[0].room_event(room, "frame", BOT, role="client", data=b"x" * 100)
    first, second = inspector.tape("r0"), inspector.tape("r1")
    assert first is not None
    assert second is not None
    assert inspector.tape_bytes <= 10_000
    assert (second.kept, first.kept) == (60, 40)  # the first room gave up its oldest 20 frames
    assert first.unfed()[0] == 21


async def _until_the_avatar_finishes(response: httpx.Response) -> list[dict[str, Any]]:
    """The items of a page's event stream, read until the avatar's final chunk of a reply arrives."""
    seen: list[dict[str, Any]] = []
    with anyio.fail_after(10):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                seen.extend(json.loads(line.removeprefix("data: ")))
            if any(i["k"] == "say" and i["who"] == "avatar" and i["fin"] for i in seen):
                break
    return seen
