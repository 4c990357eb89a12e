"""The inspector page in a real browser (headless Chromium driven by Playwright) while a real session runs.

What a person would see: the bot's text appears within 1 s of the room delivering it, a refused frame is marked,
the chart's limit lines are the room's limits, "Speak as user" reaches the bot's session as a ``UserTranscript``,
the recording downloaded from the page decodes, a recording opens in the same page, and the console stays clean.

Chromium comes from the system's packages (``/usr/bin/chromium``; ``.ci/run`` installs it); Playwright's own
browser download is not used. Without either, the module skips with one line. One browser for the module.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from streamclient.api import AsyncAkoolClient
from streamclient.codec import ChatFrame, ChatMessage, EventFrame, ProtocolConnection, Role, encode_frame
from streamclient.emulator.handles import EmulatorHandle
from streamclient.emulator.recording import refusals, replay
from streamclient.session import AvatarSession, connect
from streamclient.session.events import SessionEvent, UserTranscript

CHROMIUM = os.environ.get("STREAMCLIENT_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium): browser tests skipped", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (the dev extra has it)")

#: Where the test run keeps its screenshot (docs/img/inspector.png is a reviewed copy of it).
SCREENSHOT = Path(__file__).resolve().parents[2] / "build" / "inspector.png"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AVATAR = "dvp_Tristan_cloth2_1080P"
WAIT_MS = 10_000  # generous: the machine may be loaded (the 1 s check below has its own clock)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="inspector-chromium-")
    try:
        with sync_api.sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=ARGS,
                accept_downloads=True,
                viewport={"width": 1440, "height": 1000},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@contextlib.contextmanager
def open_page(browser: Any, url: str) -> Iterator[tuple[Any, list[str]]]:
    """A fresh tab on ``url``; yields it and the console errors and page errors seen (checked by the caller)."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.goto(url)
    try:
        yield page, errors
    finally:
        page.close()


class Bot:
    """A real session against the emulator, run on its own event-loop thread; collects the session's events."""

    def __init__(self, portal: BlockingPortal, session: AvatarSession) -> None:
        self.portal = portal
        self.session = session
        self.events: list[SessionEvent] = []

    async def follow(self) -> None:
        async for event in self.session.events():
            self.events.append(event)

    def transcripts(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, UserTranscript) and e.final]


@contextlib.contextmanager
def running_bot(emulator: EmulatorHandle, *, mode: int) -> Iterator[Bot]:
    with start_blocking_portal() as portal:
        client = AsyncAkoolClient(api_key=emulator.api_key, base_url=emulator.base_url)
        with portal.wrap_async_context_manager(client):
            session = connect(client, avatar_id=AVATAR, mode_type=mode, duration=120)
            with portal.wrap_async_context_manager(session):
                bot = Bot(portal, session)
                portal.start_task_soon(bot.follow)
                yield bot


def wait_for(condition: Any, timeout: float = WAIT_MS / 1000) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition still false"
        time.sleep(0.02)  # noqa: TID251 - a sync test polling another thread's state (no event loop here)


