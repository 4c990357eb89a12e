"""The process-wide ``AgoraService``: created and initialised once, shared by every transport, released at exit.

Agora allows one service per process with many connections (agora-python-sdk.md P1). :data:`SHARED_SERVICE` creates
it lazily, in the worker thread of the first join, and checks ``service.inited`` rather than the return value of
``initialize()`` (which reports an unrelated later call, P2). ``initialize()`` of SDK 2.4.x also raises
``AttributeError`` when the native side fails (it then gets no parameter object); that becomes a
:class:`~streamclient.errors.TransportUnavailableError`, and the native service already created is kept and
initialised again by the next join, never created twice. The app id and the uid mode (numeric or string uids, see
:func:`uses_string_uid`) are fixed for the process by the first successful join.

At interpreter exit (``atexit``) every connection that was not left is disconnected and released first, then the
service's media-node factory, and the service last (P3: the SDK's own ``release()`` does the last two the other way
round, against its README).

The SDK's logs and configuration go to a per-user, per-process folder under the temporary directory
(:func:`default_log_dir`), or to ``$STREAMCLIENT_AGORA_LOG_DIR``, or to the transport's ``log_dir``. The default
folder is created safely (:func:`make_default_log_dir`): its per-user parent is used only if ``lstat`` shows a real
directory (not a symlink) owned by this user with mode 0700; otherwise a private ``mkdtemp`` folder is used. The
per-process folder is removed at exit unless the run failed (:meth:`SharedAgoraService.note_failure`): then its
logs are kept and the exit log names the folder.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from streamclient.errors import JoinError, TransportUnavailableError
from streamclient.transport._agora_sdk import AgoraSDK

__all__ = (
    "LOG_DIR_ENV",
    "SHARED_SERVICE",
    "SharedAgoraService",
    "default_log_dir",
    "make_default_log_dir",
    "uses_string_uid",
)

logger = logging.getLogger(__name__)


#: Environment variable naming the folder for the native SDK's logs and configuration.
LOG_DIR_ENV = "STREAMCLIENT_AGORA_LOG_DIR"


def _user_tag() -> str:
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        return str(getuid())
    name = os.environ.get("USERNAME") or os.environ.get("USER") or "user"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def default_log_dir() -> Path:
    """Where the native SDK writes its logs and configuration unless told otherwise.

    ``$STREAMCLIENT_AGORA_LOG_DIR`` if set, else ``<tmp>/streamclient-agora-<uid>/<pid>``: one folder per user and
    per process, so processes and users never share (or overwrite) each other's SDK logs and configuration.
    """
    configured = os.environ.get(LOG_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"streamclient-agora-{_user_tag()}" / f"pid-{os.getpid()}"


def uses_string_uid(uid: str) -> bool:
    """Whether ``uid`` needs Agora's string-uid mode.

    Empty (the SDK assigns one) or an ASCII decimal below 2**32 is a numeric uid; anything else (non-ASCII digits,
    signs, 2**32 and above, letters) is a string uid (a "user account").
    """
    if uid == "":
        return False
    return not (uid.isascii() and uid.isdigit() and int(uid) < 2**32)


def _is_private_dir(path: Path) -> bool:
    """Whether ``lstat(path)`` shows a directory (not a symlink) owned by this user with no group/other access."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):  # a symlink (lstat does not follow it), a file, ...
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        return False
    return os.name == "nt" or stat.S_IMODE(info.st_mode) & 0o077 == 0


