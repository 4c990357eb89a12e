"""Thread-safe handles on an emulator that runs in a background thread (what the pytest fixtures hand out).

The emulator lives on its own event loop in a worker thread (``anyio.from_thread.start_blocking_portal``), so it
serves sync tests, async tests and any event loop alike. Every method of these handles crosses into that loop
through the portal; values returned are copies, safe to keep. Blocking methods (``wait_until``,
``inject_user_speech``) have ``async`` twins (``await_until``, ``ainject_user_speech``) that run them in a worker
thread, so an async test never blocks its own loop.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from anyio.from_thread import BlockingPortal

from streamclient.emulator.avatar import Avatar, CommandRecord
from streamclient.emulator.avatar_room import AvatarRoom
from streamclient.emulator.faults import FaultPlan
from streamclient.emulator.room import GuideViolation
from streamclient.emulator.server import Emulator
from streamclient.errors import TransportTimeoutError

__all__ = ("AvatarHandle", "EmulatorHandle", "RoomHandle")

T = TypeVar("T")
_POLL_SECONDS = 0.01


class _Handle:
    def __init__(self, portal: BlockingPortal) -> None:
        self._portal = portal

    def _call(self, func: Callable[[], T]) -> T:
        return self._portal.call(func)


class AvatarHandle(_Handle):
    """The scripted avatar of a room, seen from another thread."""

    def __init__(self, avatar: Avatar, portal: BlockingPortal) -> None:
        super().__init__(portal)
        self._avatar = avatar

    @property
    def uid(self) -> str:
        """The avatar's uid in the room."""
        return self._avatar.uid

    @property
    def joined(self) -> bool:
        """True once the avatar is in the room."""
        return self._call(self._avatar.joined.is_set)

    @property
    def speaking(self) -> bool:
        """True between ``audio_start`` and ``audio_end``."""
        return self._call(lambda: self._avatar.speaking)

    @property
    def mode(self) -> int:
        """The current mode (1 retelling, 2 dialogue)."""
        return self._call(lambda: self._avatar.mode)

    @property
    def replies(self) -> list[str]:
        """Replies spoken to the end."""
        return self._call(lambda: list(self._avatar.replies))

    @property
    def received_texts(self) -> list[str]:
        """Complete chat messages received from the client."""
        return self._call(lambda: list(self._avatar.received_texts))

    @property
    def commands(self) -> list[CommandRecord]:
        """Commands received and the code each was acked with."""
        return self._call(lambda: list(self._avatar.commands))

    @property
    def interrupted_count(self) -> int:
        """Replies cut by ``interrupt``."""
        return self._call(lambda: self._avatar.interrupted_count)


class RoomHandle(_Handle):
    """A session's room, seen from another thread: faults, user speech, counters."""

    def __init__(self, room: AvatarRoom, portal: BlockingPortal) -> None:
        super().__init__(portal)
        self._room = room

    def __repr__(self) -> str:
        return f"RoomHandle(channel={self._room.channel!r})"

    @property
    def channel(self) -> str:
        """The room's channel."""
        return self._room.channel

    @property
    def avatar(self) -> AvatarHandle | None:
        """The room's avatar."""
        avatar = self._room.avatar
        return None if avatar is None else AvatarHandle(avatar, self._portal)

    @property
    def closed(self) -> bool:
        """True once the session ended."""
        return self._call(lambda: self._room.closed)

    @property
    def frames_to_avatar(self) -> int:
        """Frames delivered to the avatar."""
        return self._call(lambda: self._room.frames_to_avatar)

    @property
    def frames_to_client(self) -> int:
        """Frames delivered to the client."""
        return self._call(lambda: self._room.frames_to_client)

    @property
    def rejected(self) -> Counter[int]:
        """Refused sends by SDK code."""
        return self._call(lambda: Counter(self._room.rejected))

    @property
    def dropped(self) -> int:
        """Frames removed by drop faults."""
        return self._call(lambda: self._room.dropped)

    def guide_violations(self) -> list[GuideViolation]:
        """Senders whose traffic went over AKOOL's 6 KB/s guidance (see :meth:`Room.guide_violations`)."""
        return self._call(self._room.guide_violations)

    def set_faults(self, *, to_client: FaultPlan | None = None, to_avatar: FaultPlan | None = None) -> None:
        """Replace the fault plans of the room (see :meth:`Room.set_faults`)."""
        self._call(functools.partial(self._room.set_faults, to_client=to_client, to_avatar=to_avatar))

    def inject_user_speech(self, text: str) -> str:
        """Make the avatar send a ``from: "user"`` transcript (blocks until queued); returns its mid."""
        return self._portal.call(self._room.inject_user_speech, text)

    async def ainject_user_speech(self, text: str) -> str:
        """:meth:`inject_user_speech` for async tests (does not block the caller's loop)."""
        return await anyio.to_thread.run_sync(self.inject_user_speech, text)


class EmulatorHandle(_Handle):
    """A running emulator, seen from another thread (the ``akool_emulator`` fixture)."""

    def __init__(self, emulator: Emulator, portal: BlockingPortal) -> None:
        super().__init__(portal)
        self._emulator = emulator
        #: The emulator's configuration.
        self.config = emulator.config
        #: The REST base URL.
        self.base_url = emulator.base_url
        #: The room websocket URL.
        self.room_url = emulator.room_url
        #: The API key to use (local and random per run unless configured: not a user secret).
        self.api_key = emulator.api_key
        #: The inspector page (``None`` when the configuration turned it off).
        self.inspector_url = emulator.inspector_url

    def __repr__(self) -> str:
        return f"EmulatorHandle(base_url={self.base_url!r})"

    def open_session_count(self) -> int:
        """Sessions neither closed nor expired."""
        return self._call(self._emulator.open_session_count)

    def billed_seconds(self) -> float:
        """Seconds billed over all sessions."""
        return self._call(self._emulator.billed_seconds)

    def room_for(self, session_id: str) -> RoomHandle | None:
        """The room of a session, or ``None``."""
        room = self._call(functools.partial(self._emulator.room_for, session_id))
        return None if room is None else RoomHandle(room, self._portal)

    def room_for_channel(self, channel: str) -> RoomHandle | None:
        """The room of a channel (a caller's shared room, with ``agora_app_id`` configured), or ``None``."""
        room = self._call(functools.partial(self._emulator.room_for_channel, channel))
        return None if room is None else RoomHandle(room, self._portal)

    def wait_until(self, condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Block until ``condition()`` (evaluated in this thread) is true.

        Raises:
            TransportTimeoutError: still false after ``timeout`` seconds.
        """
        deadline = self._call(anyio.current_time) + timeout
        pause = threading.Event()
        while not condition():
            if self._call(anyio.current_time) >= deadline:
                raise TransportTimeoutError(f"condition still false after {timeout} s")
            pause.wait(_POLL_SECONDS)

    async def await_until(self, condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """:meth:`wait_until` for async tests: the condition is evaluated on the caller's loop.

        Raises:
            TransportTimeoutError: still false after ``timeout`` seconds.
        """
        try:
            with anyio.fail_after(timeout):
                while True:
                    if condition():
                        return
                    await anyio.sleep(_POLL_SECONDS)
        except TimeoutError as exc:
            raise TransportTimeoutError(f"condition still false after {timeout} s") from exc
