"""``AgoraRoom``: an Agora channel the caller owns, shared by the avatar, our bot and any viewers.

AKOOL's bring-your-own credentials (akool-api-and-protocol.md §1.6, OAS ``Credentials``): the caller owns the Agora
project (app id + certificate), picks the channel and the uids, and mints the tokens. The avatar joins the caller's
channel with the uid and token given at create; our bot joins with its own uid and token; a browser viewer joins
with a third. Use it with :func:`streamclient.session.connect`::

    room = AgoraRoom(channel="support-42")            # app id + certificate from AGORA_APP_ID / AGORA_APP_CERTIFICATE
    async with connect(client, avatar_id=..., room=room) as session:
        viewer = room.viewer_token(uid=3001)          # hand viewer.as_dict() to the browser
        ...

The certificate is a secret: it is held as ``SecretStr`` and never appears in ``repr``, logs or errors; so are the
tokens minted with it. Nothing here does I/O.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from streamclient.api._auth import credential
from streamclient.errors import ConfigurationError, InvalidArgumentError
from streamclient.tokens.agora import RtcRole, build_rtc_token
from streamclient.transport.base import JoinParams

__all__ = ("AgoraRoom", "ViewerToken")

#: Agora caps a privilege at 24 hours.
MAX_TOKEN_SECONDS = 24 * 3600
#: The avatar cannot renew its token (AKOOL has no renewal endpoint): it gets the session's duration plus this.
AVATAR_TOKEN_MARGIN = 300
#: The session length AKOOL's emulator assumes when ``duration`` is not given.
DEFAULT_DURATION = 600


@dataclass(frozen=True, slots=True, kw_only=True)
class ViewerToken:
    """What a browser needs to join the channel (Agora Web SDK ``client.join(appId, channel, token, uid)``)."""

    app_id: str
    channel: str
    uid: int | str
    token: str = field(repr=False)
    expires_at: int

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready camelCase keys for a web client (``appId``, ``channel``, ``token``, ``uid``)."""
        return {
            "appId": self.app_id,
            "channel": self.channel,
            "token": self.token,
            "uid": self.uid,
            "expiresAt": self.expires_at,
        }


def _random_uid(*avoid: int) -> int:
    while True:
        uid = 10_000 + secrets.randbelow(2**31 - 10_000)
        if uid not in avoid:
            return uid


