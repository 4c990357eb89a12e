"""Tokens for the RTC channels a caller owns (bring-your-own credentials). Pure: no I/O.

:mod:`streamclient.tokens.agora` mints, parses and checks Agora's "007" (AccessToken2) RTC tokens.
"""

from __future__ import annotations

from streamclient.tokens.agora import (
    AccessToken,
    RtcGrant,
    RtcPrivilege,
    RtcRole,
    build_rtc_token,
    check_rtc_token,
    parse_token,
)

__all__ = (
    "AccessToken",
    "RtcGrant",
    "RtcPrivilege",
    "RtcRole",
    "build_rtc_token",
    "check_rtc_token",
    "parse_token",
)
