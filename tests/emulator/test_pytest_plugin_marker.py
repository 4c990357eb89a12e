"""``@pytest.mark.akool_emulator(**fields)``: one test runs the plugin's emulator in a documented variant."""

from __future__ import annotations

import pytest

from tests.emulator.test_pytest_plugin import NOT_OURS

pytest_plugins = ["pytester"]

MARKED_TESTS = """
import httpx
import pytest

AVATAR = "dvp_Tristan_cloth2_1080P"


def _close_answer(emu):
    with httpx.Client(base_url=emu.base_url, headers={"x-api-key": emu.api_key}, timeout=10) as http:
        sid = http.post("/api/open/v4/liveAvatar/session/create", json={"avatar_id": AVATAR}).json()["data"]["_id"]
        listed = http.get("/api/open/v4/liveAvatar/session/list").json()
        return sid, listed, http.post("/api/open/v4/liveAvatar/session/close", json={"id": sid}).json()


@pytest.mark.akool_emulator(shapes={"close_with_data": True, "session_list_key": "data"}, reply_mid="fresh")
def test_marked(akool_emulator, akool_emulator_config):
    sid, listed, closed = _close_answer(akool_emulator)
    assert closed["data"]["session_id"] == sid
    assert [item["_id"] for item in listed["data"]["data"]] == [sid]
    assert akool_emulator_config.reply_mid == "fresh"
    assert akool_emulator_config.avatar_join_delay == 0.05  # the plugin's other defaults stay


def test_unmarked(akool_emulator):
    sid, listed, closed = _close_answer(akool_emulator)
    assert "data" not in closed
    assert [item["_id"] for item in listed["data"]["result"]] == [sid]


@pytest.mark.akool_emulator(speling=1)
def test_unknown_field(akool_emulator):
    pass


@pytest.mark.akool_emulator(shapes={"close_with_data": "maybe"})
def test_bad_shape_value(akool_emulator):
    pass
"""


def test_marker_selects_a_variant_for_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked=MARKED_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *NOT_OURS, "--strict-markers", "-q")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(["*not EmulatorConfig fields: speling*"])
    result.stdout.fnmatch_lines(["*ResponseShapes.close_with_data must be one of*"])
