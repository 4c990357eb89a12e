"""Live: a real AKOOL session over the real Agora SDK (skipped without ``AKOOL_API_KEY`` and a provisioned SDK).

Environment: ``AKOOL_API_KEY`` (required), ``AKOOL_AVATAR_ID`` (default ``dvp_Tristan_cloth2_1080P``),
``AGORA_APP_ID`` (only if the session's credentials carry no app id). Creates a session (billed), joins its channel,
waits for the avatar, sends one chat message and waits for a bot chat frame; the session is closed in ``finally``.
"""

from __future__ import annotations

import os

import anyio
import pytest

from streamclient.errors import TransportUnavailableError
from streamclient.transport import AgoraTransport, FrameReceived, JoinParams, PeerJoined
from streamclient.transport._agora_sdk import load_agora


def _require_live() -> None:
    if not os.environ.get("AKOOL_API_KEY"):
        pytest.skip("AKOOL_API_KEY is not set")
    try:
        load_agora()
    except TransportUnavailableError as exc:
        pytest.skip(f"the Agora SDK is not usable here: {exc.message}")


@pytest.mark.live
@pytest.mark.timeout(300)
async def test_live_chat_round_trip() -> None:
    _require_live()
    from streamclient.api import AsyncAkoolClient
    from streamclient.api.models import AgoraCredentials
    from streamclient.codec import ChatFrame, decode_frame, encode_frame, split_text

    avatar_id = os.environ.get("AKOOL_AVATAR_ID", "dvp_Tristan_cloth2_1080P")
    async with AsyncAkoolClient() as client:
        session = await client.sessions.create(avatar_id, duration=120, stream_type="agora")
        try:
            credentials = session.credentials
            assert isinstance(credentials, AgoraCredentials), "the session carries no Agora credentials"
            assert credentials.agora_token is not None, "the create answer carries no agora_token"
            app_id = credentials.agora_app_id or os.environ.get("AGORA_APP_ID", "")
            if not app_id:
                pytest.fail("the session has no agora_app_id; set AGORA_APP_ID")
            transport = AgoraTransport()
            params = JoinParams(
                app_id=app_id,
                channel=credentials.agora_channel,
                uid=str(credentials.agora_uid),
                token=credentials.agora_token.get_secret_value(),
            )
            await transport.join(params, timeout=30)
            try:
                events = transport.events()
                with anyio.fail_after(120):
                    async for event in events:
                        if isinstance(event, PeerJoined):
                            break
                for frame in split_text("Hello! Please answer with one short sentence.", mid="live-test-1"):
                    await transport.send(encode_frame(frame))
                with anyio.fail_after(120):
                    async for event in events:
                        if isinstance(event, FrameReceived):
                            decoded = decode_frame(event.data)
                            if isinstance(decoded, ChatFrame) and decoded.source == "bot":
                                break
            finally:
                await transport.leave()
        finally:
            await client.sessions.close(session.id)
