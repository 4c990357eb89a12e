"""Test controls for the fake SDK (not part of the real SDK's surface).

``SCRIPT`` decides how the fake behaves; ``SERVICES``/``CONNECTIONS`` record what the adapter created;
``CALLBACK_ERRORS`` collects exceptions raised by observer methods, which the real SDK prints and swallows
(agora-python-sdk.md §2, OBS-4): a wrong observer arity shows up here and as a missing event.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Script:
    """How the fake SDK behaves; tests mutate ``SCRIPT`` before acting."""

    init_ok: bool = True
    connect_code: int = 0
    #: after connect(): "connected", "failure" (on_connection_failure), "disconnected" (on_disconnected), "silent"
    on_connect: str = "connected"
    fail_reason: int = 8
    #: report NULL channel_id/local_user_id in RTCConnInfo while connecting (the native SDK does, channel unknown)
    null_strings: bool = False
    assigned_uid: str = ""
    register_code: int = 0
    send_codes: list[int] = field(default_factory=list)
    dead_stream: bool = False
    renew_code: int = 0
    send_delay: float = 0.0
    connect_called: threading.Event = field(default_factory=threading.Event)


SCRIPT = Script()
SERVICES: list[Any] = []
CONNECTIONS: list[Any] = []
CALLBACK_ERRORS: list[BaseException] = []
INITIALIZE_CALLS: list[Any] = []


def invoke(fn: Callable[..., Any], *args: Any) -> Any:
    """Call an observer method the way the SDK's ctypes trampoline does: exceptions are printed and swallowed."""
    try:
        return fn(*args)
    except BaseException as exc:  # the ctypes callback machinery swallows everything
        CALLBACK_ERRORS.append(exc)
        traceback.print_exc()
        return None


def fire(fn: Callable[..., Any], *args: Any) -> threading.Thread:
    """Invoke an observer method on a new native-like thread (not the caller's)."""
    thread = threading.Thread(target=invoke, args=(fn, *args), name="fake-agora-callback", daemon=True)
    thread.start()
    return thread
