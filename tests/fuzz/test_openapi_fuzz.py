"""schemathesis against the running emulator over loopback, with the OpenAPI document the emulator serves.

Every operation of ``/openapi.json`` is fuzzed with valid and invalid requests (schemathesis' positive and negative
modes, with a fixed seed). Every answer must:

* not be a server error (no 5xx, whatever the input);
* conform to the document (status code, content type, body schema: AKOOL's envelope and the documented shapes);
* for a request that breaks the document, carry a code other than 1000 (the emulator refuses it).

``make test`` runs a bounded number of examples per operation; ``make soak`` runs many more.

Each operation's test is built when it runs, not as the module is collected: schemathesis builds an operation's
explicit and coverage-phase examples with its test, which cost every pytest-xdist worker ~2 s of CPU at collection
(each collects every test, and runs a quarter of them). So the fuzzed schema comes from a fixture, parametrized by
operation (schemathesis' lazy loader), one document of one operation per test.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import settings
from schemathesis.schemas import BaseSchema

from streamclient.emulator.handles import EmulatorHandle
from streamclient.emulator.openapi import openapi_document
from tests.fuzz.openapi_fuzzing import BASE_SETTINGS, OPERATIONS, QUICK_EXAMPLES, one_operation_schema, run_case


@pytest.fixture(params=OPERATIONS)
def operation_schema(request: pytest.FixtureRequest) -> BaseSchema:
    # schemathesis 4.32's lazy loader renames the running test through ``Node._nodeid``, which pytest 9 no longer has
    # (its ``nodeid`` is a property): give it the attribute to read and write. Reports keep pytest's own node id.
    request.node._nodeid = request.node.nodeid
    return one_operation_schema(request.param)


lazy_schema = schemathesis.pytest.from_fixture("operation_schema")


@lazy_schema.parametrize()
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
