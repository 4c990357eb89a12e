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
    from streamclient.emulator.avatar_room import AvatarRoom
    from streamclient.emulator.faults import Fault, FaultInjector, FaultPlan
    from streamclient.emulator.recording import Record, Recorder, replay
    from streamclient.emulator.responders import Responder, SessionInfo, default_responder
    from streamclient.emulator.room import GuideViolation, Room, RoomLimits
    from streamclient.emulator.server import Emulator, EmulatorConfig
    from streamclient.emulator.shapes import ResponseShapes
    from streamclient.emulator.state import EmulatedSession, EmulatorState

_EXPORTS = {
    "Avatar": "avatar",
    "AvatarConfig": "avatar",
    "AvatarRoom": "avatar_room",
    "CommandRecord": "avatar",
    "EmulatedSession": "state",
    "Emulator": "server",
    "EmulatorConfig": "server",
    "EmulatorState": "state",
    "Fault": "faults",
    "FaultInjector": "faults",
    "FaultPlan": "faults",
    "GuideViolation": "room",
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
    "AvatarRoom",
    "CommandRecord",
    "EmulatedSession",
    "Emulator",
    "EmulatorConfig",
    "EmulatorState",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "GuideViolation",
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


#: The third-party packages of the ``emulator`` extra.
EXTRA_PACKAGES = frozenset({"starlette", "uvicorn", "websockets"})


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        imported = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in EXTRA_PACKAGES:
            raise
        raise ModuleNotFoundError(
            f"the streamclient emulator needs the 'emulator' extra ({missing} is not installed): "
            'pip install "streamclient[emulator]"',
            name=missing,
        ) from exc
    value = getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
