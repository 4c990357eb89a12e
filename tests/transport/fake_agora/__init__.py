"""A faithful fake of agora-python-server-sdk 2.4.10's module surface, installed on disk as the package ``agora``.

``install_fake_agora`` copies ``fake_agora/agora`` into a temporary site directory, adds what a provisioned real
install has next to it (``agora_sdk/`` native library files, ``version.txt``, and an
``agora_python_server_sdk-<version>.dist-info``), and prepends that directory to ``sys.path``. The adapter's
production loader then runs unchanged: ``find_spec``, ``importlib.metadata.version``, the native-file check and the
guarded import all see this fake. The native "libraries" are empty files: the fake never loads them.

The fake's controls (``SCRIPT``, ``SERVICES``, ``CONNECTIONS``, ``CALLBACK_ERRORS``) live in ``agora._fake``.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

__all__ = ("FAKE_PACKAGE", "install_fake_agora", "purge_agora_modules")

#: The fake ``agora`` package's sources.
FAKE_PACKAGE = Path(__file__).parent / "agora"

_NATIVE_FILES = {
    "linux": ("libagora_rtc_sdk.so", "libaosl.so"),
    "darwin": ("libAgoraRtcKit.dylib",),
}


#: What the real ``agora/__init__.py`` does to pick its native SDK URL (a function the loader reads statically).
_URL_CHOICE = 'def _check_download_and_extract_sdk():\n    url = "https://download.agora.io/fake.zip"\n'


def purge_agora_modules() -> None:
    """Forget every imported ``agora`` module (each test gets a fresh copy of the fake)."""
    for name in [name for name in sys.modules if name == "agora" or name.startswith("agora.")]:
        del sys.modules[name]


def install_fake_agora(
    site: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    version: str | None = "2.4.10",
    native: bool = True,
    init_source: str | None = None,
    import_control: bool = True,
) -> Any:
    """Install the fake as ``agora`` under ``site`` and return its control module (or ``None`` if not importable).

    Args:
        site: an empty directory to use as the site directory.
        monkeypatch: used to prepend ``site`` to ``sys.path`` for the test only.
        version: the version recorded in the dist-info; ``None`` installs no dist-info.
        native: whether to provision the native library files and ``version.txt``.
        init_source: replaces ``agora/__init__.py`` (e.g. to raise ``SystemExit`` like a failed native load).
        import_control: import and return ``agora._fake`` (which imports the fake ``agora`` package).
    """
    package = site / "agora"
    shutil.copytree(FAKE_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    if init_source is not None:  # keep the URL the loader reads; the rest runs at import
        (package / "__init__.py").write_text(f"{_URL_CHOICE}\n{init_source}")
    if native:
        (package / "agora_sdk").mkdir()
        for name in _NATIVE_FILES.get(sys.platform, ()):
            (package / "agora_sdk" / name).write_bytes(b"")
        (package / "version.txt").write_text("https://download.agora.io/fake.zip")
    if version is not None:
        dist_info = site / f"agora_python_server_sdk-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: agora-python-server-sdk\nVersion: {version}\n"
        )
    purge_agora_modules()
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    if init_source is not None or not import_control:
        return None
    return importlib.import_module("agora._fake")
