"""``AkoolClient``: the synchronous face of ``AsyncAkoolClient``.

Not a second implementation: an ``anyio`` blocking portal runs one ``AsyncAkoolClient`` in a private event-loop
thread, and every synchronous method hands the matching coroutine to that thread and waits for its result (so
retries, auth refresh, validation and error mapping are the same code). Safe to call from any thread that is not
running an event loop of its own portal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from pydantic import BaseModel

from streamclient.api._client import AsyncAkoolClient
from streamclient.api._retry import RetryPolicy
from streamclient.api.avatars import Avatars
from streamclient.api.knowledge import Knowledge
from streamclient.api.languages import Languages
from streamclient.api.models import (
    Avatar,
    AvatarPage,
    KnowledgeBase,
    KnowledgeBasePage,
    Language,
    Session,
    SessionPage,
    SessionStatus,
    VoicePage,
)
from streamclient.api.params import FastDialogueVoiceParams, VoiceParams
from streamclient.api.sessions import Sessions
from streamclient.api.voices import Voices
from streamclient.errors import keywords_checked
from streamclient.ledger import PostgresLedger, SessionLedger

__all__ = ("AkoolClient", "SyncAvatars", "SyncKnowledge", "SyncLanguages", "SyncSessions", "SyncVoices")

T = TypeVar("T")


async def _next(iterator: AsyncIterator[T]) -> tuple[bool, T | None]:
    try:
        return True, await iterator.__anext__()
    except StopAsyncIteration:
        return False, None


class _Bridge:
    """Runs coroutines of one resource on the portal's loop."""

    def __init__(self, portal: BlockingPortal) -> None:
        self._portal = portal

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _run(self, func: Callable[[], Awaitable[T]]) -> T:
        return self._portal.call(func)

    def _iterate(self, make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        iterator = self._portal.call(_make_iterator, make)
        try:
            while True:
                more, item = self._portal.call(_next, iterator)
                if not more:
                    return
                yield item  # type: ignore[misc]  # `more` is True, so `item` is a T
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                self._portal.call(aclose)


async def _make_iterator(make: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
    return make()


class SyncSessions(_Bridge):
    """Synchronous ``client.sessions``; see ``streamclient.api.sessions.Sessions`` for the documentation."""

    def __init__(self, portal: BlockingPortal, resource: Sessions) -> None:
        super().__init__(portal)
        self._res = resource

    @keywords_checked  # create(duraton=600) raises UnknownArgumentError suggesting "duration"
    def create(
        self,
        avatar_id: str,
        *,
        duration: float | None = None,
        voice_id: str | None = None,
        voice_url: str | None = None,
        language: str | None = None,
        mode_type: int | None = None,
        knowledge_id: str | None = None,
        background_url: str | None = None,
        voice_params: VoiceParams | FastDialogueVoiceParams | Mapping[str, Any] | None = None,
        stream_type: str | None = None,
        scene_mode: str | None = None,
        e2e_type: str | None = None,
        credentials: BaseModel | Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Session:
        """Create a session; **never retried once the request may have reached the server** (see ``Sessions``)."""
        return self._run(
            partial(
                self._res.create,
                avatar_id,
                duration=duration,
                voice_id=voice_id,
                voice_url=voice_url,
                language=language,
                mode_type=mode_type,
                knowledge_id=knowledge_id,
                background_url=background_url,
                voice_params=voice_params,
                stream_type=stream_type,
                scene_mode=scene_mode,
                e2e_type=e2e_type,
                credentials=credentials,
                extra_body=extra_body,
            )
        )

    def get(self, session_id: str) -> Session:
        """Fetch one session."""
        return self._run(partial(self._res.get, session_id))

    def list(self, *, status: SessionStatus | int | None = None, page: int = 1, size: int = 100) -> SessionPage:
        """Fetch one page of sessions."""
        return self._run(partial(self._res.list, status=status, page=page, size=size))

    def iter(self, *, status: SessionStatus | int | None = None, size: int = 100) -> Iterator[Session]:
        """Iterate over every session."""
        return self._iterate(partial(self._res.iter, status=status, size=size))

    def close(self, session_id: str) -> None:
        """Close a session."""
        self._run(partial(self._res.close, session_id))


class SyncAvatars(_Bridge):
    """Synchronous ``client.avatars``; see ``streamclient.api.avatars.Avatars``."""

    def __init__(self, portal: BlockingPortal, resource: Avatars) -> None:
        super().__init__(portal)
        self._res = resource

    def list(self, *, platform: str = "open", page: int = 1, size: int = 100) -> AvatarPage:
        """Fetch one page of streaming avatars."""
        return self._run(partial(self._res.list, platform=platform, page=page, size=size))

    def iter(self, *, platform: str = "open", size: int = 100) -> Iterator[Avatar]:
        """Iterate over the catalogue."""
        return self._iterate(partial(self._res.iter, platform=platform, size=size))

    def get(self, avatar_id: str) -> Avatar:
        """Fetch one avatar."""
        return self._run(partial(self._res.get, avatar_id))

    def upload(self, *, url: str, avatar_id: str, name: str, url_from: int = 1) -> Avatar:
        """Upload a streaming avatar (not retried once sent)."""
        return self._run(partial(self._res.upload, url=url, avatar_id=avatar_id, name=name, url_from=url_from))

    def status(self, upload_id: str) -> Avatar:
        """Fetch the status record of an avatar upload."""
        return self._run(partial(self._res.status, upload_id))

    def wait_until_ready(
        self,
        upload: Avatar | str,
        *,
        timeout: float = 900.0,
        interval: float = 5.0,
        on_progress: Callable[[Avatar], None] | None = None,
    ) -> Avatar:
        """Poll until status 3 or 4 (``on_progress`` runs on the client's loop thread)."""
        return self._run(
            partial(self._res.wait_until_ready, upload, timeout=timeout, interval=interval, on_progress=on_progress)
        )


class SyncVoices(_Bridge):
    """Synchronous ``client.voices``; see ``streamclient.api.voices.Voices``."""

    def __init__(self, portal: BlockingPortal, resource: Voices) -> None:
        super().__init__(portal)
        self._res = resource

    def list(
        self,
        *,
        voice_type: int = 2,
        page: int = 1,
        size: int = 10,
        support_stream: bool | None = None,
        style: str | None = None,
        gender: str | None = None,
        age: str | None = None,
        scenario: str | None = None,
        name: str | None = None,
    ) -> VoicePage:
        """Fetch one page of voices."""
        return self._run(
            partial(
                self._res.list,
                voice_type=voice_type,
                page=page,
                size=size,
                support_stream=support_stream,
                style=style,
                gender=gender,
                age=age,
                scenario=scenario,
                name=name,
            )
        )


class SyncLanguages(_Bridge):
    """Synchronous ``client.languages``."""

    def __init__(self, portal: BlockingPortal, resource: Languages) -> None:
        super().__init__(portal)
        self._res = resource

    def list(self) -> list[Language]:
        """Fetch every supported language."""
        return self._run(self._res.list)


class SyncKnowledge(_Bridge):
    """Synchronous ``client.knowledge``; see ``streamclient.api.knowledge.Knowledge``."""

    def __init__(self, portal: BlockingPortal, resource: Knowledge) -> None:
        super().__init__(portal)
        self._res = resource

    def list(self, *, page: int = 1, size: int = 10, name: str | None = None) -> KnowledgeBasePage:
        """Fetch one page of knowledge bases."""
        return self._run(partial(self._res.list, page=page, size=size, name=name))

    def iter(self, *, size: int = 100, name: str | None = None) -> Iterator[KnowledgeBase]:
        """Iterate over every knowledge base."""
        return self._iterate(partial(self._res.iter, size=size, name=name))

    def create(
        self,
        *,
        name: str | None = None,
        prologue: str | None = None,
        prompt: str | None = None,
        docs: Sequence[Mapping[str, Any]] | None = None,
        urls: Sequence[str] | None = None,
    ) -> KnowledgeBase:
        """Create a knowledge base."""
        return self._run(partial(self._res.create, name=name, prologue=prologue, prompt=prompt, docs=docs, urls=urls))

    def get(self, knowledge_id: str) -> KnowledgeBase:
        """Fetch one knowledge base."""
        return self._run(partial(self._res.get, knowledge_id))

    def update(
        self,
        knowledge_id: str,
        *,
        name: str | None = None,
        prologue: str | None = None,
        prompt: str | None = None,
        docs: Sequence[Mapping[str, Any]] | None = None,
        urls: Sequence[str] | None = None,
    ) -> KnowledgeBase:
        """Change fields of a knowledge base."""
        return self._run(
            partial(self._res.update, knowledge_id, name=name, prologue=prologue, prompt=prompt, docs=docs, urls=urls)
        )

    def delete(self, knowledge_id: str) -> None:
        """Delete a knowledge base."""
        self._run(partial(self._res.delete, knowledge_id))


class AkoolClient:
    """Synchronous client of the AKOOL REST API: the same surface as ``AsyncAkoolClient`` without ``await``.

    Use it as ``with AkoolClient() as client: ...`` or call ``close()``: it owns a private event-loop thread.
    Arguments are those of ``AsyncAkoolClient`` (an injected ``http_client`` must not be bound to another loop;
    prefer ``transport``).

    Raises:
        ConfigurationError: no credentials, a bad base URL, or a non-positive timeout.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ledger: SessionLedger | PostgresLedger | str | Path | bool | None = None,
        max_open_sessions: int | None = None,
        max_duration: int | None = None,
    ) -> None:
        self._portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal(name="streamclient-api")
        self._portal = self._portal_cm.__enter__()
        self._closed = False
        try:
            self._async: AsyncAkoolClient = self._portal.call(
                partial(
                    _build,
                    api_key,
                    client_id=client_id,
                    client_secret=client_secret,
                    base_url=base_url,
                    timeout=timeout,
                    retry=retry,
                    http_client=http_client,
                    transport=transport,
                    ledger=ledger,
                    max_open_sessions=max_open_sessions,
                    max_duration=max_duration,
                )
            )
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            self._closed = True
            raise
        self.sessions = SyncSessions(self._portal, self._async.sessions)
        self.avatars = SyncAvatars(self._portal, self._async.avatars)
        self.voices = SyncVoices(self._portal, self._async.voices)
        self.languages = SyncLanguages(self._portal, self._async.languages)
        self.knowledge = SyncKnowledge(self._portal, self._async.knowledge)

    def __repr__(self) -> str:
        return f"AkoolClient(base_url={self._async.base_url!r})"

    @property
    def base_url(self) -> str:
        """The base URL in use."""
        return self._async.base_url

    def close(self) -> None:
        """Close the HTTP connections and stop the private loop thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._portal.call(self._async.aclose)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> AkoolClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def _build(api_key: str | None, **kwargs: Any) -> AsyncAkoolClient:
    """Build the async client on the portal's loop (its locks and httpx client belong to that loop)."""
    return AsyncAkoolClient(api_key, **kwargs)
