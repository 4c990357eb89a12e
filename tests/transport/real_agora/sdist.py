"""Fetch Agora's ``agora-python-server-sdk`` 2.4.10 sdist from PyPI at test time, pinned by hash, cached per user.

Nothing of the SDK is committed to this repository: the sdist is downloaded with ``pip download`` (which only
prepares its metadata; the package's download of the native library happens in its ``install`` step and at import,
neither of which runs here), checked against :data:`SDIST_SHA256`, and unpacked under the user's cache directory
(``$XDG_CACHE_HOME`` or ``~/.cache``, then ``streamclient-tests/``). A later run reuses the unpacked copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

__all__ = ("SDIST_SHA256", "SDIST_VERSION", "SdistUnavailable", "cache_dir", "fetch_sdist")

SDIST_NAME = "agora-python-server-sdk"
SDIST_VERSION = "2.4.10"
#: sha256 of agora_python_server_sdk-2.4.10.tar.gz as served by PyPI.
SDIST_SHA256 = "f02cae825be2986435ef5b9a0ab3de30eaa9bf692a9be37a3f5f90fe338788cd"
_ARCHIVE = f"agora_python_server_sdk-{SDIST_VERSION}.tar.gz"


class SdistUnavailable(Exception):
    """The sdist could not be fetched (no registry access); the message is the one-line skip reason."""


def cache_dir() -> Path:
    """The per-user cache directory for test artefacts (never inside the repository)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamclient-tests"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download(target: Path) -> Path:
    """Download the sdist with pip, hash-pinned (``--require-hashes``), into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(f"{SDIST_NAME}=={SDIST_VERSION} --hash=sha256:{SDIST_SHA256}\n")
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--require-hashes",
            "-r",
            str(requirements),
            "-d",
            scratch,
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SdistUnavailable(f"pip download of {SDIST_NAME} {SDIST_VERSION} failed: {exc}") from exc
        downloaded = Path(scratch) / _ARCHIVE
        if result.returncode != 0 or not downloaded.is_file():
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise SdistUnavailable(f"PyPI unreachable or refused {SDIST_NAME} {SDIST_VERSION}: {last}")
        if _sha256(downloaded) != SDIST_SHA256:  # pip checked it too; this guards the copy
            raise SdistUnavailable(f"{_ARCHIVE} does not match its pinned sha256")
        archive = target / _ARCHIVE
        shutil.copyfile(downloaded, archive)
    return archive


def fetch_sdist() -> Path:
    """Return the unpacked sdist root (``.../agora_python_server_sdk-2.4.10``), downloading it once per user.

    Raises:
        SdistUnavailable: the package registry could not be reached, or the archive's hash is wrong.
    """
    root = cache_dir() / "agora-sdist"
    unpacked = root / f"agora_python_server_sdk-{SDIST_VERSION}"
    marker = root / f"{_ARCHIVE}.unpacked"
    if marker.is_file() and marker.read_text() == SDIST_SHA256 and (unpacked / "agora" / "rtc").is_dir():
        return unpacked
    archive = root / _ARCHIVE
    if not archive.is_file() or _sha256(archive) != SDIST_SHA256:
        archive = _download(root)
    staging = Path(tempfile.mkdtemp(dir=root, prefix="unpack-"))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(staging)
        shutil.rmtree(unpacked, ignore_errors=True)
        try:
            (staging / unpacked.name).rename(unpacked)
        except OSError:  # another test run unpacked it at the same moment
            if not (unpacked / "agora" / "rtc").is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    marker.write_text(SDIST_SHA256)
    return unpacked
