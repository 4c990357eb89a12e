"""CLI commands for the REST API: ``sessions``, ``avatars``, ``voices``, ``languages``, ``knowledge``.

Credentials come from the environment only (``AKOOL_API_KEY``, or ``AKOOL_CLIENT_ID`` + ``AKOOL_CLIENT_SECRET``;
a key on the command line would show in ``ps`` and shell history); ``--base-url`` or ``AKOOL_BASE_URL`` picks the
service (e.g. a local emulator). Output is a table for people (tab-separated columns, values in full, when stdout
is not a terminal), or JSON with ``--json`` for scripts (a list command prints the same page object with or without
``--all``). Secrets never print: tokens show as ``**********`` in all forms.

Exit codes (``streamclient.cli._runner.EXIT_CODES``): 0 ok, 1 the API refused (an AKOOL error code, an HTTP error,
a malformed response), 2 usage or configuration error (bad arguments, no credentials), 3 the service could not be
reached or timed out. Errors are one line on stderr, without a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from streamclient.api import AsyncAkoolClient, Session, SessionStatus
from streamclient.api.models import AvatarPage, SessionPage
from streamclient.cli._runner import create_unless_interrupted, run_async
from streamclient.cli._service import require_credentials
from streamclient.cli._visible import visible
from streamclient.errors import LiveAvatarClosedError
from streamclient.ledger import PostgresLedger

__all__ = ("register",)

T = TypeVar("T")

_SECRET_KEY = re.compile(r"token|sig|secret|key|password", re.IGNORECASE)
_MASK = "**********"

sessions_app = typer.Typer(help="Live-avatar sessions: create, get, list, close, sweep.", no_args_is_help=True)
avatars_app = typer.Typer(help="Streaming avatars: list, get, upload.", no_args_is_help=True)
voices_app = typer.Typer(help="Voices: list.", no_args_is_help=True)
languages_app = typer.Typer(help="Languages: list.", no_args_is_help=True)
knowledge_app = typer.Typer(help="Knowledge bases: list.", no_args_is_help=True)

BaseUrlOption = typer.Option(None, "--base-url", envvar="AKOOL_BASE_URL", help="Service URL (default: AKOOL's).")
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")
TimeoutOption = typer.Option(30.0, "--timeout", min=0.1, help="Seconds per HTTP request.")


def _total(count: int | None) -> str:
    """A list's total, or ``?`` when the answer gave none."""
    return "?" if count is None else str(count)


def register(app: typer.Typer) -> None:
    """Add the REST API command groups to ``app``."""
    app.add_typer(sessions_app, name="sessions")
    app.add_typer(avatars_app, name="avatars")
    app.add_typer(voices_app, name="voices")
    app.add_typer(languages_app, name="languages")
    app.add_typer(knowledge_app, name="knowledge")


# ------------------------------------------------------------------------------------------------- helpers


