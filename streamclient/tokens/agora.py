"""Agora access tokens, version "007" (AccessToken2): mint them for the RTC service, parse them, check them.

No I/O. Minting reads the wall clock and draws a random salt only when the caller gives neither ``issued_at`` nor
``salt``; with both given the result is deterministic (that is how the tests prove it byte for byte against the
vectors Agora publishes with its token builders).

The format, as Agora's builders produce it (all integers little-endian; ``string`` = uint16 length + bytes)::

    token        = "007" + base64( zlib( string(signature) + signing_info ) )
    signing_info = string(app_id) + uint32(issued_at) + uint32(expire) + uint32(salt) + uint16(n) + service * n
    service      = uint16(type) + uint16(m) + (uint16(privilege) + uint32(expire)) * m + <service fields>
    RTC fields   = string(channel) + string(uid)                      (type 1; uid 0 is packed as "")
    key          = HMAC-SHA256(key=uint32(salt), HMAC-SHA256(key=uint32(issued_at), app_certificate))
    signature    = HMAC-SHA256(key=key, signing_info)

``expire`` values (the token's and each privilege's) are seconds after ``issued_at``. Services are packed in
ascending type order, privileges in ascending id order. Parsing stops at the first service type it does not know
(its fields cannot be skipped without knowing them), as Agora's parsers do; the signature still covers them.

A privilege expiry of 0 is read as "until the token expires" (the AccessToken v1 convention: Agora does not
document 0 for version 007, and our builder never writes it).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
import struct
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streamclient.errors import AgoraTokenError, InvalidArgumentError

__all__ = (
    "MAX_INFLATED_BYTES",
    "MAX_TOKEN_CHARS",
    "REASON_INVALID_APP_ID",
    "REASON_INVALID_TOKEN",
    "REASON_TOKEN_EXPIRED",
    "SERVICE_RTC",
    "TOKEN_VERSION",
    "AccessToken",
    "RtcGrant",
    "RtcPrivilege",
    "RtcRole",
    "build_rtc_token",
    "check_rtc_token",
    "parse_token",
)

TOKEN_VERSION = "007"
#: Service type of RTC (channels) in AccessToken2.
SERVICE_RTC = 1
#: Agora connection-change reasons for refused tokens.
REASON_INVALID_APP_ID = 6
REASON_INVALID_TOKEN = 8
REASON_TOKEN_EXPIRED = 9

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_MAX_UID = 2**32 - 1
_MAX_STRING = 0xFFFF
#: The longest token :func:`parse_token` reads, in characters. Real RTC tokens are under 1 KB (one service, four
#: privileges, a 64-byte channel and a 255-byte account at most come to about 600 characters).
MAX_TOKEN_CHARS = 4096
#: The most bytes a token may inflate to. zlib inflates up to ~1000x, so without this cap a 27 KB token became 20 MB;
#: a real token's packed bytes are under 600.
MAX_INFLATED_BYTES = 8192


class RtcPrivilege(enum.IntEnum):
    """RTC privileges, numbered as AccessToken2 numbers them."""

    JOIN_CHANNEL = 1  #: join the channel
    PUBLISH_AUDIO_STREAM = 2  #: publish audio
    PUBLISH_VIDEO_STREAM = 3  #: publish video
    PUBLISH_DATA_STREAM = 4  #: send data-stream messages (what a bot needs to talk to the avatar)


class RtcRole(enum.IntEnum):
    """Token roles of Agora's builders: which privileges a token grants."""

    PUBLISHER = 1  #: join + publish audio, video and data streams (a host, a bot, the avatar)
    SUBSCRIBER = 2  #: join only (a viewer; enforced only where co-host authentication is enabled)


def _privileges_for(role: RtcRole) -> tuple[RtcPrivilege, ...]:
    if role is RtcRole.PUBLISHER:
        return tuple(RtcPrivilege)
    return (RtcPrivilege.JOIN_CHANNEL,)


