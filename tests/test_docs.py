"""Every ```python block of README.md and docs/*.md runs, as written, against a started emulator.

The blocks are found when the tests are collected, so a page added later is covered without touching this file.
Each block runs as a script in its own process (as a reader would paste it), in a scratch folder, with
``AKOOL_BASE_URL`` and ``AKOOL_API_KEY`` pointing at the emulator (the test suite's own session ledger).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streamclient.emulator.handles import EmulatorHandle

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[tuple[str, str]]:
    """``(id, code)`` for every python block in README.md and docs/*.md, in page order."""
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{page.relative_to(ROOT)}:{line}", match.group(1)))
    return found


BLOCKS = python_blocks()


def test_the_pages_hold_python_blocks() -> None:
    pages = {block_id.split(":")[0] for block_id, _ in BLOCKS}
    assert "README.md" in pages
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("code", [code for _, code in BLOCKS], ids=[block_id for block_id, _ in BLOCKS])
def test_the_block_runs_against_the_emulator(akool_emulator: EmulatorHandle, tmp_path: Path, code: str) -> None:
    needs_pipecat = re.search(r"^\s*(from|import) (streamclient\.integrations\.)?pipecat\b", code, re.MULTILINE)
    if needs_pipecat and importlib.util.find_spec("pipecat") is None:
        pytest.skip("the block needs the pipecat extra (pipecat-ai exists for Python >= 3.11 only)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKOOL_", "AGORA_"))}
    env.update(AKOOL_BASE_URL=akool_emulator.base_url, AKOOL_API_KEY=akool_emulator.api_key, PYTHONPATH=str(ROOT))
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=50, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert akool_emulator.open_session_count() == 0  # every block closes what it made
