"""The inspector's HTTP side: the page, its assets, a snapshot, a server-sent event stream and the controls.

Routes (under ``prefix``, ``/inspector`` by default):

* ``GET /`` the page; ``GET /app.js``, ``GET /app.css`` its assets (shipped in the package: no CDN, no build);
* ``GET /api/snapshot?room=CH``: every kept item for the rooms list and, with ``room``, that room in full;
* ``GET /api/events?room=CH&after=SEQ``: ``text/event-stream`` of the items logged after ``SEQ`` (default: from
  now on; batches of at most ``BATCH`` items, at most one batch every ``THROTTLE_SECONDS``); an ``event: reset``
  tells the page it fell behind the bounded log and must reload the snapshot. While a stream lasts the inspector
  follows its room (decodes its frames at every tick); with no stream connected it decodes nothing;
* ``POST /api/rooms/CH/speak | chat | interrupt`` (JSON ``{"text": ...}``; ``application/json`` only, so another
  site's form cannot post): act in the room (a recording answers 409);
* ``GET /api/rooms/CH/recording.jsonl``: the room's kept frames in the recording format.

The page never receives an API key, a token or a certificate: the model holds none.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from functools import cache
from importlib import resources
from typing import Any

import anyio
import anyio.lowlevel
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from streamclient.emulator.inspector.live import Inspector, InspectorActionError
from streamclient.errors import InvalidArgumentError

__all__ = ("BATCH", "THROTTLE_SECONDS", "inspector_routes")

BATCH = 50
#: Items encoded between two checkpoints for a snapshot or a download (a room's 1,000 frames are ~300 KB of JSON).
ENCODE_SLICE = 100
THROTTLE_SECONDS = 0.1
KEEPALIVE_SECONDS = 15.0
_ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def _asset(name: str) -> bytes:
    return (resources.files("streamclient.emulator.inspector") / "static" / name).read_bytes()


def _json(obj: Any) -> str:
    # ASCII escapes: a frame kept with surrogateescape (invalid UTF-8) still encodes
    return json.dumps(obj, separators=(",", ":"))


async def _encode_sliced(objects: list[Any], encode: Callable[[Any], str]) -> list[str]:
    """Encode each of ``objects``, ``ENCODE_SLICE`` at a time with a checkpoint between (the rooms go first)."""
    out: list[str] = []
    for start in range(0, len(objects), ENCODE_SLICE):
        out.extend(map(encode, objects[start : start + ENCODE_SLICE]))
        await anyio.lowlevel.checkpoint()
    return out


def inspector_routes(inspector: Inspector, prefix: str = "/inspector") -> list[BaseRoute]:
    """The routes of the page of ``inspector`` (see the module docstring)."""
    model = inspector.model

    async def page(_: Request) -> Response:
        return Response(
            _asset("index.html"),
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-store"},
        )

    async def redirect(_: Request) -> Response:
        return RedirectResponse(f"{prefix}/")

    def asset(name: str) -> Route:
        async def endpoint(_: Request) -> Response:
            return Response(_asset(name), media_type=_ASSETS[name], headers={"Cache-Control": "no-store"})

        return Route(f"{prefix}/{name}", endpoint)

    async def snapshot(request: Request) -> Response:
        room = request.query_params.get("room")
        await inspector.watch(room)
        snap = model.snapshot(room)
        snap["lost"] = inspector.lost
        items = snap.pop("items")
        head = _json(snap)[:-1]
        body = head + ',"items":[' + ",".join(await _encode_sliced(items, _json)) + "]}"
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        room = request.query_params.get("room")
        try:  # no "after": from now on
            after = int(request.query_params.get("after", model.seq))
        except ValueError:
            return JSONResponse({"error": "after must be an integer"}, status_code=400)

        async def stream() -> AsyncIterator[str]:
            cursor = after
            inspector.page_opened(room)  # the inspector follows the room while the stream lasts
            try:
                await inspector.watch(room)
                yield ": inspector\n\n"
                while not inspector.closed:
                    items, cursor, reset = model.items_after(cursor, room=room, limit=BATCH)
                    if reset:
                        yield "event: reset\ndata: {}\n\n"
                        return
                    if items:
                        yield f"data: {_json(items)}\n\n"
                        if cursor >= model.seq:  # caught up: the next batch waits (throttled)
                            await anyio.sleep(THROTTLE_SECONDS)
                        continue
                    await inspector.wait_changed(KEEPALIVE_SECONDS)
                    if cursor >= model.seq and not inspector.closed:
                        yield ": keepalive\n\n"
            finally:
                inspector.page_closed(room)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    async def act(request: Request) -> Response:
        action = request.path_params["action"]
        channel = request.path_params["room"]
        if action not in ("speak", "chat", "interrupt"):
            return JSONResponse({"error": f"no action {action}"}, status_code=404)
        if not model.live:
            return JSONResponse({"error": "this page shows a recording: there is no room to act in"}, status_code=409)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send application/json"}, status_code=415)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        text = body.get("text") if isinstance(body, dict) else None
        try:
            if action == "speak":
                mid = await inspector.speak(channel, text if isinstance(text, str) else "")
            elif action == "chat":
                mid = await inspector.chat(channel, text if isinstance(text, str) else "")
            else:
                mid = await inspector.interrupt(channel)
        except InvalidArgumentError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        except (InspectorActionError, TimeoutError) as exc:
            return JSONResponse({"error": str(exc) or "timed out"}, status_code=409)
        return JSONResponse({"mid": mid})

    async def recording(request: Request) -> Response:
        channel = request.path_params["room"]
        await inspector.watch(channel)
        if not model.has_room(channel):
            return JSONResponse({"error": f"no room {channel}"}, status_code=404)
        lines = list(model.recording_lines(channel, encode=False))
        body = "".join(line + "\n" for line in await _encode_sliced(lines, _json))
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in channel)[:80]
        return Response(
            body,
            media_type="application/x-ndjson",
            headers={"Content-Disposition": f'attachment; filename="{safe}.jsonl"', "Cache-Control": "no-store"},
        )

    return [
        Route(prefix, redirect),
        Route(f"{prefix}/", page),
        asset("app.js"),
        asset("app.css"),
        Route(f"{prefix}/api/snapshot", snapshot),
        Route(f"{prefix}/api/events", events),
        Route(f"{prefix}/api/rooms/{{room}}/recording.jsonl", recording),
        Route(f"{prefix}/api/rooms/{{room}}/{{action:str}}", act, methods=["POST"]),
    ]
