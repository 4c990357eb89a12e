"""Codec benchmark: decode+validate vs ``json.loads`` per frame type, chunking vs ``json.dumps``, wire overhead.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_codec.py``. Not part of CI's pass/fail.

Targets: decode+validate at most 0.75x the time of bare ``json.loads`` on the same bytes, for EVERY frame type
(issue 14), not only on a mix; chunking overhead at most 12% for English text at a 1000-byte budget (issue 2).

How decode is measured: for each frame type, ``json.loads`` and ``decode_frame`` run over the same frames in
alternating back-to-back rounds; the figure is the median of the per-round ratios (robust when other processes
load the machine), with the interquartile range of the rounds alongside.

Why this parser (notes): the reference grammar is the standard library's ``json`` (it is what accepts lone
surrogate escapes such as ``"\\ud83d"``, which AKOOL's official client produces when it cuts a surrogate pair
between frames). For speed, ``decode_frame`` uses what is already installed with pydantic and needs no new
dependency: ``pydantic_core.from_json`` (jiter, Rust, maintained by the pydantic team) parses events, acks and
non-canonical frames in about a quarter of ``json.loads``' time, but builds non-ASCII strings no faster than
``json.loads`` (a 950-byte CJK chunk took 0.95x in total). Chat frames in the canonical layout (what the official
clients and this codec write) therefore skip the generic parse: one UTF-8 decode, a regular expression for the
envelope and the standard library's C string scanner (``json.decoder.scanstring``) for the text. orjson and
msgspec would be faster still but are new dependencies, and neither accepts lone surrogates.
"""

from __future__ import annotations

import json
import math
import statistics
import time
import timeit
from collections.abc import Callable

from _common import CJK, ENGLISH, machine, print_table, text_of

from streamclient.codec import ChatFrame, decode_frame, encode_frame, new_mid, split_text

ROUNDS = 31


def _chunks(text: str, *, size: int, mid: str | None = None) -> list[bytes]:
    frames = split_text(text, mid=mid or new_mid(), max_frame_bytes=size, source="bot")
    return [encode_frame(f) for f in frames]


def _official_chunks(text: str, *, mid: str, units: int = 216) -> list[bytes]:
    """The official client's chunks: 216 UTF-16 code units each, lone surrogates escaped as JSON.stringify does."""
    utf16 = text.encode("utf-16-le", "surrogatepass")
    pieces = [utf16[i : i + 2 * units].decode("utf-16-le", "surrogatepass") for i in range(0, len(utf16), 2 * units)]
    last = len(pieces) - 1
    head = '{{"v":2,"type":"chat","mid":"{}","idx":{},"fin":{},"pld":{{"text":"'
    return [(head.format(mid, i, str(i == last).lower()) + _js(p) + '"}}').encode() for i, p in enumerate(pieces)]


def _js(chunk: str) -> str:
    """The body of ``JSON.stringify(chunk)``: like json.dumps without ASCII escaping, lone surrogates as \\udXXX."""
    return "".join(
        f"\\u{ord(ch):04x}" if 0xD800 <= ord(ch) <= 0xDFFF else json.dumps(ch, ensure_ascii=False)[1:-1] for ch in chunk
    )


def _frame_sets() -> dict[str, list[bytes]]:
    english = _chunks(text_of(ENGLISH, 20_000), size=950)[:10]
    cjk = _chunks(text_of(CJK, 20_000), size=950)[:10]
    short_en = [_chunks(ENGLISH[: 20 + 5 * i], size=950)[0] for i in range(10)]
    short_cjk = [_chunks(CJK[: 5 + 2 * i], size=950)[0] for i in range(10)]
    events = [
        b'{"v":2,"type":"event","mid":"%s","pld":{"event":"%s"}}' % (new_mid().encode(), name)
        for name in (b"audio_start", b"audio_end") * 5
    ]
    acks = [
        b'{"v":2,"type":"command","mid":"%s","pld":{"cmd":"%s","code":1000,"msg":"OK"}}' % (new_mid().encode(), cmd)
        for cmd in (b"set-params", b"interrupt") * 5
    ]
    official = _official_chunks(text_of(ENGLISH, 2160), mid="msg-1723629433573")
    # every chunk boundary falls inside an emoji: each frame starts and/or ends with half a surrogate pair
    split = _official_chunks(("x" * 215 + "\U0001f600" + "y" * 215) * 5, mid="msg-1723629433573")
    split_cjk = _official_chunks(("日" * 215 + "\U0001f600" + "本" * 215) * 5, mid="msg-1723629433573")
    lenient = [
        b'{"v":2,"type":"chat","mid":"m%d","pld":{"from":"bot","text":"Hello, how can I help you today?"}}' % i
        for i in range(5)
    ] + [
        b'{"v":2,"type":"chat","mid":"m%d","idx":0,"fin":true,"pld":{"from":null,"text":"Hi there."}}' % i
        for i in range(5)
    ]
    turn_en = [events[0], short_en[3], *english[:3], events[1]]
    turn_cjk = [events[0], short_cjk[3], *cjk[:3], events[1]]
    return {
        "chat English 950 B": english,
        "chat CJK 950 B": cjk,
        "chat short English": short_en,
        "chat short CJK": short_cjk,
        "event": events,
        "ack": acks,
        "chat official client, 216 units": official,
        "chat with a split surrogate pair, ASCII text": split,
        "chat with a split surrogate pair, CJK text": split_cjk,
        "chat without idx/fin or with nulls": lenient,
        "mix: two reply turns + an ack": [*turn_en, *turn_cjk, acks[0]],
    }


