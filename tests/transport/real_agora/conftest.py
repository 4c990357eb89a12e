"""Fixtures: the sdist and the compiled stand-in once per session; each test gets a fresh import of the wrapper."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamclient.transport._agora_sdk import load_agora
from streamclient.transport._agora_service import SHARED_SERVICE
from tests.conftest import exclusive
from tests.transport.fake_agora import purge_agora_modules
from tests.transport.real_agora.harness import NativeStandIn, PythonStandIn, StandIn, make_site
from tests.transport.real_agora.native import NativeUnavailable, build_native_stub
from tests.transport.real_agora.sdist import SdistUnavailable, cache_dir, fetch_sdist


@pytest.fixture(scope="session")
def agora_sdist() -> Path:
    """The unpacked 2.4.10 sdist (skips with the reason if PyPI cannot be reached)."""
    try:
        with exclusive(cache_dir() / "agora-sdist.lock"):  # xdist workers and other runs share the user's cache
            return fetch_sdist()
    except SdistUnavailable as exc:
        pytest.skip(f"agora-python-server-sdk sdist unavailable: {exc}")


@pytest.fixture(scope="session")
def native_libs(agora_sdist: Path) -> tuple[Path, Path]:
    """The compiled C stand-in and an empty ``libaosl.so`` (skips with the reason if there is no compiler)."""
    try:
        with exclusive(cache_dir() / "agora-native-stub.lock"):
            return build_native_stub(agora_sdist)
    except NativeUnavailable as exc:
        pytest.skip(f"native stand-in unavailable: {exc}")


@pytest.fixture(scope="session")
def python_site(agora_sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    placeholder = tmp_path_factory.mktemp("placeholder") / "lib.so"
    placeholder.write_bytes(b"")  # never loaded: the Python stand-in replaces the native library
    return make_site(tmp_path_factory.mktemp("agora-python-site"), agora_sdist, placeholder, placeholder)


@pytest.fixture(scope="session")
def native_site(agora_sdist: Path, native_libs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_site(tmp_path_factory.mktemp("agora-native-site"), agora_sdist, *native_libs)


def _no_download(*args: Any, **kwargs: Any) -> Any:
    raise OSError("test: the SDK tried to download its native library")


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's import-time download fails at once instead of reaching the network."""
    monkeypatch.setattr(urllib.request, "urlretrieve", _no_download)


@pytest.fixture(params=["python", "native"])
def stand_in(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, no_download: None) -> Iterator[StandIn]:
    """The real wrapper, freshly imported by the production loader, over one of the two stand-ins."""
    purge_agora_modules()
    SHARED_SERVICE.release_all()
    site: Path = request.getfixturevalue(f"{request.param}_site")
    monkeypatch.syspath_prepend(str(site))
    chosen: StandIn = PythonStandIn() if request.param == "python" else NativeStandIn(site)
    chosen.install(site)
    load_agora()
    chosen.configure()
    yield chosen
    SHARED_SERVICE.release_all()
    chosen.wait_idle()
    purge_agora_modules()


@pytest.fixture
def python_stand_in(monkeypatch: pytest.MonkeyPatch, python_site: Path, no_download: None) -> Iterator[PythonStandIn]:
    """Only the Python stand-in (for checks that need Python-side records, e.g. object lifetimes)."""
    purge_agora_modules()
    SHARED_SERVICE.release_all()
    monkeypatch.syspath_prepend(str(python_site))
    chosen = PythonStandIn()
    chosen.install(python_site)
    load_agora()
    chosen.configure()
    yield chosen
    SHARED_SERVICE.release_all()
    chosen.wait_idle()
    purge_agora_modules()
