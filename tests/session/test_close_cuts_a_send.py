"""A send cut by our own close (we left the channel while the writer was sending) is not logged as an error."""

from __future__ import annotations

import logging

import anyio
import pytest

from streamclient.errors import StreamClientError, TransportClosedError
from streamclient.session import SessionOptions, connect
from streamclient.transport.loopback import LoopbackTransport
from tests.session.harness import FakeClient, ScriptedAvatar

FAST = SessionOptions(avatar_join_timeout=5, reply_timeout=10, command_timeout=5, close_timeout=5)


class SendUntilLeft(LoopbackTransport):
    """Once ``hold`` is set, a send waits (uncancellable) until the transport leaves, then fails."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.hold = False
        self.sending = anyio.Event()
        self.left = anyio.Event()

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:
        if not self.hold:
            return await super().send(data, timeout=timeout)
        self.sending.set()
        with anyio.CancelScope(shield=True):  # like a send handed to an SDK thread: the writer's stop cannot cut it
            await self.left.wait()
        raise TransportClosedError("the transport is not joined (or has left)")

    async def leave(self, *, timeout: float = 5.0) -> None:
        self.left.set()
        await super().leave(timeout=timeout)


async def test_a_send_cut_by_the_close_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    ours, theirs = SendUntilLeft.pair()
    assert isinstance(ours, SendUntilLeft)
    avatar = ScriptedAvatar(theirs)
    caplog.set_level(logging.DEBUG, logger="streamclient")
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(FakeClient().typed(), avatar_id="a1", transport=ours, options=FAST, mode_type=1) as session:
            ours.hold = True
            turn = session.say("cut short")
            with anyio.fail_after(10):
                await ours.sending.wait()
        tg.cancel_scope.cancel()
    with pytest.raises(StreamClientError):
        await turn
    assert session.close_reason == "closed"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert "ended by the close" in caplog.text
