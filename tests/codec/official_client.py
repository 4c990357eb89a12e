"""AKOOL's official JavaScript client's chunker, reproduced (akool-api-and-protocol.md §3, §9).

JavaScript strings are UTF-16: the client slices ``maxLen`` code units per chunk (216 with a 950-byte cap and a
``msg-<13 digits>`` mid), halving while the encoded frame is too big, so a surrogate pair can be cut in two.
``JSON.stringify`` then writes each half as a ``\\udXXX`` escape. This is what our decoder must accept.
"""

from __future__ import annotations

import json
import math

__all__ = ("OFFICIAL_BYTES_PER_SECOND", "js_string", "official_chunks", "official_pause")

#: The official client's pacing rate (``BPS`` in ``agoraHelpers.ts``: the implementation guide's 6 KB/s).
OFFICIAL_BYTES_PER_SECOND = 6000


def js_string(text: str) -> str:
    """``JSON.stringify(text)`` for a string (which may hold lone surrogates): quotes, escapes, ``\\udXXX``."""
    out = []
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(json.dumps(ch, ensure_ascii=False)[1:-1])
    return '"' + "".join(out) + '"'


def _units(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _from_units(units: bytes) -> str:
    return units.decode("utf-16-le", "surrogatepass")


def _encode(mid: str, idx: int, fin: bool, text: str, source: str | None) -> bytes:
    pld = f'{{"from":{json.dumps(source)},"text":{js_string(text)}}}' if source else f'{{"text":{js_string(text)}}}'
    return f'{{"v":2,"type":"chat","mid":"{mid}","idx":{idx},"fin":{str(fin).lower()},"pld":{pld}}}'.encode()


def official_chunks(
    text: str, *, mid: str = "msg-1723629433573", max_bytes: int = 950, source: str | None = None
) -> list[bytes]:
    """The frames the official client sends for ``text`` (``sendMessageToAvatar`` in ``agoraHelpers.ts``).

    Args:
        text: the message.
        mid: the message id (the client uses ``msg-<Date.now()>``).
        max_bytes: the encoded-size cap (950 in the implementation guide and the SDK).
        source: ``pld.from``, to model a server that chunks its replies the same way.

    Returns:
        The encoded frames, in order.
    """
    base = len(_encode(mid, 0, False, "", source))
    max_len = (max_bytes - base) // 4
    units = _units(text)
    chunks: list[str] = []
    while units:
        n = min(max_len, len(units) // 2)
        chunk = units[: 2 * n]
        while len(_encode(mid, len(chunks), False, _from_units(chunk), source)) > max_bytes and n > 1:
            n = math.ceil(n / 2)
            chunk = units[: 2 * n]
        chunks.append(_from_units(chunk))
        units = units[2 * n :]
    last = len(chunks) - 1
    return [_encode(mid, i, i == last, chunk, source) for i, chunk in enumerate(chunks)]


def official_pause(frame: bytes, *, bytes_per_second: int = OFFICIAL_BYTES_PER_SECOND) -> float:
    """Seconds from the start of one chunk's send to the start of the next, in the official client.

    ``sendMessageToAvatar`` takes ``t0``, sends the chunk, then sleeps ``max(0, minMs - (now - t0))`` with
    ``minMs = ceil(1000 * len(chunk) / BPS)`` (not after the last chunk): a 301-302 B chunk starts 51 ms after the
    previous one, which puts 20 chunks (6,030 B) into one sliding second.
    """
    return math.ceil(1000 * len(frame) / bytes_per_second) / 1000
