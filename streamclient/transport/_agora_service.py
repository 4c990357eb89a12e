"""The process-wide ``AgoraService``: created and initialised once, shared by every transport, released at exit.

Agora allows one service per process with many connections (agora-python-sdk.md P1). :data:`SHARED_SERVICE` creates
it lazily, in the worker thread of the first join, and checks ``service.inited`` rather than the return value of
``initialize()`` (which reports an unrelated later call, P2). The app id and the uid mode (numeric or string uids)
are fixed for the process by that first join.

At interpreter exit (``atexit``) every connection that was not left is disconnected and released first, and the
service is released last (P3).
"""

from __future__ import annotations

import atexit
import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

from streamclient.errors import JoinError, TransportUnavailableError
from streamclient.transport._agora_sdk import AgoraSDK

__all__ = ("SHARED_SERVICE", "SharedAgoraService", "default_log_dir")

logger = logging.getLogger(__name__)


def default_log_dir() -> Path:
    """Where the native SDK writes its logs unless told otherwise."""
    return Path(tempfile.gettempdir()) / "streamclient-agora"


class SharedAgoraService:
    """Owns the one ``AgoraService`` of the process and the connections that still need releasing.

    Every method blocks (they call the SDK) and is meant for a worker thread; a lock serialises them.
    """

    def __init__(self) -> None:
        """Start with no service; :meth:`acquire` creates it."""
        self._lock = threading.Lock()
        self._service: Any = None
        self._app_id: str | None = None
        self._string_uids: bool | None = None
        self._connections: list[Any] = []
        self._atexit_registered = False
        self.initialize_calls = 0

    def acquire(self, sdk: AgoraSDK, *, app_id: str, string_uids: bool, log_dir: Path) -> Any:
        """Return the initialised service, creating it on first use.

        Raises:
            JoinError: the process already uses another app id or uid mode.
            TransportUnavailableError: the service did not initialise.
        """
        with self._lock:
            if self._service is not None:
                if app_id != self._app_id:
                    raise JoinError("the Agora service of this process is already initialised with another app id")
                if string_uids != self._string_uids:
                    raise JoinError("all uids in this process must be either numeric or strings (Agora's uid mode)")
                return self._service
            log_dir.mkdir(parents=True, exist_ok=True)
            service = sdk.AgoraService()
            config = sdk.AgoraServiceConfig(
                appid=app_id,
                log_path=str(log_dir / "agorasdk.log"),
                log_file_size_kb=1024,
                data_dir=str(log_dir),
                config_dir=str(log_dir),
                use_string_uid=1 if string_uids else 0,
            )
            self.initialize_calls += 1
            service.initialize(config)  # its return value is not the init result (P2): check .inited
            if not service.inited:
                raise TransportUnavailableError(
                    "AgoraService.initialize() did not initialise the service (check the app id and the SDK logs "
                    f"in {log_dir})"
                )
            self._service = service
            self._app_id = app_id
            self._string_uids = string_uids
            if not self._atexit_registered:
                atexit.register(self.release_all)
                self._atexit_registered = True
            return service

    def track(self, connection: Any) -> None:
        """Remember a connection so that :meth:`release_all` can release it if nobody leaves."""
        with self._lock:
            self._connections.append(connection)

    def forget(self, connection: Any) -> None:
        """Stop tracking a connection that has been released."""
        with self._lock:
            self._connections = [conn for conn in self._connections if conn is not connection]

    def release_all(self) -> None:
        """Disconnect and release leftover connections, then release the service (interpreter exit)."""
        with self._lock:
            connections, self._connections = self._connections, []
            service, self._service = self._service, None
            self._app_id = None
            self._string_uids = None
        for conn in connections:
            disconnect_and_release(conn)
        if service is not None:
            try:
                service.release()
            except Exception:
                logger.exception("AgoraService.release() failed")


def disconnect_and_release(conn: Any) -> None:
    """Shut one connection down in the SDK's order: disconnect, then release. Blocking; never raises."""
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


#: The one shared service of this process.
SHARED_SERVICE = SharedAgoraService()
