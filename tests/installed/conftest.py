"""A throwaway virtual environment with streamclient installed from its wheel, as a user installs it.

Built once per test session: the wheel is built (hatchling, in an isolated build env), ``venv --without-pip``
makes the environment, and ``streamclient[cli,pipecat]``, pytest and pytest-asyncio are installed into it from the
wheel and the index. uv does both when it sits beside this interpreter (``make install`` puts it there and fills its
cache, so this takes seconds); otherwise this interpreter's pip does (``pip wheel --no-deps``, ``pip --python``).
Nothing from the repository is on its path: commands run with the working directory in a temporary folder outside
the repository, without ``PYTHONPATH`` and without AKOOL credentials (so everything talks to the embedded emulator).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import exclusive, shared_tmp

ROOT = Path(__file__).resolve().parents[2]
#: The extras the examples need (pipecat installs nothing on Python 3.10, where pipecat-ai does not exist).
EXTRAS = "cli,pipecat"
#: What a user's test project installs next to the wheel (the ranges of our own dev extra).
TEST_TOOLS = ("pytest>=8,<10", "pytest-asyncio>=0.24,<2")
INSTALL_TIMEOUT = 600


@dataclass(frozen=True)
class InstalledEnv:
    """A virtual environment with the wheel installed, and a scratch folder outside the repository."""

    python: Path
    bin: Path
    scratch: Path

    def env(self) -> dict[str, str]:
        """The environment for commands: no credentials, no PYTHONPATH, the venv first on PATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AKOOL_") and k != "PYTHONPATH"}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.bin.parent)
        return env

    def run(self, args: Sequence[str], *, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``args`` (``python`` means the venv's interpreter) in ``cwd``."""
        argv = [str(self.python) if args[0] == "python" else args[0], *args[1:]]
        return subprocess.run(
            argv, cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False
        )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledEnv:
    """streamclient[cli] + pytest + pytest-asyncio, installed from a freshly built wheel into a new venv.

    Built once per run: pytest-xdist workers share it (the first builds it under a lock, the others wait and reuse).
    """
    shared = shared_tmp(tmp_path_factory)
    with exclusive(shared / "installed.lock"):
        base = shared / "installed"
        ready = base / "ready"
        if not ready.is_file():
            shutil.rmtree(base, ignore_errors=True)  # a half-built one, from a worker that failed
            base.mkdir()
            _build(base)
            ready.write_text("ok")
    bin_dir = base / "venv" / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    return InstalledEnv(python=python, bin=bin_dir, scratch=base / "scratch")


def _build(base: Path) -> None:
    """Build the wheel into ``base/dist``, a venv with it into ``base/venv``, and an empty ``base/scratch``."""
    dist = base / "dist"
    target = base / "venv"
    python = target / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    uv = Path(sys.executable).with_name("uv")
    if uv.is_file():
        build_wheel = [str(uv), "build", "--wheel", "--quiet", "--out-dir", str(dist), str(ROOT)]
        install = [str(uv), "pip", "install", "--quiet", "--python", str(python)]
    else:
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
        build_wheel = [*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist), str(ROOT)]
        install = [*pip, "--python", str(python), "install", "--quiet"]
    _run(build_wheel, "building the wheel")
    (wheel,) = dist.glob("streamclient-*.whl")
    venv.EnvBuilder(with_pip=False).create(target)
    _run([*install, f"{wheel}[{EXTRAS}]", *TEST_TOOLS], "installing the wheel")
    (base / "scratch").mkdir()


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    assert done.returncode == 0, f"{what} failed:\n{done.stdout}\n{done.stderr}"