def _private_dir(path: Path) -> bool:
    """Create ``path`` with mode 0700, or accept it if it already is private (:func:`_is_private_dir`)."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    return _is_private_dir(path)


def make_default_log_dir() -> tuple[Path, Path | None]:
    """Create the default per-process log folder safely; return it and the folder to remove at exit.

    ``<tmp>/streamclient-agora-<uid>/pid-<pid>`` when both levels are (or could be made) private to this user
    (checked with ``lstat``: a directory, not a symlink, owned by us, mode 0700); otherwise a fresh private
    ``mkdtemp`` folder. The second value is what exit removes (the per-process folder, or the ``mkdtemp`` one).

    Raises:
        OSError: not even a private temporary folder could be created.
    """
    wanted = default_log_dir()
    if _private_dir(wanted.parent) and _private_dir(wanted):
        return wanted, wanted
    logger.warning(
        "%s is not a private folder of this user (owner, mode 0700, not a symlink); the Agora SDK's logs go to a "
        "private temporary folder instead",
        wanted.parent,
    )
    fallback = Path(tempfile.mkdtemp(prefix=f"streamclient-agora-{_user_tag()}-pid-{os.getpid()}-"))
    return fallback, fallback


def _make_log_dir(log_dir: Path) -> None:
    """Create a log folder the user chose (``log_dir`` or ``$STREAMCLIENT_AGORA_LOG_DIR``)."""
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


class Releasable(Protocol):
    """A tracked connection (:class:`~streamclient.transport._agora_conn.NativeConnection`)."""

    def release_blocking(self, timeout: float) -> bool:
        """Release (exactly once) and wait up to ``timeout`` seconds; return whether it is released."""
        ...


#: How long interpreter exit waits for each leftover connection's release.
EXIT_RELEASE_TIMEOUT = 5.0


class SharedAgoraService:
    """Owns the one ``AgoraService`` of the process and the connections that still need releasing.

    Every method blocks (they call the SDK) and is meant for a worker thread; a lock serialises them.
    """

    def __init__(self) -> None:
        """Start with no service; :meth:`acquire` creates it."""
        self._lock = threading.Lock()
        self._service: Any = None
        self._created: Any = None  # the native service, kept across a failed initialise (one per process)
        self._log_dir: Path | None = None
        self._app_id: str | None = None
        self._string_uids: bool | None = None
        self._connections: list[Releasable] = []
        self._atexit_registered = False
        self._remove_at_exit: Path | None = None
        self._failures: list[str] = []
        self.initialize_calls = 0

    def acquire(self, sdk: AgoraSDK, *, app_id: str, string_uids: bool, log_dir: Path | None) -> Any:
        """Return the initialised service, creating it on first use.

        ``log_dir`` ``None`` means ``$STREAMCLIENT_AGORA_LOG_DIR`` if set, else the safe default
        (:func:`make_default_log_dir`).

        Raises:
            JoinError: the process already uses another app id or uid mode.
            TransportUnavailableError: the service did not initialise.
        """
        with self._lock:
            if self._service is not None:
                if app_id != self._app_id:
                    raise JoinError(
                        "this process already uses another app id: one process serves one Agora app id (the SDK's "
                        "service is process-wide); use a process per app id"
                    )
                if string_uids != self._string_uids:
                    raise JoinError("all uids in this process must be either numeric or strings (Agora's uid mode)")
                return self._service
            remove_at_exit: Path | None = None
            try:
                if log_dir is None and not os.environ.get(LOG_DIR_ENV):
                    log_dir, remove_at_exit = make_default_log_dir()
                else:
                    log_dir = log_dir if log_dir is not None else default_log_dir()
                    _make_log_dir(log_dir)
            except OSError as exc:
                raise TransportUnavailableError(f"cannot create the Agora SDK's log folder {log_dir}: {exc}") from exc
            if self._created is None:
                self._created = sdk.AgoraService()
            service = self._created
            config = sdk.AgoraServiceConfig(
                appid=app_id,
                log_path=str(log_dir / "agorasdk.log"),
                log_file_size_kb=1024,
                data_dir=str(log_dir),
                config_dir=str(log_dir),
                use_string_uid=1 if string_uids else 0,
            )
            self.initialize_calls += 1
            failure: Exception | None = None
            try:
                service.initialize(config)  # its return value is not the init result (P2): check .inited
            except Exception as exc:  # 2.4.x: AttributeError when the native side returns no parameter object
                failure = exc
            if not getattr(service, "inited", False):
                raise TransportUnavailableError(
                    "AgoraService.initialize() did not initialise the service (check the app id and the SDK logs "
                    f"in {log_dir})"
                ) from failure
            if failure is not None:
                logger.warning("AgoraService.initialize() failed after initialising: %r", failure)
            self._service = service
            self._log_dir = log_dir
            self._remove_at_exit = remove_at_exit
            self._app_id = app_id
            self._string_uids = string_uids
            if not self._atexit_registered:
                atexit.register(self.release_all)
                self._atexit_registered = True
            return service

    @property
    def log_dir(self) -> Path | None:
        """The folder the initialised service writes its logs to (``None`` before the first join)."""
        return self._log_dir

    def track(self, connection: Releasable) -> None:
        """Remember a connection so that :meth:`release_all` can release it if nobody leaves."""
        with self._lock:
            self._connections.append(connection)

    def forget(self, connection: Releasable) -> None:
        """Stop tracking a connection that has been released."""
        with self._lock:
            self._connections = [conn for conn in self._connections if conn is not connection]

    def note_failure(self, what: str) -> None:
        """Record that something went wrong in this run: the SDK's logs are kept at exit (and the exit log says so)."""
        with self._lock:
            if len(self._failures) < 100:
                self._failures.append(what)

    def release_all(self) -> None:
        """Release leftover connections (each exactly once), then the service; tidy the log folder (interpreter exit).

        A connection whose release does not finish within :data:`EXIT_RELEASE_TIMEOUT` keeps the service alive
        (releasing the service under a connection the SDK still works on is not safe); the process exit frees both.
        """
        with self._lock:
            connections, self._connections = self._connections, []
            service, self._service = self._service, None
            self._created = None
            self._app_id = None
            self._string_uids = None
            log_dir, self._log_dir = self._log_dir, None
            remove, self._remove_at_exit = self._remove_at_exit, None
            failures, self._failures = self._failures, []
        unreleased = [conn for conn in connections if not conn.release_blocking(EXIT_RELEASE_TIMEOUT)]
        if unreleased:
            logger.warning(
                "%d Agora connection(s) were still being released at exit; the service is left to the process exit",
                len(unreleased),
            )
            failures.append("connections still being released at exit")
        elif service is not None:
            release_service(service)
        if remove is None:
            return
        if failures:
            logger.warning("keeping the Agora SDK's logs in %s (this run had failures: %s)", log_dir, failures[0])
            return
        shutil.rmtree(remove, ignore_errors=True)
        logger.debug("removed the Agora SDK's log folder %s", remove)


