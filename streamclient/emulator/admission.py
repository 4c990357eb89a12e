"""Who may join a room the emulator hosts for a session: the join rules, with the reason of a refusal."""

from __future__ import annotations

import secrets

from streamclient.emulator.sessions import EmulatedSession, Sessions

__all__ = ("JoinDenied", "check_join")


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
