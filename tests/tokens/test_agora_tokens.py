"""Agora "007" tokens: byte for byte against Agora's published vectors and Agora's own builder; every refusal."""

from __future__ import annotations

import base64
import importlib
import tracemalloc
import warnings
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamclient.errors import AgoraTokenError, InvalidArgumentError
from streamclient.tokens.agora import (
    MAX_INFLATED_BYTES,
    MAX_TOKEN_CHARS,
    RtcPrivilege,
    RtcRole,
    build_rtc_token,
    check_rtc_token,
    parse_token,
)

# The fixed inputs of the vectors in AgoraIO/Tools DynamicKey/AgoraDynamicKey/python3/test (AccessToken2Test):
APP_ID = "970CA35de60c44645bbae8a215061b33"
APP_CERT = "5CFd2fd1755d40ecb72977518be15d3b"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"
UID = 2882341273
ISSUED_AT = 1111111
EXPIRE = 600
SALT = 1

# Published expected tokens (facts, from the same tests).
VECTOR_RTC_UID = (
    "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTA"
    "wMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj"
)
VECTOR_RTC_UID_0 = (
    "007eJxTYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTA"
    "wMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMADacImo="
)
# RTC (join + 3 publish privileges) + RTM + FPA + chat + APaaS services, same inputs.
VECTOR_MULTI_SERVICE = (
    "007eJxTYHh8IPKzTvBdf9ce8bk7G61vs06oca1e815/ot4+x7rfjDIKDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgY"
    "GRgYWIEkCxCD+ExgkhlMsoBJBQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MTQyNzYyagORCTkEVZ4KKsWOXZgWIQm1HF"
    "//8HAL01L5I="
)
# Chat-only service (type 5): no RTC grant, but signed with the same certificate.
VECTOR_CHAT_USER = (
    "007eJxTYNAIsnbS3v/A5t2TC6feR15r+6cq8bqAvfaW+tk/Vzz+p6xTYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDA"
    "yADCrEDMCOZzMRhZWBgZmxgamRsDAB+lHrg="
)

ALL_RTC = {1: EXPIRE, 2: EXPIRE, 3: EXPIRE, 4: EXPIRE}


def _vector_token(uid: int | str) -> str:
    return build_rtc_token(
        APP_ID,
        APP_CERT,
        channel=CHANNEL,
        uid=uid,
        privileges=[RtcPrivilege.JOIN_CHANNEL],
        expire=EXPIRE,
        issued_at=ISSUED_AT,
        salt=SALT,
    )


# ------------------------------------------------------------------------------------ published vectors


def test_int_uid_matches_agoras_vector() -> None:
    assert _vector_token(UID) == VECTOR_RTC_UID


def test_uid_0_is_packed_empty_and_matches_agoras_vector() -> None:
    assert _vector_token(0) == VECTOR_RTC_UID_0
    assert parse_token(VECTOR_RTC_UID_0).rtc[0].uid == ""


def test_string_account_of_the_same_digits_is_the_same_token() -> None:
    assert _vector_token(str(UID)) == VECTOR_RTC_UID


def test_parses_agoras_vector() -> None:
    token = parse_token(VECTOR_RTC_UID)
    assert (token.app_id, token.issued_at, token.expire, token.salt) == (APP_ID, ISSUED_AT, EXPIRE, SALT)
    assert token.expires_at == ISSUED_AT + EXPIRE
    assert len(token.rtc) == 1
    assert (token.rtc[0].channel, token.rtc[0].uid, dict(token.rtc[0].privileges)) == (CHANNEL, str(UID), {1: 600})
    assert token.verify_signature(APP_CERT)
    assert not token.verify_signature("a" * 32)
    assert "signature" not in repr(token)


def test_parses_the_multi_service_vector_and_verifies_its_signature() -> None:
    token = parse_token(VECTOR_MULTI_SERVICE)
    assert [dict(g.privileges) for g in token.rtc] == [ALL_RTC]
    assert token.verify_signature(APP_CERT)


def test_a_token_without_rtc_service_grants_no_channel() -> None:
    token = parse_token(VECTOR_CHAT_USER)
    assert token.rtc == ()
    assert token.verify_signature(APP_CERT)
    with pytest.raises(AgoraTokenError, match="another channel") as caught:
        check_rtc_token(VECTOR_CHAT_USER, app_id=APP_ID, app_certificate=APP_CERT, channel=CHANNEL, uid="1", now=0)
    assert caught.value.reason == 8


