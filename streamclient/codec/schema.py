"""JSON Schemas of the wire frames, generated from :mod:`streamclient.codec.wire`.

The checked-in copies live in ``protocol/schemas/``; a test fails when they drift. Regenerate them with::

    streamclient frames schemas --out protocol/schemas
"""

from __future__ import annotations

import json
from typing import Any

from streamclient.codec.wire import WIRE_MODELS

__all__ = ("SCHEMA_DIALECT", "frame_schemas", "render_schemas")

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def frame_schemas() -> dict[str, dict[str, Any]]:
    """Return one JSON Schema per frame kind, keyed by file stem (``chat``, ``command``, ``command_ack``, ``event``).

    Returns:
        The schemas, each with ``$schema`` and ``$id`` set.
    """
    out: dict[str, dict[str, Any]] = {}
    for stem, model in WIRE_MODELS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        out[stem] = {"$schema": SCHEMA_DIALECT, "$id": f"streamclient/protocol/schemas/{stem}.json", **schema}
    return out


def render_schemas() -> dict[str, str]:
    """Return the exact text of each schema file, keyed by file name (``chat.json``, ...).

    Returns:
        Pretty-printed JSON (2-space indent, sorted keys, trailing newline).
    """
    return {
        f"{stem}.json": json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for stem, schema in frame_schemas().items()
    }
