"""The local AKOOL emulator: REST API, RTC rooms and a scripted avatar on loopback (needs the ``emulator`` extra).

::

    from streamclient.emulator import Emulator, EmulatorConfig, FaultPlan

    async with Emulator(EmulatorConfig(avatar_join_delay=0.05)) as emu:
        ...  # point AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) at it

See :mod:`streamclient.emulator.server`. The pytest plugin (:mod:`streamclient.emulator.pytest_plugin`) gives the
same thing as fixtures.

The exports are loaded lazily (PEP 562): importing ``streamclient.emulator.pytest_plugin``, which pytest does in
every project that installs streamclient, must not import starlette, uvicorn or websockets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamclient.emulator.avatar import Avatar, AvatarConfig, CommandRecord
    from streamclient.emulator.faults import Fault, FaultInjector, FaultPlan
    from streamclient.emulator.recording import Record, Recorder, replay
    from streamclient.emulator.responders import Responder, SessionInfo, default_responder
    from streamclient.emulator.room import Room, RoomLimits
    from streamclient.emulator.server import Emulator, EmulatorConfig
    from streamclient.emulator.shapes import ResponseShapes
    from streamclient.emulator.state import EmulatedSession, EmulatorState

_EXPORTS = {
    "Avatar": "avatar",
    "AvatarConfig": "avatar",
    "CommandRecord": "avatar",
    "EmulatedSession": "state",
    "Emulator": "server",
    "EmulatorConfig": "server",
    "EmulatorState": "state",
    "Fault": "faults",
    "FaultInjector": "faults",
    "FaultPlan": "faults",
    "Record": "recording",
    "Recorder": "recording",
    "Responder": "responders",
    "ResponseShapes": "shapes",
    "Room": "room",
    "RoomLimits": "room",
    "SessionInfo": "responders",
    "default_responder": "responders",
    "replay": "recording",
}

__all__ = (
    "Avatar",
    "AvatarConfig",
    "CommandRecord",
    "EmulatedSession",
    "Emulator",
    "EmulatorConfig",
    "EmulatorState",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "Record",
    "Recorder",
    "Responder",
    "ResponseShapes",
    "Room",
    "RoomLimits",
    "SessionInfo",
    "default_responder",
    "replay",
)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