def test_publisher_role_grants_all_four_rtc_privileges() -> None:
    token = build_rtc_token(APP_ID, APP_CERT, channel=CHANNEL, uid=UID, expire=EXPIRE, issued_at=ISSUED_AT, salt=2)
    assert dict(parse_token(token).rtc[0].privileges) == ALL_RTC
    viewer = build_rtc_token(
        APP_ID, APP_CERT, channel=CHANNEL, uid=UID, role=RtcRole.SUBSCRIBER, expire=60, privilege_expire=30
    )
    assert dict(parse_token(viewer).rtc[0].privileges) == {1: 30}


# ------------------------------------------------------------------------- against Agora's own builder

with warnings.catch_warnings():  # its __init__ imports its deprecated v1 modules, which warn
    warnings.simplefilter("ignore", DeprecationWarning)
    _agora = importlib.import_module("agoraiotools.AccessToken2")  # the package rebinds the attribute to a class


def _agora_token(app_id: str, cert: str, channel: str, uid: int | str, privileges: dict[int, int], **kw: Any) -> str:
    token = _agora.AccessToken(app_id, cert, issue_ts=kw["issued_at"], expire=kw["expire"])
    token._AccessToken__salt = kw["salt"]  # the builder has no salt argument; its own tests set it the same way
    service = _agora.ServiceRtc(channel, uid)
    for privilege, lapse in privileges.items():
        service.add_privilege(privilege, lapse)
    token.add_service(service)
    result: str = token.build()
    return result


_hex32 = st.text(alphabet="0123456789abcdefABCDEF", min_size=32, max_size=32)


@settings(max_examples=60, deadline=None)
@given(
    app_id=_hex32,
    cert=_hex32,
    channel=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64),
    uid=st.one_of(st.integers(min_value=0, max_value=2**32 - 1), st.text(min_size=1, max_size=40)),
    role=st.sampled_from(list(RtcRole)),
    issued_at=st.integers(min_value=1, max_value=2**32 - 1),
    expire=st.integers(min_value=0, max_value=86400),
    lapse=st.integers(min_value=0, max_value=86400),
    salt=st.integers(min_value=1, max_value=99999999),
)
def test_byte_for_byte_equal_to_agoras_builder(
    app_id: str,
    cert: str,
    channel: str,
    uid: int | str,
    role: RtcRole,
    issued_at: int,
    expire: int,
    lapse: int,
    salt: int,
) -> None:
    ours = build_rtc_token(
        app_id,
        cert,
        channel=channel,
        uid=uid,
        role=role,
        expire=expire,
        privilege_expire=lapse,
        issued_at=issued_at,
        salt=salt,
    )
    granted = [1, 2, 3, 4] if role is RtcRole.PUBLISHER else [1]
    theirs = _agora_token(
        app_id, cert, channel, uid, dict.fromkeys(granted, lapse), issued_at=issued_at, expire=expire, salt=salt
    )
    assert ours == theirs


# ------------------------------------------------------------------------------------------ the checks


def _check(token: str, **over: Any) -> Any:
    args: dict[str, Any] = {
        "app_id": APP_ID,
        "app_certificate": APP_CERT,
        "channel": CHANNEL,
        "uid": str(UID),
        "now": ISSUED_AT + 1,
    }
    args.update(over)
    return check_rtc_token(token, **args)


def test_check_accepts_the_right_token() -> None:
    assert _check(VECTOR_RTC_UID).rtc[0].uid == str(UID)


def test_uid_0_token_admits_any_uid() -> None:
    assert _check(VECTOR_RTC_UID_0, uid="42").rtc[0].uid == ""


@pytest.mark.parametrize(
    ("over", "reason", "match"),
    [
        ({"app_id": "0" * 32}, 8, "another app id"),
        ({"app_certificate": "0" * 32}, 8, "signature"),
        ({"channel": "other"}, 8, "another channel"),
        ({"uid": "7"}, 8, "another uid"),
        ({"now": ISSUED_AT + EXPIRE}, 9, "expired"),
        ({"need": [RtcPrivilege.PUBLISH_DATA_STREAM]}, 8, "lacks the PUBLISH_DATA_STREAM"),
    ],
)
def test_check_refuses_with_agoras_reason(over: dict[str, Any], reason: int, match: str) -> None:
    with pytest.raises(AgoraTokenError, match=match) as caught:
        _check(VECTOR_RTC_UID, **over)
    assert caught.value.reason == reason


def test_a_lapsed_privilege_is_refused_as_expired() -> None:
    token = build_rtc_token(
        APP_ID, APP_CERT, channel=CHANNEL, uid=UID, expire=600, privilege_expire=60, issued_at=ISSUED_AT, salt=3
    )
    _check(token, now=ISSUED_AT + 59)
    with pytest.raises(AgoraTokenError, match="JOIN_CHANNEL privilege has expired") as caught:
        _check(token, now=ISSUED_AT + 60)
    assert caught.value.reason == 9


