"""Lazy, guarded loading of Agora's ``agora-python-server-sdk`` (the ``agora`` extra).

Importing the SDK has side effects (agora-python-sdk.md §4): if its native library or ``version.txt`` is missing it
*downloads* the native SDK at import time, deletes and rewrites files in site-packages, calls ``sys.exit(1)`` when a
library fails to load, and switches off TLS verification for the whole process. So :func:`load_agora`:

1. finds the ``agora`` package without importing it (``importlib.util.find_spec``);
2. checks the installed distribution's version is within ``>=2.4.9,<2.5`` (``importlib.metadata``);
3. checks the native library is in place and that ``version.txt``'s first line, read as the SDK reads it
   (``readline()``, trailing newline kept), equals the URL the *installed* ``agora/__init__.py`` expects for this
   platform (found by reading that file, not importing it: :func:`expected_native_url`). Otherwise the SDK's import
   would ``rm -rf`` its native folder and download it again, inside a worker thread no timeout can interrupt;
4. imports inside ``try/except BaseException`` (``SystemExit`` and ``OSError`` included; ``KeyboardInterrupt`` is
   re-raised). The SDK's ``agora/__init__.py`` sets ``ssl._create_default_https_context`` to the *unverified*
   factory, process-wide. For the duration of the import the ``ssl`` module's class is swapped for one whose
   ``_create_default_https_context`` is a data descriptor that refuses that one assignment, so no other thread
   ever sees an unverified default context (not even for an instant); the class is restored afterwards.

Loading happens once, under a lock: two first joins at once would otherwise save and restore the TLS context in an
interleaved order and could leave certificate verification off for the whole process. (An application can load it
early, at start-up, with ``streamclient.transport.agora.preload()``.) The result is reused while
the imported SDK modules stay in ``sys.modules``.

Every failure becomes one :class:`~streamclient.errors.TransportUnavailableError` whose message says how to install.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import logging
import platform
import re
import ssl
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamclient.errors import TransportUnavailableError

__all__ = ("DISTRIBUTION", "INSTALL_HINT", "SUPPORTED_VERSIONS", "AgoraSDK", "expected_native_url", "load_agora")

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
    #: The SDK's ctypes structure for connection callbacks and the native registration function (private names of
    #: 2.4.x, used to register a NULL-safe subclass); ``None`` if this version lacks them.
    RTCConnectionObserverInner: Any = None
    register_connection_observer: Any = None
    #: The same for the local-user observer (``RTCLocalUserObserverInner``, ``agora_local_user_register_observer``).
    RTCLocalUserObserverInner: Any = None
    register_local_user_observer: Any = None
    #: ``RTCConnection`` and the native ``agora_rtc_conn_destroy`` (to free a handle whose ``__init__`` failed).
    RTCConnection: Any = None
    destroy_connection: Any = None
    #: The imported ``agora.rtc.agora_service`` module (the cache is valid while it is still in ``sys.modules``).
    module: Any = None


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


_UNKNOWN = object()


class _Unresolvable(Exception):
    """The installed ``agora/__init__.py`` chooses its URL in a way this reader does not follow."""


def _static_value(node: ast.expr, env: dict[str, object]) -> object:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.id, _UNKNOWN)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sys":
        return sys.platform if node.attr == "platform" else _UNKNOWN
    if (
        isinstance(node, ast.Call)
        and not node.args
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "platform"
        and node.func.attr in ("machine", "system")
    ):
        return platform.machine() if node.func.attr == "machine" else platform.system()
    return _UNKNOWN


def _static_truth(node: ast.expr, env: dict[str, object]) -> bool | None:
    if isinstance(node, ast.BoolOp):
        values = [_static_truth(value, env) for value in node.values]
        if isinstance(node.op, ast.And):
            return False if False in values else (None if None in values else True)
        return True if True in values else (None if None in values else False)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
        left, right = _static_value(node.left, env), _static_value(node.comparators[0], env)
        if left is _UNKNOWN or right is _UNKNOWN:
            return None
        return (left == right) is isinstance(node.ops[0], ast.Eq)
    return None


def _assigns_url(statements: list[ast.stmt]) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == "url" and isinstance(node.ctx, ast.Store)
        for statement in statements
        for node in ast.walk(statement)
    )


def _run_statically(statements: list[ast.stmt], env: dict[str, object]) -> None:
    for statement in statements:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                env[target.id] = _static_value(statement.value, env)
        elif isinstance(statement, ast.If):
            truth = _static_truth(statement.test, env)
            if truth is None:
                if _assigns_url(statement.body) or _assigns_url(statement.orelse):
                    raise _Unresolvable(ast.unparse(statement.test))
                continue
            _run_statically(statement.body if truth else statement.orelse, env)
        elif _assigns_url([statement]):
            raise _Unresolvable(type(statement).__name__)


def expected_native_url(init_file: Path) -> str:
    """The URL the SDK's ``agora/__init__.py`` expects in ``version.txt`` on this platform, read without importing it.

    The SDK's ``_check_download_and_extract_sdk`` picks a hard-coded download URL per platform (string assignments
    and ``sys.platform``/``platform.machine()`` tests); this follows those statements for the running platform.

    Raises:
        TransportUnavailableError: the file cannot be read or its choice of URL cannot be followed.
    """
    try:
        tree = ast.parse(init_file.read_text(encoding="utf-8"))
        function = next(
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == "_check_download_and_extract_sdk"
        )
        env: dict[str, object] = {"arch": platform.machine(), "os_type": platform.system()}
        _run_statically(function.body, env)
    except (OSError, SyntaxError, UnicodeDecodeError, StopIteration, _Unresolvable) as exc:
        raise _unavailable(
            f"cannot tell which native SDK {init_file} expects ({type(exc).__name__}: {exc}); importing it could "
            "delete and download its native library, so streamclient refuses to"
        ) from exc
    url = env.get("url")
    if not isinstance(url, str) or not url:
        raise _unavailable(f"cannot tell which native SDK {init_file} expects; streamclient refuses to import it")
    return url


def _read_version_line(path: Path) -> str:
    """The first line of ``version.txt`` exactly as the SDK reads it (text mode, ``readline()``, newline kept)."""
    with path.open(encoding="utf-8", errors="replace") as file:
        return file.readline()


def _check_native_files(package_dir: Path) -> None:
    libraries = _NATIVE_LIBRARIES.get(sys.platform)
    if libraries is None:
        raise _unavailable(f"the platform {sys.platform!r} has no native Agora server SDK")
    missing = [name for name in libraries if not (package_dir / "agora_sdk" / name).is_file()]
    version_file = package_dir / "version.txt"
    if not version_file.is_file():
        missing.append("version.txt")
    if missing:
        raise _unavailable(
            f"the native SDK files are missing from {package_dir} ({', '.join(missing)}); importing the package now "
            "would download them, so streamclient refuses to import it (reinstall the extra to provision them)"
        )
    expected = expected_native_url(package_dir / "__init__.py")
    try:
        found = _read_version_line(version_file)
    except OSError as exc:
        raise _unavailable(f"{version_file} cannot be read ({exc})") from exc
    if found != expected:
        raise _unavailable(
            f"{version_file} does not name the native SDK this package expects (first line {found[:200]!r}, "
            f"expected {expected!r}); importing the package now would delete {package_dir / 'agora_sdk'} and "
            "download it again, so streamclient refuses to import it (reinstall the extra, or write that URL "
            "without a trailing newline)"
        )


class _VerifiedDefaultContext(types.ModuleType):
    """The ``ssl`` module's class while the SDK is imported: the default HTTPS context factory stays verified.

    ``_create_default_https_context`` becomes a data descriptor (it takes precedence over the module's
    ``__dict__``): reading it returns the module's own value; assigning the unverified factory is refused (and
    counted in :data:`REFUSED_TLS_DOWNGRADES`); any other assignment goes through.
    """

    @property
    def _create_default_https_context(self) -> Callable[..., ssl.SSLContext]:
        factory: Callable[..., ssl.SSLContext] = self.__dict__["_create_default_https_context"]
        return factory

    @_create_default_https_context.setter
    def _create_default_https_context(self, factory: Callable[..., ssl.SSLContext]) -> None:
        global REFUSED_TLS_DOWNGRADES
        if factory is self.__dict__.get("_create_unverified_context"):
            REFUSED_TLS_DOWNGRADES += 1
            logger.debug("kept TLS verification on: refused the SDK's process-wide unverified default context")
            return
        self.__dict__["_create_default_https_context"] = factory


#: How many times an import tried to switch the process's default HTTPS context to the unverified one.
REFUSED_TLS_DOWNGRADES = 0


@contextmanager
def _tls_verification_kept() -> Iterator[None]:
    """Keep ``ssl``'s default context factory verified for every thread while the body runs (see the class above)."""
    default_https_context = ssl._create_default_https_context
    swapped = type(ssl) is types.ModuleType
    if swapped:
        ssl.__class__ = _VerifiedDefaultContext
    try:
        yield
    finally:
        if swapped:
            ssl.__class__ = types.ModuleType
        if ssl._create_default_https_context is not default_https_context:  # an ssl module we could not guard
            ssl._create_default_https_context = default_https_context


