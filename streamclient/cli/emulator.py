"""CLI command: ``streamclient emulator``: run the local AKOOL emulator in the foreground (Ctrl-C stops it).

It prints the REST base URL, the room URL and the API key to use. The API key of a local emulator is not a secret
of the user's: it is random per run unless ``--api-key`` is given, and it only opens this process's fake service.

``--agora-project`` makes it host shared rooms for the Agora project in ``AGORA_APP_ID`` / ``AGORA_APP_CERTIFICATE``
(bring-your-own credentials; every token is checked). The certificate is a real secret: it is read from the
environment only (a command line is visible to other users of the machine) and never printed.

The variant options (``--close-with-data``, ``--session-list-key``, ``--reply-mid``, ``--room-limits``...) pick
each answer shape or limit the AKOOL docs allow (see ``_emulator_variants``); the non-default ones are printed at
start-up.
"""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import typer

from streamclient.api._auth import credential
from streamclient.cli import _telemetry
from streamclient.cli._emulator_variants import (
    HELP,
    KnowledgeListShape,
    ReplyMid,
    RoomLimits,
    SessionListKey,
    TokenLocation,
    TrtcNames,
    UploadAnswer,
    describe_variants,
)
from streamclient.cli._runner import run_async
from streamclient.errors import ConfigurationError

if TYPE_CHECKING:
    from streamclient.emulator import EmulatorConfig

__all__ = ("register",)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("emulator")(emulator)


def emulator(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port).")] = 0,
    api_key: Annotated[str | None, typer.Option("--api-key", help="API key to accept (default: random).")] = None,
    record: Annotated[Path | None, typer.Option("--record", help="Write every frame to this JSONL file.")] = None,
    join_delay: Annotated[float, typer.Option("--join-delay", min=0.0, help="Seconds until the avatar joins.")] = 0.5,
    speech_cps: Annotated[
        float, typer.Option("--speech-cps", min=0.1, help="Avatar speaking speed, characters per second.")
    ] = 15.0,
    mode: Annotated[int, typer.Option("--mode", min=1, max=2, help="Avatar mode when a session sets none.")] = 2,
    quota_seconds: Annotated[
        float | None, typer.Option("--quota-seconds", min=0.0, help="Session seconds the account may use.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fault injectors.")] = 0,
    drop: Annotated[float, typer.Option("--drop", min=0.0, max=1.0, help="Drop probability per frame.")] = 0.0,
    duplicate: Annotated[
        float, typer.Option("--duplicate", min=0.0, max=1.0, help="Duplicate probability per frame.")
    ] = 0.0,
    reorder: Annotated[float, typer.Option("--reorder", min=0.0, max=1.0, help="Reorder probability per frame.")] = 0.0,
    delay: Annotated[float, typer.Option("--delay", min=0.0, max=1.0, help="Delay probability per frame.")] = 0.0,
    corrupt: Annotated[float, typer.Option("--corrupt", min=0.0, max=1.0, help="Corrupt probability per frame.")] = 0.0,
    agora_project: Annotated[
        bool,
        typer.Option(
            "--agora-project",
            help="Host shared rooms for the Agora project in AGORA_APP_ID / AGORA_APP_CERTIFICATE (tokens checked).",
        ),
    ] = False,
    close_with_data: Annotated[bool, typer.Option("--close-with-data", help=HELP["close_with_data"])] = False,
    session_list_key: Annotated[
        SessionListKey, typer.Option("--session-list-key", help=HELP["session_list_key"])
    ] = SessionListKey.result,
    token_location: Annotated[
        TokenLocation, typer.Option("--token-location", help=HELP["token_location"])
    ] = TokenLocation.top,
    knowledge_list_shape: Annotated[
        KnowledgeListShape, typer.Option("--knowledge-list-shape", help=HELP["knowledge_list_shape"])
    ] = KnowledgeListShape.array,
    tokens_in_detail: Annotated[bool, typer.Option("--tokens-in-detail", help=HELP["tokens_in_detail"])] = False,
    upload_answer: Annotated[
        UploadAnswer, typer.Option("--upload-answer", help=HELP["upload_answer"])
    ] = UploadAnswer.object,
    trtc_names: Annotated[TrtcNames, typer.Option("--trtc-names", help=HELP["trtc_names"])] = TrtcNames.trtc,
    reply_mid: Annotated[ReplyMid, typer.Option("--reply-mid", help=HELP["reply_mid"])] = ReplyMid.request,
    room_limits: Annotated[RoomLimits, typer.Option("--room-limits", help=HELP["room_limits"])] = RoomLimits.agora,
    room_bytes_per_second: Annotated[
        int | None, typer.Option("--room-bytes-per-second", min=1, help=HELP["room_bytes_per_second"])
    ] = None,
    room_messages_per_second: Annotated[
        int | None, typer.Option("--room-messages-per-second", min=1, help=HELP["room_messages_per_second"])
    ] = None,
) -> None:
    """Run a local AKOOL emulator (REST API, rooms, scripted avatar) until Ctrl-C."""
    from streamclient.emulator import EmulatorConfig, FaultPlan
    from streamclient.emulator.shapes import ResponseShapes

    if record is not None:
        _check_writable(record)
    app_id = certificate = None
    if agora_project:
        try:  # cleaned like every credential: a pasted newline stripped, an inner space refused by name
            app_id = credential(None, "app_id", "AGORA_APP_ID")
            certificate = credential(None, "app_certificate", "AGORA_APP_CERTIFICATE")
        except ConfigurationError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if not app_id or not certificate:
            typer.echo(
                "error: --agora-project needs AGORA_APP_ID and AGORA_APP_CERTIFICATE in the environment", err=True
            )
            raise typer.Exit(2)

    choices: dict[str, Any] = {  # typer has checked each value against its enum; ResponseShapes checks again
        "session_list_key": session_list_key.value,
        "token_location": token_location.value,
        "knowledge_list_shape": knowledge_list_shape.value,
        "upload_answer": upload_answer.value,
        "trtc_names": trtc_names.value,
    }
    shapes = ResponseShapes(close_with_data=close_with_data, tokens_in_detail=tokens_in_detail, **choices)
    faults = FaultPlan(drop=drop, duplicate=duplicate, reorder=reorder, delay=delay, corrupt=corrupt)
    config = EmulatorConfig(
        host=host,
        port=port,
        api_key=api_key,
        record_path=record,
        avatar_join_delay=join_delay,
        speech_chars_per_second=speech_cps,
        default_mode=mode,
        quota_seconds=quota_seconds,
        seed=seed,
        faults_to_client=faults,
        faults_to_avatar=faults,
        agora_app_id=app_id,
        agora_app_certificate=certificate,
        shapes=shapes,
        reply_mid="fresh" if reply_mid is ReplyMid.fresh else "request",
        room_limits="guide" if room_limits is RoomLimits.guide else "agora",
        room_bytes_per_second=room_bytes_per_second,
        room_messages_per_second=room_messages_per_second,
    )
    try:
        run_async(lambda: _run(config), stop_on_ctrl_c=True)  # Ctrl-C cancels the server cleanly
        typer.echo("emulator stopped")
    except OSError as exc:
        typer.echo(f"error: {_listen_error(host, port, exc)}", err=True)
        raise typer.Exit(2) from None


