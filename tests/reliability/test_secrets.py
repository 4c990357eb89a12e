"""No API key, bearer token or channel token in logs (DEBUG, every logger), reprs, events or exception texts.

Runs a whole session against the emulator, the demo, and the failure paths (bad key, failing create, refused join,
timeouts) with the root logger at DEBUG. A secret counts as leaked when any 12-character piece of it shows up,
because truncating loggers (websockets, httpcore) print pieces of long values.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.errors import StreamClientError
from streamclient.session import SessionEvent, SessionOptions, connect
from streamclient.transport.base import JoinParams
from streamclient.transport.room import RoomTransport

API_KEY = "sk-emulator-SECRET-key-for-leak-tests-0042"
AVATAR_ID = "dvp_Tristan_cloth2_1080P"
OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=5, command_timeout=2, close_timeout=5)


def pieces_leaked(text: str, secrets: list[str], window: int = 12) -> list[str]:
    """The log/text lines (first 200 characters) that contain a ``window``-character piece of a secret."""
    found = []
    for secret in secrets:
        for i in range(max(1, len(secret) - window + 1)):
            piece = secret[i : i + window]
            if piece in text:
                line = next(line for line in text.splitlines() if piece in line)
                found.append(line[:200])
                break
    return found


@asynccontextmanager
async def emulator(join_delay: float = 0.02) -> AsyncIterator[Emulator]:
    config = EmulatorConfig(api_key=API_KEY, avatar_join_delay=join_delay, speech_chars_per_second=3000.0)
    async with Emulator(config) as emu:
        yield emu


def all_secrets(emu: Emulator) -> list[str]:
    return [API_KEY, *(s.client_token for s in emu.state.sessions.values() if s.client_token)]


def texts_of(exc: BaseException) -> str:
    parts = [str(exc), repr(exc)]
    if exc.__cause__ is not None:
        parts.append(texts_of(exc.__cause__))
    return "\n".join(parts)


async def test_whole_session_at_debug_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with emulator() as emu:
        async with AsyncAkoolClient(api_key=API_KEY, base_url=emu.base_url) as client:
            seen.append(repr(client))
            async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1) as session:
                events = session.events()
                result = await session.say("hello, this is a secret-free sentence")
                await session.set_params(language="es")
                await session.interrupt()
                seen += [repr(session), repr(session.info), str(session.info), repr(result), repr(session.transport)]
                info = await client.sessions.get(session.session_id or "")
                seen += [repr(info), str(info), info.model_dump_json(), repr(info.credentials)]
                await session.aclose()
                collected: list[SessionEvent] = [e async for e in events]
                seen += [repr(e) for e in collected]
        secrets = all_secrets(emu)
    assert len(secrets) == 2
    assert pieces_leaked("\n".join(seen), secrets) == []
    assert caplog.records, "DEBUG logging captured nothing"
    assert pieces_leaked(caplog.text, secrets) == [], "a secret piece is in the DEBUG log"


async def test_room_transport_join_at_debug_leaks_no_token(caplog: pytest.LogCaptureFixture) -> None:
    """Narrowest reproduction: joining a room with the DEBUG log on (websockets logs the frames it sends)."""
    caplog.set_level(logging.DEBUG)
    async with emulator() as emu:
        async with AsyncAkoolClient(api_key=API_KEY, base_url=emu.base_url) as client:
            info = await client.sessions.create(AVATAR_ID)
            credentials = info.credentials
            assert credentials is not None
            transport = RoomTransport(emu.room_url)
            token = emu.state.sessions[info.id].client_token
            params = JoinParams(
                app_id=emu.state.sessions[info.id].app_id,
                channel=emu.state.sessions[info.id].channel,
                uid=str(emu.state.sessions[info.id].client_uid),
                token=token,
            )
            await transport.join(params)
            await transport.leave()
            await client.sessions.close(info.id)
    assert pieces_leaked(caplog.text, [token]) == [], "the channel token is in the DEBUG log"


@pytest.mark.parametrize("path", ["bad_key", "create_fails", "avatar_never_joins", "command_timeout"])
async def test_failure_paths_leak_nothing(path: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    async with emulator(join_delay=60 if path == "avatar_never_joins" else 0.02) as emu:
        options = SessionOptions(avatar_join_timeout=0.3, close_timeout=5) if path == "avatar_never_joins" else OPTIONS
        key = "sk-wrong-SECRET-key-abcdef-123456" if path == "bad_key" else API_KEY
        async with AsyncAkoolClient(api_key=key, base_url=emu.base_url, timeout=5) as client:
            if path == "create_fails":
                emu.state.fail_next("session/create", code=1006)
            try:
                with anyio.fail_after(10):
                    async with connect(client, avatar_id=AVATAR_ID, options=options, mode_type=1) as session:
                        if path == "command_timeout":
                            room = emu.room_for(session.session_id or "")
                            assert room is not None
                            from streamclient.emulator import FaultPlan

                            room.set_faults(to_avatar=FaultPlan(drop=1.0))
                            await session.set_params(language="es", timeout=0.2)
                        pytest.fail("expected an error")  # pragma: no cover
            except StreamClientError as exc:
                texts.append(texts_of(exc))
            except BaseException as exc:
                pytest.fail(f"an untyped error escaped: {exc!r}")
        secrets = [*all_secrets(emu), "sk-wrong-SECRET-key-abcdef-123456"]
    assert texts, "the failure path raised nothing"
    assert pieces_leaked("\n".join(texts), secrets) == []
    assert pieces_leaked(caplog.text, secrets) == []
