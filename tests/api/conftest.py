"""Fixtures for the API client tests: a fake clock, a recording sleep, mock transports and the loopback emulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from streamclient.api import AsyncAkoolClient, RetryPolicy
from streamclient.emulator._serve import serve
from streamclient.emulator.rest import rest_routes
from streamclient.emulator.state import EmulatorState

API_KEY = "sk-test-SECRET-api-key-0123456789"
BASE = "https://akool.test"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RecordingSleep:
    clock: FakeClock
    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)


@dataclass
class Recorder:
    """A MockTransport handler that records requests and answers from a script (last answer repeats)."""

    answers: list[httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def envelope(data: Any = None, *, code: int = 1000, msg: str = "OK", status: int = 200, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "msg": msg, **extra}
    if code == 1000 and data is not None:
        body["data"] = data
    return httpx.Response(status, json=body)


SESSION: dict[str, Any] = {
    "_id": "6698c9d69cf7b0d61d1b6420",
    "uid": 7,
    "type": 2,
    "status": 1,
    "stream_type": "agora",
    "credentials": {
        "agora_uid": 100000,
        "agora_app_id": "app",
        "agora_channel": "chan",
        "agora_token": "AGORA-TOKEN-SECRET",
    },
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps(clock: FakeClock) -> RecordingSleep:
    return RecordingSleep(clock)


@pytest.fixture
def policy(clock: FakeClock, sleeps: RecordingSleep) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, clock=clock, jitter=lambda: 1.0)


MakeClient = Callable[..., AsyncAkoolClient]


@pytest.fixture
def make_client(policy: RetryPolicy) -> MakeClient:
    def make(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> AsyncAkoolClient:
        kwargs.setdefault("retry", policy)
        if "client_id" not in kwargs:
            kwargs.setdefault("api_key", API_KEY)
        return AsyncAkoolClient(base_url=BASE, transport=httpx.MockTransport(handler), **kwargs)

    return make


@dataclass
class Emulator:
    state: EmulatorState
    url: str

    def client(self, **kwargs: Any) -> AsyncAkoolClient:
        if "client_id" not in kwargs:
            kwargs.setdefault("api_key", self.state.api_key)
        return AsyncAkoolClient(base_url=self.url, **kwargs)


@pytest.fixture
async def emulator(clock: FakeClock) -> AsyncIterator[Emulator]:
    state = EmulatorState(clock=clock)
    async with serve(Starlette(routes=rest_routes(state))) as url:
        yield Emulator(state, url)
