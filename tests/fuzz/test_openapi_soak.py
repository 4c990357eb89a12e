"""The long run of the OpenAPI fuzzer (``make soak``): many more examples per operation than ``make test``'s.

Its own module, collected only when ``-m soak`` selects it (see conftest.py): schemathesis builds the examples of each
operation's coverage phase as it collects, which cost every xdist worker of ``make test`` ~1.7 s of CPU for a test it
deselects.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings

from streamclient.emulator.handles import EmulatorHandle
from tests.fuzz.openapi_fuzzing import BASE_SETTINGS, SOAK_EXAMPLES, run_case, schema


@pytest.mark.soak
@schema.parametrize()
@settings(BASE_SETTINGS, max_examples=SOAK_EXAMPLES)
def test_the_emulator_holds_under_a_long_fuzz(case: Any, emulator: EmulatorHandle) -> None:
    run_case(case, emulator)
