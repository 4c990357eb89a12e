"""The pytest snippet of docs/emulator.md and ``examples/test_bot_with_emulator.py``, copied into a new project.

The project has no pytest configuration at all (no ``asyncio_mode``), and only what the docs say to install:
the wheel, pytest and pytest-asyncio.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.installed.conftest import ROOT, InstalledEnv

pytestmark = pytest.mark.timeout(900)  # the first test builds and installs the wheel (session fixture)

MARKER = "<!-- fresh-project-snippet"


#: The page that holds the snippet (the README links to it).
PAGE = ROOT / "docs" / "emulator.md"


def readme_snippet() -> str:
    """The python block that follows the marker comment in docs/emulator.md."""
    readme = PAGE.read_text(encoding="utf-8")
    start = readme.index(MARKER)
    found = re.compile(r"```python\n(.*?)```", re.DOTALL).search(readme, start)
    assert found is not None, "no python block after the fresh-project marker"
    return found.group(1)


def readme_install_line() -> str:
    readme = PAGE.read_text(encoding="utf-8")
    before = readme[: readme.index(MARKER)]
    return [line for line in before.splitlines() if line.startswith("pip install")][-1]


def run_pytest(installed: InstalledEnv, project: Path, *args: str) -> str:
    done = installed.run(["python", "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=project, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_readme_installs_what_the_project_uses() -> None:
    line = readme_install_line()
    assert '"streamclient[emulator]"' in line
    for tool in ("pytest", "pytest-asyncio"):
        assert f" {tool}" in line


def test_the_readme_snippet_passes_in_a_fresh_project(installed: InstalledEnv, tmp_path: Path) -> None:
    (tmp_path / "test_readme.py").write_text(readme_snippet(), encoding="utf-8")
    out = run_pytest(installed, tmp_path, "-q")
    assert "2 passed" in out


def test_the_example_test_passes_in_a_fresh_project(installed: InstalledEnv, tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "test_bot_with_emulator.py", tmp_path / "test_bot_with_emulator.py")
    out = run_pytest(installed, tmp_path, "-q")
    assert "1 passed" in out


def test_the_readme_snippet_runs_under_anyio_plugin_alone(installed: InstalledEnv, tmp_path: Path) -> None:
    snippet = readme_snippet()
    assert "@pytest.mark.asyncio\n" in snippet
    (tmp_path / "test_readme.py").write_text(snippet.replace("@pytest.mark.asyncio\n", "@pytest.mark.anyio\n"))
    out = run_pytest(installed, tmp_path, "-q", "-p", "no:asyncio")  # pytest-asyncio disabled
    assert "2 passed" in out


def test_a_failing_user_test_fails(installed: InstalledEnv, tmp_path: Path) -> None:
    snippet = readme_snippet().replace('== "Hello!"', '== "something else"')
    (tmp_path / "test_readme.py").write_text(snippet, encoding="utf-8")
    done = installed.run(["python", "-m", "pytest", "-p", "no:cacheprovider", "-q"], cwd=tmp_path, timeout=300)
    assert done.returncode == 1
    assert "1 failed, 1 passed" in done.stdout


def test_the_example_test_runs_from_the_repository_root(installed: InstalledEnv) -> None:
    """With our own pytest configuration, but only what the README installs (no pytest-timeout)."""
    done = installed.run(
        ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_bot_with_emulator.py"],
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