@pytest.mark.akool_emulator(speech_chars_per_second=200.0)
def test_a_person_watches_and_acts_in_a_live_session(
    akool_emulator: EmulatorHandle, browser: Any, tmp_path: Path
) -> None:
    expect = sync_api.expect
    assert akool_emulator.inspector_url is not None
    with (
        open_page(browser, akool_emulator.inspector_url) as (page, errors),
        running_bot(akool_emulator, mode=1) as bot,
    ):
        session_id = bot.session.session_id
        assert session_id is not None
        room = akool_emulator.room_for(session_id)
        assert room is not None
        expect(page.locator(f'#rooms li[data-room="{room.channel}"]')).to_be_visible(timeout=WAIT_MS)
        # the page follows the new room: its live stream for that room is open
        expect(page.locator(f'body[data-watching="{room.channel}"]')).to_have_count(1, timeout=WAIT_MS)

        # the bot says something: its bubble shows the text within 1 s of the room delivering it
        text = "Hello from the bot, watched through the inspector."
        delivered = room.frames_to_avatar
        turn = bot.portal.call(lambda: [bot.session.say(text)])[0]  # (a list: the portal would await a Turn)
        akool_emulator.wait_until(lambda: room.frames_to_avatar > delivered, timeout=WAIT_MS / 1000)
        expect(page.locator('#conversation .say[data-who="bot"]')).to_contain_text(text, timeout=1000)
        bot.portal.call(lambda: turn.wait(timeout=10))
        expect(page.locator('#conversation .say[data-who="avatar"]')).to_contain_text(text, timeout=WAIT_MS)
        expect(page.locator('#turns .turn[data-id="1"] .seg.speaking')).to_have_count(1, timeout=WAIT_MS)

        # a frame the room refuses (over 1 KB) stands out in the timeline
        uid = str(bot.session.transport.local_uid) if bot.session.transport is not None else ""
        # (the session's transport refuses it locally, so the test offers it to the room directly)
        assert room._call(lambda: room._room.send(uid, b"x" * 2000)) == -114
        refused = page.locator("#frames tr.refused")
        expect(refused).to_have_count(1, timeout=WAIT_MS)
        expect(refused.locator("td.verdict")).to_contain_text("-114 ERR_SIZE_TOO_LARGE")
        refused.click()
        expect(page.locator("#frame-detail")).to_contain_text("2000 bytes")
        page.locator('#frames tr[data-n="1"]').click()
        expect(page.locator("#frame-detail")).to_contain_text('"v": 2')

        # the charts' limit lines are the room's limits, drawn where the axis puts those values
        limits = akool_emulator.config.limits()
        for chart, value in (
            ("#chart-bytes", limits.bytes_per_second),
            ("#chart-msgs", limits.messages_per_second),
        ):
            line = page.locator(f'{chart} line[data-line="limit"]')
            expect(line).to_have_attribute("data-value", str(value), timeout=WAIT_MS)
            svg = page.locator(chart)
            vmax, top, bottom = (float(svg.get_attribute(f"data-{k}") or "nan") for k in ("vmax", "top", "bottom"))
            assert float(line.get_attribute("y1") or "nan") == pytest.approx(top + (1 - value / vmax) * (bottom - top))
            expect(page.locator(f'{chart} text[data-label="limit"]')).to_contain_text(str(value))
        expect(page.locator("#chart-bytes path[data-uid]")).not_to_have_count(0)

        # speaking as the user from the page reaches the bot's session as a UserTranscript
        spoken = "This is the user speaking, from the page."
        page.fill("#say-text", spoken)
        page.click("#btn-speak")
        wait_for(lambda: spoken in bot.transcripts())
        expect(page.locator('#conversation .say[data-who="user"]')).to_contain_text(spoken, timeout=WAIT_MS)

        # chat as a viewer, then interrupt: the avatar hears the chat, acks the interrupt; the page shows both
        page.fill("#say-text", "A viewer says hi.")
        page.click("#btn-chat")
        expect(page.locator('#conversation .say[data-who="page"]')).to_contain_text(
            "A viewer says hi.", timeout=WAIT_MS
        )
        wait_for(lambda: room.avatar is not None and "A viewer says hi." in room.avatar.received_texts)
        page.click("#btn-interrupt")
        expect(page.locator('#conversation .note[data-what="interrupt"]')).to_contain_text("ack 1000", timeout=WAIT_MS)
        expect(page.locator('#peers li[data-role="page"]')).to_have_count(1)

        # the recording downloaded from the page decodes
        with page.expect_download(timeout=WAIT_MS) as download_info:
            page.click("#btn-download")
        saved = tmp_path / "room.jsonl"
        download_info.value.save_as(saved)
        records = list(replay(saved))
        assert {r.dir for r in records} == {"in", "out"}
        connection = ProtocolConnection(Role.CLIENT)
        for record in records:
            if record.dir == "in":
                connection.receive_data(record.data, sender=record.sender, now=record.t)
        said = [e.text for e in connection.events_received() if isinstance(e, ChatMessage)]
        assert text in said
        assert [r.reason for r in refusals(saved)] == ["room:-114"]

        # nothing secret on the page
        html = page.content()
        assert akool_emulator.api_key not in html
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.locator("#frames tr.refused").click()
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        assert errors == []


def test_a_recording_opens_in_the_same_page(browser: Any, tmp_path: Path) -> None:
    from streamclient.emulator.inspector.offline import serve_recording

    recording = tmp_path / "rec.jsonl"

    def line(t: float, direction: str, sender: str, frame: Any) -> str:
        text = frame if isinstance(frame, str) else encode_frame(frame).decode()
        return json.dumps({"t": t, "dir": direction, "sender": sender, "frame": text, "channel": "c1"})

    refusal = {"t": 0.5, "refused": "room:-115", "by": "room", "sender": "7", "excerpt": '{"v":2', "channel": "c1"}
    lines = [
        line(0.1, "out", "7", ChatFrame(mid="m1", idx=0, fin=True, text="Recorded hello")),
        line(0.2, "in", "1000007", EventFrame(mid="e", name="audio_start")),
        line(0.3, "in", "1000007", ChatFrame(mid="m1", idx=0, fin=True, text="Recorded reply", source="bot")),
        line(0.4, "out", "7", "not json"),
        json.dumps(refusal),
    ]
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expect = sync_api.expect

    async def serve(*, task_status: anyio.abc.TaskStatus[str]) -> None:
        async with serve_recording(recording) as (url, frames, skipped):
            assert (frames, skipped) == (5, 0)
            task_status.started(url)
            await anyio.sleep_forever()

    with start_blocking_portal() as portal:
        future, url = portal.start_task(serve)
        try:
            with open_page(browser, url) as (page, errors):
                expect(page.locator("#mode")).to_have_text("recording", timeout=WAIT_MS)
                expect(page.locator('#conversation .say[data-who="bot"]')).to_contain_text("Recorded hello")
                expect(page.locator('#conversation .say[data-who="avatar"]')).to_contain_text("Recorded reply")
                expect(page.locator("#frames tr.refused td.verdict")).to_contain_text("-115")
                expect(page.locator("#frames tr.bad td.verdict")).to_contain_text("not_json")
                expect(page.locator("#btn-speak")).to_be_disabled()
                assert errors == []
        finally:
            future.cancel()
