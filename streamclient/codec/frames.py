"""Typed, immutable v2 data-stream frames, and their exact wire encoding and decoding.

Invariants (protocol/README.md §2, §3):

* ``decode_frame`` returns a frame or raises :class:`~streamclient.errors.RemoteProtocolError` whose ``reason`` is
  one of :data:`DECODE_ERROR_REASONS`. Nothing else escapes it (a fuzz test enforces this).
* ``encode_frame`` writes compact JSON, UTF-8, non-ASCII unescaped, keys in the order the official clients use
  (``v, type, mid, idx, fin, pld``); unknown fields kept from a decoded frame follow, so they survive re-encoding.
* Parsing: the standard library's grammar is the reference; ``pydantic_core.from_json`` (jiter, Rust) accelerates
  what it accepts, a non-ASCII chat text goes through the standard library's C string scanner (see
  ``_decode_non_ascii_chat``), and hand checks follow. The pydantic wire models in :mod:`streamclient.codec.wire`
  describe the same shapes and generate the JSON Schemas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

import pydantic_core

from streamclient.errors import LocalProtocolError, RemoteProtocolError

__all__ = (
    "DECODE_ERROR_REASONS",
    "DEFAULT_MAX_DECODE_BYTES",
    "PROTOCOL_VERSION",
    "ChatFrame",
    "CommandAck",
    "CommandFrame",
    "EventFrame",
    "Frame",
    "RawFrame",
    "decode_frame",
    "encode_frame",
)

#: The only protocol version this codec speaks (``v`` on every frame).
PROTOCOL_VERSION = 2

#: Largest datagram ``decode_frame`` accepts by default: LiveKit's reliable 15 KiB plus headroom. Agora and TRTC
#: cap messages at 1 KiB, so this bound only matters for hostile or misconfigured peers.
DEFAULT_MAX_DECODE_BYTES = 16 * 1024

#: Every ``RemoteProtocolError.reason`` that ``decode_frame`` produces (documented in protocol/README.md §5).
DECODE_ERROR_REASONS: tuple[str, ...] = (
    "too_large",  # more bytes than max_bytes
    "not_utf8",  # the bytes are not valid UTF-8 (or a str holds lone surrogates)
    "not_json",  # not one valid JSON value (includes NaN/Infinity, numbers out of range, bad escapes)
    "not_object",  # valid JSON but not an object
    "bad_version",  # "v" is not the integer 2
    "missing_field",  # a required field is absent
    "bad_field",  # a field has the wrong type or an illegal value (negative idx, bool where int, ...)
)

_from_json = pydantic_core.from_json
_RAW_KEEP = 256  # bytes of the offending input kept on RemoteProtocolError.raw (memory safety)
_CHAT_KEYS = frozenset(("v", "type", "mid", "idx", "fin", "pld"))
_OTHER_KEYS = frozenset(("v", "type", "mid", "pld"))
_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatFrame:
    """One chunk of a chat message (``type: "chat"``).

    Attributes:
        mid: the message id shared by all chunks of one message.
        idx: the chunk's position, from 0.
        fin: true on the last chunk only.
        text: this chunk's text (``pld.text``; ``""`` when absent or null). A received chunk may begin or end with
            a lone surrogate (half of a pair the sender split between chunks, as the official client does), and
            such a frame cannot be re-encoded; the reassembler pairs the halves again.
        source: ``pld.from``: ``"bot"`` or ``"user"`` on frames from the avatar; ``None`` (absent) on client chat.
        extra: unknown top-level fields, kept verbatim.
        pld_extra: unknown ``pld`` fields (for example ``meta``), kept verbatim.
    """

    mid: str
    idx: int
    fin: bool
    text: str
    source: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    pld_extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandFrame:
    """A command (``set-params``, ``interrupt``, ``set-action``, ...), or a server echo of one (no ``code``).

    Attributes:
        mid: the command id acks refer to (``None`` when a received frame had none).
        cmd: ``pld.cmd``.
        data: ``pld.data`` (``None`` when absent, as for ``interrupt``).
        type: the frame type, ``"command"`` (the documented one) or ``"cmd"`` (older clients).
        extra: unknown top-level fields.
        pld_extra: unknown ``pld`` fields.
    """

    mid: str | None
    cmd: str
    data: Mapping[str, Any] | None = None
    type: Literal["command", "cmd"] = "command"
    extra: Mapping[str, Any] = field(default_factory=dict)
    pld_extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandAck:
    """The avatar's answer to a command: ``pld.code`` 1000 means success, anything else failure with ``msg``.

    Attributes:
        mid: the mid of the command being acknowledged.
        cmd: ``pld.cmd``.
        code: ``pld.code``.
        msg: ``pld.msg`` (``None`` when absent).
        type: ``"command"`` (documented) or ``"cmd"`` (what some official clients check for).
        extra: unknown top-level fields.
        pld_extra: unknown ``pld`` fields.
    """

    mid: str | None
    cmd: str
    code: int
    msg: str | None = None
    type: Literal["command", "cmd"] = "command"
    extra: Mapping[str, Any] = field(default_factory=dict)
    pld_extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the command succeeded (``code == 1000``)."""
        return self.code == 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFrame:
    """An avatar event (``type: "event"``), such as ``audio_start`` / ``audio_end``; other names are kept.

    Attributes:
        mid: the frame's mid (``None`` when absent).
        name: ``pld.event``.
        extra: unknown top-level fields.
        pld_extra: unknown ``pld`` fields.
    """

    mid: str | None
    name: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    pld_extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RawFrame:
    """A version-2 frame of a type this codec does not know; kept whole rather than dropped.

    Attributes:
        type: the frame's ``type``.
        mid: the frame's ``mid`` when it is a string, else ``None``.
        fields: the whole decoded JSON object (re-encoded verbatim).
    """

    type: str
    mid: str | None
    fields: Mapping[str, Any]


