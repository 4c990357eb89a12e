"""The composed emulator: rooms follow sessions, joins are checked, faults and counters work end to end."""

from __future__ import annotations

import anyio
import pytest

from streamclient.api import AgoraCredentials, AsyncAkoolClient
from streamclient.codec.events import ChatMessage
from streamclient.emulator import Emulator, EmulatorConfig, FaultPlan
from streamclient.errors import InvalidArgumentError, JoinError, SendRateLimitedError, TransportTimeoutError
from streamclient.transport.base import (
    ConnectionState,
    ConnectionStateChanged,
    FrameReceived,
    JoinParams,
    PeerJoined,
    PeerLeft,
)
from streamclient.transport.room import RoomTransport

from .emulator_harness import AVATAR_ID, client_peer, fast_config


async def test_base_url_api_key_and_room_url() -> None:
    async with Emulator(fast_config(api_key="local-key")) as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert emu.room_url == emu.base_url.replace("http://", "ws://") + "/room"
        assert emu.api_key == "local-key"
        assert "local-key" not in repr(emu.config)
        assert emu.open_session_count() == 0
    with pytest.raises(RuntimeError):
        _ = emu.base_url


async def test_avatar_joins_after_the_delay_and_session_close_ends_everything() -> None:
    async with Emulator(fast_config(avatar_join_delay=0.3)) as emu:
        start = anyio.current_time()
        async with client_peer(emu) as peer:
            joined_after = anyio.current_time() - start
            assert joined_after >= 0.3
            avatar = peer.room.avatar
            assert avatar is not None
            assert [e for e in peer.transport_events if isinstance(e, PeerJoined)] == [PeerJoined(avatar.uid)]
            assert emu.open_session_count() == 1
            async with AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
                await client.sessions.close(peer.session_id)
            with anyio.fail_after(5):
                await peer.ended.wait()
            assert peer.transport_events[-2:] == [
                PeerLeft(avatar.uid, 0),
                ConnectionStateChanged(ConnectionState.FAILED, 3),
            ]
            assert peer.room.closed
            await emu.wait_until(lambda: avatar.left.is_set())
            assert peer.transport.local_uid is None
        assert emu.open_session_count() == 0
        assert emu.billed_seconds() > 0


async def test_duration_expiry_closes_the_room_with_reason_9() -> None:
    async with Emulator(fast_config()) as emu, client_peer(emu, duration=1) as peer:
        with anyio.fail_after(5):
            await peer.ended.wait()
        assert peer.transport_events[-1] == ConnectionStateChanged(ConnectionState.FAILED, 9)
        assert emu.state.sessions[peer.session_id].close_reason == "expired"
        assert emu.open_session_count() == 0
        assert 0.9 <= emu.billed_seconds() <= 1.0


async def test_join_checks_map_to_agora_reasons() -> None:
    async with Emulator(fast_config()) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        session = await client.sessions.create(AVATAR_ID)
        creds = session.credentials
        assert isinstance(creds, AgoraCredentials)
        assert creds.agora_app_id is not None
        assert creds.agora_token is not None
        good = {
            "app_id": creds.agora_app_id,
            "channel": creds.agora_channel,
            "uid": str(creds.agora_uid),
            "token": creds.agora_token.get_secret_value(),
        }
        cases = [
            ({"token": "wrong"}, 8),
            ({"uid": "1"}, 8),
            ({"channel": "nope"}, 7),
            ({"app_id": "other-app"}, 6),
        ]
        for change, reason in cases:
            with pytest.raises(JoinError) as info:
                await RoomTransport(emu.room_url).join(JoinParams(**{**good, **change}))
            assert info.value.reason == reason, change
            assert good["token"] not in str(info.value)
        await client.sessions.close(session.id)
        with pytest.raises(JoinError) as closed:
            await RoomTransport(emu.room_url).join(JoinParams(**good))
        assert closed.value.reason == 10


