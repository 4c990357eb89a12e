"""schemathesis against the running emulator over loopback, with the OpenAPI document the emulator serves.

Every operation of ``/openapi.json`` is fuzzed with valid and invalid requests (schemathesis' positive and negative
modes, with a fixed seed). Every answer must:

* not be a server error (no 5xx, whatever the input);
* conform to the document (status code, content type, body schema: AKOOL's envelope and the documented shapes);
* for a request that breaks the document, carry a code other than 1000 (the emulator refuses it).

``make test`` runs a bounded number of examples per operation; ``make soak`` runs many more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from streamclient.emulator import Emulator
from streamclient.emulator.handles import EmulatorHandle
from streamclient.emulator.openapi import openapi_document
from tests.emulator.emulator_harness import fast_config

#: Examples per operation and generation mode in ``make test`` (a few seconds of CPU in all) and in ``make soak``.
QUICK_EXAMPLES = 12
SOAK_EXAMPLES = 400
SEED = 20261207


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    config = fast_config()  # no Agora project: fuzzed bring-your-own sessions really join (and collide in) rooms
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Emulator(config)) as running:
        yield EmulatorHandle(running, portal)


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
_BASE = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))

_CONFIG = {
    "seed": SEED,
    # the emulator's own key is sent with every request: fuzzed credentials would be refused before any validation
    "generation": {"with-security-parameters": False},
    "phases": {"coverage": {"generate-duplicate-query-parameters": True}},
}
#: The document the emulator serves (the packaged one: test_the_served_document_is_the_packaged_one checks they agree)
schema = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis.Config.from_dict(_CONFIG))


def _run(case: Any, emulator: EmulatorHandle) -> None:
    response = case.call(base_url=emulator.base_url, headers={"x-api-key": emulator.api_key}, timeout=10)
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@settings(_BASE, max_examples=QUICK_EXAMPLES)
def test_the_emulator_holds_under_the_fuzzer(case: Any, emulator: EmulatorHandle) -> None:
    _run(case, emulator)


@pytest.mark.soak
@schema.parametrize()
@settings(_BASE, max_examples=SOAK_EXAMPLES)
def test_the_emulator_holds_under_a_long_fuzz(case: Any, emulator: EmulatorHandle) -> None:
    _run(case, emulator)


def test_the_emulator_still_serves_after_the_fuzzer(emulator: EmulatorHandle) -> None:
    answer = httpx.get(
        f"{emulator.base_url}/api/open/v3/language/list", headers={"x-api-key": emulator.api_key}, timeout=10
    )
    assert answer.json()["code"] == 1000


def test_the_served_document_is_the_packaged_one(emulator: EmulatorHandle) -> None:
    served = httpx.get(f"{emulator.base_url}/openapi.json", timeout=10).json()
    assert served["servers"] == [{"url": emulator.base_url, "description": "this emulator"}]
    assert {**served, "servers": None} == {**openapi_document(), "servers": None}
