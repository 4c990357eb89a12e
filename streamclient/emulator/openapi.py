"""The OpenAPI document of the API the emulator emulates, served at ``GET /openapi.json``.

The document (``openapi.json`` beside this module, shipped in the wheel) describes AKOOL's REST API as the emulator
serves it, in the project's own words: written from AKOOL's documented schemas and examples (the live-avatar
OpenAPI file, the voice, language, knowledge-base and authentication pages), with the emulator's validation rules
(``validation.py``) made explicit where AKOOL's schema leaves them to prose. Where the docs show several answer
shapes (``ResponseShapes``), the document accepts each of them.

Its ``servers`` entry is the URL the document was fetched from, so a tool pointed at
``http://127.0.0.1:PORT/openapi.json`` tests that emulator.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ("OPENAPI_PATH", "openapi_document", "openapi_route")

#: Where the emulator serves its OpenAPI document.
OPENAPI_PATH = "/openapi.json"


@functools.cache
def _packaged() -> dict[str, Any]:
    text = resources.files("streamclient.emulator").joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def openapi_document(base_url: str | None = None) -> dict[str, Any]:
    """The emulated API's OpenAPI 3.0 document (a fresh copy).

    Args:
        base_url: the emulator's base URL for ``servers`` (``http://127.0.0.1:PORT``); ``None`` keeps AKOOL's.
    """
    document = copy.deepcopy(_packaged())
    if base_url is not None:
        document["servers"] = [{"url": base_url.rstrip("/"), "description": "this emulator"}]
    return document


async def _serve_document(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(str(request.base_url)))


def openapi_route() -> Route:
    """``GET /openapi.json``: the document, with this emulator as its server (no credentials needed)."""
    return Route(OPENAPI_PATH, _serve_document, methods=["GET"])