@dataclass(frozen=True, slots=True)
class RtcGrant:
    """The RTC service of a token: a channel, a uid (``""`` = any uid) and privilege -> expiry (seconds after issue)."""

    channel: str
    uid: str
    privileges: Mapping[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessToken:
    """A parsed "007" token. The signature and signed bytes stay out of ``repr``."""

    app_id: str
    issued_at: int
    expire: int
    salt: int
    rtc: tuple[RtcGrant, ...]
    signature: bytes = field(repr=False)
    signing_info: bytes = field(repr=False)

    @property
    def expires_at(self) -> int:
        """When the token stops being accepted (epoch seconds)."""
        return self.issued_at + self.expire

    def grant_for(self, channel: str, uid: str) -> RtcGrant | None:
        """The RTC grant that admits ``uid`` to ``channel`` (a grant for uid ``""`` admits any uid), if any."""
        return next((g for g in self.rtc if g.channel == channel and g.uid in ("", "0", uid)), None)

    def lapses_at(self, grant: RtcGrant, privilege: RtcPrivilege = RtcPrivilege.JOIN_CHANNEL) -> int:
        """When ``privilege`` of ``grant`` lapses (epoch seconds): a joined user is removed when its join lapses.

        A privilege that is absent or 0 lapses with the token.
        """
        lapse = grant.privileges.get(int(privilege), 0)
        return self.issued_at + lapse if lapse else self.expires_at

    def verify_signature(self, app_certificate: str) -> bool:
        """Whether the token was signed with ``app_certificate`` (constant-time comparison)."""
        key = _signing_key(app_certificate.encode("utf-8"), self.issued_at, self.salt)
        return hmac.compare_digest(hmac.new(key, self.signing_info, hashlib.sha256).digest(), self.signature)


# ----------------------------------------------------------------------------------------------- packing


def _string(value: bytes) -> bytes:
    return _U16.pack(len(value)) + value


def _signing_key(app_certificate: bytes, issued_at: int, salt: int) -> bytes:
    key = hmac.new(_U32.pack(issued_at), app_certificate, hashlib.sha256).digest()
    return hmac.new(_U32.pack(salt), key, hashlib.sha256).digest()


def _rtc_service(channel: str, uid: str, privileges: Mapping[int, int]) -> bytes:
    packed = _U16.pack(SERVICE_RTC) + _U16.pack(len(privileges))
    for privilege in sorted(privileges):
        packed += _U16.pack(privilege) + _U32.pack(privileges[privilege])
    return packed + _string(channel.encode("utf-8")) + _string(uid.encode("utf-8"))


def _require_hex32(name: str, value: str) -> None:
    if not isinstance(value, str) or len(value) != 32:
        raise InvalidArgumentError(f"{name} must be Agora's 32-character hex string")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be Agora's 32-character hex string") from None


def _uid_text(uid: int | str) -> str:
    """An int uid (0..2**32-1; 0 = any uid, packed as "") or a string account (non-empty, at most 255 bytes)."""
    if isinstance(uid, bool):
        raise InvalidArgumentError("uid must be an int or a str")
    if isinstance(uid, int):
        if not 0 <= uid <= _MAX_UID:
            raise InvalidArgumentError(f"an int uid must be 0..{_MAX_UID}, got {uid}")
        return "" if uid == 0 else str(uid)
    if isinstance(uid, str):
        if not uid or len(uid.encode("utf-8")) > 255:
            raise InvalidArgumentError("a string uid (user account) must be 1..255 bytes")
        return uid
    raise InvalidArgumentError(f"uid must be an int or a str, not {type(uid).__name__}")


def _require_seconds(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_UID:
        raise InvalidArgumentError(f"{name} must be a whole number of seconds, 0..{_MAX_UID}")
    return value


def build_rtc_token(
    app_id: str,
    app_certificate: str,
    *,
    channel: str,
    uid: int | str,
    role: RtcRole = RtcRole.PUBLISHER,
    expire: int = 3600,
    privilege_expire: int | None = None,
    privileges: Iterable[RtcPrivilege] | None = None,
    issued_at: int | None = None,
    salt: int | None = None,
) -> str:
    """Mint an RTC token ("007") for one uid in one channel.

    Args:
        app_id: the Agora project's app id (32 hex characters).
        app_certificate: the project's primary certificate (32 hex characters); a secret.
        channel: the channel name (at most 64 bytes).
        uid: an int uid (1..2**32-1; 0 lets any uid join) or a string user account.
        role: ``PUBLISHER`` (join and publish, data streams included) or ``SUBSCRIBER`` (join only).
        expire: seconds from ``issued_at`` until the token can no longer be used to join (or renew).
        privilege_expire: seconds from ``issued_at`` until the privileges lapse (default: ``expire``).
        privileges: the exact privileges to grant instead of the role's.
        issued_at: issue time in epoch seconds (default: now).
        salt: 1..99999999 (default: random).

    Returns:
        The token.

    Raises:
        InvalidArgumentError: an argument is out of range; nothing is minted.
    """
    _require_hex32("app_id", app_id)
    _require_hex32("app_certificate", app_certificate)
    if not isinstance(channel, str) or not channel or len(channel.encode("utf-8")) > 64:
        raise InvalidArgumentError("channel must be a non-empty name of at most 64 bytes")
    uid_text = _uid_text(uid)
    expire = _require_seconds("expire", expire)
    lapse = expire if privilege_expire is None else _require_seconds("privilege_expire", privilege_expire)
    granted = tuple(privileges) if privileges is not None else _privileges_for(RtcRole(role))
    if not granted:
        raise InvalidArgumentError("a token needs at least one privilege")
    issued = int(time.time()) if issued_at is None else _require_seconds("issued_at", issued_at)
    if salt is None:
        salt = 1 + secrets.randbelow(99_999_999)
    else:
        _require_seconds("salt", salt)
    signing_info = (
        _string(app_id.encode("utf-8"))
        + _U32.pack(issued)
        + _U32.pack(expire)
        + _U32.pack(salt)
        + _U16.pack(1)
        + _rtc_service(channel, uid_text, {int(p): lapse for p in granted})
    )
    key = _signing_key(app_certificate.encode("utf-8"), issued, salt)
    signature = hmac.new(key, signing_info, hashlib.sha256).digest()
    return TOKEN_VERSION + base64.b64encode(zlib.compress(_string(signature) + signing_info)).decode("ascii")


# ----------------------------------------------------------------------------------------------- parsing


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def _take(self, n: int) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise AgoraTokenError("the token is truncated", reason=REASON_INVALID_TOKEN)
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u16(self) -> int:
        value: int = _U16.unpack(self._take(2))[0]
        return value

    def u32(self) -> int:
        value: int = _U32.unpack(self._take(4))[0]
        return value

    def string(self) -> bytes:
        return self._take(self.u16())

    def rest(self) -> bytes:
        return self._data[self._pos :]


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AgoraTokenError(f"the token's {what} is not UTF-8", reason=REASON_INVALID_TOKEN) from None


def parse_token(token: str) -> AccessToken:
    """Parse a "007" token (without checking its signature: see :meth:`AccessToken.verify_signature`).

    Memory is bounded before any work: a token longer than :data:`MAX_TOKEN_CHARS` is refused unread, and inflating
    stops at :data:`MAX_INFLATED_BYTES` (a zlib bomb is refused, not expanded).

    Raises:
        AgoraTokenError: not a "007" token, too long, inflating too far, or malformed (reason 8).
    """
    if not isinstance(token, str) or not token.startswith(TOKEN_VERSION):
        raise AgoraTokenError("not an AccessToken2 (007) token", reason=REASON_INVALID_TOKEN)
    if len(token) > MAX_TOKEN_CHARS:
        raise AgoraTokenError(
            f"the token is {len(token)} characters long, over the {MAX_TOKEN_CHARS} a token can be",
            reason=REASON_INVALID_TOKEN,
        )
    try:
        inflater = zlib.decompressobj()
        packed = inflater.decompress(
            base64.b64decode(token[len(TOKEN_VERSION) :], validate=True), MAX_INFLATED_BYTES + 1
        )
        oversized = len(packed) > MAX_INFLATED_BYTES
        if not oversized and not inflater.eof:
            raise zlib.error("incomplete stream")
    except (binascii.Error, zlib.error, ValueError):
        raise AgoraTokenError("the token is not valid base64/zlib", reason=REASON_INVALID_TOKEN) from None
    if oversized:
        raise AgoraTokenError(
            f"the token inflates to more than {MAX_INFLATED_BYTES} bytes (a real one is under 1 KB)",
            reason=REASON_INVALID_TOKEN,
        )
    reader = _Reader(packed)
    signature = reader.string()
    signing_info = reader.rest()
    app_id = _text(reader.string(), "app id")
    issued_at, expire, salt = reader.u32(), reader.u32(), reader.u32()
    grants: list[RtcGrant] = []
    for _ in range(reader.u16()):
        service_type = reader.u16()
        privileges = {}
        for _ in range(reader.u16()):
            privilege = reader.u16()
            privileges[privilege] = reader.u32()
        if service_type != SERVICE_RTC:
            break  # unknown fields follow: they cannot be skipped (Agora's parsers stop here too)
        channel = _text(reader.string(), "channel")
        uid = _text(reader.string(), "uid")
        grants.append(RtcGrant(channel=channel, uid=uid, privileges=privileges))
    return AccessToken(
        app_id=app_id,
        issued_at=issued_at,
        expire=expire,
        salt=salt,
        rtc=tuple(grants),
        signature=signature,
        signing_info=signing_info,
    )


def check_rtc_token(
    token: str,
    *,
    app_id: str,
    app_certificate: str,
    channel: str,
    uid: str,
    now: float,
    need: Iterable[RtcPrivilege] = (RtcPrivilege.JOIN_CHANNEL,),
) -> AccessToken:
    """Check a token the way Agora checks a join (or a renewal): the emulator's gate.

    Args:
        token: the token presented.
        app_id: the project's app id.
        app_certificate: the project's certificate.
        channel: the channel being joined.
        uid: the uid joining, as the SDK passes it (a decimal string for int uids).
        now: the current time, epoch seconds.
        need: privileges that must be granted and not lapsed.

    Returns:
        The parsed token.

    Raises:
        AgoraTokenError: malformed, signed for another project, wrong app id, channel or uid (reason 8), or expired
            (reason 9).
    """
    parsed = parse_token(token)
    if not hmac.compare_digest(parsed.app_id.encode("utf-8"), app_id.encode("utf-8")):
        raise AgoraTokenError("the token was minted for another app id", reason=REASON_INVALID_TOKEN)
    if not parsed.verify_signature(app_certificate):
        raise AgoraTokenError("the token's signature does not match the app certificate", reason=REASON_INVALID_TOKEN)
    if now >= parsed.expires_at:
        raise AgoraTokenError("the token has expired", reason=REASON_TOKEN_EXPIRED)
    if not any(g.channel == channel for g in parsed.rtc):
        raise AgoraTokenError("the token is for another channel", reason=REASON_INVALID_TOKEN)
    grant = parsed.grant_for(channel, uid)
    if grant is None:
        raise AgoraTokenError("the token is for another uid", reason=REASON_INVALID_TOKEN)
    for privilege in need:
        lapse = grant.privileges.get(int(privilege))
        if lapse is None:
            raise AgoraTokenError(f"the token lacks the {RtcPrivilege(privilege).name} privilege", reason=8)
        if lapse and now >= parsed.issued_at + lapse:
            raise AgoraTokenError(f"the {RtcPrivilege(privilege).name} privilege has expired", reason=9)
    return parsed
