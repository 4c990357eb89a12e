"""The room's observation hook: what a watcher (the inspector) is told about a room, as it happens.

A :class:`~streamclient.emulator.room.Room` calls every observer in its ``observers`` list in line, on the room's
own code path, so an observer must be cheap and must not raise: the inspector only appends a tuple to a bounded
queue and does its work later, on its own task.

Kinds:

* ``"join"`` / ``"leave"``: ``uid`` joined (``role``: ``"client"`` or ``"avatar"``) or left (``code``: the reason);
* ``"frame"``: the room delivered ``data`` from ``uid`` (after fault injection: what the receivers got);
* ``"refused"``: the room refused ``data`` from ``uid`` with the SDK code ``code`` (-114, -12, -115, -113);
* ``"close"``: the room closed (``code``: the reason; ``uid`` is empty).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from streamclient.emulator.room import Room

__all__ = ("RoomEventKind", "RoomObserver")

RoomEventKind = Literal["join", "leave", "frame", "refused", "close"]


class RoomObserver(Protocol):
    """Told of every join, leave, delivery, refusal and the close of the rooms it watches."""

    def room_event(
        self, room: Room, kind: RoomEventKind, uid: str, *, role: str = "", data: bytes = b"", code: int = 0
    ) -> None:
        """One thing that happened in ``room`` (see the module docstring); must be cheap and must not raise."""
