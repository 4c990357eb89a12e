"""``EventPusher``: calls a consumer's event handlers from event-loop callbacks (see ``PushTransport``).

A pushed event is handed over from a loop callback (a socket's ``data_received``, a ``call_soon``), not from a task.
There anyio cannot tell which async library is running when ``sniffio`` is installed (sniffio looks for the current
asyncio *task*), so ``anyio.Event()`` or ``anyio.current_time()`` in a handler would raise ``NoEventLoopError``. The
pusher runs the handlers in a copy of the consumer's context in which sniffio's variable says ``asyncio``, which is
what every transport here runs on.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
from collections.abc import Callable
from typing import Any

from streamclient.transport.base import TransportEndHandler, TransportEvent, TransportEventHandler


def _sniffio_variable() -> Any:
    """The context variable of sniffio, or ``None`` when sniffio is not installed (not one of our dependencies)."""
    try:
        return importlib.import_module("sniffio").current_async_library_cvar
    except ImportError:  # pragma: no cover - anyio then asks asyncio for the running loop, which works in callbacks
        return None


_SNIFFIO_VARIABLE = _sniffio_variable()

__all__ = ("EventPusher",)

logger = logging.getLogger(__name__)


class EventPusher:
    """Hands events to ``on_event`` and the end to ``on_end`` (once); a handler that raises is logged, not raised.

    Create it on the loop, in the consumer's task (its context is copied).
    """

    def __init__(self, on_event: TransportEventHandler, on_end: TransportEndHandler, *, label: str = "") -> None:
        """Copy the current context and mark it as running on asyncio."""
        self._on_event = on_event
        self._on_end: TransportEndHandler | None = on_end
        self._label = label
        self._context = contextvars.copy_context()
        if _SNIFFIO_VARIABLE is not None:
            self._context.run(_SNIFFIO_VARIABLE.set, "asyncio")
        self._inside = False

    @property
    def ended(self) -> bool:
        """True once :meth:`end` was called."""
        return self._on_end is None

    def push(self, event: TransportEvent) -> None:
        """Hand ``event`` to the consumer (ignored after :meth:`end`)."""
        if self._on_end is None:
            return
        try:
            self._run(self._on_event, event)
        except Exception:
            logger.exception("%s: the consumer's event handler failed on %s", self._label, type(event).__name__)

    def end(self, error: BaseException | None = None) -> None:
        """Tell the consumer the events ended (``error``: where ``events()`` would raise it). Idempotent."""
        on_end, self._on_end = self._on_end, None
        if on_end is None:
            return
        try:
            self._run(on_end, error)
        except Exception:
            logger.exception("%s: the consumer's end handler failed", self._label)

    def _run(self, fn: Callable[..., None], *args: Any) -> None:
        if self._inside:  # a handler that leads back here: already in the context (it cannot be entered twice)
            fn(*args)
            return
        self._inside = True
        try:
            self._context.run(fn, *args)
        finally:
            self._inside = False
