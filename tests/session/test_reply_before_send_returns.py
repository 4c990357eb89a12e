"""A reply that starts before the transport call of its message's last frame returns still belongs to its turn.

Over the emulator's room (same process) the avatar can answer while our writer is still inside ``send``; a streamed
answer makes this common (its pieces are sent while the avatar speaks the previous ones).
"""

from __future__ import annotations

import anyio

from streamclient.session import connect
from streamclient.transport.loopback import LoopbackTransport
from tests.session.harness import FakeClient, ScriptedAvatar
from tests.session.test_session_loopback import FAST


class SlowReturn(LoopbackTransport):
    """Delivers at once, but returns from ``send`` only after every other task (the avatar, our reader) ran."""

    slow = False

    async def send(self, data: bytes, *, timeout: float = 5.0) -> None:
        await super().send(data, timeout=timeout)
        if self.slow:
            await anyio.wait_all_tasks_blocked()


async def test_the_reply_that_overtakes_the_send_call_is_attributed_to_its_turn() -> None:
    client = FakeClient()
    ours, theirs = SlowReturn.pair()
    assert isinstance(ours, SlowReturn)
    ours.slow = True
    avatar = ScriptedAvatar(theirs)
    async with anyio.create_task_group() as tg:
        await tg.start(avatar.run)
        async with connect(client.typed(), avatar_id="a1", transport=ours, options=FAST, mode_type=1) as session:
            first = await session.say("First message.")
            second = await session.say("Second message.")
        tg.cancel_scope.cancel()
    assert (first.reply, second.reply) == ("First message.", "Second message.")
    assert first.timings.sent is not None
    assert first.timings.first_chunk is not None
    assert first.timings.sent <= first.timings.first_chunk
