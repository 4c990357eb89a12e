"""The emulator's REST side: every documented AKOOL endpoint over ``EmulatorState``, in the AKOOL envelope.

``rest_routes(state)`` returns Starlette routes; the full emulator app mounts them next to the room's websocket
route. Every request is recorded in ``state.requests`` (method and path only), then scripted faults apply
(``state.fail_next``/``delay_next``), then credentials are checked (except for ``getToken``), then the handler runs.
Answers are HTTP 200 with ``{"code", "msg", "data"}`` (AKOOL reports errors in the body code), shaped as the
docs show them: session close and knowledge delete answer a bare ``{"code", "msg"}``; where the docs show several
shapes, ``state.shapes`` (``ResponseShapes``) picks one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from streamclient.emulator import validation
from streamclient.emulator.openapi import openapi_route
from streamclient.emulator.state import LANGUAGES, VOICES, EmulatorApiError, EmulatorState

__all__ = ("rest_routes",)

logger = logging.getLogger(__name__)

Handler = Callable[[EmulatorState, Request], Awaitable[Any]]

_V4 = "/api/open/v4"
#: The code of the last-resort answer when a handler fails unexpectedly (AKOOL's "liveAvatar processing error").
INTERNAL_ERROR_CODE = 1218


class _NoData:
    """A handler's result for a success answer without ``data`` (``{"code": 1000, "msg": "OK"}``)."""


NO_DATA = _NoData()