def _listen_error(host: str, port: int, exc: OSError) -> str:
    """One line naming the option at fault when the emulator cannot listen."""
    reason = (exc.strerror or str(exc)).lower()
    if exc.errno == errno.EADDRINUSE:
        return f"--port {port}: the port is already in use on {host} (pick another, or --port 0 for any free one)"
    if exc.errno == errno.EACCES:
        return f"--port {port}: not allowed to listen on this port here ({reason}; ports below 1024 need privileges)"
    if isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return f"--host {host}: cannot listen on this address ({reason}; use an address of this machine, 127.0.0.1)"
    return f"cannot listen on --host {host} --port {port}: {reason}"


def _check_writable(path: Path) -> None:
    """Fail now, naming ``--record``, when the recording file cannot be written (not later, as a listen error)."""
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        typer.echo(f"error: --record {path}: cannot write the file: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None


async def _run(config: EmulatorConfig) -> None:
    from streamclient.emulator import Emulator

    async with Emulator(config) as emu:
        _telemetry.watch_emulator(emu)  # telemetry: rooms, sessions, refused frames (when OTEL_* asks for export)
        typer.echo(f"AKOOL emulator running (Ctrl-C to stop)\n  base URL: {emu.base_url}")
        typer.echo(f"  room URL: {emu.room_url}\n  API key:  {emu.api_key}")
        if emu.inspector_url is not None:
            typer.echo(f"  inspector: {emu.inspector_url}  (open it in a browser: rooms, conversation, frames)")
        if config.record_path is not None:
            typer.echo(f"  recording frames to {config.record_path}")
        limits = config.limits()
        variants = describe_variants(
            config.shapes.describe(), config.reply_mid, limits.bytes_per_second, limits.messages_per_second
        )
        if variants:
            typer.echo(f"  variants: {variants}")
        if config.agora_app_id is not None:
            typer.echo(f"  Agora project: {config.agora_app_id} (shared rooms by channel; every token is checked)")
        typer.echo(f"point a client at it:\n  export AKOOL_BASE_URL={emu.base_url} AKOOL_API_KEY={emu.api_key}")
        sys.stdout.flush()
        await anyio.sleep_forever()