async def test_wait_until_times_out_with_a_typed_error() -> None:
    async with Emulator(fast_config()) as emu:
        with pytest.raises(TransportTimeoutError):
            await emu.wait_until(lambda: False, timeout=0.1)


def test_bad_config_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        EmulatorConfig(speech_chars_per_second=0)
    with pytest.raises(InvalidArgumentError):
        EmulatorConfig(default_mode=3)


async def test_room_limits_come_from_the_config() -> None:
    async with Emulator(fast_config(room_messages_per_second=3)) as emu, client_peer(emu, mode_type=1) as peer:
        for _ in range(3):
            await peer.transport.send(b'{"v":2}')
        with pytest.raises(SendRateLimitedError) as info:
            await peer.transport.send(b'{"v":2}')
        assert info.value.code == -12
        assert peer.room.rejected[-12] == 1


async def _delivered_texts(seed: int, plan: FaultPlan) -> list[tuple[str, int]]:
    """Send the same chats through a faulty avatar->client direction; return the frames the client saw."""
    config = fast_config(seed=seed, faults_to_client=plan, reply_chunk_chars=8)
    async with Emulator(config) as emu, client_peer(emu, mode_type=1) as peer:
        avatar = peer.room.avatar
        assert avatar is not None
        await peer.say("alpha beta gamma delta")
        await peer.wait_for(lambda: len(avatar.replies) == 1)
        await peer.say("epsilon zeta eta theta")
        await peer.wait_for(lambda: len(avatar.replies) == 2)
        await peer.wait_for(lambda: not avatar.speaking and not peer.room.faults_pending)
        count = peer.room.frames_to_client
        await peer.wait_for(lambda: sum(isinstance(e, FrameReceived) for e in peer.transport_events) == count)
        frames = [e.data for e in peer.transport_events if isinstance(e, FrameReceived)]
        return [(f.decode("utf-8", "replace"), len(f)) for f in frames]


async def test_faults_are_reproducible_by_seed_end_to_end() -> None:
    plan = FaultPlan(drop=0.2, duplicate=0.2, corrupt=0.1, reorder=0.1)
    first = await _delivered_texts(11, plan)
    second = await _delivered_texts(11, plan)
    other = await _delivered_texts(12, plan)

    def strip_mids(frames: list[tuple[str, int]]) -> list[int]:
        return [n for _, n in frames]  # mids are random per run; sizes and order are not

    assert strip_mids(first) == strip_mids(second)
    assert strip_mids(first) != strip_mids(other)


async def test_disconnect_fault_fails_the_client_transport() -> None:
    config = fast_config(faults_to_client=FaultPlan(disconnect_after=2))
    async with Emulator(config) as emu, client_peer(emu, mode_type=1) as peer:
        await peer.say("a reply long enough for several frames to be sent")
        with anyio.fail_after(5):
            await peer.ended.wait()
        assert peer.transport_events[-1] == ConnectionStateChanged(ConnectionState.FAILED, 14)
        assert emu.open_session_count() == 1  # the session lives on; only the connection dropped
        assert not any(isinstance(e, ChatMessage) for e in peer.events)


async def test_set_faults_at_runtime_drops_client_frames() -> None:
    async with Emulator(fast_config()) as emu, client_peer(emu, mode_type=1) as peer:
        peer.room.set_faults(to_avatar=FaultPlan(drop=1.0))
        await peer.say("lost")
        await peer.wait_for(lambda: peer.room.dropped == 1)
        peer.room.set_faults(to_avatar=FaultPlan())
        await peer.say("kept")
        await peer.wait_for(lambda: len(peer.messages()) == 1)
        assert peer.messages()[0].text == "kept"
        assert peer.room.avatar is not None
        assert peer.room.avatar.received_texts == ["kept"]


def test_package_exports_resolve_lazily() -> None:
    import streamclient.emulator as package

    for name in package.__all__:
        assert getattr(package, name) is not None
    assert list(package.__all__) == sorted(package.__all__, key=lambda n: (not n[0].isupper(), n))
    with pytest.raises(AttributeError):
        _ = package.NoSuchThing
