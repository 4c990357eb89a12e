"""Every TCP socket the emulator and the room transport use has Nagle's algorithm off (``TCP_NODELAY``).

With Nagle on, a second small message sent before the peer's delayed ACK waits ~40 ms: an ``interrupt`` took 42 ms
through the emulator although the room acked it in 0.2 ms. The sockets are found as the live asyncio transports
of this process and read back with ``getsockopt``.
"""

from __future__ import annotations

import asyncio
import gc
import socket

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig
from streamclient.session import SessionOptions, connect


def _tcp_sockets() -> list[tuple[str, socket.socket]]:
    """(protocol module, socket) of every open TCP asyncio transport in this process."""
    found: list[tuple[str, socket.socket]] = []
    for obj in gc.get_objects():
        if issubclass(type(obj), asyncio.Transport) and not obj.is_closing():  # type(): weak proxies stay shut
            sock = obj.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6) and sock.fileno() >= 0:
                found.append((type(obj.get_protocol()).__module__, sock))
    return found


async def test_every_socket_of_the_emulator_and_the_room_transport_has_tcp_nodelay() -> None:
    options = SessionOptions(avatar_join_timeout=5, close_timeout=5)
    async with (
        Emulator(EmulatorConfig(avatar_join_delay=0.05)) as emu,
        AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client,
        connect(client, avatar_id="dvp_Tristan_cloth2_1080P", mode_type=1, options=options) as session,
    ):
        await session.set_params(language="en")  # a round trip over the room's websocket
        sockets = _tcp_sockets()
        modules = {module for module, _ in sockets}
        server_side = [s for m, s in sockets if m.startswith(("uvicorn", "streamclient.emulator"))]
        assert len(server_side) >= 2, modules  # the REST connection and the room's websocket, at the server
        assert "streamclient.transport.room" in modules, modules  # the room transport's end (its websockets connection)
        off = [(m, s.getsockname()) for m, s in sockets if not s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)]
        assert off == []
