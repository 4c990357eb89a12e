"""The emulator's OpenAPI document ships in the wheel: an installed emulator serves it at ``/openapi.json``."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamclient.emulator.openapi import openapi_document
from tests.installed.conftest import InstalledEnv

pytestmark = pytest.mark.timeout(900)  # the first test of the session builds and installs the wheel

SCRIPT = """
import anyio
import httpx

from streamclient.emulator import Emulator, EmulatorConfig


async def main() -> None:
    async with Emulator(EmulatorConfig()) as emu, httpx.AsyncClient(timeout=10) as http:
        document = (await http.get(emu.base_url + "/openapi.json")).json()
        served_by_itself = document["servers"][0]["url"] == emu.base_url
    print(document["openapi"], len(document["paths"]), served_by_itself)


anyio.run(main)
"""


def test_the_installed_emulator_serves_its_openapi_document(installed: InstalledEnv, tmp_path: Path) -> None:
    (tmp_path / "serve_document.py").write_text(SCRIPT, encoding="utf-8")
    done = installed.run(["python", "serve_document.py"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["3.0.3", str(len(openapi_document()["paths"])), "True"]
