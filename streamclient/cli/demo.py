"""CLI commands that run a live avatar session: ``demo``, ``chat`` and ``say``.

Without credentials they start the embedded emulator; with ``AKOOL_API_KEY`` set (and the ``agora`` extra
installed) they talk to the real service. Ctrl-C closes the session cleanly (see ``_runner``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.table import Table

from streamclient.cli._live import (
    DEFAULT_AVATAR_ID,
    EventPrinter,
    LiveConsole,
    Target,
    open_target,
    plain,
    started,
    stdin_lines,
    use_real_service,
)
from streamclient.cli._runner import EXIT_CODES, run_async
from streamclient.codec import Action, Expression, PacingLimits
from streamclient.errors import InvalidArgumentError, SessionClosedError, SessionError, StreamClientError
from streamclient.session import AvatarSession, SessionOptions, Turn, TurnResult, connect

__all__ = ("register",)

DEMO_TEXT = (
    "Hello! I am a streaming avatar, and this text reaches me through streamclient. It is long on purpose: "
    "streamclient measures the exact encoded size of every frame and fills each one close to the data-stream "
    "budget, instead of guessing four bytes per character the way the official client does. The frames are paced "
    "so that no one-second window exceeds the channel's byte and message limits. On the way back, my reply is "
    "reassembled from its chunks even when they arrive out of order or twice, and each piece is shown as soon as "
    "everything before it has arrived. Accents such as café and naïve, and scripts such as 日本語 and emoji 🎉, "
    "survive the trip intact, because every frame is valid UTF-8 and no character is ever split. When I finish "
    "speaking, the turn resolves with what I said and how long each step took."
)
SECOND_TEXT = (
    "Now a second story, which will not get far. Once upon a time a developer wrote a client for streaming "
    "avatars and decided that an interrupt must never wait behind queued chat frames. The interrupt jumps the "
    "queue, the rest of the interrupted message is dropped before it is sent, and the avatar stops mid-sentence, "
    "which is exactly what is about to happen to this story before it reaches its end."
)

#: How fast the embedded emulator's avatar speaks for ``say`` (characters per second).
SAY_SPEECH_CPS = 200.0


def _uses_emulator(emulator: bool | None, base_url: str | None) -> bool:
    return emulator if emulator is not None else not (use_real_service() or base_url)


EmulatorOption = Annotated[
    bool | None,
    typer.Option(
        "--emulator/--real",
        help="Use the embedded emulator, or the real service (default: the real service when AKOOL_API_KEY is set).",
    ),
]
AvatarOption = Annotated[str, typer.Option("--avatar-id", help="The streaming avatar to use.")]
BaseUrlOption = Annotated[
    str | None,
    typer.Option("--base-url", help="The service to use instead of AKOOL_BASE_URL (a running emulator, say)."),
]


def _duration_option() -> Any:
    return typer.Option("--duration", min=1, max=3600, help="Session length in seconds (billed up front).")


def _speech_cps_option() -> Any:
    return typer.Option("--speech-cps", min=0.1, help="Emulated speaking speed, characters per second.")


def _summary(console: Console, target: Target, session: AvatarSession, turns: list[tuple[str, TurnResult]]) -> None:
    table = Table(title="summary (seconds)", show_header=True, header_style="bold")
    table.add_column("turn", no_wrap=True)
    table.add_column("reply", justify="right")
    table.add_column("cut")
    table.add_column("sending", justify="right")
    table.add_column("1st chunk", justify="right")
    table.add_column("speaking", justify="right")
    for label, result in turns:
        t = result.timings
        send = f"{t.sent - t.queued:.2f}" if t.sent is not None else "-"
        latency = f"{t.latency:.3f}" if t.latency is not None else "-"
        speaking = f"{t.audio_end - t.audio_start:.2f}" if t.audio_end and t.audio_start else "-"
        reply = f"{len(result.reply)} chars"
        table.add_row(label, reply, "yes" if result.interrupted else "no", send, latency, speaking)
    console.print(table)
    s = session.stats
    console.print(
        f"frames sent {s.frames_sent} ({s.bytes_sent} B), received {s.frames_received} ({s.bytes_received} B); "
        f"rate-limit retries {s.send_retries}; rejected {s.frames_rejected}; incomplete {s.messages_incomplete}; "
        f"commands {s.commands_sent}"
    )
    if target.emulator is not None:
        console.print(
            f"emulator: {target.emulator.open_session_count()} sessions left open, "
            f"{target.emulator.billed_seconds():.1f} s billed"
        )


async def _demo(
    *,
    emulator: bool | None,
    avatar_id: str,
    speech_cps: float,
    base_url: str | None = None,
    duration: int = 300,
    linger: float = 0.0,
) -> None:
    console = LiveConsole(highlight=False)
    async with open_target(emulator=emulator, speech_cps=speech_cps, base_url=base_url) as target:
        console.print(plain(("streamclient demo", "bold"), f" against {target.label}"))
        inspector_url = target.emulator.inspector_url if target.emulator is not None else None
        if inspector_url is not None:
            console.print(plain("inspector: ", (inspector_url, "bold"), " (open it in a browser to watch)"))
        t_start = anyio.current_time()
        session = connect(target.client, avatar_id=avatar_id, duration=duration, mode_type=1, language="en")
        printer = EventPrinter(console, session=session)
        events = session.events()  # subscribe before entering, to see the avatar join
        turns: list[tuple[str, TurnResult]] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(printer.follow, events)  # ends by itself when the session closes
            async with started(console, session):
                try:
                    printer.note(
                        plain(
                            ("✓", "green"),
                            f" session {session.session_id} created, channel joined, avatar ready "
                            f"({anyio.current_time() - t_start:.2f} s)",
                        )
                    )
                    printer.note(f"[bold green]you >[/] {DEMO_TEXT[:100]}… [dim]({len(DEMO_TEXT)} chars)[/]")
                    turns.append(("1: retell", await session.say(DEMO_TEXT)))
                    await printer.caught_up()
                    printer.note("[bold yellow]» set-params language=es[/]")
                    await session.set_params(language="es")
                    await printer.caught_up()
                    printer.note(f"[bold green]you >[/] {SECOND_TEXT[:100]}… [dim]({len(SECOND_TEXT)} chars)[/]")
                    second = session.say(SECOND_TEXT)
                    await second.wait_reply_started()
                    # Let the avatar say about a third of it before cutting it off (presentation only).
                    await anyio.sleep(min(1.0, len(SECOND_TEXT) / speech_cps / 3))
                    printer.note("[bold yellow]» interrupt[/]")
                    await session.interrupt()
                    turns.append(("2: interrupt", await second))
                except SessionClosedError as exc:  # the session reached its --duration: a normal end
                    if exc.reason != "expired":
                        raise
        if session.close_reason == "expired":
            console.print(plain((_expired_note(session.session_id, duration), "yellow")), soft_wrap=True)
        console.print(
            f"[green]✓[/] session closed ({session.close_reason}) after {anyio.current_time() - t_start:.1f} s"
        )
        _summary(console, target, session, turns)
        if inspector_url is not None and linger > 0:
            console.print(
                plain(f"the inspector stays up for {linger:g} s at ", (inspector_url, "bold"), " (Ctrl-C ends)")
            )
            await anyio.sleep(linger)


async def _chat(
    *,
    emulator: bool | None,
    avatar_id: str,
    mode: int,
    speech_cps: float,
    base_url: str | None = None,
    duration: int = 3600,
) -> None:
    console = LiveConsole(highlight=False)
    async with open_target(emulator=emulator, speech_cps=speech_cps, base_url=base_url) as target:
        console.print(
            plain(("streamclient chat", "bold"), f" against {target.label}; /interrupt, /set key=value, /quit")
        )
        session = connect(target.client, avatar_id=avatar_id, duration=duration, mode_type=mode)
        printer = EventPrinter(console, session=session)
        events = session.events()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(printer.follow, events)  # ends by itself when the session closes
                async with started(console, session):
                    printer.note(plain(("✓", "green"), f" session {session.session_id} ready; type a line"))
                    with anyio.CancelScope() as reading:

                        async def stop_reading_when_closed() -> None:
                            await session.wait_closed()  # expiry or a lost channel ends the chat too
                            reading.cancel()

                        tg.start_soon(stop_reading_when_closed)
                        turns: list[Turn] = []
                        async for line in stdin_lines():
                            if not await _chat_line(printer, session, line.strip(), turns):
                                break
                        else:  # end of input (a pipe, a file, Ctrl-D): let the lines said so far be answered
                            await _wait_for_answers(printer, turns)
        finally:
            if session.session_id is not None:
                console.print(plain(f"session {session.session_id} ended ({session.close_reason})"))


async def _wait_for_answers(printer: EventPrinter, turns: list[Turn]) -> None:
    """Wait for each outstanding turn's answer (each bounded by the session's reply timeout)."""
    for turn in turns:
        if turn.done:
            continue
        try:
            await turn
        except StreamClientError as exc:
            printer.note(plain((f"error: {exc}", "red")))
    await printer.caught_up()


async def _chat_line(printer: EventPrinter, session: AvatarSession, line: str, turns: list[Turn]) -> bool:
    """Handle one line of ``chat`` (a said line's turn is appended to ``turns``); False to quit."""
    if not line:
        return True
    try:
        if line in ("/quit", "/exit"):
            return False
        if line == "/interrupt":
            await session.interrupt()
        elif line.startswith("/set"):
            params = _parse_params(line.removeprefix("/set").split())
            await session.set_params(**params)
        elif line.startswith("/action"):
            words = line.split()
            actions, expressions = [a.value for a in Action], [e.value for e in Expression]
            if len(words) < 2 or words[1] not in actions or (len(words) > 2 and words[2] not in expressions):
                printer.note(
                    plain(
                        (
                            f"usage: /action ACTION [EXPRESSION]; actions: {', '.join(actions)}; "
                            f"expressions: {', '.join(expressions)}",
                            "red",
                        )
                    )
                )
            else:
                await session.set_action(words[1], expression=words[2] if len(words) > 2 else None)
        elif line.startswith("/"):
            printer.note("[red]unknown command; try /interrupt, /set lang=es, /action nod, /quit[/]")
        else:
            turns[:] = [turn for turn in turns if not turn.done]
            turns.append(session.say(line))
    except StreamClientError as exc:
        printer.note(plain((f"error: {exc}", "red")))
        return not session.closed
    return True


_PARAM_NAMES = {
    "lang": "language",
    "language": "language",
    "mode": "mode",
    "voice": "voice_id",
    "voice_id": "voice_id",
    "voice_url": "voice_url",
    "bg": "background_url",
    "background": "background_url",
    "background_url": "background_url",
    "speed": "speed",
}


def _parse_params(words: list[str]) -> dict[str, Any]:
    """``["lang=es", "mode=1"]`` -> ``{"language": "es", "mode": 1}``.

    Raises:
        InvalidArgumentError: not ``key=value``, an unknown key, or a number that is not one.
    """
    params: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or key not in _PARAM_NAMES:
            raise InvalidArgumentError(
                f"expected key=value with key in {', '.join(sorted(_PARAM_NAMES))}, got {word!r}"
            )
        name = _PARAM_NAMES[key]
        try:
            params[name] = int(value) if name == "mode" else float(value) if name == "speed" else value
        except ValueError:
            raise InvalidArgumentError(f"{key} needs a number, got {value!r}") from None
    if not params:
        raise InvalidArgumentError("usage: /set key=value [key=value ...], e.g. /set lang=es mode=1")
    return params


def text_to_say(text: str | None, file: Path | None) -> str:
    """The text for ``say`` (argument, ``-`` for standard input, or ``--file``), checked before anything is created.

    Surrounding whitespace (a file's last newline) is removed.

    Raises:
        InvalidArgumentError: no text or two sources, a file that cannot be read, text that is not valid UTF-8, or
            text that is empty or only whitespace.
    """
    if (text is None) == (file is None):
        raise InvalidArgumentError("give the text to say, '-' to read standard input, or --file PATH (one of them)")
    source = "the text"
    if file is not None:
        source = str(file)
        try:
            raw: bytes | str = file.read_bytes()
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read {file}: {exc.strerror or exc}") from None
    elif text == "-":
        source = "standard input"
        raw = sys.stdin.buffer.read()
    else:
        raw = text or ""
        try:  # bytes that were not UTF-8 reach sys.argv as lone surrogates
            raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(f"{source} is not valid UTF-8 (at character {exc.start + 1})") from None
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArgumentError(f"{source} is not valid UTF-8 (at byte {exc.start + 1})") from None
    said = raw.strip()
    if not said:
        raise InvalidArgumentError(f"nothing to say: {source} is {'empty' if not raw else 'only whitespace'}")
    return said


async def _say(
    *,
    text: str,
    emulator: bool | None,
    avatar_id: str,
    mode: int,
    json_lines: bool,
    base_url: str | None = None,
    duration: int = 300,
) -> None:
    console = LiveConsole(highlight=False, stderr=json_lines)
    async with open_target(emulator=emulator, speech_cps=SAY_SPEECH_CPS, base_url=base_url) as target:
        Console(stderr=True, highlight=False).print(plain(("streamclient say", "bold"), f" against {target.label}"))
        options = SessionOptions(reply_timeout=max(300.0, float(duration)))
        session = connect(target.client, avatar_id=avatar_id, duration=duration, mode_type=mode, options=options)
        printer = EventPrinter(console, json_lines=json_lines, session=session)
        events = session.events()
        async with anyio.create_task_group() as tg:
            tg.start_soon(printer.follow, events)  # ends by itself when the session closes
            async with started(console, session):
                if json_lines:
                    _json_line({"event": "session_ready", "session_id": session.session_id})
                else:
                    printer.note(plain(f"session {session.session_id} ready"))
                try:
                    result: TurnResult | None = await session.say(text)
                except SessionClosedError as exc:
                    if exc.reason != "expired":
                        raise
                    result = None
    if result is None:  # the session reached its --duration: a normal end, as the user asked for it
        if json_lines:
            _json_line({"event": "expired", "session_id": session.session_id, "duration": duration})
        else:
            console.print(plain((_expired_note(session.session_id, duration), "yellow")), soft_wrap=True)
        return
    if json_lines:
        _json_line(
            {
                "event": "result",
                "session_id": session.session_id,
                "reply": result.reply,
                "interrupted": result.interrupted,
                "incomplete": result.incomplete,
                "timings": {**dataclasses.asdict(result.timings), "latency": result.timings.latency},
            }
        )
    else:
        latency = result.timings.latency or 0
        console.print(plain((f"reply: {len(result.reply)} chars, latency {latency:.3f} s", "dim")))
    if result.incomplete:
        raise SessionError(
            f"the reply came back incomplete: {result.received_chars} characters arrived, {len(result.gaps)} gap(s) "
            "where chunks were lost "
            f"(session {session.session_id}, message {result.message_id})"
        )


def _expired_note(session_id: str | None, duration: int) -> str:
    return f"session {session_id} expired: it reached its --duration of {duration} s before the reply ended"


#: What the live commands assume when they estimate how long a text takes: the channel's default pacing (bytes per
#: second), the wire bytes per text byte (frame envelopes), and a speaking speed (characters per second) for the
#: real service's avatars (the emulator's is its --speech-cps).
PACED_BYTES_PER_SECOND = PacingLimits().bytes_per_second
WIRE_OVERHEAD = 1.15
SPOKEN_CHARS_PER_SECOND = 15.0


def check_fits_duration(text: str, duration: int, speech_cps: float | None) -> str | None:
    """Refuse a text that cannot even be sent within ``duration``; return a warning when speaking it may not fit.

    Raises:
        InvalidArgumentError: sending the text alone (paced at the channel's byte rate) outlasts ``--duration``.
    """
    size = len(text.encode("utf-8"))
    sending = size * WIRE_OVERHEAD / PACED_BYTES_PER_SECOND
    if sending >= duration:
        needed = math.ceil(sending + len(text) / (speech_cps or SPOKEN_CHARS_PER_SECOND)) + 30  # with room to spare
        raise InvalidArgumentError(
            f"--duration {duration}: sending {size} bytes at the channel's {PACED_BYTES_PER_SECOND} B/s takes about "
            f"{sending:.0f} s alone; give a shorter text or --duration {min(needed, 3600)} (at most 3600)"
        )
    cps = speech_cps or SPOKEN_CHARS_PER_SECOND
    speaking = len(text) / cps
    if sending + speaking > duration:
        return (
            f"warning: sending ({sending:.0f} s) and speaking ({speaking:.0f} s at about {cps:g} characters/s) "
            f"this text takes about {sending + speaking:.0f} s, "
            f"more than --duration {duration}: the session will probably expire before the avatar finishes"
        )
    return None


def _json_line(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add ``demo``, ``chat`` and ``say`` to ``app``."""

    @app.command()
    def demo(
        emulator: EmulatorOption = None,
        avatar_id: AvatarOption = DEFAULT_AVATAR_ID,
        speech_cps: Annotated[float, _speech_cps_option()] = 150.0,
        base_url: BaseUrlOption = None,
        duration: Annotated[int, _duration_option()] = 300,
        linger: Annotated[
            float,
            typer.Option("--linger", min=0.0, help="With the emulator: keep its inspector page up this many seconds."),
        ] = 0.0,
    ) -> None:
        """Run a whole avatar session: create, join, say a long text, stream the reply, interrupt, close."""
        run_async(
            lambda: _demo(
                emulator=emulator,
                avatar_id=avatar_id,
                speech_cps=speech_cps,
                base_url=base_url,
                duration=duration,
                linger=linger,
            )
        )

    @app.command()
    def chat(
        emulator: EmulatorOption = None,
        avatar_id: AvatarOption = DEFAULT_AVATAR_ID,
        mode: Annotated[int, typer.Option(min=1, max=2, help="1 retelling, 2 dialogue.")] = 2,
        speech_cps: Annotated[float, _speech_cps_option()] = 60.0,
        base_url: BaseUrlOption = None,
        duration: Annotated[int, _duration_option()] = 3600,
    ) -> None:
        """Talk to the avatar line by line; /interrupt, /set lang=es, /action nod, /quit. Ctrl-C closes cleanly."""
        run_async(
            lambda: _chat(
                emulator=emulator,
                avatar_id=avatar_id,
                mode=mode,
                speech_cps=speech_cps,
                base_url=base_url,
                duration=duration,
            )
        )

    @app.command()
    def say(
        text: Annotated[str | None, typer.Argument(help="What to say; - reads it from standard input.")] = None,
        file: Annotated[Path | None, typer.Option("--file", help="Read the text from this UTF-8 file.")] = None,
        emulator: EmulatorOption = None,
        avatar_id: AvatarOption = DEFAULT_AVATAR_ID,
        mode: Annotated[int, typer.Option(min=1, max=2, help="1 retelling, 2 dialogue.")] = 1,
        json_lines: Annotated[
            bool, typer.Option("--json", help="Print events as JSON lines, ending with one 'result' line.")
        ] = False,
        base_url: BaseUrlOption = None,
        duration: Annotated[int, _duration_option()] = 300,
    ) -> None:
        """One turn: say TEXT, stream the reply, close the session; exits 1 if the reply came back incomplete."""
        try:
            said = text_to_say(text, file)
            # The emulator's avatar speaks at say's 200 characters/s; the real service's at a person's pace.
            estimate = check_fits_duration(
                said, duration, SAY_SPEECH_CPS if _uses_emulator(emulator, base_url) else None
            )
        except InvalidArgumentError as exc:
            sys.stderr.write(f"error: {exc}\n")
            raise typer.Exit(EXIT_CODES["usage"]) from None
        if estimate is not None:
            sys.stderr.write(estimate + "\n")
        run_async(
            lambda: _say(
                text=said,
                emulator=emulator,
                avatar_id=avatar_id,
                mode=mode,
                json_lines=json_lines,
                base_url=base_url,
                duration=duration,
            )
        )
