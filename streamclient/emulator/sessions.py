"""The emulator's live-avatar sessions: create, detail, list, close, expiry and billing.

No HTTP here (``rest.py`` serves it; the room server listens to it). Everything runs on one event loop: methods are
plain synchronous calls that never block. Time comes from the injected ``clock`` only, so tests can drive it.

Behaviour choices where AKOOL documents nothing (akool-api-and-protocol.md §4, §5, §8):

* errors are answered with HTTP 200 and the AKOOL body code, as the service does;
* answers take the documented shapes; where the docs show several, ``ResponseShapes`` picks one (``shapes.py``);
* create: ``duration`` (a number, at most 3600) defaults to 600 s when absent; missing/invalid fields -> 1003; an
  unknown avatar -> 1008 "content not exist" (the avatar catalogue is "content"; 1014 is the newer "resource"
  wording and is not used); an uploaded avatar that is not ready -> 1003; an unknown ``knowledge_id`` -> 1232;
  ``language`` must be a code of the language list (``af-ZA``) or its primary subtag (``af``: the docs' examples
  use ``en``), ``voice_id`` a voice of the voice list (any id with ``elevenlabs_settings``), both -> 1003
  otherwise, and the avatar checks set-params against the same sets; ``voice_params`` follow
  ``FastDialogueVoiceParams`` (closed, preset voices) with ``scene_mode="fast_dialogue"``; ``stream_type`` agora,
  livekit or trtc, answered with that provider's documented credential names (only agora rooms can be joined
  here); bring-your-own ``credentials`` must carry the fields OAS requires for their stream type, and are stored
  and echoed back; quota exhausted -> 1006. Like AKOOL, the whole ``duration`` is reserved against the quota at
  create and only the seconds actually open are billed;
* detail and list answers carry no RTC token by default (the older docs' examples): only create does;
* status: 1 (queueing) at create, 2 (processing = live) ``session_start_seconds`` later, 3 (completed) once closed
  or expired, 4 (failed) when its avatar could not join its channel (a refused token, its uid already there);
* detail/close of an unknown id -> 1216; close of a closed session -> 1219;
* bring-your-own ``credentials`` (agora: ``agora_uid``, ``agora_channel``, ``agora_token`` required,
  ``agora_app_id`` optional; OAS ``Credentials``) put the avatar into the caller's channel with that uid and token
  (missing or mistyped fields -> 1003); the answer echoes them. Whether the token is good is checked when the
  avatar joins, as Agora would (the room server's business, not the REST side's).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from streamclient.emulator import validation
from streamclient.emulator.api_error import EmulatorApiError
from streamclient.emulator.catalogue import ACCEPTED_LANGUAGES, Catalogue
from streamclient.emulator.knowledge import KnowledgeBases
from streamclient.emulator.shapes import ResponseShapes

__all__ = ("AVATAR_UID_OFFSET", "EmulatedSession", "SessionListener", "Sessions")

logger = logging.getLogger(__name__)


#: In AKOOL-hosted rooms the avatar's uid is the client's uid + this.
AVATAR_UID_OFFSET = 1_000_000


@dataclass
class EmulatedSession:
    """One emulated live-avatar session (tokens stay out of ``repr``)."""

    id: str
    avatar_id: str
    status: int
    mode_type: int | None
    language: str | None
    voice_id: str | None
    voice_url: str | None
    background_url: str | None
    knowledge_id: str | None
    voice_params: dict[str, Any]
    duration: float
    created_at: float
    closed_at: float | None = None
    close_reason: str | None = None
    channel: str = ""
    client_uid: int = 0
    client_token: str = field(default="", repr=False)
    app_id: str = ""
    stream_type: str = "agora"
    create_body: dict[str, Any] = field(default_factory=dict, repr=False)
    #: bring-your-own room credentials from the create body, as given (any stream type), else ``None``.
    byo_credentials: dict[str, Any] | None = field(default=None, repr=False)
    scene_mode: str | None = None
    #: The avatar's uid in the channel, and its token when the caller brought it (bring-your-own credentials).
    avatar_uid: str = ""
    avatar_token: str = field(default="", repr=False)
    #: The caller brought an agora channel (``credentials`` at create): the room is the caller's, not the session's.
    byo: bool = False

    @property
    def is_open(self) -> bool:
        """Whether the session has neither been closed nor expired."""
        return self.closed_at is None

    def billed_seconds(self, now: float) -> float:
        """Seconds this session has been open (capped at its duration)."""
        end = self.closed_at if self.closed_at is not None else now
        return max(0.0, min(end - self.created_at, float(self.duration)))


class SessionListener(Protocol):
    """Told when sessions open and close (the room server uses it to open and tear down rooms)."""

    def session_created(self, session: EmulatedSession) -> None:
        """A session was created."""

    def session_closed(self, session: EmulatedSession, reason: str) -> None:
        """A session ended; ``reason`` is ``"closed"``, ``"expired"`` or ``"failed"``."""


class Sessions:
    """The account's sessions, by id. See the module docstring for the AKOOL behaviour it imitates.

    Args:
        catalogue: the avatars and voices a session may name.
        knowledge: the knowledge bases a session may name.
        clock: monotonic clock in seconds.
        quota_seconds: total seconds of sessions the account may reserve (``None`` = unlimited).
        session_start_seconds: time from create (status 1) to live (status 2).
        app_id: the Agora-style app id put into credentials.
        shapes: which documented answer shape to use where the docs show several.
    """

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        knowledge: KnowledgeBases,
        clock: Callable[[], float] = time.monotonic,
        quota_seconds: float | None = None,
        session_start_seconds: float = 0.05,
        app_id: str = "emulator-app",
        shapes: ResponseShapes | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._knowledge = knowledge
        self.clock = clock
        self.quota_seconds = quota_seconds
        self.session_start_seconds = session_start_seconds
        self.app_id = app_id
        self.shapes = shapes if shapes is not None else ResponseShapes()
        self.credentials_extra: dict[str, Any] = {}
        self.sessions: dict[str, EmulatedSession] = {}
        self._listeners: list[SessionListener] = []

    def __repr__(self) -> str:
        return f"Sessions({len(self.sessions)}, open={len(self.open_sessions())})"

    # ----------------------------------------------------------------------------------------- listeners

    def add_listener(self, listener: SessionListener) -> None:
        """Register a listener for session creation and closing."""
        self._listeners.append(listener)

    def _notify(self, method: str, *args: Any) -> None:
        for listener in list(self._listeners):
            try:
                getattr(listener, method)(*args)
            except Exception:
                logger.exception("emulator session listener %r failed in %s", listener, method)

    # -------------------------------------------------------------------------------------------- sessions

    def _refresh(self, session: EmulatedSession) -> None:
        if session.is_open and session.status == 1 and self.clock() - session.created_at >= self.session_start_seconds:
            session.status = 2

    def create_session(self, body: Mapping[str, Any]) -> EmulatedSession:
        """Validate a create body like AKOOL and open a session (see the module docstring for the codes)."""
        self.expire_due()
        request = validation.create_request(body, languages=ACCEPTED_LANGUAGES, voices=self._catalogue.voice_ids())
        avatar_id, duration, mode_type = request.avatar_id, request.duration, request.mode_type
        stream_type, scene_mode, voice_params = request.stream_type, request.scene_mode, request.voice_params
        language, voice_id, knowledge_id = request.language, request.voice_id, request.knowledge_id
        byo = request.credentials
        self._catalogue.require_usable_avatar(avatar_id)
        if knowledge_id is not None and knowledge_id not in self._knowledge:
            raise EmulatorApiError(1232, "knowledge base not found")
        if self.quota_seconds is not None and self._reserved_seconds() + float(duration) > self.quota_seconds:
            raise EmulatorApiError(1006, "Insufficient quota balance")
        now = self.clock()
        sid = secrets.token_hex(12)
        session = EmulatedSession(
            id=sid,
            avatar_id=avatar_id,
            status=1,
            mode_type=mode_type,
            language=language,
            voice_id=voice_id,
            voice_url=request.voice_url,
            background_url=request.background_url,
            knowledge_id=knowledge_id,
            voice_params=dict(voice_params),
            duration=duration,
            created_at=now,
            channel=f"emu_{sid}",
            client_uid=100000 + secrets.randbelow(900000),
            client_token=secrets.token_urlsafe(32),
            app_id=self.app_id,
            stream_type=stream_type,
            create_body=dict(body),
            byo_credentials=byo,
            scene_mode=scene_mode,
        )
        session.avatar_uid = str(session.client_uid + AVATAR_UID_OFFSET)
        if byo is not None and stream_type == "agora":  # the avatar joins the caller's channel
            session.channel = byo["agora_channel"]
            session.avatar_uid = str(byo["agora_uid"])
            session.avatar_token = byo["agora_token"]
            session.app_id = byo.get("agora_app_id") or ""
            session.byo = True
        self.sessions[sid] = session
        logger.info("emulator: created session %s (avatar %s, %gs)", sid, avatar_id, session.duration)
        self._notify("session_created", session)
        return session

    def _reserved_seconds(self) -> float:
        now = self.clock()
        return sum(float(s.duration) if s.is_open else s.billed_seconds(now) for s in self.sessions.values())

    def get_session(self, session_id: Any) -> EmulatedSession:
        """The session with ``session_id`` (1003 if missing, 1216 if unknown)."""
        self.expire_due()
        if not isinstance(session_id, str) or not session_id:
            raise EmulatorApiError(1003, "Parameter error: id can not be empty")
        session = self.sessions.get(session_id)
        if session is None:
            raise EmulatorApiError(1216, "liveAvatar session not exist")
        self._refresh(session)
        return session

    def list_sessions(self, *, status: int | None, page: int, size: int) -> tuple[int, list[EmulatedSession]]:
        """One page of sessions (newest first) and the total count."""
        self.expire_due()
        for session in self.sessions.values():
            self._refresh(session)
        items = [s for s in self.sessions.values() if status is None or s.status == status]
        items.reverse()
        return len(items), items[(page - 1) * size : page * size]

    def close_session(self, session_id: Any, *, reason: str = "closed") -> EmulatedSession:
        """Close a session (1216 unknown, 1219 already closed) and notify listeners."""
        session = self.get_session(session_id)
        if not session.is_open:
            raise EmulatorApiError(1219, "liveAvatar closed")
        self._end(session, reason)
        return session

    def fail_session(self, session_id: str, why: str) -> None:
        """End an open session as failed (status 4, e.g. its avatar could not join); listeners hear ``"failed"``.

        Billing stops at the failure. An unknown or already ended session is left as it is.
        """
        session = self.sessions.get(session_id)
        if session is None or not session.is_open:
            return
        logger.warning("emulator: session %s failed: %s", session.id, why)
        self._end(session, "failed", status=4)

    def _end(self, session: EmulatedSession, reason: str, *, status: int = 3) -> None:
        now = self.clock()
        session.closed_at = min(now, session.created_at + session.duration)
        session.close_reason = reason
        session.status = status
        logger.info("emulator: session %s %s", session.id, reason)
        self._notify("session_closed", session, reason)

    def open_sessions(self) -> list[EmulatedSession]:
        """Sessions neither closed nor expired (expiry is not applied here; see ``expire_due``)."""
        return [s for s in self.sessions.values() if s.is_open]

    def billed_seconds(self) -> float:
        """Seconds billed so far: every session's open time, capped at its duration."""
        now = self.clock()
        return sum(s.billed_seconds(now) for s in self.sessions.values())

    def expire_due(self) -> list[EmulatedSession]:
        """Close the open sessions whose duration has passed (reason ``"expired"``) and return them."""
        now = self.clock()
        due = [s for s in self.open_sessions() if now >= s.created_at + s.duration]
        for session in due:
            self._end(session, "expired")
        return due

    def next_expiry(self) -> float | None:
        """The clock time at which the next open session expires, or ``None``."""
        ends = [s.created_at + s.duration for s in self.open_sessions()]
        return min(ends) if ends else None

    def session_by_channel(self, channel: str) -> EmulatedSession | None:
        """The AKOOL-hosted session whose room is ``channel`` (open or not), or ``None`` (a caller's channel)."""
        return next((s for s in self.sessions.values() if s.channel == channel and not s.byo), None)

    def session_data(self, session: EmulatedSession, *, with_token: bool = True) -> dict[str, Any]:
        """The AKOOL ``SessionResponse`` for a session.

        Args:
            session: the session.
            with_token: include the RTC token (create answers; detail and list only with
                ``ResponseShapes.tokens_in_detail``).

        Returns:
            The answer's ``data``: bring-your-own credentials are echoed (agora ones with ``credentials_extra``,
            e.g. the emulator's room URL); otherwise the documented names of the session's stream type (agora ones
            with ``credentials_extra``).
        """
        self._refresh(session)
        if session.byo:  # the caller's agora channel: its credentials echoed, with the emulator's room URL
            credentials = {
                "agora_uid": int(session.avatar_uid),
                "agora_app_id": session.app_id,
                "agora_channel": session.channel,
                "agora_token": session.avatar_token,
                **self.credentials_extra,
            }
        elif session.byo_credentials is not None:  # livekit/trtc rooms of the caller: echoed as given
            credentials = dict(session.byo_credentials)
        else:
            credentials = self._hosted_credentials(session)
            if session.stream_type == "agora":  # the room relay speaks the Agora-style join only
                credentials.update(self.credentials_extra)
        if not with_token:
            credentials = {k: v for k, v in credentials.items() if not k.endswith(("_token", "_user_sig"))}
        return {
            "_id": session.id,
            "uid": 1,
            "type": 2,
            "status": session.status,
            "stream_type": session.stream_type,
            "avatar_id": session.avatar_id,
            "duration": session.duration,
            "credentials": credentials,
        }

    def _hosted_credentials(self, session: EmulatedSession) -> dict[str, Any]:
        """The credentials of an emulator-hosted room, with the documented names of the session's stream type."""
        if session.stream_type == "livekit":
            return {
                "livekit_url": "wss://livekit.emulator.invalid",
                "livekit_token": session.client_token,
                "livekit_room_name": session.channel,
                "livekit_client_identity": f"client-{session.client_uid}",
                "livekit_server_identity": f"avatar-{session.client_uid}",
            }
        if session.stream_type == "trtc":
            prefix = "trtc_sdk_" if self.shapes.trtc_names == "trtc_sdk" else "trtc_"
            return {
                f"{prefix}app_id": 1400000000,
                f"{prefix}room_id": session.channel,
                f"{prefix}user_id": str(session.client_uid),
                f"{prefix}user_sig": session.client_token,
            }
        return {
            "agora_uid": session.client_uid,
            "agora_app_id": session.app_id,
            "agora_channel": session.channel,
            "agora_token": session.client_token,
        }