def _envelope(
    code: int, msg: str, data: Any = None, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if code == 1000 and not isinstance(data, _NoData):
        body["data"] = data
    return JSONResponse(body, status_code=status, headers=headers)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


async def _json(request: Request) -> dict[str, Any]:
    try:  # NaN and Infinity are Python's extensions, not JSON; nesting deep enough to exhaust the stack is refused
        body = json.loads(await request.body() or b"{}", parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise EmulatorApiError(1003, "Parameter error: the body is not JSON") from None
    if not isinstance(body, dict):
        raise EmulatorApiError(1003, "Parameter error: the body must be a JSON object")
    return body


def _int_param(request: Request, name: str, default: int | None, *, maximum: int | None = None) -> int | None:
    value = validation.int_param(name, request.query_params.getlist(name), maximum=maximum)
    return default if value is None else value


def _text_param(request: Request, name: str) -> str | None:
    return validation.text_param(name, request.query_params.getlist(name))


def _page(request: Request, default_size: int, *, max_size: int | None = 100) -> tuple[int, int]:
    page = _int_param(request, "page", None)
    size = _int_param(request, "size", None, maximum=max_size)
    return page or 1, size or default_size


# ----------------------------------------------------------------------------------------------- handlers


async def _get_token(state: EmulatorState, request: Request) -> Any:
    body = await _json(request)
    return {"token": state.issue_token(body.get("clientId"), body.get("clientSecret"))}


async def _session_create(state: EmulatorState, request: Request) -> Any:
    return state.session_data(state.create_session(await _json(request)))


async def _session_detail(state: EmulatorState, request: Request) -> Any:
    session = state.get_session(_text_param(request, "id"))
    return state.session_data(session, with_token=state.shapes.tokens_in_detail)


async def _session_close(state: EmulatorState, request: Request) -> Any:
    body = await _json(request)
    # OAS sends {"id"}; AKOOL's code samples send {"session_id"} (akool-api-and-protocol.md §7.1): accept both.
    session = state.close_session(validation.close_id(body))
    if not state.shapes.close_with_data:
        return NO_DATA  # OAS: the answer is the bare ApiResponse
    closed_at = int((session.closed_at or 0.0) * 1000)  # the close-session sample: milliseconds
    return {"session_id": session.id, "status": "closed", "closed_at": closed_at}


async def _session_list(state: EmulatorState, request: Request) -> Any:
    page, size = _page(request, 100, max_size=None)  # OAS: no maximum for the session list
    status = _int_param(request, "status", None, maximum=4)
    count, items = state.list_sessions(status=status, page=page, size=size)
    with_token = state.shapes.tokens_in_detail
    return {
        "count": count,
        state.shapes.session_list_key: [state.session_data(s, with_token=with_token) for s in items],
    }


async def _avatar_list(state: EmulatorState, request: Request) -> Any:
    page, size = _page(request, 100)
    platform = _text_param(request, "platform")
    platform = "open" if platform is None else platform
    if platform not in ("open", "aigc"):  # an empty platform= is refused too: it is no platform
        raise EmulatorApiError(1003, "Parameter error: platform must be open or aigc")
    avatars = state.avatars()
    return {"count": len(avatars), "result": avatars[(page - 1) * size : page * size]}


async def _avatar_detail(state: EmulatorState, request: Request) -> Any:
    return {**state.get_avatar(_text_param(request, "avatar_id")), "platform": "open"}


async def _upload_detail(state: EmulatorState, request: Request) -> Any:
    return state.upload_records(_text_param(request, "id"))  # an array, keyed by the upload's _id


async def _avatar_upload(state: EmulatorState, request: Request) -> Any:
    body = await _json(request)
    validation.upload_fields(body)
    record = state.upload_avatar(body)
    return [record] if state.shapes.upload_answer == "array" else record


async def _voice_list(state: EmulatorState, request: Request) -> Any:
    page, size = _page(request, 10, max_size=None)  # the voice docs set no maximum
    voice_type = _int_param(request, "type", None, maximum=2)
    if voice_type is None:
        raise EmulatorApiError(1003, "Parameter error: type is required")
    if voice_type == 2:
        voices = [{"_id": f"voice_{v['voice_id']}", "support_stream": True, "status": 3, **v} for v in VOICES]
    else:  # the account's clones: voice_id is null until a clone completes (voice docs)
        voices = [{"support_stream": True, "preview": None, **clone} for clone in state.voice_clones]
    for unused in ("style", "age", "scenario"):  # documented filters the emulator's voices do not carry
        _text_param(request, unused)
    if _int_param(request, "support_stream", None, maximum=2) == 2:  # 1 supports streaming, 2 does not
        voices = []
    gender = _text_param(request, "gender")
    if gender:  # comma-separated alternatives (voice docs)
        wanted = {g.strip().lower() for g in gender.split(",")}
        voices = [v for v in voices if str(v.get("gender", "")).lower() in wanted]
    name = _text_param(request, "name")
    if name:  # "supports fuzzy search" (voice docs)
        voices = [v for v in voices if name.lower() in str(v.get("name", "")).lower()]
    return {"count": len(voices), "page": page, "size": size, "result": voices[(page - 1) * size : page * size]}


async def _language_list(_state: EmulatorState, _request: Request) -> Any:
    return {"lang_list": [dict(lang) for lang in LANGUAGES]}


async def _knowledge_list(state: EmulatorState, request: Request) -> Any:
    page, size = _page(request, 10)
    _int_param(request, "from", None, maximum=2)  # 1 system, 2 the user's (KB docs): every base here is the user's
    name = _text_param(request, "name")
    items = [kb for kb in state.knowledge.values() if not name or kb["name"] == name]
    page_items = items[(page - 1) * size : page * size]
    if state.shapes.knowledge_list_shape == "knowledge_list":  # what the official demo reads (§7.5)
        return {"count": len(items), "knowledge_list": page_items}
    return page_items  # the KB docs show ``data`` as a bare array, without a total


async def _knowledge_create(state: EmulatorState, request: Request) -> Any:
    body = await _json(request)
    validation.knowledge_fields(body)
    return state.create_knowledge(body)


async def _knowledge_detail(state: EmulatorState, request: Request) -> Any:
    return state.get_knowledge(_text_param(request, "id"))


async def _knowledge_update(state: EmulatorState, request: Request) -> Any:
    body = await _json(request)
    validation.knowledge_fields(body)
    return state.update_knowledge(body)


async def _knowledge_delete(state: EmulatorState, request: Request) -> Any:
    body = await _json(request)
    state.delete_knowledge(body.get("id"))
    return NO_DATA  # the KB docs' answer: {"code": 1000, "msg": "OK"}


# ------------------------------------------------------------------------------------------------ routing


def _route(state: EmulatorState, path: str, method: str, handler: Handler, *, authenticate: bool = True) -> Route:
    async def endpoint(request: Request) -> Response:
        state.requests.append((request.method, request.url.path))
        faults = state.take_faults(request.url.path)
        await request.body()  # read (and cache) it now: a client that gives up during a delay is no error here
        delayed = False
        for fault in faults:
            if fault.delay and not fault.delay_after:
                await anyio.sleep(fault.delay)
                delayed = True
        if delayed and await request.is_disconnected():
            # The client gave up while the request waited: like a request that never reached the service.
            return PlainTextResponse("client went away", status_code=499)
        for fault in faults:
            if fault.code is None and fault.http_status is None:
                continue
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
            if fault.code is None:
                return PlainTextResponse("emulated failure", status_code=fault.http_status or 500, headers=headers)
            return _envelope(fault.code, "emulated failure", status=fault.http_status or 200, headers=headers)
        try:
            if authenticate:
                state.authenticate(request.headers)
            data = await handler(state, request)
        except EmulatorApiError as exc:
            logger.debug("emulator: %s %s -> code %d", request.method, request.url.path, exc.code)
            return _envelope(exc.code, exc.msg, status=exc.http_status)
        except Exception as exc:  # the last resort: no input may stop the emulator or get a 500 in plain text
            logger.exception(
                "emulator: %s %s failed; answered code %d", request.method, request.url.path, INTERNAL_ERROR_CODE
            )
            return _envelope(INTERNAL_ERROR_CODE, f"emulator error: {type(exc).__name__} (logged)")
        for fault in faults:
            if fault.delay and fault.delay_after:
                await anyio.sleep(fault.delay)
        if handler is _get_token:
            if state.shapes.token_location == "data":  # the SDK best-practice snippet reads data.token (§7.3)
                return JSONResponse({"code": 1000, "msg": "OK", "data": data})
            return JSONResponse({"code": 1000, "msg": "OK", **data})  # token at the top level (§1.2)
        return _envelope(1000, "OK", data)

    return Route(path, endpoint, methods=[method])


def rest_routes(state: EmulatorState) -> list[BaseRoute]:
    """The emulator's REST API as Starlette routes (every endpoint of akool-api-and-protocol.md §1.3).

    Args:
        state: the world the routes read and change.

    Returns:
        Routes to mount at the root of a Starlette app.
    """
    table: list[tuple[str, str, Handler]] = [
        ("/api/open/v4/liveAvatar/session/create", "POST", _session_create),
        ("/api/open/v4/liveAvatar/session/detail", "GET", _session_detail),
        ("/api/open/v4/liveAvatar/session/close", "POST", _session_close),
        ("/api/open/v4/liveAvatar/session/list", "GET", _session_list),
        ("/api/open/v4/liveAvatar/avatar/list", "GET", _avatar_list),
        ("/api/open/v4/liveAvatar/avatar/detail", "GET", _avatar_detail),
        ("/api/open/v3/avatar/detail", "GET", _upload_detail),  # an upload's status record by _id (avatar docs)
        ("/api/open/v3/avatar/create", "POST", _avatar_upload),
        ("/api/open/v4/voice/list", "GET", _voice_list),
        ("/api/open/v3/language/list", "GET", _language_list),
        (f"{_V4}/knowledge/list", "GET", _knowledge_list),
        (f"{_V4}/knowledge/create", "POST", _knowledge_create),
        (f"{_V4}/knowledge/detail", "GET", _knowledge_detail),
        (f"{_V4}/knowledge/update", "POST", _knowledge_update),
        (f"{_V4}/knowledge/delete", "DELETE", _knowledge_delete),
    ]
    routes: list[BaseRoute] = [_route(state, "/api/open/v3/getToken", "POST", _get_token, authenticate=False)]
    routes.append(openapi_route())  # the emulated API's OpenAPI document (openapi.py), no credentials needed
    routes.extend(_route(state, path, method, handler) for path, method, handler in table)
    return routes