def _ratio(frames: list[bytes]) -> tuple[float, float, float]:
    """Median, first and third quartile of the per-round ratios decode_frame / json.loads over ``frames``."""
    for frame in frames:  # every frame must decode (a benchmark of errors would be meaningless)
        decode_frame(frame)
    loads, ours = json.loads, decode_frame
    base = lambda: [loads(d) for d in frames]  # noqa: E731
    mine = lambda: [ours(d) for d in frames]  # noqa: E731
    number = max(20, 20_000 // (len(frames) * 10))
    ratios = []
    for i in range(ROUNDS):
        pair = (base, mine) if i % 2 == 0 else (mine, base)
        times = {id(fn): timeit.timeit(fn, number=number) for fn in pair}
        ratios.append(times[id(mine)] / times[id(base)])
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    return median, q1, q3


def _best(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def _official_split(text: str, mid: str, cap: int = 950) -> list[bytes]:
    """The official clients' sizing rule: 216 characters per frame at a 950-byte cap (halve while too big)."""

    def enc(chunk: str, idx: int, fin: bool) -> bytes:
        return encode_frame(ChatFrame(mid=mid, idx=idx, fin=fin, text=chunk))

    base = len(enc("", 0, False))
    max_len = (cap - base) // 4
    chunks: list[str] = []
    rest = text
    while rest:
        chunk = rest[:max_len]
        while len(enc(chunk, len(chunks), False)) > cap and len(chunk) > 1:
            chunk = chunk[: math.ceil(len(chunk) / 2)]
        chunks.append(chunk)
        rest = rest[len(chunk) :]
    return [enc(c, i, i == len(chunks) - 1) for i, c in enumerate(chunks)]


def main() -> None:
    """Run the measurements and print a table of ratios."""
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}")
    rows: list[tuple[str, str, str]] = []
    for name, frames in _frame_sets().items():
        median, q1, q3 = _ratio(frames)
        size = sum(map(len, frames)) // len(frames)
        verdict = "met" if median <= 0.75 else "MISSED"
        rows.append(
            (
                f"decode vs json.loads: {name} (~{size} B)",
                f"{median:.2f}x",
                f"rounds {q1:.2f}-{q3:.2f}x; target <= 0.75x: {verdict}",
            )
        )

    mid = new_mid()
    text_10k = text_of(ENGLISH, 10_000)
    one_frame = {"v": 2, "type": "chat", "mid": mid, "idx": 0, "fin": True, "pld": {"text": text_10k}}
    dumps = _best(lambda: json.dumps(one_frame, ensure_ascii=False, separators=(",", ":")).encode(), 500)
    split = _best(lambda: [encode_frame(f) for f in split_text(text_10k, mid=mid, max_frame_bytes=1000)], 200)
    rows.append(("split+encode 10 KB English vs json.dumps of one frame", f"{split / dumps:.1f}x time", ""))
    cjk_10k = text_of(CJK, 10_200)
    one_cjk = {**one_frame, "pld": {"text": cjk_10k}}
    dumps_cjk = _best(lambda: json.dumps(one_cjk, ensure_ascii=False, separators=(",", ":")).encode(), 500)
    split_cjk = _best(lambda: [encode_frame(f) for f in split_text(cjk_10k, mid=mid, max_frame_bytes=1000)], 200)
    rows.append(("split+encode ~10 KB CJK vs json.dumps of one frame", f"{split_cjk / dumps_cjk:.1f}x time", ""))

    for label, text in (("English", text_10k), ("CJK", cjk_10k)):
        payload = len(text.encode())
        for budget in (960, 1000):
            wire = sum(len(encode_frame(f)) for f in split_text(text, mid=mid, max_frame_bytes=budget))
            target = "target <= 1.12" if label == "English" and budget == 1000 else ""
            rows.append((f"wire/text bytes, {label}, ours @ {budget} B", f"{wire / payload:.3f}", target))
        official = _official_split(text, "msg-1723629433573")
        rows.append(
            (
                f"wire/text bytes, {label}, official 216 chars @ 950 B",
                f"{sum(map(len, official)) / payload:.3f}",
                f"{len(official)} frames",
            )
        )
    print_table(rows)


if __name__ == "__main__":
    main()
