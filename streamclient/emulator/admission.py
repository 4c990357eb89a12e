"""Who may join which room the emulator hosts, and Agora's reason when someone may not: the join rules.

Two kinds of room, two kinds of check (the room itself then refuses a uid already in it, reason 19; see
:mod:`~streamclient.emulator.room`):

* **A room hosted for a session** (its channel is ``emu_<session id>``): only the session's client, with the uid and
  the (opaque) token of the session's credentials, while the session is open: an unknown channel -> 7
  (INVALID_CHANNEL_NAME), a closed or expired session -> 10 (REJECTED_BY_SERVER), another uid or token -> 8
  (INVALID_TOKEN), another app id -> 6 (INVALID_APP_ID). The avatar joins it without a check.
* **A caller's channel** (bring-your-own credentials): with an Agora project configured
  (``EmulatorConfig.agora_app_id`` / ``agora_app_certificate``), every join, the avatar's too, and every renewal
  presents a "007" token checked against the project (:func:`~streamclient.tokens.agora.check_rtc_token`): another
  app id -> 6, a bad signature, another channel or uid -> 8, expired -> 9; the check tells when the token lapses.
  Without a project, nothing is checked, and a participant can only join a channel a session's avatar opened
  (else 7).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from streamclient.emulator.sessions import EmulatedSession, Sessions
from streamclient.errors import AgoraTokenError
from streamclient.tokens.agora import check_rtc_token

__all__ = (
    "REASON_INVALID_APP_ID",
    "REASON_INVALID_CHANNEL_NAME",
    "REASON_INVALID_TOKEN",
    "REASON_REJECTED_BY_SERVER",
    "REASON_TOKEN_EXPIRED",
    "Admission",
    "JoinDenied",
    "JoinRefused",
    "JoinRequest",
    "check_join",
)

#: Agora connection-change reasons of refused joins.
REASON_INVALID_APP_ID = 6
REASON_INVALID_CHANNEL_NAME = 7
REASON_INVALID_TOKEN = 8
REASON_TOKEN_EXPIRED = 9
REASON_REJECTED_BY_SERVER = 10
_JOIN_REASONS = {
    "unknown_channel": REASON_INVALID_CHANNEL_NAME,
    "closed": REASON_REJECTED_BY_SERVER,
    "bad_uid": REASON_INVALID_TOKEN,
    "bad_token": REASON_INVALID_TOKEN,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinRequest:
    """A client's join message. The token is a secret: kept out of ``repr``."""

    app_id: str
    channel: str
    uid: str
    token: str = field(repr=False)


class JoinRefused(Exception):
    """A join is refused; ``reason`` is the Agora connection-change reason."""

    def __init__(self, message: str, *, reason: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class JoinDenied(LookupError):
    """``check_join`` refused a room join.

    ``reason`` is ``unknown_channel``, ``closed``, ``bad_uid`` or ``bad_token``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_join(sessions: Sessions, *, channel: str, uid: str, token: str) -> EmulatedSession:
    """Validate a client's room join against the open session of ``channel``.

    Raises:
        JoinDenied: unknown channel, session closed/expired, wrong uid or wrong token (``reason`` says which).
    """
    sessions.expire_due()
    session = sessions.session_by_channel(channel)
    if session is None:
        raise JoinDenied(f"no session uses channel {channel!r}", reason="unknown_channel")
    if not session.is_open:
        raise JoinDenied(f"the session of channel {channel!r} is {session.close_reason}", reason="closed")
    if str(session.client_uid) != str(uid):
        raise JoinDenied("the uid does not match the session's credentials", reason="bad_uid")
    if not secrets.compare_digest(str(token), session.client_token):
        raise JoinDenied("the token does not match the session's credentials", reason="bad_token")
    return session


class Admission:
    """The join rules of every room the emulator hosts (see the module docstring).

    Args:
        sessions: the sessions (a hosted room's channel names its session).
        app_id: the Agora project whose channels are hosted for bring-your-own credentials (``None``: none).
        app_certificate: that project's certificate (a secret).
        wall_clock: epoch seconds, for token expiry.
    """

    def __init__(
        self,
        sessions: Sessions,
        *,
        app_id: str | None = None,
        app_certificate: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self.app_id = app_id
        self._app_certificate = app_certificate
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return f"Admission(app_id={self.app_id!r})"

    @property
    def hosts_project(self) -> bool:
        """Whether an Agora project is configured (callers' channels are then hosted, every token checked)."""
        return self.app_id is not None and self._app_certificate is not None

    def is_hosted(self, channel: str) -> bool:
        """Whether ``channel`` is the room of a session (not a caller's channel)."""
        return self._sessions.session_by_channel(channel) is not None

    def admit_to_session(self, request: JoinRequest) -> EmulatedSession:
        """A client's join into a room hosted for a session; returns the session.

        Raises:
            JoinRefused: Agora's reason (7 unknown channel, 10 session ended, 8 uid or token, 6 app id).
        """
        try:
            session = check_join(self._sessions, channel=request.channel, uid=request.uid, token=request.token)
        except JoinDenied as exc:
            raise JoinRefused(str(exc), reason=_JOIN_REASONS.get(exc.reason, REASON_REJECTED_BY_SERVER)) from exc
        if request.app_id and request.app_id != session.app_id:
            raise JoinRefused("unknown app id", reason=REASON_INVALID_APP_ID)
        return session

    def check_app_id(self, request: JoinRequest) -> None:
        """A join into a caller's channel names the project's app id (or none).

        Raises:
            JoinRefused: another app id (6).
        """
        if request.app_id and self.app_id is not None and request.app_id != self.app_id:
            raise JoinRefused("the app id is not this project's", reason=REASON_INVALID_APP_ID)

    def check_token(self, request: JoinRequest) -> float | None:
        """Check the token of a join or renewal in a caller's channel; returns when its join privilege lapses.

        AKOOL-hosted rooms are checked by :meth:`admit_to_session` instead (their tokens are opaque), and without
        a configured Agora project nothing is checked (``None``: it never lapses).

        Raises:
            JoinRefused: Agora's reason (6 app id, 8 invalid token, 9 expired).
        """
        if self.is_hosted(request.channel):
            return None
        if self.app_id is None or self._app_certificate is None:
            return None
        self.check_app_id(request)
        try:
            token = check_rtc_token(
                request.token,
                app_id=self.app_id,
                app_certificate=self._app_certificate,
                channel=request.channel,
                uid=request.uid,
                now=self._wall_clock(),
            )
        except AgoraTokenError as exc:
            raise JoinRefused(exc.message, reason=exc.reason) from exc
        grant = token.grant_for(request.channel, request.uid)
        assert grant is not None  # check_rtc_token found it
        return float(token.lapses_at(grant))

    def admit_avatar(self, session: EmulatedSession) -> float | None:
        """A session's avatar joining a caller's channel: its token checked like anyone's; returns when it lapses.

        Raises:
            AgoraTokenError: the token is refused (the avatar stays out).
        """
        request = JoinRequest(
            app_id=session.app_id, channel=session.channel, uid=session.avatar_uid, token=session.avatar_token
        )
        try:
            return self.check_token(request)
        except JoinRefused as exc:
            raise AgoraTokenError(exc.message, reason=exc.reason) from exc