class AgoraRoom:
    """An Agora channel the caller owns. See the module docstring.

    Args:
        channel: the channel name (at most 64 bytes).
        app_id: the Agora project's app id (default: ``AGORA_APP_ID``).
        app_certificate: the project's primary certificate (default: ``AGORA_APP_CERTIFICATE``); a secret.
        avatar_uid: the avatar's uid (default: a random one).
        bot_uid: our uid (default: a random one, different from the avatar's).
        token_ttl: how long our token lives, in seconds; the session renews it before it lapses.
        room_url: the emulator's room relay (``ws://.../room``); ``None`` joins real Agora channels.
        clock: epoch seconds (tests pass the emulator's fake wall clock).

    Raises:
        ConfigurationError: no app id or certificate (neither given nor in the environment).
        InvalidArgumentError: a value is out of range.
    """

    def __init__(
        self,
        *,
        channel: str,
        app_id: str | None = None,
        app_certificate: str | SecretStr | None = None,
        avatar_uid: int | None = None,
        bot_uid: int | None = None,
        token_ttl: int = 3600,
        room_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Like the API key: stripped of a pasted newline, an inner space or control character refused by name.
        app_id = credential(app_id, "app_id", "AGORA_APP_ID")
        if isinstance(app_certificate, SecretStr):
            app_certificate = app_certificate.get_secret_value()
        cert = credential(app_certificate, "app_certificate", "AGORA_APP_CERTIFICATE")
        if not app_id or not cert:
            raise ConfigurationError(
                "an AgoraRoom needs the project's app id and certificate: pass app_id= and app_certificate=, or set "
                "AGORA_APP_ID and AGORA_APP_CERTIFICATE"
            )
        self._cert = SecretStr(cert)
        if not 60 <= token_ttl <= MAX_TOKEN_SECONDS:
            raise InvalidArgumentError(f"token_ttl must be 60..{MAX_TOKEN_SECONDS} seconds")
        self.app_id = app_id
        self.channel = channel
        self.avatar_uid = avatar_uid if avatar_uid is not None else _random_uid()
        self.bot_uid = bot_uid if bot_uid is not None else _random_uid(self.avatar_uid)
        if self.avatar_uid == self.bot_uid:
            raise InvalidArgumentError("the avatar and the bot need different uids")
        self.token_ttl = token_ttl
        self.room_url = room_url
        self._clock = clock
        # Mint once now: a bad app id, certificate, channel or uid fails here, before any session is created.
        self._mint(self.bot_uid, expire=60)

    def __repr__(self) -> str:
        return (
            f"AgoraRoom(channel={self.channel!r}, app_id={self.app_id!r}, avatar_uid={self.avatar_uid}, "
            f"bot_uid={self.bot_uid})"
        )

    def mint_token(self, uid: int | str, *, role: RtcRole = RtcRole.PUBLISHER, expire: int | None = None) -> str:
        """A "007" RTC token for another participant ``uid``, valid ``expire`` seconds (default ``token_ttl``).

        The avatar's and the bot's tokens are minted by the room itself (:meth:`avatar_credentials`,
        :meth:`join_params`), so neither uid is accepted here, nor uid 0 (``0`` or ``"0"``), which Agora reads as
        "any uid": a token for it would let its holder join as the avatar or the bot.

        Raises:
            InvalidArgumentError: ``uid`` is 0, the avatar's or the bot's, or a value is out of range.
        """
        self._check_guest_uid(uid)
        return self._mint(uid, role=role, expire=expire)

    def _check_guest_uid(self, uid: int | str) -> None:
        text = str(uid).strip() if isinstance(uid, (int, str)) and not isinstance(uid, bool) else None
        if text == "0":
            raise InvalidArgumentError(
                f"uid {uid!r} means 'any uid' to Agora: a token for it would admit its holder as anyone, the avatar "
                "included; give the participant a uid of its own"
            )
        if text in (str(self.avatar_uid), str(self.bot_uid)):
            whose = "avatar's" if text == str(self.avatar_uid) else "bot's"
            raise InvalidArgumentError(
                f"uid {uid!r} is the {whose} in this room: another participant needs a uid of its own (the room "
                "mints the avatar's and the bot's tokens itself)"
            )

    def _mint(self, uid: int | str, *, role: RtcRole = RtcRole.PUBLISHER, expire: int | None = None) -> str:
        seconds = self.token_ttl if expire is None else expire
        if not 1 <= seconds <= MAX_TOKEN_SECONDS:
            raise InvalidArgumentError(f"expire must be 1..{MAX_TOKEN_SECONDS} seconds")
        return build_rtc_token(
            self.app_id,
            self._cert.get_secret_value(),
            channel=self.channel,
            uid=uid,
            role=role,
            expire=seconds,
            issued_at=int(self._clock()),
        )

    def viewer_token(self, uid: int | str, *, role: RtcRole = RtcRole.PUBLISHER, expire: int = 3600) -> ViewerToken:
        """Mint the token a viewer (the browser) joins with, in one call.

        A viewer who talks to the avatar publishes its microphone, so the default role is ``PUBLISHER``; a
        watch-only viewer can take ``SUBSCRIBER`` (enforced by Agora only with co-host authentication). The viewer
        renews it itself: mint a new one with this method before ``expire`` runs out and have the browser call
        ``client.renewToken(token)`` (on ``token-privilege-will-expire``).

        Raises:
            InvalidArgumentError: ``uid`` is 0 (``"0"``: any uid, to Agora), the avatar's or the bot's, or a value is
                out of range.
        """
        self._check_guest_uid(uid)
        issued = int(self._clock())
        token = self.mint_token(uid, role=role, expire=expire)
        return ViewerToken(app_id=self.app_id, channel=self.channel, uid=uid, token=token, expires_at=issued + expire)

    def avatar_credentials(self, duration: int | None) -> dict[str, Any]:
        """The create body's ``credentials`` (OAS ``Credentials``, agora): the avatar's uid, channel and token.

        The avatar cannot renew its token, so it lives the whole session (``duration``, default 600 s) plus
        ``AVATAR_TOKEN_MARGIN``.
        """
        if isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0:
            duration = DEFAULT_DURATION  # (a bad duration is refused by sessions.create, before anything is sent)
        seconds = min(MAX_TOKEN_SECONDS, duration + AVATAR_TOKEN_MARGIN)
        return {
            "agora_uid": self.avatar_uid,
            "agora_app_id": self.app_id,
            "agora_channel": self.channel,
            "agora_token": self._mint(self.avatar_uid, expire=seconds),
        }

    def join_params(self) -> JoinParams:
        """Where and as whom our bot joins, with a fresh token of ``token_ttl`` seconds."""
        return JoinParams(
            app_id=self.app_id, channel=self.channel, uid=str(self.bot_uid), token=self._mint(self.bot_uid)
        )

    def bot_token(self) -> str:
        """A fresh token of ``token_ttl`` seconds for our bot's uid (the session renews with it)."""
        return self._mint(self.bot_uid)
