"""The emulator's in-memory AKOOL world, one part per concern; ``EmulatorState`` is the front the rest reads.

=====================  =========================================================================================
part                   module
=====================  =========================================================================================
REST access, faults    :mod:`~streamclient.emulator.access` (API key, bearer tokens, request log, scripted faults)
catalogue, uploads     :mod:`~streamclient.emulator.catalogue` (avatars, voices, languages; uploaded avatars)
knowledge bases        :mod:`~streamclient.emulator.knowledge`
sessions, billing      :mod:`~streamclient.emulator.sessions` (create/detail/list/close, expiry, quota)
who may join a room    :mod:`~streamclient.emulator.admission` (hosted rooms' join check)
=====================  =========================================================================================

The room itself (membership, data-stream limits, faults, tokens) is :mod:`~streamclient.emulator.room`.

No HTTP here (``rest.py`` serves it; the room server reads it). Everything runs on one event loop: methods are plain
synchronous calls that never block. Time comes from the injected ``clock`` only, so tests can drive it. The AKOOL
behaviour each part imitates is described in its module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from streamclient.emulator import admission
from streamclient.emulator.access import Access, RestFault
from streamclient.emulator.admission import JoinDenied
from streamclient.emulator.api_error import EmulatorApiError
from streamclient.emulator.catalogue import (
    ACCEPTED_LANGUAGES,
    FAST_DIALOGUE_VOICES,
    LANGUAGES,
    OFFICIAL_AVATARS,
    VOICE_CLONES,
    VOICES,
    Catalogue,
)
from streamclient.emulator.knowledge import KnowledgeBases
from streamclient.emulator.sessions import AVATAR_UID_OFFSET, EmulatedSession, SessionListener, Sessions
from streamclient.emulator.shapes import ResponseShapes

__all__ = (
    "ACCEPTED_LANGUAGES",
    "AVATAR_UID_OFFSET",
    "FAST_DIALOGUE_VOICES",
    "LANGUAGES",
    "OFFICIAL_AVATARS",
    "VOICES",
    "VOICE_CLONES",
    "EmulatedSession",
    "EmulatorApiError",
    "EmulatorState",
    "JoinDenied",
    "RestFault",
    "SessionListener",
)


class EmulatorState:
    """The emulator's world: the parts below, and the calls ``rest.py``, the server and tests make on them.

    Args:
        api_key: the accepted ``x-api-key`` (generated if ``None``; read it from ``state.api_key``).
        client_id: the accepted ``clientId`` for ``getToken``.
        client_secret: the accepted ``clientSecret`` (generated if ``None``).
        clock: monotonic clock in seconds.
        quota_seconds: total seconds of sessions the account may reserve (``None`` = unlimited).
        avatar_step_seconds: time between upload status steps 1 -> 2 -> 3.
        session_start_seconds: time from create (status 1) to live (status 2).
        app_id: the Agora-style app id put into credentials.
        shapes: which documented answer shape to use where the docs show several.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        client_id: str = "emulator-client",
        client_secret: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        quota_seconds: float | None = None,
        avatar_step_seconds: float = 0.05,
        session_start_seconds: float = 0.05,
        app_id: str = "emulator-app",
        shapes: ResponseShapes | None = None,
    ) -> None:
        self.clock = clock
        #: credentials, bearer tokens, the request log and scripted REST faults.
        self.access = Access(api_key=api_key, client_id=client_id, client_secret=client_secret)
        #: avatars (official and uploaded), voices.
        self.catalogue = Catalogue(clock=clock, avatar_step_seconds=avatar_step_seconds)
        #: knowledge bases.
        self.knowledge_bases = KnowledgeBases()
        #: sessions and billing.
        self.book = Sessions(
            catalogue=self.catalogue,
            knowledge=self.knowledge_bases,
            clock=clock,
            quota_seconds=quota_seconds,
            session_start_seconds=session_start_seconds,
            app_id=app_id,
            shapes=shapes,
        )

    def __repr__(self) -> str:
        return f"EmulatorState(sessions={len(self.sessions)}, open={len(self.open_sessions())})"

    # ------------------------------------------------------------------------------ the parts' data, by name

    @property
    def api_key(self) -> str:
        """The accepted ``x-api-key``."""
        return self.access.api_key

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.access.api_key = value

    @property
    def client_id(self) -> str:
        """The accepted ``clientId``."""
        return self.access.client_id

    @client_id.setter
    def client_id(self, value: str) -> None:
        self.access.client_id = value

    @property
    def client_secret(self) -> str:
        """The accepted ``clientSecret``."""
        return self.access.client_secret

    @client_secret.setter
    def client_secret(self, value: str) -> None:
        self.access.client_secret = value

    @property
    def tokens(self) -> set[str]:
        """The bearer tokens issued and not revoked."""
        return self.access.tokens

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every REST request served, in order (no headers, no bodies)."""
        return self.access.requests

    @property
    def voice_clones(self) -> list[dict[str, Any]]:
        """The account's voice clones (voice list ``type=1``); tests may add their own."""
        return self.catalogue.voice_clones

    @property
    def avatar_step_seconds(self) -> float:
        """Time between upload status steps 1 -> 2 -> 3."""
        return self.catalogue.avatar_step_seconds

    @avatar_step_seconds.setter
    def avatar_step_seconds(self, value: float) -> None:
        self.catalogue.avatar_step_seconds = value

    @property
    def knowledge(self) -> dict[str, dict[str, Any]]:
        """The knowledge bases by id."""
        return self.knowledge_bases.knowledge

    @property
    def sessions(self) -> dict[str, EmulatedSession]:
        """Every session by id (open or not)."""
        return self.book.sessions

    @property
    def quota_seconds(self) -> float | None:
        """Total seconds of sessions the account may reserve (``None`` = unlimited)."""
        return self.book.quota_seconds

    @quota_seconds.setter
    def quota_seconds(self, value: float | None) -> None:
        self.book.quota_seconds = value

    @property
    def session_start_seconds(self) -> float:
        """Time from create (status 1) to live (status 2)."""
        return self.book.session_start_seconds

    @property
    def app_id(self) -> str:
        """The Agora-style app id put into credentials."""
        return self.book.app_id

    @property
    def shapes(self) -> ResponseShapes:
        """Which documented answer shape to use where the docs show several."""
        return self.book.shapes

    @property
    def credentials_extra(self) -> dict[str, Any]:
        """Added to every agora credentials answer (the emulator's room URL)."""
        return self.book.credentials_extra

    # ------------------------------------------------------------------------------------ access, faults

    def fail_next(
        self,
        path_suffix: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """See :meth:`Access.fail_next`."""
        self.access.fail_next(path_suffix, code=code, http_status=http_status, times=times, retry_after=retry_after)

    def delay_next(self, path_suffix: str, seconds: float, *, times: int = 1, after: bool = False) -> None:
        """See :meth:`Access.delay_next`."""
        self.access.delay_next(path_suffix, seconds, times=times, after=after)

    def take_faults(self, path: str) -> list[RestFault]:
        """See :meth:`Access.take_faults`."""
        return self.access.take_faults(path)

    def issue_token(self, client_id: Any, client_secret: Any) -> str:
        """See :meth:`Access.issue_token`."""
        return self.access.issue_token(client_id, client_secret)

    def revoke_tokens(self) -> None:
        """See :meth:`Access.revoke_tokens`."""
        self.access.revoke_tokens()

    def authenticate(self, headers: Mapping[str, str]) -> None:
        """See :meth:`Access.authenticate`."""
        self.access.authenticate(headers)

    # ------------------------------------------------------------------------------------------ sessions

    def add_listener(self, listener: SessionListener) -> None:
        """Register a listener for session creation and closing."""
        self.book.add_listener(listener)

    def create_session(self, body: Mapping[str, Any]) -> EmulatedSession:
        """See :meth:`Sessions.create_session`."""
        return self.book.create_session(body)

    def get_session(self, session_id: Any) -> EmulatedSession:
        """See :meth:`Sessions.get_session`."""
        return self.book.get_session(session_id)

    def list_sessions(self, *, status: int | None, page: int, size: int) -> tuple[int, list[EmulatedSession]]:
        """See :meth:`Sessions.list_sessions`."""
        return self.book.list_sessions(status=status, page=page, size=size)

    def close_session(self, session_id: Any, *, reason: str = "closed") -> EmulatedSession:
        """See :meth:`Sessions.close_session`."""
        return self.book.close_session(session_id, reason=reason)

    def fail_session(self, session_id: str, why: str) -> None:
        """See :meth:`Sessions.fail_session`."""
        self.book.fail_session(session_id, why)

    def open_sessions(self) -> list[EmulatedSession]:
        """See :meth:`Sessions.open_sessions`."""
        return self.book.open_sessions()

    def billed_seconds(self) -> float:
        """See :meth:`Sessions.billed_seconds`."""
        return self.book.billed_seconds()

    def expire_due(self) -> list[EmulatedSession]:
        """See :meth:`Sessions.expire_due`."""
        return self.book.expire_due()

    def next_expiry(self) -> float | None:
        """See :meth:`Sessions.next_expiry`."""
        return self.book.next_expiry()

    def session_by_channel(self, channel: str) -> EmulatedSession | None:
        """See :meth:`Sessions.session_by_channel`."""
        return self.book.session_by_channel(channel)

    def session_data(self, session: EmulatedSession, *, with_token: bool = True) -> dict[str, Any]:
        """See :meth:`Sessions.session_data`."""
        return self.book.session_data(session, with_token=with_token)

    def check_join(self, *, channel: str, uid: str, token: str) -> EmulatedSession:
        """See :func:`~streamclient.emulator.admission.check_join`."""
        return admission.check_join(self.book, channel=channel, uid=uid, token=token)

    # ------------------------------------------------------------------------------- avatars, voices, KBs

    def voice_ids(self) -> frozenset[str]:
        """See :meth:`Catalogue.voice_ids`."""
        return self.catalogue.voice_ids()

    def avatars(self) -> list[dict[str, Any]]:
        """See :meth:`Catalogue.avatars`."""
        return self.catalogue.avatars()

    def get_avatar(self, avatar_id: Any) -> dict[str, Any]:
        """See :meth:`Catalogue.get_avatar`."""
        return self.catalogue.get_avatar(avatar_id)

    def upload_records(self, record_id: Any) -> list[dict[str, Any]]:
        """See :meth:`Catalogue.upload_records`."""
        return self.catalogue.upload_records(record_id)

    def upload_avatar(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """See :meth:`Catalogue.upload_avatar`."""
        return self.catalogue.upload_avatar(body)

    def create_knowledge(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """See :meth:`KnowledgeBases.create_knowledge`."""
        return self.knowledge_bases.create_knowledge(body)

    def get_knowledge(self, knowledge_id: Any) -> dict[str, Any]:
        """See :meth:`KnowledgeBases.get_knowledge`."""
        return self.knowledge_bases.get_knowledge(knowledge_id)

    def update_knowledge(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """See :meth:`KnowledgeBases.update_knowledge`."""
        return self.knowledge_bases.update_knowledge(body)

    def delete_knowledge(self, knowledge_id: Any) -> None:
        """See :meth:`KnowledgeBases.delete_knowledge`."""
        self.knowledge_bases.delete_knowledge(knowledge_id)
