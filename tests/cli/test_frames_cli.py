"""``streamclient frames``: encode, command, decode (bare frames and emulator recordings), schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamclient.cli.app import app
from streamclient.codec import ChatFrame, decode_frame, split_text

runner = CliRunner()


def _run(*args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["frames", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def _jsonl(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_encode_prints_the_exact_wire_bytes(tmp_path: Path) -> None:
    text = 'Hello "world" \\ 😀 我能吞下玻璃 ' * 20
    source = tmp_path / "in.txt"
    source.write_text(text + "\n", encoding="utf-8")
    code, out, _ = _run("encode", "--mid", "m1", "--max-frame-bytes", "200", str(source))
    assert code == 0
    expected = [f'{{"v":2,"type":"chat","mid":"m1","idx":{i},' for i in range(len(out.splitlines()))]
    lines = out.splitlines()
    assert [line[: len(e)] for line, e in zip(lines, expected, strict=True)] == expected
    frames = [decode_frame(line.encode()) for line in lines]
    assert frames == split_text(text, mid="m1", max_frame_bytes=200)
    assert all(len(line.encode()) <= 200 for line in lines)


def test_encode_from_stdin_generates_a_mid_and_keeps_newline_on_request() -> None:
    code, out, _ = _run("encode", "--keep-newline", "-", input="hi\n")
    assert code == 0
    (frame,) = [decode_frame(line.encode()) for line in out.splitlines()]
    assert isinstance(frame, ChatFrame)
    assert frame.text == "hi\n"
    assert len(frame.mid) == 22


@pytest.mark.parametrize(
    ("stdin", "args", "message"),
    [
        ("\n", [], "non-empty"),
        (b"\xff\xfe", [], "UTF-8"),
        ("x", ["--max-frame-bytes", "128", "--mid", "m" * 120], "--max-frame-bytes 128 cannot hold"),
        ("x", ["--max-frame-bytes", "64"], "128"),  # below the range the help states: refused up front
    ],
)
def test_encode_errors(stdin: str | bytes, args: list[str], message: str) -> None:
    code, out, err = _run("encode", *args, input=stdin)
    assert code == 2
    assert out == ""
    assert message in err


def test_encode_missing_file() -> None:
    code, _, err = _run("encode", "/nonexistent/file.txt")
    assert code == 1
    assert "cannot read" in err


def test_command_set_params() -> None:
    code, out, _ = _run(
        "command", "set-params", "--lang", "es", "--mode", "1", "--voice-id", "v1", "--speed", "1.1",
        "--pron", "AKOOL=ah-cool", "--turn-detection-type", "server_vad", "--mid", "c1",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out) == {
        "v": 2,
        "type": "command",
        "mid": "c1",
        "pld": {
            "cmd": "set-params",
            "data": {
                "vid": "v1",
                "lang": "es",
                "mode": 1,
                "vparams": {
                    "vid": "v1",
                    "speed": 1.1,
                    "pron_map": {"AKOOL": "ah-cool"},
                    "turn_detection": {"type": "server_vad"},
                },
            },
        },
    }


@pytest.mark.parametrize(
    "args",
    [
        ["set-params"],
        ["set-params", "--mode", "3"],
        ["set-params", "--pron", "novalue"],
        ["set-params", "--background-url", "https://x/" + "y" * 1000],
        ["set-action"],
        ["set-action", "--action", "moonwalk"],
        ["interrupt", "--mid", ""],
    ],
)
def test_command_errors(args: list[str]) -> None:
    code, out, err = _run("command", *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error:")


def test_command_interrupt_and_set_action() -> None:
    assert (
        _run("command", "interrupt", "--mid", "i")[1]
        == '{"v":2,"type":"command","mid":"i","pld":{"cmd":"interrupt"}}\n'
    )
    code, out, _ = _run("command", "set-action", "--action", "nod", "--expression", "happiness", "--mid", "a")
    assert code == 0
    assert out == (
        '{"v":2,"type":"command","mid":"a","pld":{"cmd":"set-action","data":{"action":"nod","expression":"happiness"}}}\n'
    )
    code, out, _ = _run("command", "set-action", "--action", "moonwalk", "--no-strict", "--mid", "a")
    assert code == 0
    assert '"moonwalk"' in out


FRAMES = [
    '{"v":2,"type":"chat","mid":"m","idx":1,"fin":true,"pld":{"from":"bot","text":"lo!"}}',
    "garbage",
    '{"v":2,"type":"chat","mid":"m","idx":0,"fin":false,"pld":{"from":"bot","text":"Hel"}}',
    "",
    '{"v":2,"type":"command","mid":"c0ffee-2","pld":{"cmd":"set-params","code":1000,"msg":"OK"}}',
    '{"v":2,"type":"event","mid":"e","pld":{"event":"audio_start"}}',
    '{"v":2,"type":"chat","mid":"x","idx":1,"fin":false,"pld":{"from":"user","text":"zz"}}',
    '{"v":2,"type":"chat","mid":"m","idx":-1,"fin":false,"pld":{"from":"bot","text":"Hel"}}\r',
]


def test_decode_bare_frames() -> None:
    code, out, _ = _run("decode", input="\n".join(FRAMES) + "\n")
    assert code == 0
    assert _jsonl(out) == [
        {"event": "rejected", "line": 2, "reason": "not_json"},
        {"event": "message", "from": "bot", "mid": "m", "text": "Hello!"},
        {"event": "ack", "mid": "c0ffee-2", "cmd": "set-params", "code": 1000, "msg": "OK"},
        {"event": "avatar_event", "mid": "e", "name": "audio_start"},
        {"event": "rejected", "line": 8, "reason": "bad_field"},
        {"event": "incomplete", "from": "user", "mid": "x", "received": [1], "partial_text": ""},
    ]


def test_decode_with_deltas(tmp_path: Path) -> None:
    path = tmp_path / "frames.jsonl"
    path.write_text("\n".join(FRAMES[:3]), encoding="utf-8")
    code, out, _ = _run("decode", "--deltas", str(path))
    assert code == 0
    assert [e["event"] for e in _jsonl(out)] == ["rejected", "delta", "delta", "message"]


def _record(t: float, direction: str, frame: str, sender: str = "u1") -> str:
    return json.dumps({"t": t, "dir": direction, "sender": sender, "frame": frame})


def test_decode_reads_emulator_recordings() -> None:
    lines = [
        _record(0.1, "out", '{"v":2,"type":"command","mid":"c1","pld":{"cmd":"interrupt"}}', sender="me"),
        _record(0.2, "in", '{"v":2,"type":"cmd","mid":"c1","pld":{"cmd":"interrupt","code":1000,"msg":"OK"}}'),
        _record(0.3, "in", '{"v":2,"type":"chat","mid":"r","idx":0,"fin":false,"pld":{"from":"bot","text":"a"}}'),
        _record(99.0, "in", '{"v":2,"type":"chat","mid":"r2","idx":0,"fin":true,"pld":{"from":"bot","text":"b"}}'),
        json.dumps({"t": 1, "dir": "in", "frame": 5}),
        _record(100.0, "in", "{oops"),
    ]
    code, out, _ = _run("decode", input="\n".join(lines))
    assert code == 0
    assert _jsonl(out) == [
        {"event": "ack", "mid": "c1", "cmd": "interrupt", "code": 1000, "msg": "OK"},
        {"event": "incomplete", "from": "bot", "mid": "r", "received": [0], "partial_text": "a"},  # timed out
        {"event": "message", "from": "bot", "mid": "r2", "text": "b"},
        {"event": "rejected", "line": 5, "reason": "bad_record"},
        {"event": "rejected", "line": 6, "reason": "not_json"},
    ]
    code, out, _ = _run("decode", "--all", input="\n".join(lines[:2]))
    assert [e["event"] for e in _jsonl(out)] == ["command", "ack"]


def test_decode_empty_and_binary_input_exit_zero() -> None:
    assert _run("decode", input="") == (0, "", "")
    code, out, _ = _run("decode", input=b"\xff\x00\n\n")
    assert code == 0
    assert _jsonl(out) == [{"event": "rejected", "line": 1, "reason": "not_utf8"}]


def test_schemas_check_and_write(tmp_path: Path) -> None:
    code, out, _ = _run("schemas", "--check", "--out", str(tmp_path))
    assert code == 1
    assert "stale" in out
    assert _run("schemas", "--out", str(tmp_path))[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.json", "command.json", "command_ack.json", "event.json"]
    assert _run("schemas", "--check", "--out", str(tmp_path)) == (0, "", "")


def test_decode_tells_frames_from_recording_records() -> None:
    lines = [
        '{"frame": oops',  # looks like a record but is not JSON: a bare (bad) frame
        '{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"from":"bot","text":"x","frame":"y"}}',
    ]
    code, out, _ = _run("decode", input="\n".join(lines))
    assert code == 0
    assert _jsonl(out) == [
        {"event": "rejected", "line": 1, "reason": "not_json"},
        {"event": "message", "from": "bot", "mid": "m", "text": "x"},
    ]


def test_decode_skips_an_overlong_line_and_carries_on() -> None:
    good = '{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"from":"bot","text":"after"}}'
    huge = "x" * (3 << 20)  # three times the line limit, held in memory only in bounded pieces
    code, out, _ = _run("decode", input=f"{huge}\n{good}\n")
    assert code == 0
    assert _jsonl(out) == [
        {"event": "rejected", "line": 1, "reason": "line_too_long"},
        {"event": "message", "from": "bot", "mid": "m", "text": "after"},
    ]


def test_decode_of_a_final_line_without_newline_and_crlf() -> None:
    lines = '{"v":2,"type":"chat","mid":"a","idx":0,"fin":true,"pld":{"from":"bot","text":"1"}}\r\n'
    lines += '{"v":2,"type":"chat","mid":"b","idx":0,"fin":true,"pld":{"from":"bot","text":"2"}}'
    code, out, _ = _run("decode", input=lines)
    assert code == 0
    assert [e["text"] for e in _jsonl(out)] == ["1", "2"]