Frame: TypeAlias = ChatFrame | CommandFrame | CommandAck | EventFrame | RawFrame


# ------------------------------------------------------------------------------------------------ encode


def _envelope(frame: Frame) -> dict[str, Any]:
    if isinstance(frame, RawFrame):
        return dict(frame.fields)
    out: dict[str, Any]
    if isinstance(frame, ChatFrame):
        pld: dict[str, Any] = {} if frame.source is None else {"from": frame.source}
        pld["text"] = frame.text
        pld.update(frame.pld_extra)
        out = {"v": PROTOCOL_VERSION, "type": "chat", "mid": frame.mid, "idx": frame.idx, "fin": frame.fin}
        out["pld"] = pld
    elif isinstance(frame, CommandFrame):
        pld = {"cmd": frame.cmd}
        if frame.data is not None:
            pld["data"] = frame.data
        pld.update(frame.pld_extra)
        out = _head(frame.type, frame.mid, pld)
    elif isinstance(frame, CommandAck):
        pld = {"cmd": frame.cmd, "code": frame.code}
        if frame.msg is not None:
            pld["msg"] = frame.msg
        pld.update(frame.pld_extra)
        out = _head(frame.type, frame.mid, pld)
    else:
        pld = {"event": frame.name}
        pld.update(frame.pld_extra)
        out = _head("event", frame.mid, pld)
    for key, value in frame.extra.items():
        out.setdefault(key, value)
    return out


def _head(type_: str, mid: str | None, pld: dict[str, Any]) -> dict[str, Any]:
    if mid is None:
        return {"v": PROTOCOL_VERSION, "type": type_, "pld": pld}
    return {"v": PROTOCOL_VERSION, "type": type_, "mid": mid, "pld": pld}


