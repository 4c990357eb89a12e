"""Codec benchmark: decode vs json.loads, chunking vs json.dumps, wire bytes per text byte vs the official rule.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_codec.py``. Not part of CI's pass/fail.
Targets (issue 2): decode+validate at most 0.75x the time of bare ``json.loads`` on the same bytes; chunking overhead
at most 12% for English text at a 1000-byte budget.
"""

from __future__ import annotations

import json
import math
import timeit
from collections.abc import Callable

from streamclient.codec import ChatFrame, decode_frame, encode_frame, new_mid, split_text
from streamclient.codec.wire import ChatWire

ENGLISH = "Streaming avatars speak whatever text they receive, one chunk at a time, and keep talking. "
CJK = "流媒体虚拟人会逐段朗读收到的文字。并持续说下去。我能吞下玻璃而不伤身体。"

RECEIVED = [
    json.dumps(
        {"v": 2, "type": "chat", "mid": new_mid(), "idx": i, "fin": i == 9, "pld": {"from": "bot", "text": t}},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    for i, t in enumerate([ENGLISH[: 20 + 7 * i] for i in range(5)] + [CJK[: 5 + 3 * i] for i in range(5)])
] + [
    b'{"v":2,"type":"command","mid":"c0ffee-2","pld":{"cmd":"set-params","code":1000,"msg":"OK"}}',
    b'{"v":2,"type":"event","mid":"e","pld":{"event":"audio_start"}}',
]
CHAT_ONLY = RECEIVED[:10]


def _best(fn: Callable[[], object], number: int) -> float:
    """Best of 5 runs, seconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def _official_split(text: str, mid: str, cap: int = 950) -> list[bytes]:
    """The official clients' rule: 216 characters per frame at a 950-byte cap (halve while too big)."""

    def enc(chunk: str, idx: int, fin: bool) -> bytes:
        frame = ChatFrame(mid=mid, idx=idx, fin=fin, text=chunk)
        return encode_frame(frame)

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
    rows: list[tuple[str, str, str]] = []

    loads = _best(lambda: [json.loads(d) for d in RECEIVED], 2000)
    ours = _best(lambda: [decode_frame(d) for d in RECEIVED], 2000)
    loads_chat = _best(lambda: [json.loads(d) for d in CHAT_ONLY], 2000)
    pyd_chat = _best(lambda: [ChatWire.model_validate_json(d) for d in CHAT_ONLY], 2000)
    ours_chat = _best(lambda: [decode_frame(d) for d in CHAT_ONLY], 2000)
    rows.append(("decode_frame vs json.loads (12 typical frames)", f"{ours / loads:.2f}x time", "target <= 0.75x"))
    rows.append(("decode_frame vs json.loads (chat only)", f"{ours_chat / loads_chat:.2f}x time", "target <= 0.75x"))
    rows.append(
        ("pydantic ChatWire.model_validate_json vs json.loads", f"{pyd_chat / loads_chat:.2f}x time", "(rejected)")
    )

    mid = new_mid()
    text_10k = (ENGLISH * 200)[:10_000]
    one_frame = {"v": 2, "type": "chat", "mid": mid, "idx": 0, "fin": True, "pld": {"text": text_10k}}
    dumps = _best(lambda: json.dumps(one_frame, ensure_ascii=False, separators=(",", ":")).encode(), 500)
    split = _best(lambda: [encode_frame(f) for f in split_text(text_10k, mid=mid, max_frame_bytes=1000)], 200)
    rows.append(("split+encode 10 KB English vs json.dumps of one frame", f"{split / dumps:.1f}x time", ""))
    cjk_10k = (CJK * 400)[:3400]
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
        ours_frames = len(split_text(text, mid=mid, max_frame_bytes=960))
        rows.append(
            (f"frames for {label} ({payload} B): ours @ 960 vs official", f"{ours_frames} vs {len(official)}", "")
        )

    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'result':>14}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
