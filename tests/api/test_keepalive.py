"""The HTTP client gives up an idle connection well before a server would close it.

A server closes a keep-alive connection after its own idle timeout (5 s for uvicorn, Node.js and Apache), counted
from when it sent the response; the client counts from when it read it, later when its event loop is busy. A client
that reuses a connection near the server's limit sends its request into a socket the server is closing: the request
may have arrived (a create may have billed) and the answer is a reset (``APIConnectionError ... ReadError``), which
is never retried for a create. Seen against the emulator with 1000 concurrent opens (benchmarks/RESULTS.md, 13).
"""

from __future__ import annotations

import time
import types
from typing import Any

import httpcore._async.http11 as http11
import pytest

from tests.api.conftest import Emulator


class _ShiftedTime(types.SimpleNamespace):
    """``time`` for httpcore's keep-alive bookkeeping, ``offset`` seconds ahead."""

    offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


def _pool(client: Any) -> Any:
    return client._core._client._transport._pool


async def test_a_connection_idle_for_3_s_is_not_reused(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    shifted = _ShiftedTime()
    monkeypatch.setattr(http11, "time", shifted)
    async with emulator.client() as client:
        await client.sessions.list(size=1)
        (first,) = _pool(client).connections
        shifted.offset = 3.0  # idle 3 s by the client's clock: within 2 s of a 5-second server timeout
        await client.sessions.list(size=1)
        assert first not in _pool(client).connections


async def test_a_connection_is_reused_at_once(emulator: Emulator) -> None:
    async with emulator.client() as client:
        await client.sessions.list(size=1)
        (first,) = _pool(client).connections
        await client.sessions.list(size=1)
        assert _pool(client).connections == [first]
