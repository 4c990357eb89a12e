"""The inspector page on a recording (``streamclient frames view FILE.jsonl``): the same page, read-only.

The recording is read line by line into an :class:`~streamclient.emulator.inspector.model.InspectorModel` (bounded
like the live one: a long recording keeps its last frames per room). Frame records (``dir`` ``in``/``out``) are
delivered frames; refusal lines written by the page's download (``"by": "room"``, ``"refused": "room:-114"``) are
frames the room refused; refusal lines of the emulator's avatar are already visible as undecodable frames. A
recording holds no limits: the page draws the emulator's defaults (``RoomLimits()``) unless told otherwise.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from streamclient.emulator._serve import serve
from streamclient.emulator.inspector.live import Inspector
from streamclient.emulator.inspector.model import InspectorModel, Limits
from streamclient.emulator.inspector.web import inspector_routes
from streamclient.emulator.room import RoomLimits
from streamclient.errors import InvalidArgumentError

__all__ = ("MAX_LINE_BYTES", "load_recording", "serve_recording")

#: Longer lines are skipped (and counted): a frame record is a few KiB at most.
MAX_LINE_BYTES = 1 << 20
_AVATAR_UID_OFFSET = 1_000_000
_DEFAULT_CHANNEL = "recording"


def load_recording(path: str | Path, *, limits: Limits | None = None) -> tuple[InspectorModel, int, int]:
    """Read the recording at ``path`` into a read-only model.

    Returns:
        ``(model, frames, skipped)``: the model, the frame and refusal lines read, the lines that were not records.

    Raises:
        InvalidArgumentError: the file cannot be read.
    """
    if limits is None:
        defaults = RoomLimits()
        limits = Limits(defaults.max_message_bytes, defaults.bytes_per_second, defaults.messages_per_second)
    model = InspectorModel(live=False, title=f"recording {Path(path).name}")
    seen: set[str] = set()
    joined: set[tuple[str, str]] = set()
    bots: dict[str, set[str]] = {}
    frames = skipped = 0
    for first_pass in (True, False):  # the first finds the avatars (and so the bots) before any frame is shown
        for obj in _objects(path):
            if obj is None:
                skipped += not first_pass
                continue
            if first_pass:
                sender = str(obj.get("sender", ""))
                if (
                    obj.get("dir") == "in"
                    and sender.isdigit()
                    and int(sender) > _AVATAR_UID_OFFSET
                    and len(bots) < 10_000
                ):
                    channel = str(obj.get("channel") or _DEFAULT_CHANNEL)
                    bots.setdefault(channel, set()).add(str(int(sender) - _AVATAR_UID_OFFSET))
                continue
            try:
                taken = _take(model, obj, seen, joined, bots, limits)
            except (ValueError, KeyError, TypeError):
                taken = False
            frames += taken
            skipped += not taken
    model.flush()
    return model, frames, skipped


def _objects(path: str | Path) -> Iterator[dict[str, Any] | None]:
    """The JSON objects of the file's lines (``None`` for a line that is not one); blank lines are skipped."""
    try:
        fh = Path(path).open("rb")
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with fh:
        for raw in fh:
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield None
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                yield None
                continue
            yield obj if isinstance(obj, dict) else None


def _take(
    model: InspectorModel,
    obj: dict[str, Any],
    seen: set[str],
    joined: set[tuple[str, str]],
    bots: dict[str, set[str]],
    limits: Limits,
) -> bool:
    channel = str(obj.get("channel") or _DEFAULT_CHANNEL)
    t = float(obj["t"])
    sender = str(obj["sender"])
    if channel not in seen:
        seen.add(channel)
        model.room_opened(channel, session_id=None, limits=limits, t=t)
        for bot in bots.get(channel, ()):
            model.mark_bot(channel, bot)
    if "dir" in obj:
        direction = obj["dir"]
        if direction not in ("in", "out"):
            return False
        role = "avatar" if direction == "in" else "client"
        data = str(obj["frame"]).encode("utf-8", errors="surrogateescape")
        if (channel, sender) not in joined:
            joined.add((channel, sender))
            model.peer(channel, sender, role=role, joined=True, reason=0, t=t)
        model.frame(channel, t=t, uid=sender, role=role, data=data, code=0)
        return True
    reason = str(obj.get("refused", ""))
    if obj.get("by") == "room" and reason.startswith("room:"):
        code = int(reason.removeprefix("room:"))
        data = str(obj.get("excerpt", "")).encode("utf-8", errors="surrogateescape")
        model.frame(channel, t=t, uid=sender, role="", data=data, code=code)
        return True
    return "refused" in obj  # the avatar's refusal lines: their frames are shown as undecodable already


@contextlib.asynccontextmanager
async def serve_recording(
    path: str | Path, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[str, int, int]]:
    """Serve the inspector page on the recording at ``path``.

    Yields:
        ``(url, frames, skipped)``: the page's URL, and what :func:`load_recording` read.

    Raises:
        InvalidArgumentError: the file cannot be read.
        OSError: the address cannot be bound.
    """
    model, frames, skipped = load_recording(path)
    inspector = Inspector(model=model)
    app = Starlette(routes=inspector_routes(inspector))
    async with serve(app, host=host, port=port) as base_url:
        try:
            yield base_url + "/inspector/", frames, skipped
        finally:
            inspector.close()