def _raw(token: str) -> bytes:
    return zlib.decompress(base64.b64decode(token[3:]))


def _wrap(raw: bytes) -> str:
    return "007" + base64.b64encode(zlib.compress(raw)).decode()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "006" + VECTOR_RTC_UID[3:],
        "007!!!not-base64",
        "007" + base64.b64encode(b"not zlib").decode(),
        _wrap(_raw(VECTOR_RTC_UID)[:-3]),  # truncated
        _wrap(_raw(VECTOR_RTC_UID)[:40]),
    ],
)
def test_malformed_tokens_raise_a_typed_error(bad: str) -> None:
    with pytest.raises(AgoraTokenError) as caught:
        parse_token(bad)
    assert caught.value.reason == 8


def test_a_tampered_token_fails_the_signature() -> None:
    raw = bytearray(_raw(VECTOR_RTC_UID))
    raw[-1] ^= 0x01  # one bit of the uid
    with pytest.raises(AgoraTokenError, match="signature"):
        _check(_wrap(bytes(raw)))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_payloads_parse_or_raise_the_typed_error(payload: bytes) -> None:
    try:
        parse_token(_wrap(payload))
    except AgoraTokenError:
        pass


@pytest.mark.parametrize(
    "kwargs",
    [
        {"app_id": "short"},
        {"app_id": "z" * 32},
        {"app_certificate": "x"},
        {"channel": ""},
        {"channel": "c" * 65},
        {"uid": -1},
        {"uid": 2**32},
        {"uid": ""},
        {"uid": True},
        {"uid": 1.5},
        {"expire": -1},
        {"privilege_expire": 2**32},
        {"privileges": []},
        {"salt": -5},
    ],
)
def test_minting_refuses_bad_arguments(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"app_id": APP_ID, "app_certificate": APP_CERT, "channel": CHANNEL, "uid": UID}
    args.update(kwargs)
    app_id, cert = args.pop("app_id"), args.pop("app_certificate")
    with pytest.raises(InvalidArgumentError):
        build_rtc_token(app_id, cert, **args)


def test_defaults_read_the_clock_and_draw_a_salt() -> None:
    a = build_rtc_token(APP_ID, APP_CERT, channel=CHANNEL, uid=UID)
    b = build_rtc_token(APP_ID, APP_CERT, channel=CHANNEL, uid=UID)
    pa, pb = parse_token(a), parse_token(b)
    assert pa.issued_at > 1_700_000_000
    assert pa.expire == 3600
    assert a != b or pa.salt == pb.salt


def test_a_non_utf8_field_is_a_malformed_token() -> None:
    raw = _raw(VECTOR_RTC_UID)
    app_id = APP_ID.encode()
    assert app_id in raw
    with pytest.raises(AgoraTokenError, match="app id is not UTF-8"):
        parse_token(_wrap(raw.replace(app_id, b"\xff" * len(app_id))))


def test_an_oversized_token_is_refused_before_it_is_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    # Anything longer than a token can be is refused unread: zlib never sees it.
    def no_inflating(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("inflated an oversized token")

    monkeypatch.setattr(zlib, "decompressobj", no_inflating)
    monkeypatch.setattr(zlib, "decompress", no_inflating)
    with pytest.raises(AgoraTokenError, match="characters long") as caught:
        parse_token(VECTOR_RTC_UID + "A" * MAX_TOKEN_CHARS)
    assert caught.value.reason == 8


def test_a_token_bomb_stops_inflating_at_the_cap() -> None:
    # 20 MB of zeros deflate to ~20 KB: well under the length cap once squeezed harder, so use 2 MB (~2 KB packed).
    bomb = "007" + base64.b64encode(zlib.compress(b"\0" * 2_000_000, 9)).decode()
    assert len(bomb) <= MAX_TOKEN_CHARS
    tracemalloc.start()
    try:
        with pytest.raises(AgoraTokenError, match="inflates to more than") as caught:
            parse_token(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.reason == 8
    assert peak < 200_000  # the cap, not the 2 MB the token would inflate to


def test_real_tokens_are_far_under_both_caps() -> None:
    longest = build_rtc_token(
        APP_ID, APP_CERT, channel="c" * 64, uid="u" * 255, expire=86400, issued_at=ISSUED_AT, salt=1
    )
    assert len(longest) < 1024
    assert len(_raw(longest)) < MAX_INFLATED_BYTES
    assert parse_token(longest).rtc[0].uid == "u" * 255