def release_service(service: Any) -> None:
    """Release the media-node factory, then the service (the README's order; P3). Blocking; never raises."""
    factory = getattr(service, "media_node_factory", None)
    if factory is not None:
        try:
            factory.release()
        except Exception:
            logger.exception("MediaNodeFactory.release() failed")
        service.media_node_factory = None
    try:
        service.release()
    except Exception:
        logger.exception("AgoraService.release() failed")


def disconnect_and_release(conn: Any) -> None:
    """Shut one connection down in the SDK's order: disconnect, then release. Blocking; never raises.

    The ctypes callback structures the SDK registered with the native side (``con_observer_handle``,
    ``local_user.user_observer_inner``) stay referenced here until ``release()`` has returned: the SDK drops its own
    references before it destroys the native connection, and a callback still in flight would then call into freed
    memory (P6). (``release()`` is no fence either: the transport keeps the structures for the life of the process,
    see :mod:`~streamclient.transport._agora_conn`.)
    """
    local_user = getattr(conn, "local_user", None)
    keep_alive = (getattr(conn, "con_observer_handle", None), getattr(local_user, "user_observer_inner", None))
    try:
        code = conn.disconnect()  # also unregisters the local-user observer (P5)
        if code != 0:
            logger.debug("RTCConnection.disconnect() returned %s", code)
    except Exception:
        logger.exception("RTCConnection.disconnect() failed")
    try:
        conn.release()  # unregisters the connection observer and frees the native connection
    except Exception:
        logger.exception("RTCConnection.release() failed")
    del keep_alive  # only now may the callback structures go


#: The one shared service of this process.
SHARED_SERVICE = SharedAgoraService()
