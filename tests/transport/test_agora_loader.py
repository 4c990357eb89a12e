"""The lazy, guarded loader of the Agora SDK, run against the on-disk fake (the production code path)."""

from __future__ import annotations

import importlib.util
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamclient.errors import TransportUnavailableError
from streamclient.transport._agora_sdk import INSTALL_HINT, load_agora
from tests.transport.fake_agora import install_fake_agora, purge_agora_modules


@pytest.fixture(autouse=True)
def _clean_agora_modules() -> Iterator[None]:
    purge_agora_modules()
    yield
    purge_agora_modules()


def _assert_install_hint(exc: TransportUnavailableError) -> None:
    assert "pip install 'streamclient[agora]'" in str(exc)
    assert "Linux x86_64 and aarch64" in str(exc)
    assert "macOS for development only" in str(exc)


def test_loads_the_provisioned_sdk_and_restores_tls_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_agora(tmp_path, monkeypatch, version="2.4.10", import_control=False)
    before = ssl._create_default_https_context
    sdk = load_agora()
    assert sdk.version == "2.4.10"
    assert sdk.AgoraService.__module__ == "agora.rtc.agora_service"
    assert sdk.IRTCLocalUserObserver.__module__ == "agora.rtc.local_user_observer"
    assert ssl._create_default_https_context is before  # the SDK's import turned verification off; we undid it


def test_sdk_absent_is_unavailable_with_install_hint() -> None:
    if importlib.util.find_spec("agora") is not None:  # pragma: no cover - never the case in this repository
        pytest.fail("a real 'agora' package is importable in the test environment")
    with pytest.raises(TransportUnavailableError) as info:
        load_agora()
    assert "not installed" in str(info.value)
    _assert_install_hint(info.value)


@pytest.mark.parametrize("version", ["2.4.8", "2.5.0", "3.0.1", "2.3.9", "garbage"])
def test_version_out_of_range_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    install_fake_agora(tmp_path, monkeypatch, version=version, import_control=False)
    with pytest.raises(TransportUnavailableError) as info:
        load_agora()
    assert version in str(info.value)
    _assert_install_hint(info.value)
    assert "agora" not in sys.modules  # refused before importing anything


@pytest.mark.parametrize("version", ["2.4.9", "2.4.10", "2.4.99"])
def test_versions_in_range_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    install_fake_agora(tmp_path, monkeypatch, version=version)
    assert load_agora().version == version


def test_package_without_distribution_metadata_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_agora(tmp_path, monkeypatch, version=None)
    with pytest.raises(TransportUnavailableError, match="distribution is not installed"):
        load_agora()


def test_missing_native_files_refuse_the_import_that_would_download_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_agora(tmp_path, monkeypatch, native=False, import_control=False)
    with pytest.raises(TransportUnavailableError) as info:
        load_agora()
    assert "native SDK files are missing" in str(info.value)
    assert "version.txt" in str(info.value)
    _assert_install_hint(info.value)
    assert "agora" not in sys.modules


def test_system_exit_during_import_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_agora(tmp_path, monkeypatch, init_source="import sys\nsys.exit(1)\n")
    with pytest.raises(TransportUnavailableError) as info:
        load_agora()
    assert isinstance(info.value.__cause__, SystemExit)
    assert "SystemExit" in str(info.value)
    _assert_install_hint(info.value)


def test_os_error_during_import_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "raise OSError('libaosl.so: cannot open shared object file')\n"
    install_fake_agora(tmp_path, monkeypatch, init_source=source)
    with pytest.raises(TransportUnavailableError, match=r"libaosl\.so") as info:
        load_agora()
    assert isinstance(info.value.__cause__, OSError)


def test_keyboard_interrupt_during_import_is_not_swallowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_agora(tmp_path, monkeypatch, init_source="raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        load_agora()


def test_tls_context_is_restored_even_when_the_import_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "import ssl\nssl._create_default_https_context = ssl._create_unverified_context\nraise SystemExit(1)\n"
    install_fake_agora(tmp_path, monkeypatch, init_source=source)
    before = ssl._create_default_https_context
    with pytest.raises(TransportUnavailableError):
        load_agora()
    assert ssl._create_default_https_context is before


def test_unsupported_platform_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_agora(tmp_path, monkeypatch)
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(TransportUnavailableError, match="win32"):
        load_agora()


def test_install_hint_names_the_extra() -> None:
    assert "streamclient[agora]" in INSTALL_HINT


@pytest.mark.parametrize("content", ["https://download.agora.io/fake.zip\n", "https://download.agora.io/other.zip", ""])
def test_version_txt_that_would_trigger_a_download_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    install_fake_agora(tmp_path, monkeypatch, import_control=False)
    (tmp_path / "agora" / "version.txt").write_text(content, newline="")
    with pytest.raises(TransportUnavailableError, match=r"version\.txt does not name") as info:
        load_agora()
    assert "https://download.agora.io/fake.zip" in str(info.value)  # the URL the installed package expects
    assert "agora" not in sys.modules


def test_an_unreadable_url_choice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_agora(tmp_path, monkeypatch, import_control=False)
    (tmp_path / "agora" / "__init__.py").write_text(
        "import os\n\ndef _check_download_and_extract_sdk():\n    if os.environ.get('X'):\n        url = 'a'\n"
    )
    with pytest.raises(TransportUnavailableError, match="cannot tell which native SDK"):
        load_agora()
    assert "agora" not in sys.modules
