"""Typed, immutable v2 data-stream frames, and their exact wire encoding and decoding.

Invariants (protocol/README.md §2, §3):

* ``decode_frame`` returns a frame or raises :class:`~streamclient.errors.RemoteProtocolError` whose ``reason`` is
  one of :data:`DECODE_ERROR_REASONS`. Nothing else escapes it (a fuzz test enforces this).
* ``encode_frame`` writes compact JSON, UTF-8, non-ASCII unescaped, keys in the order the official clients use
  (``v, type, mid, idx, fin, pld``); unknown fields kept from a decoded frame follow, so they survive re-encoding.
* Parsing uses ``pydantic_core.from_json`` (Rust; several times faster than ``json.loads``) plus hand checks; the
  pydantic wire models in :mod:`streamclient.codec.wire` describe the same shapes and generate the JSON Schemas.
"""

from __future__ import annotations

import json
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
        text: this chunk's text (``pld.text``).
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
        obj = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail("not_utf8", "frame is not valid UTF-8", raw) from exc
        raise _fail("not_json", f"frame is not JSON: {exc}", raw) from exc
    return obj, raw


def _opt_str(obj: dict[str, Any], key: str, where: str, raw: bytes) -> str | None:
    value = obj.get(key)
    if value is None and key not in obj:
        return None
    if not isinstance(value, str):
        raise _fail("bad_field", f"{where}{key} must be a string", raw)
    return value


def _req(obj: dict[str, Any], key: str, where: str, raw: bytes) -> Any:
    try:
        return obj[key]
    except KeyError:
        raise _fail("missing_field", f"{where}{key} is missing", raw) from None


def _req_str(obj: dict[str, Any], key: str, where: str, raw: bytes) -> str:
    value = _req(obj, key, where, raw)
    if not isinstance(value, str):
        raise _fail("bad_field", f"{where}{key} must be a string", raw)
    return value


def _req_int(obj: dict[str, Any], key: str, where: str, raw: bytes) -> int:
    value = _req(obj, key, where, raw)
    if type(value) is not int:  # bool is an int subclass; 1.0 is not an integer on this wire
        raise _fail("bad_field", f"{where}{key} must be an integer", raw)
    return value


def _rest(obj: dict[str, Any], known: frozenset[str], raw: bytes) -> Mapping[str, Any]:
    """Unknown fields of ``obj`` (kept verbatim); the common case of none costs one length check."""
    if len(obj) <= len(known) and all(k in known for k in obj):
        return _EMPTY
    rest = {k: v for k, v in obj.items() if k not in known}
    _check_finite(rest, raw)
    return rest


def _check_finite(value: Any, raw: bytes) -> None:
    # from_json turns 1e400 into inf even with allow_inf_nan=False, and inf cannot be re-encoded as JSON. Only
    # values kept verbatim (unknown fields, command data, raw frames) can hold a float, so only they are walked.
    if _has_infinity(value):
        raise _fail("not_json", "frame holds a number out of range", raw)