def encode_frame(frame: Frame) -> bytes:
    """Encode ``frame`` to the exact bytes that go on the wire.

    Args:
        frame: any frame.

    Returns:
        Compact UTF-8 JSON with non-ASCII characters unescaped and keys ordered ``v, type, mid, idx, fin, pld``.

    Raises:
        LocalProtocolError: the frame holds something JSON cannot carry (lone surrogates, NaN, non-JSON objects).
    """
    try:
        text = json.dumps(_envelope(frame), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise LocalProtocolError(f"cannot encode {type(frame).__name__}: {exc}") from exc


# ------------------------------------------------------------------------------------------------ decode


def _fail(reason: str, message: str, raw: bytes) -> RemoteProtocolError:
    return RemoteProtocolError(f"{message} ({reason})", reason=reason, raw=raw[:_RAW_KEEP])


def _has_infinity(value: Any) -> bool:
    if isinstance(value, float):
        return value in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return any(_has_infinity(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_infinity(v) for v in value)
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# The reference grammar is the standard library's parser (NaN/Infinity refused). jiter (pydantic_core.from_json) is
# only an accelerator for what it accepts; it refuses lone surrogate escapes ("\ud83d", which the official client's
# 216-unit chunking produces inside chat text) and deep nesting, and those inputs are parsed here instead.
_json_decoder = json.JSONDecoder(parse_constant=_reject_constant)
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # the stdlib parser pairs valid escapes, so any match is lone
_SURROGATE_ESCAPE = (b"\\ud", b"\\uD")  # how a surrogate escape begins (\\ud0xx-\\ud7xx too: harmless)


def _parse_bytes(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail("not_utf8", "frame is not valid UTF-8", raw) from exc
    return _parse_text(text, raw)


def _parse_text(text: str, raw: bytes) -> Any:
    try:
        obj = _json_decoder.decode(text)
    except (ValueError, RecursionError) as exc:
        raise _fail("not_json", f"frame is not JSON: {exc}", raw) from exc
    if "\\" in text:  # only an escape can produce a lone surrogate
        where = _lone_surrogate_outside_chat_text(obj)
        if where is not None:
            raise _fail("bad_field", f"{where} holds a lone surrogate escape (allowed in chat text only)", raw)
    return obj


def _lone_surrogate_in(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        return where.rstrip(".") if _LONE_SURROGATE.search(value) else None
    if isinstance(value, list):
        value = dict(enumerate(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _LONE_SURROGATE.search(key):
                return f"a key of {where.rstrip('.') or 'the frame'}"
            found = _lone_surrogate_in(item, f"{where}{key}.")
            if found is not None:
                return found
    return None


def _lone_surrogate_outside_chat_text(obj: Any) -> str | None:
    if type(obj) is dict and obj.get("type") == "chat" and type(obj.get("pld")) is dict:
        pld = obj["pld"]
        rest = {k: v for k, v in obj.items() if k != "pld"}
        rest["pld"] = {k: v for k, v in pld.items() if k != "text"}
        return _lone_surrogate_in(rest, "")
    return _lone_surrogate_in(obj, "")


def _parse(data: bytes | str, max_bytes: int) -> tuple[Any, bytes]:
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            keep = data[:_RAW_KEEP].encode("utf-8", "backslashreplace")
            raise _fail("not_utf8", "text holds lone surrogates", keep) from exc
    else:
        raw = bytes(data)
    if len(raw) > max_bytes:
        raise _fail("too_large", f"frame of {len(raw)} bytes exceeds {max_bytes}", raw)
    try:
        obj = _from_json(raw, allow_inf_nan=False)
    except ValueError:
        obj = _parse_bytes(raw)
    return obj, raw


def _opt_str(obj: dict[str, Any], key: str, where: str, raw: bytes) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise _fail("bad_field", f"{where}{key} must be a string", raw)


def _req(obj: dict[str, Any], key: str, where: str, raw: bytes) -> Any:
    value = obj.get(key)
    if value is None:
        raise _fail("missing_field", f"{where}{key} is missing", raw)
    return value


def _req_str(obj: dict[str, Any], key: str, where: str, raw: bytes) -> str:
    value = _req(obj, key, where, raw)
    if type(value) is not str:
        raise _fail("bad_field", f"{where}{key} must be a string", raw)
    return value


def _check_int(value: Any, name: str, raw: bytes) -> int:
    if type(value) is not int:  # bool is an int subclass; 1.0 is not an integer on this wire
        raise _fail("bad_field", f"{name} must be an integer", raw)
    return value


def _rest(obj: dict[str, Any], known: frozenset[str], raw: bytes) -> Mapping[str, Any]:
    """Unknown fields of ``obj`` (kept verbatim); the common case of none costs one length check."""
    if len(obj) <= len(known) and all(k in known for k in obj):
        return _EMPTY
    rest = {k: v for k, v in obj.items() if k not in known}
    _check_finite(rest, raw)
    return rest


def _check_finite(value: Any, raw: bytes) -> None:
    # Both parsers turn 1e400 into inf, and inf cannot be re-encoded as JSON. Only values kept verbatim (unknown
    # fields, command data, raw frames) can hold a float, so only they are walked.
    if _has_infinity(value):
        raise _fail("not_json", "frame holds a number out of range", raw)


def decode_frame(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_DECODE_BYTES) -> Frame:
    """Decode one received datagram into a typed frame.

    Liberal where the official receivers are (protocol/README.md §5): a chat frame without ``idx``/``fin`` is a
    complete one-chunk message, ``null`` counts as absent in every field, and chat text may hold lone surrogate
    escapes (the official client splits surrogate pairs between frames; :class:`~streamclient.codec.Reassembler`
    pairs them again).

    Args:
        data: the datagram (UTF-8 bytes, or already-decoded text).
        max_bytes: larger inputs are rejected before parsing.

    Returns:
        A :class:`ChatFrame`, :class:`CommandFrame`, :class:`CommandAck`, :class:`EventFrame`, or a
        :class:`RawFrame` for an unknown ``type``.

    Raises:
        RemoteProtocolError: the datagram is not a valid v2 frame; ``reason`` is one of
            :data:`DECODE_ERROR_REASONS`.
    """
    obj: Any
    if type(data) is bytes and len(data) <= max_bytes:  # hot path: one parse, then type-specific fast paths
        raw = data
        # jiter is fastest on ASCII, the canonical chat path on non-ASCII text; the canonical path also takes the
        # ASCII chat frames jiter refuses (the official client's chunks that start or end with half a surrogate
        # pair), since jiter's refusal costs about a parse. Most frames hold no backslash (92) and pay one memchr
        # (an int needle: the bytes needle b"\\" costs several times more).
        if raw.isascii():
            # a surrogate ends the text (..."\\ud83d"}}) or is its first escape ("\\ude00...); 92 is "\\"
            if 92 in raw and ((len(raw) > 8 and raw[-9] == 92) or raw.startswith(_SURROGATE_ESCAPE, raw.find(92))):
                chat = _decode_canonical_chat(raw)
                if chat is not None:
                    return chat
            try:
                obj = _from_json(raw, allow_inf_nan=False)
            except ValueError:
                obj = _decode_canonical_chat(raw) or _parse_bytes(raw)
        else:
            chat = _decode_canonical_chat(raw)
            if chat is not None:
                return chat
            try:
                obj = _from_json(raw, allow_inf_nan=False)
            except ValueError:
                obj = _parse_bytes(raw)
        if type(obj) is ChatFrame:
            return obj
        if type(obj) is dict and obj.get("v") == PROTOCOL_VERSION and type(obj["v"]) is int:
            type_ = obj.get("type")
            if type_ == "chat":
                return _decode_chat(obj, raw)
            fast = _decode_simple(obj, type_)
            if fast is not None:
                return fast
    else:
        obj, raw = _parse(data, max_bytes)
    if not isinstance(obj, dict):
        raise _fail("not_object", "frame is not a JSON object", raw)
    version = _req(obj, "v", "", raw)
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise _fail("bad_version", f"unsupported version {version!r}", raw)
    type_ = _req_str(obj, "type", "", raw)
    if type_ == "chat":
        return _decode_chat(obj, raw)
    if type_ in ("command", "cmd", "event"):
        mid = _opt_str(obj, "mid", "", raw)
        pld = _req(obj, "pld", "", raw)
        if not isinstance(pld, dict):
            raise _fail("bad_field", "pld must be an object", raw)
        extra = _rest(obj, _OTHER_KEYS, raw)
        if type_ == "event":
            name = _req_str(pld, "event", "pld.", raw)
            return EventFrame(mid=mid, name=name, extra=extra, pld_extra=_rest(pld, _EVENT_PLD, raw))
        kind: Literal["command", "cmd"] = "command" if type_ == "command" else "cmd"
        cmd = _req_str(pld, "cmd", "pld.", raw)
        code = pld.get("code")
        if code is not None:
            msg = _opt_str(pld, "msg", "pld.", raw)
            return CommandAck(
                mid=mid,
                cmd=cmd,
                code=_check_int(code, "pld.code", raw),
                msg=msg,
                type=kind,
                extra=extra,
                pld_extra=_rest(pld, _ACK_PLD, raw),
            )
        cmd_data = pld.get("data")
        if cmd_data is not None:
            if not isinstance(cmd_data, dict):
                raise _fail("bad_field", "pld.data must be an object", raw)
            _check_finite(cmd_data, raw)
        return CommandFrame(
            mid=mid, cmd=cmd, data=cmd_data, type=kind, extra=extra, pld_extra=_rest(pld, _CMD_PLD, raw)
        )
    _check_finite(obj, raw)
    mid_value = obj.get("mid")
    return RawFrame(type=type_, mid=mid_value if isinstance(mid_value, str) else None, fields=obj)


_CHAT_PLD_SOURCE = frozenset(("from", "text"))
_CMD_PLD = frozenset(("cmd", "data", "code"))  # a command's code can only be null (absent)
_ACK_PLD = frozenset(("cmd", "code", "msg"))
_EVENT_PLD = frozenset(("event",))

# Fast construction for the hot paths. A frozen dataclass's __init__ pays a Python-level object.__setattr__ call per
# field. Each frame class gets a plain twin with the same slots: the fields are stored with ordinary attribute
# writes, then the object's class becomes the frozen one (CPython allows __class__ assignment between classes with
# identical slot layouts; the import-time probe below fails loudly if that ever stops holding). The result is
# indistinguishable from calling the class: same type, same slots, same values.


def _twin(cls: type) -> Callable[[], Any]:
    twin = type(f"_Building{cls.__name__}", (), {"__slots__": vars(cls)["__slots__"]})
    probe = twin()
    probe.__class__ = cls
    return twin


_ChatTwin = _twin(ChatFrame)
_EventTwin = _twin(EventFrame)
_AckTwin = _twin(CommandAck)


def _decode_simple(obj: dict[str, Any], type_: Any) -> Frame | None:
    """Fast path for well-formed events and acks without unknown fields; ``None`` means "use the checked path"."""
    pld = obj.get("pld")
    if type(pld) is not dict or len(obj) != 4:
        return None
    mid = obj.get("mid")
    if type(mid) is not str:
        return None
    if type_ == "event":
        name = pld.get("event")
        if type(name) is str and len(pld) == 1:
            event = _EventTwin()
            event.mid = mid
            event.name = name
            event.extra = event.pld_extra = _EMPTY
            event.__class__ = EventFrame
            return cast("EventFrame", event)
    elif type_ == "command" or type_ == "cmd":
        cmd, code, msg = pld.get("cmd"), pld.get("code"), pld.get("msg")
        if type(cmd) is str and type(code) is int and type(msg) is str and len(pld) == 3:
            ack = _AckTwin()
            ack.mid = mid
            ack.cmd = cmd
            ack.code = code
            ack.msg = msg
            ack.type = type_
            ack.extra = ack.pld_extra = _EMPTY
            ack.__class__ = CommandAck
            return cast("CommandAck", ack)
    return None


def _new_chat(mid: str, idx: int, fin: bool, text: str, source: str | None) -> ChatFrame:
    frame = _ChatTwin()
    frame.mid = mid
    frame.idx = idx
    frame.fin = fin
    frame.text = text
    frame.source = source
    frame.extra = frame.pld_extra = _EMPTY
    frame.__class__ = ChatFrame
    return cast("ChatFrame", frame)


# A chat frame exactly as the official clients and this codec write it: compact, keys in the usual order, no
# unknown fields, mid and from without escapes (a JSON string body with no quote, backslash or control character is
# its own value), pld.text last. The pattern covers everything from "mid" to the opening quote of the text.
_CANONICAL_CHAT_HEAD = re.compile(
    r'\{"v":2,"type":"chat","mid":"([^"\\\x00-\x1f]+)","idx":(0|[1-9][0-9]{0,17}),"fin":(true|false),'
    r'"pld":\{(?:"from":"([^"\\\x00-\x1f]*)",)?"text":"'
)


def _decode_canonical_chat(raw: bytes) -> ChatFrame | None:
    """Fast path for a chat frame in the canonical layout; ``None`` means "use the general path".

    One UTF-8 decode, a regular expression for the envelope and the standard library's C string scanner for the
    text: cheaper than building a dict first, and the scanner keeps lone surrogate escapes (which jiter refuses).
    """
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = _CANONICAL_CHAT_HEAD.match(decoded)
    if head is None or decoded[-2:] != "}}":
        return None
    try:
        text, end = _scanstring(decoded, head.end(), True)
    except ValueError:
        return None
    if end != len(decoded) - 2:
        return None
    frame = _ChatTwin()  # _new_chat, inlined: this is the hot path of non-ASCII text
    frame.mid, idx, fin, frame.source = head.groups()
    frame.idx = int(idx)
    frame.fin = fin == "true"
    frame.text = text
    frame.extra = frame.pld_extra = _EMPTY
    frame.__class__ = ChatFrame
    return cast("ChatFrame", frame)


def _decode_chat(obj: dict[str, Any], raw: bytes) -> ChatFrame:
    # Fast path: a well-formed frame without unknown fields, canonical or lenient (no idx/fin, nulls). Anything
    # unusual falls through to the precise checks.
    mid = obj.get("mid")
    idx = obj.get("idx")
    fin = obj.get("fin")
    pld = obj.get("pld")
    if type(mid) is not str or not mid or type(pld) is not dict:
        return _decode_chat_checked(obj, raw)
    if type(idx) is int and idx >= 0 and type(fin) is bool and len(obj) == 6:
        pass
    elif (
        (idx is None or (type(idx) is int and idx >= 0))
        and (fin is None or type(fin) is bool)
        and len(obj) == 4 + ("idx" in obj) + ("fin" in obj)
    ):
        fin = idx is None if fin is None else fin  # no idx and no fin: a complete one-chunk message
        idx = idx or 0
    else:
        return _decode_chat_checked(obj, raw)
    text = pld.get("text")
    source = pld.get("from")
    if type(text) is str and ((source is None and len(pld) == 1) or (type(source) is str and len(pld) == 2)):
        return _new_chat(mid, idx, fin, text, source)
    if (
        (text is None or type(text) is str)
        and (source is None or type(source) is str)
        and len(pld) == ("text" in pld) + ("from" in pld)
    ):
        return _new_chat(mid, idx, fin, text or "", source)
    return _decode_chat_checked(obj, raw)


def _decode_chat_checked(obj: dict[str, Any], raw: bytes) -> ChatFrame:
    mid = _req_str(obj, "mid", "", raw)
    if not mid:
        raise _fail("bad_field", "mid must not be empty", raw)
    idx = obj.get("idx")
    if idx is not None and _check_int(idx, "idx", raw) < 0:
        raise _fail("bad_field", "idx must not be negative", raw)
    fin = obj.get("fin")
    if fin is not None and type(fin) is not bool:
        raise _fail("bad_field", "fin must be a boolean", raw)
    pld = _req(obj, "pld", "", raw)
    if not isinstance(pld, dict):
        raise _fail("bad_field", "pld must be an object", raw)
    text = _opt_str(pld, "text", "pld.", raw)
    source = _opt_str(pld, "from", "pld.", raw)
    return ChatFrame(
        mid=mid,
        idx=0 if idx is None else idx,
        fin=(idx is None) if fin is None else fin,  # no idx and no fin: a complete one-chunk message
        text="" if text is None else text,
        source=source,
        extra=_rest(obj, _CHAT_KEYS, raw),
        pld_extra=_rest(pld, _CHAT_PLD_SOURCE, raw),
    )
