"""Lazy, guarded loading of Agora's ``agora-python-server-sdk`` (the ``agora`` extra).

Importing the SDK has side effects (agora-python-sdk.md §4): if its native library or ``version.txt`` is missing it
*downloads* the native SDK at import time, deletes and rewrites files in site-packages, calls ``sys.exit(1)`` when a
library fails to load, and switches off TLS verification for the whole process. So :func:`load_agora`:

1. finds the ``agora`` package without importing it (``importlib.util.find_spec``);
2. checks the installed distribution's version is within ``>=2.4.9,<2.5`` (``importlib.metadata``);
3. checks the native library and ``version.txt`` are already in place, so the import can never trigger a download;
4. imports inside ``try/except BaseException`` (``SystemExit`` and ``OSError`` included; ``KeyboardInterrupt`` is
   re-raised) and restores the process-wide default TLS context the SDK replaces.

Every failure becomes one :class:`~streamclient.errors.TransportUnavailableError` whose message says how to install.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import re
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamclient.errors import TransportUnavailableError

__all__ = ("DISTRIBUTION", "INSTALL_HINT", "SUPPORTED_VERSIONS", "AgoraSDK", "load_agora")

logger = logging.getLogger(__name__)

#: The PyPI distribution that provides the ``agora`` package.
DISTRIBUTION = "agora-python-server-sdk"
#: Supported versions, inclusive lower bound and exclusive upper bound.
SUPPORTED_VERSIONS = ((2, 4, 9), (2, 5, 0))
#: Appended to every loading error.
INSTALL_HINT = (
    "Install the Agora extra with: pip install 'streamclient[agora]' (agora-python-server-sdk>=2.4.9,<2.5). "
    "Supported platforms: Linux x86_64 and aarch64; macOS for development only; Windows is not supported. "
    "The SDK's installer downloads Agora's native library, so install it where download.agora.io is reachable."
)

_NATIVE_LIBRARIES = {
    "linux": ("libagora_rtc_sdk.so", "libaosl.so"),
    "darwin": ("libAgoraRtcKit.dylib",),
}


@dataclass(frozen=True, slots=True)
class AgoraSDK:
    """The handful of SDK names the adapter uses, resolved once the SDK has been imported safely."""

    version: str
    AgoraService: Any
    AgoraServiceConfig: Any
    RTCConnConfig: Any
    RtcConnectionPublishConfig: Any
    ClientRoleType: Any
    ChannelProfileType: Any
    AudioScenarioType: Any
    IRTCConnectionObserver: Any
    IRTCLocalUserObserver: Any


def _unavailable(problem: str) -> TransportUnavailableError:
    return TransportUnavailableError(f"The Agora SDK cannot be used: {problem}. {INSTALL_HINT}")


def _parse_version(text: str) -> tuple[int, int, int] | None:
    match = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def _check_version() -> str:
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise _unavailable(f"the '{DISTRIBUTION}' distribution is not installed") from None
    parsed = _parse_version(version)
    low, high = SUPPORTED_VERSIONS
    if parsed is None or not (low <= parsed < high):
        raise _unavailable(f"{DISTRIBUTION} {version} is installed, but streamclient supports >=2.4.9,<2.5")
    return version


def _package_dir() -> Path:
    try:
        spec = importlib.util.find_spec("agora")
    except (ImportError, ValueError) as exc:
        raise _unavailable(f"the 'agora' package cannot be located ({type(exc).__name__})") from exc
    if spec is None or not spec.submodule_search_locations:
        raise _unavailable("the 'agora' package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _check_native_files(package_dir: Path) -> None:
    libraries = _NATIVE_LIBRARIES.get(sys.platform)
    if libraries is None:
        raise _unavailable(f"the platform {sys.platform!r} has no native Agora server SDK")
    missing = [name for name in libraries if not (package_dir / "agora_sdk" / name).is_file()]
    if not (package_dir / "version.txt").is_file():
        missing.append("version.txt")
    if missing:
        raise _unavailable(
            f"the native SDK files are missing from {package_dir} ({', '.join(missing)}); importing the package now "
            "would download them, so streamclient refuses to import it (reinstall the extra to provision them)"
        )


def _import_sdk(version: str) -> AgoraSDK:
    default_https_context = ssl._create_default_https_context
    try:
        base = importlib.import_module("agora.rtc.agora_base")
        service = importlib.import_module("agora.rtc.agora_service")
        conn_observer = importlib.import_module("agora.rtc.rtc_connection_observer")
        user_observer = importlib.import_module("agora.rtc.local_user_observer")
        importlib.import_module("agora.rtc.rtc_connection")
        return AgoraSDK(
            version=version,
            AgoraService=service.AgoraService,
            AgoraServiceConfig=base.AgoraServiceConfig,
            RTCConnConfig=base.RTCConnConfig,
            RtcConnectionPublishConfig=base.RtcConnectionPublishConfig,
            ClientRoleType=base.ClientRoleType,
            ChannelProfileType=base.ChannelProfileType,
            AudioScenarioType=base.AudioScenarioType,
            IRTCConnectionObserver=conn_observer.IRTCConnectionObserver,
            IRTCLocalUserObserver=user_observer.IRTCLocalUserObserver,
        )
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit from a failed native load, OSError, AttributeError, ...
        raise _unavailable(f"importing it failed with {type(exc).__name__}: {exc}") from exc
    finally:
        # The SDK turns off TLS certificate verification for the whole process at import; undo that.
        ssl._create_default_https_context = default_https_context


def load_agora() -> AgoraSDK:
    """Import the Agora SDK safely and return the names the adapter needs.

    Returns:
        The resolved SDK names and the installed version.

    Raises:
        TransportUnavailableError: the SDK is absent, outside the supported versions, not provisioned with its
            native library, or failed to import (including its ``SystemExit``). The message says how to install.
    """
    package_dir = _package_dir()
    version = _check_version()
    _check_native_files(package_dir)
    sdk = _import_sdk(version)
    logger.debug("loaded %s %s from %s", DISTRIBUTION, version, package_dir)
    return sdk
