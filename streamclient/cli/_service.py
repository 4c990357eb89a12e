"""Which service a command talks to, and the credentials it needs, in words for the command line."""

from __future__ import annotations

import os

from streamclient.api import DEFAULT_BASE_URL
from streamclient.errors import ConfigurationError

__all__ = ("describe_service", "require_credentials")


def require_credentials(base_url: str | None = None) -> None:
    """Check that the environment holds AKOOL credentials for ``base_url`` (default: ``AKOOL_BASE_URL``'s service).

    Raises:
        ConfigurationError: none are set, or half of the client id/secret pair (the message names the variables).
    """
    if os.environ.get("AKOOL_API_KEY", "").strip():
        return
    client_id = os.environ.get("AKOOL_CLIENT_ID", "").strip()
    secret = os.environ.get("AKOOL_CLIENT_SECRET", "").strip()
    if client_id and secret:
        return
    if client_id or secret:
        missing = "AKOOL_CLIENT_SECRET" if client_id else "AKOOL_CLIENT_ID"
        raise ConfigurationError(f"{missing} is not set: AKOOL_CLIENT_ID and AKOOL_CLIENT_SECRET go together")
    raise ConfigurationError(
        f"no AKOOL credentials for {describe_service(base_url)}: set AKOOL_API_KEY (or AKOOL_CLIENT_ID and "
        "AKOOL_CLIENT_SECRET) in the environment"
    )


def describe_service(base_url: str | None) -> str:
    """``the AKOOL service (https://openapi.akool.com)``, or ``the service at <url>`` for any other base URL."""
    url = (base_url or os.environ.get("AKOOL_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if url == DEFAULT_BASE_URL.rstrip("/"):
        return f"the AKOOL service ({url})"
    return f"the service at {url}"