def decode_frame(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_DECODE_BYTES) -> Frame:
    """Decode one received datagram into a typed frame.

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
    if type(data) is bytes and len(data) <= max_bytes:  # hot path: parse once, errors re-parsed for precision
        raw = data
        try:
            obj = _from_json(raw, allow_inf_nan=False)
        except ValueError:
            obj, raw = _parse(data, max_bytes)
        if type(obj) is dict and type(obj.get("v")) is int and obj["v"] == PROTOCOL_VERSION:
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
        if "code" in pld:
            code = _req_int(pld, "code", "pld.", raw)
            msg = _opt_str(pld, "msg", "pld.", raw)
            return CommandAck(
                mid=mid, cmd=cmd, code=code, msg=msg, type=kind, extra=extra, pld_extra=_rest(pld, _ACK_PLD, raw)
            )
        cmd_data = pld.get("data")
        if cmd_data is not None and not isinstance(cmd_data, dict):
            raise _fail("bad_field", "pld.data must be an object", raw)
        if cmd_data is None and "data" in pld:
            raise _fail("bad_field", "pld.data must be an object", raw)
        if cmd_data is not None:
            _check_finite(cmd_data, raw)
        return CommandFrame(
            mid=mid, cmd=cmd, data=cmd_data, type=kind, extra=extra, pld_extra=_rest(pld, _CMD_PLD, raw)
        )
    _check_finite(obj, raw)
    mid_value = obj.get("mid")
    return RawFrame(type=type_, mid=mid_value if isinstance(mid_value, str) else None, fields=obj)


_CHAT_PLD_SOURCE = frozenset(("from", "text"))
_CHAT_PLD = frozenset(("text",))
_CMD_PLD = frozenset(("cmd", "data"))
_ACK_PLD = frozenset(("cmd", "code", "msg"))
_EVENT_PLD = frozenset(("event",))


def _decode_simple(obj: dict[str, Any], type_: Any) -> Frame | None:
    """Fast path for well-formed events and acks without unknown fields; ``None`` means "use the checked path"."""
    mid = obj.get("mid")
    pld = obj.get("pld")
    if type(mid) is not str or type(pld) is not dict or len(obj) != 4:
        return None
    if type_ == "event":
        name = pld.get("event")
        if type(name) is str and len(pld) == 1:
            return EventFrame(mid=mid, name=name)
    elif type_ == "command" or type_ == "cmd":
        cmd, code, msg = pld.get("cmd"), pld.get("code"), pld.get("msg")
        if type(cmd) is str and type(code) is int and type(msg) is str and len(pld) == 3:
            return CommandAck(mid=mid, cmd=cmd, code=code, msg=msg, type=type_)
    return None


# Fast construction for the hot path (every received chat chunk): a frozen dataclass's __init__ pays a Python-level
# object.__setattr__ call per field; the slot descriptors' __set__ does the same job at a third of the cost. The result
# is indistinguishable from ChatFrame(...) (same slots, same values); nothing else may use these setters.
_new_object = object.__new__


def _slot_setter(name: str) -> Callable[[ChatFrame, Any], None]:
    return cast("Callable[[ChatFrame, Any], None]", vars(ChatFrame)[name].__set__)


_set_mid = _slot_setter("mid")
_set_idx = _slot_setter("idx")
_set_fin = _slot_setter("fin")
_set_text = _slot_setter("text")
_set_source = _slot_setter("source")
_set_extra = _slot_setter("extra")
_set_pld_extra = _slot_setter("pld_extra")


def _decode_chat(obj: dict[str, Any], raw: bytes) -> ChatFrame:
    # Fast path: a well-formed frame without unknown fields. Anything unusual falls through to the precise checks.
    mid = obj.get("mid")
    idx = obj.get("idx")
    fin = obj.get("fin")
    pld = obj.get("pld")
    if (
        type(mid) is str
        and mid
        and type(idx) is int
        and idx >= 0
        and type(fin) is bool
        and type(pld) is dict
        and len(obj) == 6
    ):
        text = pld.get("text")
        source = pld.get("from")
        if type(text) is str and ((source is None and len(pld) == 1) or (type(source) is str and len(pld) == 2)):
            frame: ChatFrame = _new_object(ChatFrame)
            _set_mid(frame, mid)
            _set_idx(frame, idx)
            _set_fin(frame, fin)
            _set_text(frame, text)
            _set_source(frame, source)
            _set_extra(frame, _EMPTY)
            _set_pld_extra(frame, _EMPTY)
            return frame
    return _decode_chat_checked(obj, raw)


def _decode_chat_checked(obj: dict[str, Any], raw: bytes) -> ChatFrame:
    mid = _req_str(obj, "mid", "", raw)
    if not mid:
        raise _fail("bad_field", "mid must not be empty", raw)
    idx = _req_int(obj, "idx", "", raw)
    if idx < 0:
        raise _fail("bad_field", "idx must not be negative", raw)
    fin = _req(obj, "fin", "", raw)
    if type(fin) is not bool:
        raise _fail("bad_field", "fin must be a boolean", raw)
    pld = _req(obj, "pld", "", raw)
    if not isinstance(pld, dict):
        raise _fail("bad_field", "pld must be an object", raw)
    text = _req_str(pld, "text", "pld.", raw)
    source = _opt_str(pld, "from", "pld.", raw)
    return ChatFrame(
        mid=mid,
        idx=idx,
        fin=fin,
        text=text,
        source=source,
        extra=_rest(obj, _CHAT_KEYS, raw),
        pld_extra=_rest(pld, _CHAT_PLD if source is None else _CHAT_PLD_SOURCE, raw),
    )