def _import_sdk(version: str) -> AgoraSDK:
    """Import the SDK (the caller holds :data:`_LOAD_LOCK`) with TLS verification kept on (module docstring)."""
    try:
        with _tls_verification_kept():
            return _import_sdk_modules(version)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit from a failed native load, OSError, AttributeError, ...
        raise _unavailable(f"importing it failed with {type(exc).__name__}: {exc}") from exc


def _import_sdk_modules(version: str) -> AgoraSDK:
    base = importlib.import_module("agora.rtc.agora_base")
    service = importlib.import_module("agora.rtc.agora_service")
    conn_observer = importlib.import_module("agora.rtc.rtc_connection_observer")
    user_observer = importlib.import_module("agora.rtc.local_user_observer")
    connection = importlib.import_module("agora.rtc.rtc_connection")
    local_user = importlib.import_module("agora.rtc.local_user")
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
        RTCConnectionObserverInner=getattr(connection, "RTCConnectionObserverInner", None),
        register_connection_observer=getattr(connection, "agora_rtc_conn_register_observer", None),
        RTCLocalUserObserverInner=getattr(local_user, "RTCLocalUserObserverInner", None),
        register_local_user_observer=getattr(local_user, "agora_local_user_register_observer", None),
        RTCConnection=getattr(connection, "RTCConnection", None),
        destroy_connection=getattr(connection, "agora_rtc_conn_release", None),
        module=service,
    )


def load_agora() -> AgoraSDK:
    """Import the Agora SDK safely and return the names the adapter needs.

    Returns:
        The resolved SDK names and the installed version.

    Raises:
        TransportUnavailableError: the SDK is absent, outside the supported versions, not provisioned with its
            native library, or failed to import (including its ``SystemExit``). The message says how to install.
    """
    global _loaded
    with _LOAD_LOCK:
        cached = _loaded
        if cached is not None and sys.modules.get("agora.rtc.agora_service") is cached.module:
            return cached
        package_dir = _package_dir()
        version = _check_version()
        _check_native_files(package_dir)
        sdk = _import_sdk(version)
        _loaded = sdk
        logger.debug("loaded %s %s from %s", DISTRIBUTION, version, package_dir)
        return sdk


#: Serialises loading (the SDK's import swaps the process-wide TLS context).
_LOAD_LOCK = threading.Lock()
_loaded: AgoraSDK | None = None
