"""The inspector page is served from the installed wheel: its assets ship in the package (no CDN, no build)."""

from __future__ import annotations

import pytest

from tests.installed.conftest import InstalledEnv

pytestmark = pytest.mark.timeout(900)  # the first test of the session builds and installs the wheel

SCRIPT = """
import anyio, httpx
from streamclient.emulator import Emulator

async def main():
    async with Emulator() as emu, httpx.AsyncClient() as http:
        for name in ("", "app.js", "app.css"):
            answer = await http.get(emu.inspector_url + name)
            assert answer.status_code == 200, (name, answer.status_code)
            assert "://" not in answer.text.replace(emu.base_url, "").replace("http://www.w3.org/2000/svg", ""), name
            print(name or "index.html", len(answer.content))

anyio.run(main)
"""


def test_the_page_and_its_assets_come_from_the_wheel(installed: InstalledEnv) -> None:
    done = installed.run(["python", "-c", SCRIPT], cwd=installed.scratch)
    assert done.returncode == 0, done.stdout + done.stderr
    served = dict(line.split() for line in done.stdout.splitlines())
    assert set(served) == {"index.html", "app.js", "app.css"}
    assert all(int(size) > 1000 for size in served.values())
