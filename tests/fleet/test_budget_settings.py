"""The budget settings added for fleets, on the default SQLite ledger (no database server needed)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.api._guard import Budget
from streamclient.errors import BudgetExceededError, ConfigurationError, LedgerUnavailableError

AVATAR = "dvp_Tristan_cloth2_1080P"


def answering() -> tuple[list[httpx.Request], httpx.MockTransport]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("/create"):
            body = {"_id": f"s{len(sent)}", "status": 1, "stream_type": "agora"}
            return httpx.Response(200, json={"code": 1000, "msg": "OK", "data": body})
        return httpx.Response(200, json={"code": 1000, "msg": "OK"})

    return sent, httpx.MockTransport(handler)


def client(transport: httpx.MockTransport, **kwargs: object) -> AsyncAkoolClient:
    return AsyncAkoolClient(api_key="k", base_url="https://akool.test", transport=transport, **kwargs)  # type: ignore[arg-type]


def test_budget_settings_come_from_arguments_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMCLIENT_MAX_BILLED_SECONDS", "7200")
    monkeypatch.setenv("STREAMCLIENT_BILLED_WINDOW", "3600")
    monkeypatch.setenv("STREAMCLIENT_LEDGER_UNAVAILABLE", "allow")
    budget = Budget.resolve(None, None)
    assert (budget.max_billed_seconds, budget.billed_window, budget.ledger_unavailable) == (7200, 3600.0, "allow")
    assert Budget.resolve(None, None, 10, 60, "refuse").ledger_unavailable == "refuse"
    monkeypatch.setenv("STREAMCLIENT_LEDGER_UNAVAILABLE", "maybe")
    with pytest.raises(ConfigurationError, match="refuse' or 'allow"):
        Budget.resolve(None, None)
    with pytest.raises(ConfigurationError, match="max_billed_seconds"):
        Budget.resolve(None, None, 0, None, "allow")


async def test_billed_seconds_on_sqlite_count_closed_sessions_whole() -> None:
    sent, transport = answering()
    async with client(transport, max_billed_seconds=700) as c:
        first = await c.sessions.create(AVATAR, duration=300)
        await c.sessions.close(first.id)
        await c.sessions.create(AVATAR, duration=300)
        with pytest.raises(BudgetExceededError) as refused:
            await c.sessions.create(AVATAR, duration=300)
        assert refused.value.limit == "max_billed_seconds"
        assert refused.value.requested == 900
    assert sum(r.url.path.endswith("/create") for r in sent) == 2  # the third was refused before the network


async def test_an_unusable_sqlite_ledger_follows_the_policy(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = blocker / "ledger.sqlite3"
    sent, transport = answering()
    async with client(transport, ledger=path, max_open_sessions=3) as c:
        with pytest.raises(LedgerUnavailableError, match="nothing was sent"):
            await c.sessions.create(AVATAR)
    async with client(transport, ledger=path, max_open_sessions=3, ledger_unavailable="allow") as c:
        await c.sessions.create(AVATAR)
    async with client(transport, ledger=path, ledger_unavailable="refuse") as c:
        with pytest.raises(LedgerUnavailableError):
            await c.sessions.create(AVATAR)
    assert sum(r.url.path.endswith("/create") for r in sent) == 1
