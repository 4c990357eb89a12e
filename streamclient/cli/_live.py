"""Shared pieces of the live-session commands (``demo``, ``chat``, ``say``): the target and the event printer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import ipaddress
import json
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
from rich.console import Console
from rich.text import Text

from streamclient.api import AsyncAkoolClient
from streamclient.cli._service import describe_service, require_credentials
from streamclient.cli._visible import visible
from streamclient.errors import ConfigurationError
from streamclient.session import (
    AvatarJoined,
    AvatarLeft,
    BotMessage,
    BotTextDelta,
    CommandAcked,
    ConnectionChanged,
    EventsDropped,
    FrameDropped,
    MessageIncomplete,
    SessionClosed,
    SessionEvent,
    SessionExpiring,
    SpeakingStarted,
    SpeakingStopped,
    UserTranscript,
)

if TYPE_CHECKING:
    from streamclient.emulator import Emulator
    from streamclient.session import AvatarSession
    from streamclient.session._fanout import EventSubscription

__all__ = (
    "DEFAULT_AVATAR_ID",
    "EventPrinter",
    "LiveConsole",
    "Target",
    "check_transport",
    "event_to_json",
    "open_target",
    "plain",
    "started",
    "stdin_lines",
    "use_real_service",
    "warn_about_orphans",
)

DEFAULT_AVATAR_ID = "dvp_Tristan_cloth2_1080P"


class LiveConsole(Console):
    """A Rich console for the live commands: a closed stdout (``| head -1``) is an ordinary error in the task.

    Rich's default answer to a broken pipe is ``SystemExit``, which asyncio does not treat as an error of one task
    (it stops the event loop at once, before the session is closed). This console raises ``BrokenPipeError``
    instead: the task group ends, the session is closed, and the runner exits quietly.
    """

    def on_broken_pipe(self) -> None:
        """Stop writing and raise ``BrokenPipeError`` (see the class)."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "standard output was closed")


def use_real_service() -> bool:
    """Whether credentials for the real service are configured in the environment."""
    return bool(os.environ.get("AKOOL_API_KEY") or os.environ.get("AKOOL_CLIENT_ID"))


@dataclass(frozen=True, slots=True)
class Target:
    """Where the live commands run: the real service or the embedded emulator."""

    client: AsyncAkoolClient
    emulator: Emulator | None

    @property
    def label(self) -> str:
        """A short description for people."""
        if self.emulator is not None:
            return f"the embedded emulator at {self.emulator.base_url}"
        return describe_service(self.client.base_url)


@asynccontextmanager
async def open_target(
    *, emulator: bool | None, speech_cps: float = 45.0, join_delay: float = 0.3, base_url: str | None = None
) -> AsyncIterator[Target]:
    """Open the API client for the real service (credentials in the environment) or start the emulator.

    Args:
        emulator: force the emulator (True) or the real service (False); None picks the real service when
            ``AKOOL_API_KEY`` (or a client id) is set, the emulator otherwise.
        speech_cps: the emulated avatar's speaking speed, in characters per second.
        join_delay: how long the emulated avatar takes to join.
        base_url: the service to use instead of ``AKOOL_BASE_URL`` (implies the real service, not the emulator).

    Raises:
        ConfigurationError: ``--base-url`` with ``--emulator``, or no credentials for the service.
    """
    if base_url is not None and emulator:
        raise ConfigurationError("--base-url picks a service: it cannot be combined with --emulator")
    if base_url is None and not emulator:  # AKOOL_BASE_URL picks a service just as --base-url does
        base_url = os.environ.get("AKOOL_BASE_URL", "").strip() or None
    use_emulator = not (use_real_service() or base_url) if emulator is None else emulator
    async with AsyncExitStack() as stack:
        if use_emulator:
            from streamclient.emulator import Emulator, EmulatorConfig

            emu = await stack.enter_async_context(
                Emulator(EmulatorConfig(avatar_join_delay=join_delay, speech_chars_per_second=speech_cps))
            )
            # Its sessions die with this process: nothing to record in the ledger.
            client = await stack.enter_async_context(
                AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url, ledger=False)
            )
            yield Target(client=client, emulator=emu)
        else:
            require_credentials(base_url)
            client = await stack.enter_async_context(AsyncAkoolClient(base_url=base_url))
            warn_about_orphans(client)
            await check_transport(client.base_url)
            yield Target(client=client, emulator=None)


def warn_about_orphans(client: AsyncAkoolClient) -> None:
    """Warn on stderr when the ledger holds sessions on this service whose process is gone (they may still bill)."""
    orphans = client.ledger.orphans(client.base_url) if client.ledger is not None else []
    if orphans:
        Console(stderr=True, highlight=False).print(
            plain(
                ("warning: ", "yellow"),
                f"the session ledger holds {len(orphans)} session(s) on {client.base_url} created by processes "
                "that are gone; they may still be billing: run `streamclient sessions sweep` "
                "(add --yes to close them)",
            )
        )


async def check_transport(base_url: str) -> None:
    """Before creating anything billed: make sure the transport the service's credentials will need can be loaded.

    A service on a loopback address is taken for a local emulator (its credentials name its own room, which needs
    no extra); anything else needs the Agora SDK (the ``agora`` extra).

    Raises:
        TransportUnavailableError: the Agora SDK is missing or unusable (the message says how to install it).
    """
    host = (urlsplit(base_url).hostname or "").strip("[]")
    try:
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    from streamclient.transport._agora_sdk import load_agora

    await anyio.to_thread.run_sync(load_agora)


