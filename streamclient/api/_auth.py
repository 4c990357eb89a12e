"""Credentials: an API key (``x-api-key``) or a client id/secret exchanged for a bearer token (§1.1, §1.2).

Resolution order: arguments, then the environment (``AKOOL_API_KEY``, ``AKOOL_CLIENT_ID``, ``AKOOL_CLIENT_SECRET``).
An API key wins over a client id/secret (the service would prefer ``Authorization`` if both were sent, so only one
is ever sent). Secrets are held as ``SecretStr`` and never appear in ``repr``, logs or errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import anyio
from pydantic import SecretStr

from streamclient.errors import ConfigurationError

__all__ = ("ApiKeyAuth", "TokenAuth", "clean_credential", "credential", "resolve_auth")

#: Path of the legacy token exchange (§1.2); the only call sent without credentials.
TOKEN_PATH = "/api/open/v3/getToken"


@dataclass(frozen=True)
class ApiKeyAuth:
    """Send the API key as ``x-api-key`` (the recommended scheme)."""

    api_key: SecretStr = field(repr=False)

    def headers(self) -> dict[str, str]:
        """Return the request headers carrying the key."""
        return {"x-api-key": self.api_key.get_secret_value()}


@dataclass
class TokenAuth:
    """Exchange ``client_id``/``client_secret`` for a bearer token; cache it; forget it on 1101.

    Attributes:
        client_id: the client id (not secret, but kept out of logs anyway).
        client_secret: the client secret.
        token: the cached bearer token, or ``None`` before the first exchange.
        lock: serialises token exchanges so concurrent calls share one.
    """

    client_id: str = field(repr=False)
    client_secret: SecretStr = field(repr=False)
    token: SecretStr | None = field(default=None, repr=False)
    lock: anyio.Lock = field(default_factory=anyio.Lock, repr=False)

    def token_body(self) -> dict[str, str]:
        """Return the JSON body of ``getToken``."""
        return {"clientId": self.client_id, "clientSecret": self.client_secret.get_secret_value()}

    def invalidate(self, token: SecretStr | None) -> None:
        """Forget ``token`` if it is still the cached one (another task may have refreshed it already)."""
        if token is not None and self.token is not None and self.token.get_secret_value() == token.get_secret_value():
            self.token = None


Auth = ApiKeyAuth | TokenAuth


def credential(value: str | None, argument: str, variable: str) -> str | None:
    """The credential from the argument, else from the environment variable ``variable``, stripped.

    See :func:`clean_credential`; its messages name ``the <argument> argument`` or ``variable``, never the value.
    """
    if value is not None:
        return clean_credential(value, f"the {argument} argument")
    from_env = os.environ.get(variable)
    return None if from_env is None else clean_credential(from_env, variable)


def clean_credential(value: str, source: str) -> str:
    """``value`` without surrounding whitespace (a copy-paste often adds a newline or a space).

    Args:
        value: the credential.
        source: where it came from, for the message (``AKOOL_API_KEY``, ``the api_key argument``).

    Raises:
        ConfigurationError: an inner space or control character, or a non-ASCII character (HTTP headers cannot
            carry them); the message names ``source`` and never shows the value.
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"{source} must be a string, got {type(value).__name__}")
    stripped = value.strip()
    for index, char in enumerate(stripped):
        if not ("!" <= char <= "~"):
            kind = "a space" if char == " " else "a control character" if char.isascii() else "a non-ASCII character"
            raise ConfigurationError(
                f"{source} contains {kind} at position {index + 1} of {len(stripped)}; "
                "check that it was copied whole and alone (its value is not shown)"
            )
    return stripped


def resolve_auth(api_key: str | None, client_id: str | None, client_secret: str | None) -> Auth:
    """Pick the credentials from arguments, then the environment.

    Surrounding whitespace is stripped from each (a pasted key often ends with a newline).

    Args:
        api_key: the API key, or ``None`` to read ``AKOOL_API_KEY``.
        client_id: the client id, or ``None`` to read ``AKOOL_CLIENT_ID``.
        client_secret: the client secret, or ``None`` to read ``AKOOL_CLIENT_SECRET``.

    Returns:
        The auth scheme to use.

    Raises:
        ConfigurationError: no credentials, only half of a client id/secret pair, or a credential with an inner
            space, control or non-ASCII character (the message names the variable or argument, not the value).
    """
    if client_id is None and client_secret is None:
        key = credential(api_key, "api_key", "AKOOL_API_KEY")
        if key:
            return ApiKeyAuth(SecretStr(key))
    elif api_key:
        return ApiKeyAuth(SecretStr(clean_credential(api_key, "the api_key argument")))
    cid = credential(client_id, "client_id", "AKOOL_CLIENT_ID")
    secret = credential(client_secret, "client_secret", "AKOOL_CLIENT_SECRET")
    if cid and secret:
        return TokenAuth(cid, SecretStr(secret))
    if cid or secret:
        raise ConfigurationError(
            "both a client id and a client secret are needed (AKOOL_CLIENT_ID, AKOOL_CLIENT_SECRET)"
        )
    raise ConfigurationError(
        "no AKOOL credentials: pass api_key= (or client_id= and client_secret=), "
        "or set AKOOL_API_KEY (or AKOOL_CLIENT_ID and AKOOL_CLIENT_SECRET)"
    )
