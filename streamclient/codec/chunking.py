"""Splitting a chat text into frames that each fit a byte budget, measured on the exact wire encoding.

Invariants (protocol/README.md §4):

* every encoded frame is at most ``max_frame_bytes`` bytes, and frames are filled as close to it as the text allows;
* ``idx`` counts from 0, ``fin`` is true on the last frame only, every frame shares one ``mid``;
* ``"".join(f.text for f in frames) == text`` for any Unicode text a UTF-8 wire can carry.

The size of each character inside a JSON string is computed once (escape-aware: quote and backslash take 2 bytes,
control characters 2 or 6, non-ASCII 2-4 UTF-8 bytes), cumulative sums give the cost of any slice, and a binary
search finds the longest slice that fits. Each frame is then encoded and its length verified.
"""

from __future__ import annotations

import base64
import re
import uuid
from itertools import accumulate

from streamclient.codec.frames import ChatFrame, encode_frame
from streamclient.errors import LocalProtocolError

__all__ = ("DEFAULT_MAX_FRAME_BYTES", "HARD_MAX_FRAME_BYTES", "new_mid", "split_text")

#: Default budget for one encoded frame. 960 bytes is what the current official client uses on every provider
#: (akool-api-and-protocol.md §3, §7.8), so the server is known to accept frames of this size; it leaves 64 bytes
#: under the 1024-byte hard cap of Agora and TRTC, and at 6000 B/s it keeps six full frames per second.
DEFAULT_MAX_FRAME_BYTES = 960

#: Agora's and TRTC's per-message limit; larger frames are refused by the SDK (Agora error -114).
HARD_MAX_FRAME_BYTES = 1024

# Characters JSON must escape; "\b\f\n\r\t" take 2 bytes, the other C0 controls 6 (\u00XX).
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')
_ASCII_COST = tuple(
    2 if chr(i) in '"\\\b\f\n\r\t' else 6 if i < 0x20 else 1  # json.dumps leaves DEL (0x7f) unescaped
    for i in range(128)
)
# Characters that continue the previous one (combining marks, variation selectors, ZWJ, emoji modifiers, tags):
# a cut just before them would split a grapheme cluster, so the cut moves back a little when it can.
_EXTENDS = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u0610-\u061a\u064b-\u065f\u0900-\u0903\u093a-\u094f"
    "\u1ab0-\u1aff\u1dc0-\u1dff\u200c\u200d\u20d0-\u20ff\u3099\u309a\ufe00-\ufe0f\ufe20-\ufe2f"
    "\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
)
_MAX_BACKOFF = 32  # characters; a cluster longer than this is cut anyway


def new_mid() -> str:
    """Return a fresh message id: a uuid4 in URL-safe base64 (22 characters).

    The official clients use ``msg-<milliseconds>``, which collides when two messages start in the same millisecond;
    122 random bits do not.
    """
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")


def _char_costs(text: str) -> list[int]:
    ascii_cost = _ASCII_COST
    return [ascii_cost[o] if o < 128 else 2 if o < 0x800 else 3 if o < 0x10000 else 4 for o in map(ord, text)]


def _longest_fit(cumulative: list[int], start: int, budget: int) -> int:
    """Largest ``end`` with ``cumulative[end] - cumulative[start] <= budget`` (binary search on the prefix sums)."""
    limit = cumulative[start] + budget
    lo, hi = start, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cumulative[mid] <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _glued(text: str, end: int) -> bool:
    """Whether cutting before ``text[end]`` would split a grapheme cluster (cheap approximation)."""
    after = text[end]
    before = text[end - 1]
    return _EXTENDS.match(after) is not None or before == "\u200d" or (before == "\r" and after == "\n")


def _cut(text: str, start: int, end: int) -> int:
    if end >= len(text) or not _glued(text, end):
        return end
    for candidate in range(end - 1, max(start, end - _MAX_BACKOFF), -1):
        if not _glued(text, candidate):
            return candidate
    return end


def split_text(
    text: str,
    *,
    mid: str,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    source: str | None = None,
) -> list[ChatFrame]:
    """Split ``text`` into chat frames of at most ``max_frame_bytes`` encoded bytes each.

    Args:
        text: the message; any Unicode text that UTF-8 can carry.
        mid: the message id every frame carries.
        max_frame_bytes: the budget for one encoded frame (see :data:`DEFAULT_MAX_FRAME_BYTES`).
        source: ``pld.from`` for every frame (``"bot"`` on the avatar side); ``None`` omits it.

    Returns:
        The frames in order: ``idx`` 0..n-1, ``fin`` true on the last only.

    Raises:
        LocalProtocolError: ``text`` is empty or holds lone surrogates, ``mid`` is empty, or the budget cannot hold
            even one character of the text.
    """
    if not isinstance(text, str) or not text:
        raise LocalProtocolError("chat text must be a non-empty string")
    if not isinstance(mid, str) or not mid:
        raise LocalProtocolError("mid must be a non-empty string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"chat text cannot be encoded as UTF-8 (lone surrogate at {exc.start})") from exc

    overheads: dict[int, int] = {}

    def budget(idx: int) -> int:
        digits = len(str(idx))
        if digits not in overheads:
            empty = ChatFrame(mid=mid, idx=idx, fin=False, text="", source=source)
            overheads[digits] = len(encode_frame(empty))
        return max_frame_bytes - overheads[digits]

    fast = text.isascii() and _NEEDS_ESCAPE.search(text) is None
    cumulative = [] if fast else list(accumulate(_char_costs(text), initial=0))
    n = len(text)
    cuts: list[tuple[int, int]] = []
    start = 0
    while start < n:
        room = budget(len(cuts))
        end = min(n, start + room) if fast else _longest_fit(cumulative, start, room)
        if end <= start:
            raise LocalProtocolError(
                f"max_frame_bytes={max_frame_bytes} cannot hold character {text[start]!r} with the frame envelope"
            )
        end = _cut(text, start, end)
        cuts.append((start, end))
        start = end
    last = len(cuts) - 1
    frames = [ChatFrame(mid=mid, idx=i, fin=i == last, text=text[a:b], source=source) for i, (a, b) in enumerate(cuts)]
    for frame in frames:  # the cost model is exact; this is the documented "measure, do not guess" check
        size = len(encode_frame(frame))
        if size > max_frame_bytes:  # pragma: no cover - would be a bug in the cost model
            raise LocalProtocolError(f"internal error: frame {frame.idx} is {size} bytes > {max_frame_bytes}")
    return frames
