"""Exceptions, cancellation and a failing or slow REST server at every stage of a session: nothing is left open.

Stages: create (the REST call in flight), join (waiting for the avatar), during a turn, during close. After each
run the emulator must report zero open sessions (an open session keeps billing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.errors import (
    APIStatusError,
    APITimeoutError,
    AvatarJoinTimeoutError,
    StreamClientError,
)
from streamclient.session import SessionOptions, connect

AVATAR_ID = "dvp_Tristan_cloth2_1080P"
OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=5, command_timeout=3, close_timeout=5)


class Boom(Exception):
    pass


@asynccontextmanager
async def emulator(avatar_join_delay: float = 0.02) -> AsyncIterator[tuple[Emulator, AsyncAkoolClient]]:
    config = EmulatorConfig(avatar_join_delay=avatar_join_delay, speech_chars_per_second=30.0)
    async with Emulator(config) as emu:
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url, timeout=5) as client:
            yield emu, client
            await emu.wait_until(lambda: emu.open_session_count() == 0, timeout=5)
            assert emu.open_session_count() == 0
            assert emu.state.open_sessions() == []


async def created(emu: Emulator, count: int = 1) -> None:
    await emu.wait_until(lambda: len(emu.rooms) >= count, timeout=5)


# ------------------------------------------------------------------------------------ exceptions


async def test_exception_during_a_turn_closes_the_session() -> None:
    async with emulator() as (emu, client):
        sessions = []

        async def body() -> None:
            async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1) as session:
                sessions.append(session)
                turn = session.say("a long sentence that takes the slow avatar a while to say back to us")
                assert await turn.wait_reply_started(timeout=5)
                raise Boom

        with pytest.raises(Boom):
            await body()
        assert sessions[0].closed
        assert emu.open_session_count() == 0


async def test_exception_from_an_event_consumer_closes_the_session() -> None:
    async with emulator() as (emu, client):

        async def body() -> None:
            async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1) as session:
                session.say("hello there")
                async for _event in session.events():
                    raise Boom

        with pytest.raises(Boom):
            await body()
        assert emu.open_session_count() == 0


async def test_avatar_never_joins_raises_typed_error_and_closes() -> None:
    async with emulator(avatar_join_delay=60) as (emu, client):
        options = SessionOptions(avatar_join_timeout=0.3, close_timeout=5)
        with pytest.raises(AvatarJoinTimeoutError):
            async with connect(client, avatar_id=AVATAR_ID, options=options):
                pass
        assert emu.open_session_count() == 0


# ---------------------------------------------------------------------------------- cancellation


async def test_cancel_while_create_is_in_flight_still_closes_the_created_session() -> None:
    async with emulator() as (emu, client):
        emu.state.delay_next("session/create", 0.5)
        with anyio.move_on_after(0.1) as scope:
            async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS):
                pytest.fail("the session must not open: the scope was cancelled during create")
        assert scope.cancelled_caught
        assert len(emu.state.sessions) == 1  # it was created (the request had reached the server)


async def test_cancel_while_waiting_for_the_avatar() -> None:
    async with emulator(avatar_join_delay=30) as (emu, client):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:

                async def cancel_when_created() -> None:
                    await created(emu)
                    scope.cancel()

                tg.start_soon(cancel_when_created)
                async with connect(client, avatar_id=AVATAR_ID, options=SessionOptions(avatar_join_timeout=30)):
                    pytest.fail("the avatar never joins")
        assert scope.cancelled_caught


async def test_cancel_during_a_turn() -> None:
    async with emulator() as (_emu, client):
        with anyio.CancelScope() as scope:
            async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1) as session:
                turn = session.say("a long sentence that the slow avatar is still saying when we cancel")
                assert await turn.wait_reply_started(timeout=5)
                scope.cancel()
                await turn
        assert scope.cancelled_caught
        assert session.closed


async def test_cancel_during_close_still_closes() -> None:
    async with emulator() as (emu, client):
        emu.state.delay_next("session/close", 0.3)
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1) as session:

                    async def cancel_soon() -> None:
                        await anyio.sleep(0.1)  # lands while the (delayed) close request is in flight
                        scope.cancel()

                    tg.start_soon(cancel_soon)
        assert session.closed


# ---------------------------------------------------------------------------------- REST faults


async def test_create_failing_leaves_nothing_open() -> None:
    async with emulator() as (emu, client):
        emu.state.fail_next("session/create", http_status=500, times=1)
        with pytest.raises(APIStatusError):
            async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS):
                pass


async def test_close_failing_transiently_is_retried() -> None:
    async with emulator() as (emu, client):
        emu.state.fail_next("session/close", http_status=503, times=1)
        async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS):
            pass


async def test_slow_create_that_times_out_client_side_leaves_no_session_open() -> None:
    """The client gives up on a slow create with a typed timeout, and nothing stays open.

    Note: the emulator's ``delay_next`` delays a request before reading it, so the request that timed out is never
    processed; the harder case (the server creates the session, then answers too late) cannot be scripted yet.
    """
    async with emulator() as (emu, _client):
        async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url, timeout=0.2) as impatient:
            emu.state.delay_next("session/create", 0.5)
            with pytest.raises(APITimeoutError):
                async with connect(impatient, avatar_id=AVATAR_ID, options=OPTIONS):
                    pass
            await anyio.sleep(0.6)  # nothing to wait on: the server-side delay (0.5 s) must simply have passed
            assert emu.open_session_count() == 0


@pytest.mark.parametrize("stage", ["create", "join", "turn", "close"])
async def test_every_stage_under_repeated_cancellation(stage: str) -> None:
    """Cancel at a spread of moments around ``stage`` (10 runs): never an open session, never an untyped error."""
    async with emulator() as (emu, client):
        for i in range(10):
            if stage == "create":
                emu.state.delay_next("session/create", 0.05)
            if stage == "close":
                emu.state.delay_next("session/close", 0.05)
            with anyio.move_on_after(0.01 * i + (0.3 if stage in ("turn", "close") else 0.0)):
                try:
                    async with connect(client, avatar_id=AVATAR_ID, options=OPTIONS, mode_type=1) as session:
                        if stage in ("turn", "close"):
                            await session.say("words, words, and more words for the avatar to say slowly")
                        await anyio.sleep_forever()
                except StreamClientError as exc:
                    pytest.fail(f"unexpected error {exc!r}")
            await emu.wait_until(lambda: emu.open_session_count() == 0, timeout=5)
