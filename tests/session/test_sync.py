"""The synchronous facade runs the same session on a background loop."""

from __future__ import annotations

import pytest

from streamclient.emulator.handles import EmulatorHandle
from streamclient.errors import LocalProtocolError
from streamclient.session import BotMessage
from streamclient.session.sync import connect_sync


def test_sync_session_says_and_closes(akool_emulator: EmulatorHandle) -> None:
    with connect_sync(
        akool_emulator.api_key, base_url=akool_emulator.base_url, avatar_id="dvp_Tristan_cloth2_1080P", mode_type=1
    ) as session:
        events = session.events()
        assert session.say("Hello from a script.").reply == "Hello from a script."
        assert session.set_params(language="es").ok
        with pytest.raises(LocalProtocolError):
            session.say("")
        first_message = next(e for e in events if isinstance(e, BotMessage))
        assert session.session_id is not None
    assert first_message.text == "Hello from a script."
    akool_emulator.wait_until(lambda: akool_emulator.open_session_count() == 0)


def test_an_exception_closes_the_sync_session(akool_emulator: EmulatorHandle) -> None:
    with (
        pytest.raises(RuntimeError),
        connect_sync(akool_emulator.api_key, base_url=akool_emulator.base_url, avatar_id="dvp_Tristan_cloth2_1080P"),
    ):
        raise RuntimeError("script failed")
    akool_emulator.wait_until(lambda: akool_emulator.open_session_count() == 0)
