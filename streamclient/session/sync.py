"""A synchronous facade over :class:`~streamclient.session.AvatarSession`, for scripts that are not async.

There is one implementation of the logic: the async session runs on a private event-loop thread (an anyio
blocking portal) and every method here waits for its async twin. Leaving the ``with`` block, by an exception or
Ctrl-C included, closes the session through the API.

::

    from streamclient.session.sync import connect_sync

    with connect_sync(avatar_id="dvp_Tristan_cloth2_1080P", mode_type=1) as session:
        print(session.say("Hello!").reply)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from typing_extensions import Unpack

from streamclient.api import AsyncAkoolClient
from streamclient.session._connect import connect
from streamclient.session._options import CommandParams, CreateOptions, SessionOptions, check_keywords, keywords_checked
from streamclient.session._session import AvatarSession
from streamclient.session.events import CommandAcked, SessionEvent
from streamclient.session.stats import SessionStats
from streamclient.session.turns import Turn, TurnResult

__all__ = ("SyncAvatarSession", "connect_sync")


class SyncAvatarSession:
    """Blocking methods of an :class:`AvatarSession` running on a background event loop."""

    def __init__(self, session: AvatarSession, portal: BlockingPortal) -> None:
        self._session = session
        self._portal = portal

    @property
    def session_id(self) -> str | None:
        """The AKOOL session id."""
        return self._session.session_id

    @property
    def stats(self) -> SessionStats:
        """Counters and latency figures."""
        return self._session.stats

    def say(self, text: str, *, timeout: float | None = None) -> TurnResult:
        """Say ``text`` and wait for the avatar's reply (see :meth:`AvatarSession.say`).

        Raises:
            ReplyTimeoutError: no reply in time.
            SessionClosedError: the session closed first.
            LocalProtocolError: ``text`` is empty or cannot be encoded.
        """

        async def run() -> TurnResult:
            return await self._session.say(text, timeout=timeout)

        return self._portal.call(run)

    def say_stream(self, chunks: Iterable[str], *, timeout: float | None = None, max_wait: float = 1.0) -> TurnResult:
        """Speak text deltas as ``chunks`` yields them and wait for the answer (:meth:`AvatarSession.say_stream`).

        ``chunks`` is iterated in this thread (a synchronous LLM client's stream), each delta handed to the session
        as it arrives. If the answer is interrupted (from another thread), iteration stops and ``chunks`` is closed.

        Raises:
            ReplyTimeoutError: a delta or a piece's reply did not come in time.
            SessionClosedError: the session closed first.
            InvalidArgumentError: a delta is not a ``str``.
        """
        send, receive = anyio.create_memory_object_stream[str](16)

        async def start() -> Turn:
            return self._session.say_stream(receive, timeout=timeout, max_wait=max_wait)

        turn = self._portal.call(start)
        iterator = iter(chunks)
        try:
            for chunk in iterator:
                try:
                    self._portal.call(send.send, chunk)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    break  # the answer was interrupted (or the session closed): stop consuming
        finally:
            self._portal.call(send.aclose)  # on the loop's thread: the end of the stream
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

        async def wait() -> TurnResult:
            return await turn

        return self._portal.call(wait)

    def ask(self, text: str, *, timeout: float | None = None) -> TurnResult:
        """Ask and wait for the answer (dialogue mode); see :meth:`AvatarSession.ask`.

        Raises:
            ReplyTimeoutError: no reply in time.
            SessionClosedError: the session closed first.
            LocalProtocolError: ``text`` is empty or cannot be encoded.
        """
        return self.say(text, timeout=timeout)

    def interrupt(self, *, drop_queued: bool = False, timeout: float | None = None) -> CommandAcked:
        """Stop the avatar (see :meth:`AvatarSession.interrupt`).

        Raises:
            CommandTimeoutError: no ack in time.
            CommandError: the ack carried a failure code.
            SessionClosedError: the session is closed.
        """

        async def run() -> CommandAcked:
            return await self._session.interrupt(drop_queued=drop_queued, timeout=timeout)

        return self._portal.call(run)

    def set_params(self, *, timeout: float | None = None, **params: Unpack[CommandParams]) -> CommandAcked:
        """Change parameters (see :meth:`AvatarSession.set_params`).

        Raises:
            InvalidArgumentError: an unknown parameter, or one out of range.
            CommandTimeoutError: no ack in time.
            CommandError: the avatar refused.
            SessionClosedError: the session is closed.
        """
        check_keywords("set_params", params, CommandParams)

        async def run() -> CommandAcked:
            return await self._session.set_params(timeout=timeout, **params)

        return self._portal.call(run)

    @keywords_checked
    def set_action(
        self, action: str | None = None, *, expression: str | None = None, timeout: float | None = None
    ) -> CommandAcked:
        """Play a gesture and/or expression (see :meth:`AvatarSession.set_action`).

        Raises:
            InvalidArgumentError: unknown action or expression.
            CommandTimeoutError: no ack in time.
            CommandError: the avatar refused.
            SessionClosedError: the session is closed.
        """

        async def run() -> CommandAcked:
            return await self._session.set_action(action, expression=expression, timeout=timeout)

        return self._portal.call(run)

    def events(self) -> Iterator[SessionEvent]:
        """Events from now on (subscribed at this call), blocking between them; ends when the session closes."""
        subscription = self._session.events()

        async def next_event() -> SessionEvent | None:
            try:
                return await subscription.__anext__()
            except StopAsyncIteration:
                return None

        def iterate() -> Iterator[SessionEvent]:
            while (event := self._portal.call(next_event)) is not None:
                yield event

        return iterate()


@contextmanager
def connect_sync(
    api_key: str | None = None,
    *,
    avatar_id: str,
    base_url: str | None = None,
    options: SessionOptions | None = None,
    **create_options: Unpack[CreateOptions],
) -> Iterator[SyncAvatarSession]:
    """Create a session and join it, like :func:`~streamclient.session.connect`, for synchronous code.

    Args:
        api_key: the AKOOL API key (default: ``AKOOL_API_KEY``).
        avatar_id: the streaming avatar.
        base_url: the API base URL (default: ``AKOOL_BASE_URL`` or the public service).
        options: timeouts and bounds.
        **create_options: other fields of ``sessions.create`` (:class:`~streamclient.session.CreateOptions`).

    Raises:
        InvalidArgumentError: an unknown keyword argument; nothing was created.
    """
    check_keywords("connect_sync", create_options, CreateOptions)
    with start_blocking_portal() as portal:
        client = AsyncAkoolClient(api_key, base_url=base_url)
        with portal.wrap_async_context_manager(client):
            session = connect(client, avatar_id=avatar_id, options=options, **create_options)
            with portal.wrap_async_context_manager(session):
                yield SyncAvatarSession(session, portal)
