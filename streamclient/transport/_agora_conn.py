"""One native Agora connection's lifetime: serialised SDK calls, one release, callbacks that outlive native threads.

Three facts about the native SDK shape this module (agora-python-sdk.md §2, P6; issue 21):

* Agora's C wrapper calls an observer from a *copy* of its callback table, outside its lock, and
  ``agora_rtc_conn_destroy`` does not wait for callbacks in progress. ``RTCConnection.release()`` is therefore not
  a fence: a native thread that read a callback pointer before the release may call it afterwards. The ctypes
  structures and ``CFUNCTYPE`` thunks handed to the native side are therefore kept for the life of the process
  (:func:`retain`); once the connection is released their references to our observers are cut
  (:meth:`NativeConnection.adopt`), so what stays is the ctypes objects alone, not the transport, its buffered
  events or the ``RTCConnection``. Only the 14 callbacks the adapter handles get per-connection thunks; every other
  field points to one shared no-op thunk per callback type. Cost: about 12 KB per connection ever created
  (measured with ``tracemalloc`` over 300 join/leave cycles on CPython 3.11 with SDK 2.4.10's two structures, plus
  14 libffi closures outside the Python heap), i.e. ~12 MB per thousand sessions over the process's life; with the
  SDK's own structures (76 thunks each) it was ~37 KB.
* Every SDK call on a connection runs under the connection's lock (:meth:`NativeConnection.call`), so a release
  never overlaps a send, a token renewal or the connect; and once the release is requested no call starts
  (:class:`ConnectionReleased`), so nothing reaches the SDK with a released connection's NULL handle.
* :meth:`NativeConnection.start_release` releases (``disconnect`` then ``release``) exactly once, on its own
  thread: a caller that stops waiting (``leave(timeout=...)``) does not stop it, and a second request joins the
  first. The thread logs what really happened, including a release that finished after its caller gave up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from streamclient.transport._agora_service import SHARED_SERVICE, disconnect_and_release

__all__ = ("ConnectionReleased", "NativeConnection", "retain", "retained_count")

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Every callback structure ever handed to the native side (never freed: see the module docstring).
_RETAINED: list[Any] = []
_RETAINED_LOCK = threading.Lock()


def retain(structure: Any) -> None:
    """Keep ``structure`` (a ctypes callback structure the native side may call) for the life of the process."""
    with _RETAINED_LOCK:
        _RETAINED.append(structure)


def retained_count() -> int:
    """How many callback structures are kept for the life of the process."""
    with _RETAINED_LOCK:
        return len(_RETAINED)


class ConnectionReleased(Exception):
    """The connection's release was requested: no SDK call may start on it any more."""


class NativeConnection:
    """An ``RTCConnection`` with a lock for its SDK calls and a release that happens exactly once (module docstring)."""

    def __init__(self, conn: Any, *, label: str = "connection") -> None:
        """Wrap ``conn`` (created by the SDK); it is tracked for release at interpreter exit from now on."""
        self.conn = conn
        self.label = label
        self._lock = threading.Lock()  # held during every SDK call on this connection, and by the release
        self._once = threading.Lock()
        self._closing = False
        self._release_started = False
        self._released = threading.Event()
        self._waiters: list[Callable[[], None]] = []
        self._gave_up_at: float | None = None
        self._structures: list[Any] = []
        SHARED_SERVICE.track(self)

    @property
    def closing(self) -> bool:
        """Whether the release was requested (no SDK call starts any more)."""
        return self._closing

    @property
    def released(self) -> bool:
        """Whether the SDK has released the connection."""
        return self._released.is_set()

    def adopt(self, structure: Any) -> None:
        """Keep a callback structure registered for this connection for the life of the process (see :func:`retain`).

        After the release, its references to our observers and to the ``RTCConnection`` are cut: a late callback
        then finds nothing to call and returns.
        """
        with self._once:
            if any(kept is structure for kept in self._structures):
                return
            self._structures.append(structure)
        retain(structure)

    def call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(conn, *args)`` under the connection's lock. Blocking: call it from a worker thread.

        Raises:
            ConnectionReleased: the release was requested before the call could start.
        """
        with self._lock:
            if self._closing:
                raise ConnectionReleased
            return fn(self.conn, *args)

    def start_release(self, on_done: Callable[[], None] | None = None) -> threading.Event:
        """Request the release (idempotent; any thread); return the event set once the SDK has released it.

        ``on_done`` is called (on the releasing thread) once it is released; it must not block or raise.
        """
        self._closing = True
        with self._once:
            if on_done is not None:
                if self._released.is_set():
                    on_done()
                else:
                    self._waiters.append(on_done)
            if self._release_started:
                return self._released
            self._release_started = True
        try:
            threading.Thread(target=self._release, name=f"agora-release-{self.label}", daemon=True).start()
        except RuntimeError:  # no new threads at interpreter shutdown (Python 3.12+): release on this one
            self._release()
        return self._released

    def gave_up(self, waited: float) -> None:
        """Note that the caller stopped waiting for the release after ``waited`` seconds (it goes on regardless)."""
        self._gave_up_at = time.monotonic()
        logger.warning(
            "the Agora SDK has not released %s within %s s (a native call in progress, or the SDK is slow); the "
            "release goes on in the background and will be logged when it completes",
            self.label,
            waited,
        )

    def release_blocking(self, timeout: float) -> bool:
        """Release here, or wait up to ``timeout`` seconds for a release under way; return whether it is released.

        For interpreter exit, which may not start threads any more.
        """
        self._closing = True
        with self._once:
            started, self._release_started = self._release_started, True
        if not started:
            self._release()
        return self._released.wait(timeout)

    def _release(self) -> None:
        started = time.monotonic()
        try:
            with self._lock:  # waits for an SDK call in progress (a stuck send, a slow connect)
                disconnect_and_release(self.conn)
        except BaseException:  # pragma: no cover - disconnect_and_release never raises; this is the last guard
            logger.exception("releasing %s failed", self.label)
        finally:
            self._sever()
            SHARED_SERVICE.forget(self)
            with self._once:
                self._released.set()
                waiters, self._waiters = self._waiters, []
            elapsed = time.monotonic() - started
            if self._gave_up_at is not None:
                logger.warning(
                    "the Agora SDK released %s %.2f s after the release was requested (%.2f s after leave() stopped "
                    "waiting): disconnected and released exactly once",
                    self.label,
                    elapsed,
                    time.monotonic() - self._gave_up_at,
                )
            else:
                logger.debug("released %s in %.3f s", self.label, elapsed)
            for waiter in waiters:
                try:
                    waiter()
                except Exception:
                    logger.exception("a release waiter failed")

    def _sever(self) -> None:
        """Cut the kept structures' references to our observers (the structures themselves stay, see :func:`retain`)."""
        with self._once:
            structures, self._structures = self._structures, []
        for structure in structures:
            for name in ("conn_observer", "local_user_observer", "conn", "local_user"):
                if name in getattr(structure, "__dict__", {}):
                    setattr(structure, name, None)