def _redact(value: Any) -> Any:
    """Mask every value whose key looks secret (typed secrets are already masked by pydantic)."""
    if isinstance(value, dict):
        return {
            k: (_MASK if _SECRET_KEY.search(str(k)) and v not in (None, "") else _redact(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _redact(value.model_dump(mode="json", by_alias=False))
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return _redact(value)


def _call(base_url: str | None, timeout: float, action: Callable[[AsyncAkoolClient], Awaitable[T]]) -> T:
    async def main() -> T:
        require_credentials(base_url)
        async with AsyncAkoolClient(base_url=base_url, timeout=timeout) as client:
            return await action(client)

    return run_async(main)


def _is_terminal() -> bool:
    return sys.stdout.isatty()


def _emit(as_json: bool, payload: Any, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if as_json:
        typer.echo(json.dumps(_plain(payload), indent=2, ensure_ascii=False))
        return
    cells = [["" if cell is None else visible(str(cell)) for cell in row] for row in rows]  # never raw escapes
    if not _is_terminal():  # a pipe or a file: whole values, one line per row, tab-separated (cut -f2)
        for line in (list(columns), *cells):
            typer.echo("\t".join(" ".join(cell.split()) for cell in line))
        return
    table = Table(title=title)
    for index, column in enumerate(columns):
        table.add_column(column, no_wrap=index == 0)  # ids stay whole, so they can be copied
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))  # server text is never markup
    Console(soft_wrap=True).print(table)


def _status(value: Any) -> str:
    return value.name.lower() if isinstance(value, SessionStatus) else str(value)


def _session_rows(items: Sequence[Any]) -> list[list[Any]]:
    rows = []
    for s in items:
        creds = s.credentials
        channel = getattr(creds, "agora_channel", None) or getattr(creds, "livekit_room_name", None)
        rows.append([s.id, _status(s.status), s.stream_type, channel])
    return rows


SESSION_COLUMNS = ("id", "status", "stream", "channel")

# -------------------------------------------------------------------------------------------------- sessions


@sessions_app.command("create")
def sessions_create(
    avatar_id: str = typer.Argument(..., help="Streaming avatar id, e.g. dvp_Tristan_cloth2_1080P."),
    duration: int | None = typer.Option(None, help="Seconds, 1..3600 (billed up front, unused time refunded)."),
    mode_type: int | None = typer.Option(None, "--mode-type", help="1 retelling, 2 dialogue."),
    voice_id: str | None = typer.Option(None, "--voice-id"),
    language: str | None = typer.Option(None, help="Language code, e.g. en."),
    knowledge_id: str | None = typer.Option(None, "--knowledge-id"),
    background_url: str | None = typer.Option(None, "--background-url"),
    stream_type: str | None = typer.Option(None, "--stream-type", help="agora, livekit or trtc."),
    speed: float | None = typer.Option(None, help="Speaking speed 0.8..1.2."),
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """Create a session (never retried once sent: a retry could bill a second session)."""
    voice_params = {"speed": speed} if speed is not None else None

    async def create(c: AsyncAkoolClient) -> Session:
        made = await create_unless_interrupted(  # a signal meanwhile: the session is closed, not leaked
            c,
            avatar_id,
            duration=duration,
            mode_type=mode_type,
            voice_id=voice_id,
            language=language,
            knowledge_id=knowledge_id,
            background_url=background_url,
            stream_type=stream_type,
            voice_params=voice_params,
        )
        if isinstance(c.ledger, PostgresLedger):  # it stays open on purpose when this command exits: not an orphan
            await c.ledger.record_detached(made.id, base_url=c.base_url)
        elif c.ledger is not None:
            c.ledger.record_detached(made.id, base_url=c.base_url)
        return made

    session = _call(base_url, timeout, create)
    _emit(as_json, session, "Created session", SESSION_COLUMNS, _session_rows([session]))


@sessions_app.command("get")
def sessions_get(
    session_id: str = typer.Argument(..., help="The session's id."),
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """Show one session."""
    session = _call(base_url, timeout, lambda c: c.sessions.get(session_id))
    _emit(as_json, session, "Session", SESSION_COLUMNS, _session_rows([session]))


@sessions_app.command("list")
def sessions_list(
    status: int | None = typer.Option(None, help="1 queueing, 2 processing, 3 completed, 4 failed."),
    page: int = typer.Option(1, min=1),
    size: int = typer.Option(20, min=1, max=100),
    all_pages: bool = typer.Option(False, "--all", help="Fetch every page."),
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """List sessions (one page, or every page with --all)."""

    async def fetch(client: AsyncAkoolClient) -> SessionPage:
        if all_pages:  # the same shape as one page, holding every item
            items = [s async for s in client.sessions.iter(status=status, size=size)]
            return SessionPage.model_construct(count=len(items), items=items)
        return await client.sessions.list(status=status, page=page, size=size)

    result: SessionPage = _call(base_url, timeout, fetch)
    title = f"Sessions ({result.count})" if all_pages else f"Sessions (page {page}, {_total(result.count)} total)"
    _emit(as_json, result, title, SESSION_COLUMNS, _session_rows(result.items))


@sessions_app.command("close")
def sessions_close(
    session_id: str = typer.Argument(..., help="The session's id."),
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """Close a session (stops billing). A session that is already closed is not an error (exit 0, with a note)."""

    async def close(client: AsyncAkoolClient) -> bool:
        try:
            await client.sessions.close(session_id)
        except LiveAvatarClosedError:
            return False
        return True

    closed_now = _call(base_url, timeout, close)
    if as_json:
        typer.echo(json.dumps({"id": session_id, "closed": True, "already_closed": not closed_now}))
    elif closed_now:
        typer.echo(f"closed {session_id}")
    else:
        typer.echo(f"session {session_id} was already closed; nothing to do")


# ------------------------------------------------------------------------------------------ other resources


@avatars_app.command("list")
def avatars_list(
    page: int = typer.Option(1, min=1),
    size: int = typer.Option(100, min=1, max=100),
    all_pages: bool = typer.Option(False, "--all", help="Fetch every page."),
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """List streaming avatars."""

    async def fetch(client: AsyncAkoolClient) -> AvatarPage:
        if all_pages:  # the same shape as one page, holding every item
            items = [a async for a in client.avatars.iter(size=size)]
            return AvatarPage.model_construct(count=len(items), items=items)
        return await client.avatars.list(page=page, size=size)

    result: AvatarPage = _call(base_url, timeout, fetch)
    rows = [[a.avatar_id, a.name, a.gender, a.voice_id, a.available, _status(a.status)] for a in result.items]
    _emit(as_json, result, "Avatars", ("avatar_id", "name", "gender", "voice_id", "available", "status"), rows)


@avatars_app.command("get")
def avatars_get(
    avatar_id: str = typer.Argument(..., help="The avatar id."),
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """Show one avatar."""
    a = _call(base_url, timeout, lambda c: c.avatars.get(avatar_id))
    rows = [[a.avatar_id, a.name, a.gender, a.voice_id, a.available, _status(a.status)]]
    _emit(as_json, a, "Avatar", ("avatar_id", "name", "gender", "voice_id", "available", "status"), rows)


@avatars_app.command("upload")
def avatars_upload(
    url: str = typer.Option(..., "--url", help="A video of the person (about a minute, small head movements)."),
    avatar_id: str = typer.Option(..., "--avatar-id", help="The new avatar's id (letters and digits)."),
    name: str = typer.Option(..., "--name", help="A display name."),
    url_from: int = typer.Option(1, "--url-from", min=1, max=2, help="1 AKOOL or other links, 2 YouTube/TikTok/X."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until the avatar is ready (status 3) or failed."),
    wait_timeout: float = typer.Option(900.0, "--wait-timeout", min=1.0, help="Seconds to wait for processing."),
    interval: float = typer.Option(5.0, "--interval", min=0.01, help="Seconds between status polls."),
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """Upload a streaming avatar from a video URL and (by default) wait until it is ready, showing progress."""
    console = Console(stderr=True)

    async def upload(client: AsyncAkoolClient) -> Any:
        avatar = await client.avatars.upload(url=url, avatar_id=avatar_id, name=name, url_from=url_from)
        if not wait:
            return avatar
        started = anyio.current_time()
        with console.status(f"avatar {avatar_id}: {_status(avatar.status)}") as status:

            def progress(current: Any) -> None:
                elapsed = anyio.current_time() - started
                status.update(f"avatar {avatar_id}: {_status(current.status)} ({elapsed:.0f} s)")

            return await client.avatars.wait_until_ready(
                avatar, timeout=wait_timeout, interval=interval, on_progress=progress
            )

    a = _call(base_url, timeout, upload)
    rows = [[a.avatar_id, a.name, a.gender, a.voice_id, a.available, _status(a.status)]]
    _emit(as_json, a, "Avatar", ("avatar_id", "name", "gender", "voice_id", "available", "status"), rows)
    if a.status == SessionStatus.FAILED:
        raise typer.Exit(1)


@voices_app.command("list")
def voices_list(
    voice_type: int = typer.Option(2, "--type", min=1, max=2, help="1 your cloned voices, 2 AKOOL voices."),
    stream_only: bool = typer.Option(False, "--stream-only", help="Only voices usable for streaming."),
    page: int = typer.Option(1, min=1),
    size: int = typer.Option(20, min=1, max=100),
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """List voices."""
    result = _call(
        base_url,
        timeout,
        lambda c: c.voices.list(
            voice_type=voice_type, support_stream=True if stream_only else None, page=page, size=size
        ),
    )
    rows = [[v.voice_id, v.name, v.gender, v.language, v.support_stream] for v in result.items]
    _emit(
        as_json,
        result,
        f"Voices ({_total(result.count)} total)",
        ("voice_id", "name", "gender", "language", "stream"),
        rows,
    )


@languages_app.command("list")
def languages_list(
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """List the supported languages."""
    result = _call(base_url, timeout, lambda c: c.languages.list())
    _emit(as_json, result, "Languages", ("code", "name"), [[lang.lang_code, lang.lang_name] for lang in result])


@knowledge_app.command("list")
def knowledge_list(
    page: int = typer.Option(1, min=1),
    size: int = typer.Option(20, min=1, max=100),
    as_json: bool = JsonOption,
    base_url: str | None = BaseUrlOption,
    timeout: float = TimeoutOption,
) -> None:
    """List knowledge bases."""
    result = _call(base_url, timeout, lambda c: c.knowledge.list(page=page, size=size))
    rows = [[kb.id, kb.name, len(kb.docs), len(kb.urls)] for kb in result.items]
    _emit(as_json, result, "Knowledge bases", ("id", "name", "docs", "urls"), rows)
