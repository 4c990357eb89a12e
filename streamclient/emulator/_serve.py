"""Serve an ASGI app with uvicorn inside the current event loop, on a pre-bound loopback socket.

``async with serve(app) as base_url:`` binds ``127.0.0.1:0`` (any free port), runs ``uvicorn.Server.serve`` as a
task of the current loop (no loop or signal set-up of its own, lifespan off), waits until it accepts connections,
yields ``http://127.0.0.1:PORT``, and on exit asks it to stop, forcing it after ``SHUTDOWN_TIMEOUT`` seconds.

``TCP_NODELAY``: asyncio turns Nagle's algorithm off on every TCP transport, but only for sockets whose ``proto`` is
``IPPROTO_TCP``; a socket made with ``socket.socket(family, SOCK_STREAM)`` has proto 0, and so do the connections it
accepts, so uvicorn (which sets nothing itself) served them with Nagle on: a second small message sent before the
peer's delayed ACK waited ~40 ms (an ``interrupt`` took 42 ms through the emulator although the room acked in
0.2 ms). The listening socket is therefore made with ``IPPROTO_TCP`` and ``TCP_NODELAY`` set (Linux copies it to
accepted sockets), and every accepted connection gets it again when it is made (:func:`_nodelay_protocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import uvicorn
from uvicorn.config import WS_PROTOCOLS

__all__ = ("SHUTDOWN_TIMEOUT", "STARTUP_TIMEOUT", "serve")

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0
#: Open connections (websockets) get this long to finish before uvicorn cancels them.
GRACEFUL_SECONDS = 1


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host (the test runner, the CLI)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install no signal handlers."""
        yield


def _nodelay_protocol(protocol_class: Any) -> Any:
    """A subclass of uvicorn's HTTP protocol that sets ``TCP_NODELAY`` on each connection it is made for."""

    class NoDelay(protocol_class):  # type: ignore[misc]  # uvicorn's classes are chosen at run time
        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)

    NoDelay.__name__ = NoDelay.__qualname__ = f"NoDelay{protocol_class.__name__}"
    return NoDelay


def _ws_implementation() -> Any:
    # The sans-I/O implementation avoids the deprecation warnings of the legacy websockets API.
    return "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"


@contextlib.asynccontextmanager
async def serve(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` on ``host:port`` for the duration of the ``async with`` block.

    Args:
        app: an ASGI application (e.g. ``Starlette(routes=rest_routes(state))``).
        host: the address to bind (loopback by default).
        port: the port (0 picks a free one).

    Yields:
        The base URL, ``http://HOST:PORT``.

    Raises:
        OSError: the address could not be bound, or the server stopped during start-up.
        TimeoutError: the server did not start within ``STARTUP_TIMEOUT`` seconds.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        ws=_ws_implementation(),
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    config.load()
    config.http_protocol_class = _nodelay_protocol(config.http_protocol_class)
    server = _Server(config)
    # A plain asyncio task, not a task group: the ``async with`` may be entered and exited in different tasks
    # (pytest-asyncio runs async-generator fixtures that way), which an anyio cancel scope does not allow.
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), name=f"uvicorn:{bound_port}")
    try:
        with anyio.fail_after(STARTUP_TIMEOUT):
            while not server.started:
                if task.done():
                    raise OSError(f"the server on {host}:{bound_port} stopped during start-up")
                await anyio.sleep(0.005)
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{bound_port}"
    finally:
        server.should_exit = True
        with anyio.move_on_after(SHUTDOWN_TIMEOUT, shield=True):
            await asyncio.wait({task})
        if not task.done():
            logger.warning("server on %s:%d did not stop in %.1fs; forcing it", host, bound_port, SHUTDOWN_TIMEOUT)
            server.force_exit = True
            task.cancel()
            with anyio.move_on_after(1.0, shield=True):
                await asyncio.wait({task})
        if task.done() and not task.cancelled() and task.exception() is not None:
            logger.warning("server on %s:%d failed: %r", host, bound_port, task.exception())
        sock.close()