@asynccontextmanager
async def started(console: Console, session: AvatarSession) -> AsyncIterator[AvatarSession]:
    """Enter ``session`` behind a progress spinner (creating, joining, waiting for the avatar), then yield it."""
    async with AsyncExitStack() as stack:
        with console.status("creating the session, joining the channel, waiting for the avatar..."):
            await stack.enter_async_context(session)
        yield session


async def stdin_lines() -> AsyncIterator[str]:
    """Lines typed on standard input, read by a daemon thread so that Ctrl-C never waits for a pending read.

    (A worker thread blocked in ``readline`` would keep the interpreter from exiting until more input came.)
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in iter(sys.stdin.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError):  # stdin closed under us
            pass
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="streamclient-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


def plain(*parts: str | tuple[str, str]) -> Text:
    """A line made of literal text pieces, each optionally styled: ``plain(("error: ", "red"), user_text)``.

    Unlike a markup string, nothing in the pieces is interpreted, so text from the user or the server prints as is,
    except that its control characters are shown as visible escapes (:func:`~streamclient.cli._visible.visible`).
    """
    return Text.assemble(*(visible(p) if isinstance(p, str) else (visible(p[0]), p[1]) for p in parts))


def event_to_json(event: SessionEvent, **extra: Any) -> str:
    """One JSON line for ``event``: ``{"event": "<snake_case type>", ...fields}``."""
    name = "".join("_" + c.lower() if c.isupper() else c for c in type(event).__name__).lstrip("_")
    return json.dumps({"event": name, **dataclasses.asdict(event), **extra}, ensure_ascii=False)


class EventPrinter:
    """Prints a session's events for people (streaming the avatar's words live) or as JSON lines."""

    def __init__(
        self,
        console: Console,
        *,
        json_lines: bool = False,
        show_deltas: bool = True,
        session: AvatarSession | None = None,
    ) -> None:
        self.console = console
        self.session = session  # to tell "closed" from "never created" (a refused key, an unreachable service)
        self.json_lines = json_lines
        self.show_deltas = show_deltas
        self._midline = False
        self._events: EventSubscription | None = None

    def _line(self, line: str | Text) -> None:
        if self._midline:
            self.console.print()
            self._midline = False
        self.console.print(line)

    async def caught_up(self) -> None:
        """Let :meth:`follow` print what has already happened (so a note lands after it, not in the middle)."""
        for _ in range(1000):
            if self._events is None or not self._events.buffered:
                return
            await anyio.lowlevel.checkpoint()

    def note(self, markup: str | Text) -> None:
        """Print a line of the command's own (not an event), starting a new line if needed.

        A ``str`` is Rich markup written by this program; anything from the user or the server must come as a
        :class:`~rich.text.Text` (see :func:`plain`), so that ``[/]`` or ``[bold]`` in it prints as itself.
        """
        if not self.json_lines:
            self._line(markup)

    def handle(self, event: SessionEvent) -> None:
        """Print one event. Remote text (replies, transcripts, ack messages, reasons) is never read as markup."""
        if self.json_lines:
            sys.stdout.write(event_to_json(event) + "\n")
            sys.stdout.flush()
            return
        match event:
            case BotTextDelta(text=text) if self.show_deltas:
                if not self._midline:
                    self.console.print(plain(("avatar > ", "bold magenta")), end="")
                    self._midline = True
                self.console.print(visible(text), end="", markup=False, highlight=False, soft_wrap=True)
            case BotMessage():
                if self._midline:
                    self.console.print()
                    self._midline = False
            case SpeakingStarted():
                self._line(plain(("  (speaking)", "dim")))
            case SpeakingStopped():
                self._line(plain(("  (stopped speaking)", "dim")))
            case UserTranscript(text=text, final=True):
                self._line(plain(("user (voice) > ", "bold cyan"), text))
            case CommandAcked(command=command, code=code, message=message):
                mark = ("✓", "green") if code == 1000 else ("✗", "red")
                self._line(plain(("  ", "dim"), mark, (f" {command} acknowledged: {code} {message}", "dim")))
            case AvatarJoined(uid=uid):
                self._line(plain((f"  avatar joined the channel (uid {uid})", "dim")))
            case AvatarLeft(uid=uid):
                self._line(plain((f"  avatar left the channel (uid {uid})", "dim")))
            case ConnectionChanged(state=state, reason=reason):
                self._line(plain((f"  connection {state.lower()} (reason {reason})", "dim")))
            case MessageIncomplete(message_id=mid, received=received):
                self._line(plain((f"  message {mid} incomplete (chunks {list(received)} arrived)", "yellow")))
            case FrameDropped(reason=reason):
                self._line(plain((f"  dropped a malformed frame ({reason})", "yellow")))
            case SessionExpiring(remaining=remaining):
                self._line(plain((f"  the session expires in {remaining:.0f} s", "yellow")))
            case SessionClosed(reason=reason):
                if self.session is not None and self.session.session_id is None:
                    return  # no session was created: there is nothing to report closed (the error says why)
                self._line(plain((f"  session closed ({reason})", "dim")))
            case EventsDropped(count=count):
                self._line(plain((f"  {count} events dropped (display too slow)", "yellow")))
            case _:
                pass

    async def follow(self, events: EventSubscription) -> None:
        """Print every event from ``events`` (a ``session.events()`` subscription) until the session closes."""
        self._events = events
        async for event in events:
            self.handle(event)
            await anyio.lowlevel.checkpoint()
