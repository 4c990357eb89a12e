"""CLI commands: ``streamclient frames encode | decode | command | schemas`` (registered by streamclient.cli.app).

Everything goes through the same codec a session uses: ``encode`` through ``split_text``/``encode_frame``,
``decode`` through a CLIENT-role ``ProtocolConnection`` (reassembly, ack matching, rejection of bad frames).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from streamclient.codec import (
    DEFAULT_MAX_FRAME_BYTES,
    ChatDelta,
    CommandFrame,
    FrameRejected,
    ProtocolConnection,
    Role,
    encode_frame,
    event_to_dict,
    interrupt,
    new_mid,
    set_action,
    set_params,
    split_text,
)
from streamclient.codec.schema import render_schemas
from streamclient.errors import InvalidArgumentError, LocalProtocolError

__all__ = ("register",)

frames_app = typer.Typer(
    name="frames",
    help="Encode, decode and build v2 data-stream frames (offline; the same codec a session uses).",
    no_args_is_help=True,
)
command_app = typer.Typer(name="command", help="Print one command frame (exact wire bytes).", no_args_is_help=True)
frames_app.add_typer(command_app)

# typer needs ... | None (not X | None) on Python 3.10 for option types it introspects at runtime.
#: The smallest frame budget that always holds the envelope (a default mid, a 5-digit idx, pld.from) and one
#: 4-byte character: what ``--max-frame-bytes`` accepts is what can work.
MIN_FRAME_BYTES = 128
_MaxFrameBytes = Annotated[
    int,
    typer.Option("--max-frame-bytes", min=MIN_FRAME_BYTES, max=1024, help="Budget for one encoded frame, in bytes."),
]
_Mid = Annotated[str | None, typer.Option("--mid", help="Message/command id (default: a fresh uuid4-based id).")]


def _read_input(path: str) -> bytes:
    if path == "-":
        return typer.get_binary_stream("stdin").read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _emit_json(obj: dict[str, Any]) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


@frames_app.command("encode")
def encode_command(
    path: Annotated[str, typer.Argument(metavar="[FILE|-]", help="UTF-8 text to send; '-' reads stdin.")] = "-",
    max_frame_bytes: _MaxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
    mid: _Mid = None,
    source: Annotated[
        str | None,
        typer.Option("--from", help="Set pld.from on every frame (as the avatar does: 'bot')."),
    ] = None,
    keep_newline: Annotated[
        bool, typer.Option("--keep-newline", help="Keep the input's final newline (stripped by default).")
    ] = False,
) -> None:
    """Print the chat frames for a text, one per line: exactly the bytes that go on the wire."""
    raw = _read_input(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(f"input is not UTF-8 (byte {exc.start})") from exc
    if not keep_newline:
        text = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    try:
        frames = split_text(text, mid=mid or new_mid(), max_frame_bytes=max_frame_bytes, source=source)
    except LocalProtocolError as exc:  # a long --mid: name the options, not the function's parameters
        message = exc.message.replace(f"max_frame_bytes={max_frame_bytes}", f"--max-frame-bytes {max_frame_bytes}")
        raise _fail(message) from None
    for frame in frames:
        typer.echo(encode_frame(frame))


def _print_command(frame: CommandFrame, max_frame_bytes: int) -> None:
    data = encode_frame(frame)
    if len(data) > max_frame_bytes:
        raise _fail(f"the command encodes to {len(data)} bytes, over the {max_frame_bytes}-byte budget")
    typer.echo(data)


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"{option} takes WORD=SPOKEN, got {item!r}")
        out[key] = value
    return out


@command_app.command("set-params")
def set_params_command(
    voice_id: Annotated[str | None, typer.Option(help="Voice id (vparams.vid + deprecated vid).")] = None,
    voice_url: Annotated[str | None, typer.Option(help="Voice URL (vparams.vurl + deprecated vurl).")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Language code, e.g. en, es.")] = None,
    mode: Annotated[int | None, typer.Option(help="1 = retelling, 2 = dialogue.")] = None,
    background_url: Annotated[str | None, typer.Option(help="Background URL (bgurl).")] = None,
    speed: Annotated[float | None, typer.Option(help="Speech speed, 0.8-1.2.")] = None,
    stt_language: Annotated[str | None, typer.Option(help="Speech-recognition language.")] = None,
    stt_type: Annotated[str | None, typer.Option(help="Speech-recognition engine.")] = None,
    pron: Annotated[
        list[str] | None,
        typer.Option("--pron", help="Pronunciation entry WORD=SPOKEN (repeatable)."),
    ] = None,
    turn_detection_type: Annotated[
        str | None,
        typer.Option(help="server_vad or semantic_vad."),
    ] = None,
    mid: _Mid = None,
    max_frame_bytes: _MaxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
) -> None:
    """Print a set-params command frame."""
    try:
        frame = set_params(
            voice_id=voice_id,
            voice_url=voice_url,
            language=lang,
            mode=mode,
            background_url=background_url,
            speed=speed,
            stt_language=stt_language,
            stt_type=stt_type,
            pron_map=_pairs(pron, "--pron") if pron else None,
            turn_detection={"type": turn_detection_type} if turn_detection_type is not None else None,
            mid=mid,
        )
    except InvalidArgumentError as exc:
        raise _fail(exc.message) from exc
    _print_command(frame, max_frame_bytes)


@command_app.command("interrupt")
def interrupt_command(mid: _Mid = None) -> None:
    """Print an interrupt command frame."""
    try:
        frame = interrupt(mid=mid)
    except InvalidArgumentError as exc:
        raise _fail(exc.message) from exc
    _print_command(frame, DEFAULT_MAX_FRAME_BYTES)


@command_app.command("set-action")
def set_action_command(
    action: Annotated[str | None, typer.Option(help="hand_wave, cheer, thumbs_up, nod, ...")] = None,
    expression: Annotated[str | None, typer.Option(help="happiness, sadness, surprise, ...")] = None,
    strict: Annotated[bool, typer.Option(help="Reject undocumented action/expression names.")] = True,
    mid: _Mid = None,
) -> None:
    """Print a set-action command frame."""
    try:
        frame = set_action(action=action, expression=expression, strict=strict, mid=mid)
    except InvalidArgumentError as exc:
        raise _fail(exc.message) from exc
    _print_command(frame, DEFAULT_MAX_FRAME_BYTES)


def _record(line: bytes) -> dict[str, Any] | None:
    """The emulator recording record on ``line``, or ``None`` when the line is a bare frame."""
    if not line.startswith(b"{") or b'"frame"' not in line:
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if isinstance(obj, dict) and "frame" in obj and "v" not in obj:
        return obj
    return None


#: The longest input line ``decode`` holds in memory; a longer one is skipped and reported (a frame is <= 1 KiB).
MAX_LINE_BYTES = 1 << 20


@contextlib.contextmanager
def _open_input(path: str) -> Iterator[BinaryIO]:
    """Standard input for ``-``, else the file (one error line naming it when it cannot be opened)."""
    if path == "-":
        yield typer.get_binary_stream("stdin")
        return
    try:
        stream = open(path, "rb")  # closed below, after the with
    except OSError as exc:
        typer.echo(f"error: cannot read {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    with stream:
        yield stream


def _input_lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """The stream's lines, without the line ending, each as soon as it is complete (so ``tail -f`` works).

    Memory stays bounded: a line longer than :data:`MAX_LINE_BYTES` is skipped and yields ``None``.
    """
    while line := stream.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line.removesuffix(b"\n").removesuffix(b"\r")


@frames_app.command("decode")
def decode_command(
    path: Annotated[str, typer.Argument(metavar="[FILE|-]", help="Received frames, one per line; '-' = stdin.")] = "-",
    deltas: Annotated[bool, typer.Option("--deltas", help="Also print in-order partial text as it arrives.")] = False,
    all_records: Annotated[
        bool, typer.Option("--all", help="Recordings: decode every record, not only dir == 'in'.")
    ] = False,
    sender: Annotated[str, typer.Option(help="Sender id for bare frame lines.")] = "peer",
) -> None:
    """Decode received frames (bare, or emulator recording records) and print one JSON object per event.

    Reads line by line and prints each line's events at once, in bounded memory, so it can follow a growing file
    (``tail -f frames.jsonl | streamclient frames decode -``). Exits 0 whenever the input could be read, whatever
    it contained.
    """
    connection = ProtocolConnection(Role.CLIENT)
    with _open_input(path) as stream:
        for number, line in enumerate(_input_lines(stream), start=1):
            if line is None:
                _emit_json({"event": "rejected", "line": number, "reason": "line_too_long"})
                continue
            _decode_line(connection, number, line, deltas=deltas, all_records=all_records, sender=sender)
    connection.expire(math.inf)
    for event in connection.events_received():
        _emit_json(event_to_dict(event))


def _decode_line(
    connection: ProtocolConnection, number: int, line: bytes, *, deltas: bool, all_records: bool, sender: str
) -> None:
    if not line.strip():
        return
    record = _record(line)
    now = 0.0
    frame_bytes = line
    frame_sender = sender
    if record is not None:
        if not all_records and record.get("dir") != "in":
            return
        frame_value, t, who = record.get("frame"), record.get("t"), record.get("sender")
        if not isinstance(frame_value, str):
            _emit_json({"event": "rejected", "line": number, "reason": "bad_record"})
            return
        frame_bytes = frame_value.encode("utf-8", "surrogatepass")
        now = float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) else 0.0
        frame_sender = who if isinstance(who, str) else sender
    connection.receive_data(frame_bytes, sender=frame_sender, now=now)
    for event in connection.events_received():
        if isinstance(event, ChatDelta) and not deltas:
            continue
        if isinstance(event, FrameRejected):
            _emit_json({"event": "rejected", "line": number, "reason": event.error.reason})
        else:
            _emit_json(event_to_dict(event))


@frames_app.command("schemas")
def schemas_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory to write the schema files into (default: one JSON object on stdout)."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="With --out: only report files that differ (exit 1 if any).")
    ] = False,
) -> None:
    """Print (or write, or check) the JSON Schemas generated from the codec's wire models."""
    rendered = render_schemas()
    if out is None:
        if check:
            raise _fail("--check compares against files: give the directory with --out")
        typer.echo(json.dumps({name: json.loads(text) for name, text in rendered.items()}, indent=2))
        return
    stale = []
    for name, text in rendered.items():
        target = out / name
        try:
            current = target.read_text(encoding="utf-8") if target.exists() else None
            if current == text:
                continue
            stale.append(name)
            if not check:
                out.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            typer.echo(f"error: --out {out}: cannot {'read' if check else 'write'} {target}: {reason}", err=True)
            raise typer.Exit(1) from None
    for name in stale:
        typer.echo(f"{'stale' if check else 'wrote'} {out / name}")
    if check and stale:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(frames_app)
