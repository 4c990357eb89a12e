"""schemathesis against the running emulator over loopback, with the OpenAPI document the emulator serves.

Every operation of ``/openapi.json`` is fuzzed with valid and invalid requests (schemathesis' positive and negative
modes, with a fixed seed). Every answer must:

* not be a server error (no 5xx, whatever the input);
* conform to the document (status code, content type, body schema: AKOOL's envelope and the documented shapes);
* for a request that breaks the document, carry a code other than 1000 (the emulator refuses it).

``make test`` runs a bounded number of examples per operation; ``make soak`` runs many more.
"""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import settings

from streamclient.emulator.handles import EmulatorHandle
from streamclient.emulator.openapi import openapi_document
from tests.fuzz.openapi_fuzzing import BASE_SETTINGS, QUICK_EXAMPLES, run_case, schema


@schema.parametrize()
@settings(BASE_SETTINGS, max_examples=QUICK_EXAMPLES)
def test_the_emulator_holds_under_the_fuzzer(case: Any, emulator: EmulatorHandle) -> None:
    run_case(case, emulator)


def test_the_emulator_still_serves_after_the_fuzzer(emulator: EmulatorHandle) -> None:
    answer = httpx.get(
        f"{emulator.base_url}/api/open/v3/language/list", headers={"x-api-key": emulator.api_key}, timeout=10
    )
    assert answer.json()["code"] == 1000


def test_the_served_document_is_the_packaged_one(emulator: EmulatorHandle) -> None:
    served = httpx.get(f"{emulator.base_url}/openapi.json", timeout=10).json()
    assert served["servers"] == [{"url": emulator.base_url, "description": "this emulator"}]
    assert {**served, "servers": None} == {**openapi_document(), "servers": None}
