"""What the OpenAPI fuzz tests share: the schemathesis schema of the emulator's document, the checks, the settings."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from streamclient.emulator.handles import EmulatorHandle
from streamclient.emulator.openapi import openapi_document

#: Examples per operation and generation mode in ``make test`` (a few seconds of CPU in all) and in ``make soak``.
QUICK_EXAMPLES = 12
SOAK_EXAMPLES = 400
SEED = 20261207


def invalid_requests_are_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' ``negative_data_rejection``, read through AKOOL's envelope: a refusal is a code other than 1000.

    AKOOL answers errors with HTTP 200 and the code in the body, so the answer is shown to schemathesis' check as a
    400 when its code is not 1000 (the check knows which "invalid" requests are valid once serialised).
    """
    try:
        code = json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        code = None
    seen = schemathesis.Response(
        status_code=400 if code != 1000 else 200,
        headers=response.headers,
        content=response.content,
        request=response.request,
        elapsed=response.elapsed,
        verify=response.verify,
    )
    return negative_data_rejection(ctx, seen, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    invalid_requests_are_refused,
]

#: No deadline (a loaded machine is slow, not wrong), no example database (every run is the seeded one).
BASE_SETTINGS = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))

_CONFIG = {
    "seed": SEED,
    # the emulator's own key is sent with every request: fuzzed credentials would be refused before any validation
    "generation": {"with-security-parameters": False},
    "phases": {"coverage": {"generate-duplicate-query-parameters": True}},
}
#: The document the emulator serves (the packaged one: test_the_served_document_is_the_packaged_one checks they agree)
schema = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis.Config.from_dict(_CONFIG))
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Every operation of the document, as schemathesis names it (``"POST /api/open/v3/getToken"``).
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in openapi_document()["paths"].items()
    for method in _HTTP_METHODS
    if method in item
]


def one_operation_schema(label: str) -> BaseSchema:
    """The document cut down to the operation ``label`` of :data:`OPERATIONS` (its path's other methods left out)."""
    method, path = label.split(" ", 1)
    document = openapi_document()
    item = {
        key: value
        for key, value in document["paths"][path].items()
        if key not in _HTTP_METHODS or key == method.lower()
    }
    return schemathesis.openapi.from_dict(
        {**document, "paths": {path: item}}, config=schemathesis.Config.from_dict(_CONFIG)
    )


def run_case(case: Any, emulator: EmulatorHandle) -> None:
    response = case.call(base_url=emulator.base_url, headers={"x-api-key": emulator.api_key}, timeout=10)
    case.validate_response(response, checks=CHECKS)
