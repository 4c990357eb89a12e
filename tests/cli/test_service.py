"""How the command line names the service it talks to, and the credentials it misses."""

from __future__ import annotations

import pytest

from streamclient.cli._service import describe_service, require_credentials
from streamclient.errors import ConfigurationError

CREDENTIALS = ("AKOOL_API_KEY", "AKOOL_CLIENT_ID", "AKOOL_CLIENT_SECRET", "AKOOL_BASE_URL")


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)


def test_the_public_service_and_any_other() -> None:
    assert describe_service(None) == "the AKOOL service (https://openapi.akool.com)"
    assert describe_service("https://openapi.akool.com/") == "the AKOOL service (https://openapi.akool.com)"
    assert describe_service("http://127.0.0.1:8000") == "the service at http://127.0.0.1:8000"


def test_the_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKOOL_BASE_URL", "http://127.0.0.1:8000")
    assert describe_service(None) == "the service at http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "set AKOOL_API_KEY (or AKOOL_CLIENT_ID and AKOOL_CLIENT_SECRET)"),
        ({"AKOOL_API_KEY": "  "}, "set AKOOL_API_KEY"),
        ({"AKOOL_CLIENT_ID": "id"}, "AKOOL_CLIENT_SECRET is not set"),
        ({"AKOOL_CLIENT_SECRET": "s"}, "AKOOL_CLIENT_ID is not set"),
    ],
)
def test_missing_credentials(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        require_credentials()


@pytest.mark.parametrize("env", [{"AKOOL_API_KEY": "k"}, {"AKOOL_CLIENT_ID": "i", "AKOOL_CLIENT_SECRET": "s"}])
def test_credentials_present(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    require_credentials()
