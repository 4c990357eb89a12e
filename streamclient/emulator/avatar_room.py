"""A room with the emulator's scripted avatars in it: what ``Emulator.room_for`` hands out.

The :class:`~streamclient.emulator.room.Room` is the channel alone (membership, limits, faults, tokens) and knows
nothing of avatars; the emulator opens an :class:`AvatarRoom` for every channel it hosts and adds the avatar of each
session that sends one there (a caller's shared room can hold several, one per session).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from streamclient.emulator.avatar import Avatar
from streamclient.emulator.recording import Recorder
from streamclient.emulator.room import Room, RoomLimits

__all__ = ("AvatarRoom",)


class AvatarRoom(Room):
    """A :class:`~streamclient.emulator.room.Room` and the scripted avatars the sessions sent into it."""

    def __init__(
        self,
        channel: str,
        *,
        session_id: str | None = None,
        limits: RoomLimits | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        recorder: Recorder | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            channel,
            session_id=session_id,
            limits=limits,
            seed=seed,
            clock=clock,
            wall_clock=wall_clock,
            recorder=recorder,
            on_change=on_change,
        )
        self._avatars: list[Avatar] = []

    def add_avatar(self, avatar: Avatar) -> None:
        """Register a session's avatar (it joins by itself when it runs)."""
        self._avatars.append(avatar)

    @property
    def avatars(self) -> list[Avatar]:
        """Every avatar sent into this room, in order (a copy; the ones that stayed out or left too)."""
        return list(self._avatars)

    @property
    def avatar(self) -> Avatar | None:
        """The avatar of the room: the latest one in the room, else the latest one sent here, else ``None``."""
        present = [a for a in self._avatars if a.joined.is_set() and not a.left.is_set()]
        if present:
            return present[-1]
        return self._avatars[-1] if self._avatars else None

    async def inject_user_speech(self, text: str) -> str:
        """Make the avatar send ``text`` as a ``from: "user"`` transcript (mode 2: then answer it); returns the mid.

        Raises:
            RuntimeError: the room has no avatar.
        """
        avatar = self.avatar
        if avatar is None:
            raise RuntimeError(f"room {self.channel} has no avatar")
        return await avatar.inject_user_speech(text)
