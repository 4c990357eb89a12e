"""The emulator's in-memory AKOOL world: sessions, billing, avatars, voices, languages, knowledge bases.

No HTTP here (``rest.py`` serves it; the room server reads it). Everything runs on one event loop: methods are plain
synchronous calls that never block. Time comes from the injected ``clock`` only, so tests can drive it.

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
  or expired;
* detail/close of an unknown id -> 1216; close of a closed session -> 1219;
* avatar uploads go 1 -> 2 -> 3 one ``avatar_step_seconds`` apart (a URL containing ``fail`` ends in 4 instead);
* bring-your-own ``credentials`` (agora: ``agora_uid``, ``agora_channel``, ``agora_token`` required,
  ``agora_app_id`` optional; OAS ``Credentials``) put the avatar into the caller's channel with that uid and token
  (missing or mistyped fields -> 1003); the answer echoes them. Whether the token is good is checked when the
  avatar joins, as Agora would (the room server's business, not the REST side's).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from streamclient.emulator.shapes import ResponseShapes

__all__ = (
    "ACCEPTED_LANGUAGES",
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

logger = logging.getLogger(__name__)

#: The official catalogue the emulator serves.
OFFICIAL_AVATARS: tuple[dict[str, Any], ...] = (
    {"avatar_id": "dvp_Tristan_cloth2_1080P", "name": "Tristan", "gender": "male", "voice_id": "emu_voice_tristan"},
    {"avatar_id": "dvp_Alinna_emotion_1080P", "name": "Alinna", "gender": "female", "voice_id": "emu_voice_alinna"},
    {"avatar_id": "dvp_Dave_cloth1_1080P", "name": "Dave", "gender": "male", "voice_id": "emu_voice_dave"},
)
VOICES: tuple[dict[str, Any], ...] = (
    {"voice_id": "emu_voice_tristan", "name": "Tristan", "gender": "Male", "language": "English", "locale": "en-US"},
    {"voice_id": "emu_voice_alinna", "name": "Alinna", "gender": "Female", "language": "English", "locale": "en-GB"},
    {"voice_id": "emu_voice_dave", "name": "Dave", "gender": "Male", "language": "English", "locale": "en-US"},
    {"voice_id": "emu_voice_lucia", "name": "Lucia", "gender": "Female", "language": "Spanish", "locale": "es-ES"},
)
#: Voice clones of the account (voice list ``type=1``): ``voice_id`` stays ``null`` until a clone completes.
VOICE_CLONES: tuple[dict[str, Any], ...] = (
    {"_id": "emu_clone_0001", "voice_id": None, "name": "My clone (cloning)", "gender": "Male", "status": 2},
    {"_id": "emu_clone_0002", "voice_id": "emu_clone_ready", "name": "My clone", "gender": "Female", "status": 3},
)
#: The language list, with codes as the docs' list returns them (``af-ZA``).
LANGUAGES: tuple[dict[str, Any], ...] = tuple(
    {"lang_code": code, "lang_name": name, "url": "", "need_voice_id": True}
    for code, name in (
        ("af-ZA", "Afrikaans (South Africa)"),
        ("ar-SA", "Arabic (Saudi Arabia)"),
        ("de-DE", "German (Germany)"),
        ("en-GB", "English (United Kingdom)"),
        ("en-US", "English (United States)"),
        ("es-ES", "Spanish (Spain)"),
        ("fr-FR", "French (France)"),
        ("hi-IN", "Hindi (India)"),
        ("it-IT", "Italian (Italy)"),
        ("ja-JP", "Japanese (Japan)"),
        ("ko-KR", "Korean (Korea)"),
        ("nl-NL", "Dutch (Netherlands)"),
        ("pl-PL", "Polish (Poland)"),
        ("pt-BR", "Portuguese (Brazil)"),
        ("ru-RU", "Russian (Russia)"),
        ("tr-TR", "Turkish (Turkey)"),
        ("zh-CN", "Chinese (Simplified)"),
    )
)
#: What ``language`` (create) and ``lang`` (set-params) accept: each listed code and its primary subtag (``en``).
ACCEPTED_LANGUAGES = frozenset(lang["lang_code"] for lang in LANGUAGES) | frozenset(
    lang["lang_code"].split("-")[0] for lang in LANGUAGES
)
#: OAS ``FastDialogueVoiceParams``: preset voices, and the only fields allowed (``additionalProperties: false``).
FAST_DIALOGUE_VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}
)
#: OAS ``CreateAvatarRequest.avatar_id``.
_UPLOAD_AVATAR_ID = re.compile(r"[a-zA-Z0-9]+")


#: In AKOOL-hosted rooms the avatar's uid is the client's uid + this.
AVATAR_UID_OFFSET = 1_000_000


class EmulatorApiError(Exception):
    """An AKOOL error answer: ``code``/``msg`` go into the envelope, with ``http_status`` (200 like AKOOL)."""

    def __init__(self, code: int, msg: str, *, http_status: int = 200) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


class JoinDenied(LookupError):
    """``check_join`` refused a room join.

    ``reason`` is ``unknown_channel``, ``closed``, ``bad_uid`` or ``bad_token``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


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
        """A session ended; ``reason`` is ``"closed"`` or ``"expired"``."""


@dataclass
class RestFault:
    """A scripted REST failure or delay for requests whose path ends with ``path_suffix``."""

    path_suffix: str
    times: int
    code: int | None = None
    http_status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    #: delay the answer after the request was handled (the work is done, the reply is late) instead of before
    delay_after: bool = False


@dataclass
class _Upload:
    avatar: dict[str, Any]
    created_at: float
    fails: bool


class EmulatorState:
    """The emulator's world. See the module docstring for the AKOOL behaviour it imitates.

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
        self.api_key: str = api_key or secrets.token_urlsafe(24)
        self.client_id = client_id
        self.client_secret: str = client_secret or secrets.token_urlsafe(24)
        self.clock = clock
        self.quota_seconds = quota_seconds
        self.avatar_step_seconds = avatar_step_seconds
        self.session_start_seconds = session_start_seconds
        self.app_id = app_id
        self.shapes = shapes if shapes is not None else ResponseShapes()
        #: the account's voice clones (voice list ``type=1``); tests may add their own.
        self.voice_clones: list[dict[str, Any]] = [dict(clone) for clone in VOICE_CLONES]
        self.credentials_extra: dict[str, Any] = {}
        self.sessions: dict[str, EmulatedSession] = {}
        self.knowledge: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        #: ``(method, path)`` of every REST request served, in order (no headers, no bodies).
        self.requests: list[tuple[str, str]] = []
        self._uploads: dict[str, _Upload] = {}
        self._listeners: list[SessionListener] = []
        self._faults: list[RestFault] = []

    def __repr__(self) -> str:
        return f"EmulatorState(sessions={len(self.sessions)}, open={len(self.open_sessions())})"

    # ------------------------------------------------------------------------------------- listeners, faults

    def add_listener(self, listener: SessionListener) -> None:
        """Register a listener for session creation and closing."""
        self._listeners.append(listener)

    def _notify(self, method: str, *args: Any) -> None:
        for listener in list(self._listeners):
            try:
                getattr(listener, method)(*args)
            except Exception:
                logger.exception("emulator session listener %r failed in %s", listener, method)

    def fail_next(
        self,
        path_suffix: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``times`` requests to a path ending in ``path_suffix`` fail.

        Args:
            path_suffix: e.g. ``"session/create"``.
            code: answer this AKOOL code (HTTP ``http_status`` or 200).
            http_status: answer this HTTP status; without ``code`` the body is plain text, not the envelope.
            times: how many requests fail.
            retry_after: send ``Retry-After`` with this many seconds.
        """
        if code is None and http_status is None:
            raise ValueError("fail_next needs a code or an http_status")
        self._faults.append(RestFault(path_suffix, times, code, http_status, retry_after))

    def delay_next(self, path_suffix: str, seconds: float, *, times: int = 1, after: bool = False) -> None:
        """Delay the next ``times`` requests to a path ending in ``path_suffix`` by ``seconds``.

        Args:
            path_suffix: e.g. ``"session/create"``.
            seconds: how long.
            times: how many requests.
            after: handle the request first and delay only the answer (for example: the session is created, but
                the client times out before it learns the id).
        """
        self._faults.append(RestFault(path_suffix, times, delay=seconds, delay_after=after))

    def take_faults(self, path: str) -> list[RestFault]:
        """Consume and return the faults that apply to one request to ``path`` (used by ``rest.py``)."""
        hits = [f for f in self._faults if path.endswith(f.path_suffix) and f.times > 0]
        for fault in hits:
            fault.times -= 1
        self._faults = [f for f in self._faults if f.times > 0]
        return hits

    # ------------------------------------------------------------------------------------------------ auth

    def issue_token(self, client_id: Any, client_secret: Any) -> str:
        """``getToken``: a bearer token for the configured client id/secret, else 1101."""
        if not client_id or not client_secret:
            raise EmulatorApiError(1102, "Authorization cannot be empty")
        if not (
            secrets.compare_digest(str(client_id), self.client_id)
            and secrets.compare_digest(str(client_secret), self.client_secret)
        ):
            raise EmulatorApiError(1101, "Invalid authorization or The request token has expired")
        token = secrets.token_urlsafe(32)
        self.tokens.add(token)
        return token

    def revoke_tokens(self) -> None:
        """Expire every bearer token issued so far (the next use answers 1101)."""
        self.tokens.clear()

    def authenticate(self, headers: Mapping[str, str]) -> None:
        """Check a request's credentials: ``Authorization`` first (as AKOOL does), then ``x-api-key``."""
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and token in self.tokens:
                return
            raise EmulatorApiError(1101, "Invalid authorization or The request token has expired")
        key = headers.get("x-api-key")
        if not key:
            raise EmulatorApiError(1102, "Authorization cannot be empty")
        if not secrets.compare_digest(key, self.api_key):
            raise EmulatorApiError(1101, "Invalid authorization or The request token has expired")

    # -------------------------------------------------------------------------------------------- sessions

    def _refresh(self, session: EmulatedSession) -> None:
        if session.is_open and session.status == 1 and self.clock() - session.created_at >= self.session_start_seconds:
            session.status = 2

    def create_session(self, body: Mapping[str, Any]) -> EmulatedSession:
        """Validate a create body like AKOOL and open a session (see the module docstring for the codes)."""
        from streamclient.emulator import validation  # here: validation imports this module

        self.expire_due()
        request = validation.create_request(body, languages=ACCEPTED_LANGUAGES, voices=self.voice_ids())
        avatar_id, duration, mode_type = request.avatar_id, request.duration, request.mode_type
        stream_type, scene_mode, voice_params = request.stream_type, request.scene_mode, request.voice_params
        language, voice_id, knowledge_id = request.language, request.voice_id, request.knowledge_id
        byo = request.credentials
        self._require_usable_avatar(avatar_id)
        if knowledge_id is not None and knowledge_id not in self.knowledge:
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

    def voice_ids(self) -> frozenset[str]:
        """Every usable voice id: the AKOOL voices and the finished voice clones."""
        clones = {c["voice_id"] for c in self.voice_clones if isinstance(c.get("voice_id"), str)}
        return frozenset(v["voice_id"] for v in VOICES) | clones

    def _require_usable_avatar(self, avatar_id: str) -> None:
        if any(a["avatar_id"] == avatar_id for a in OFFICIAL_AVATARS):
            return
        upload = self._uploads.get(avatar_id)
        if upload is None:
            raise EmulatorApiError(1008, "The content you get does not exist")
        if self._upload_status(upload) != 3:
            raise EmulatorApiError(1003, "Parameter error: the avatar is not ready (status must be 3)")

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

    def _end(self, session: EmulatedSession, reason: str) -> None:
        now = self.clock()
        session.closed_at = min(now, session.created_at + session.duration)
        session.close_reason = reason
        session.status = 3
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

    def check_join(self, *, channel: str, uid: str, token: str) -> EmulatedSession:
        """Validate a client's room join against the open session of ``channel``.

        Raises:
            JoinDenied: unknown channel, session closed/expired, wrong uid or wrong token (``reason`` says which).
        """
        self.expire_due()
        session = self.session_by_channel(channel)
        if session is None:
            raise JoinDenied(f"no session uses channel {channel!r}", reason="unknown_channel")
        if not session.is_open:
            raise JoinDenied(f"the session of channel {channel!r} is {session.close_reason}", reason="closed")
        if str(session.client_uid) != str(uid):
            raise JoinDenied("the uid does not match the session's credentials", reason="bad_uid")
        if not secrets.compare_digest(str(token), session.client_token):
            raise JoinDenied("the token does not match the session's credentials", reason="bad_token")
        return session

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

    # --------------------------------------------------------------------------------------------- avatars

    def _upload_status(self, upload: _Upload) -> int:
        steps = (
            int((self.clock() - upload.created_at) / self.avatar_step_seconds) if self.avatar_step_seconds > 0 else 2
        )
        status = min(1 + steps, 3)
        return 4 if status == 3 and upload.fails else status

    def avatars(self) -> list[dict[str, Any]]:
        """The v4 catalogue (OAS ``Avatar``: no ``status``): official avatars (``from`` 2), then uploads (``from`` 3).

        An upload is ``available`` once it is ready (status 3); its status itself is only in ``upload_records``.
        """
        official = [
            {
                "_id": f"official_{a['avatar_id']}",
                "uid": 1,
                "type": 2,
                "from": 2,
                "available": True,
                "url": "",
                "thumbnailUrl": "",
                **a,
            }
            for a in OFFICIAL_AVATARS
        ]
        uploads = [
            {**upload.avatar, "available": self._upload_status(upload) == 3} for upload in self._uploads.values()
        ]
        return official + uploads

    def get_avatar(self, avatar_id: Any) -> dict[str, Any]:
        """One avatar of the v4 catalogue (1003 missing id, 1008 unknown)."""
        if not isinstance(avatar_id, str) or not avatar_id:
            raise EmulatorApiError(1003, "Parameter error: avatar_id can not be empty")
        for avatar in self.avatars():
            if avatar["avatar_id"] == avatar_id:
                return avatar
        raise EmulatorApiError(1008, "The content you get does not exist")

    def upload_records(self, record_id: Any) -> list[dict[str, Any]]:
        """``GET /api/open/v3/avatar/detail?id=``: the upload's record, with ``status``, in an array (avatar docs).

        Keyed by the upload's ``_id`` (1003 missing id, 1008 unknown).
        """
        if not isinstance(record_id, str) or not record_id:
            raise EmulatorApiError(1003, "Parameter error: id can not be empty")
        for upload in self._uploads.values():
            if upload.avatar["_id"] == record_id:
                return [{**upload.avatar, "status": self._upload_status(upload)}]
        raise EmulatorApiError(1008, "The content you get does not exist")

    def upload_avatar(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Accept an avatar upload validated like OAS ``CreateAvatarRequest`` (1003 bad fields, 1222 id taken)."""
        avatar_id, url, name = body.get("avatar_id"), body.get("url"), body.get("name")
        if not all(isinstance(v, str) and v for v in (avatar_id, url, name)):
            raise EmulatorApiError(1003, "Parameter error: url, avatar_id and name are required strings")
        if not _UPLOAD_AVATAR_ID.fullmatch(str(avatar_id)):
            raise EmulatorApiError(1003, "Parameter error: avatar_id can only contain a-zA-Z0-9")
        kind, url_from = body.get("type"), body.get("url_from")
        if isinstance(kind, bool) or kind != 2 or not isinstance(kind, int):
            raise EmulatorApiError(1003, "Parameter error: type must be the integer 2")
        if isinstance(url_from, bool) or not isinstance(url_from, int) or url_from not in (1, 2):
            raise EmulatorApiError(1003, "Parameter error: url_from must be the integer 1 or 2")
        if avatar_id in self._uploads or any(a["avatar_id"] == avatar_id for a in OFFICIAL_AVATARS):
            raise EmulatorApiError(1222, "Resource already exist")
        avatar = {
            "_id": secrets.token_hex(12),
            "uid": 1,
            "avatar_id": avatar_id,
            "name": name,
            "url": url,
            "type": 2,
            "from": 3,
        }
        self._uploads[str(avatar_id)] = _Upload(avatar, self.clock(), "fail" in str(url))
        return {**avatar, "status": 1}

    # ---------------------------------------------------------------------------------- knowledge bases

    def create_knowledge(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a knowledge base (1003 bad fields, 1233 name exists); ``name`` is optional (KB docs)."""
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 100):
            raise EmulatorApiError(1003, "Parameter error: name must be a string of at most 100 characters")
        name = name or ""
        if name and any(kb["name"] == name for kb in self.knowledge.values()):
            raise EmulatorApiError(1233, "knowledge base already exists")
        now = int(time.time() * 1000)
        kb = {
            "_id": secrets.token_hex(12),
            "team_id": "emulator-team",
            "uid": 1,
            "user_type": 2,
            "name": name,
            "prologue": body.get("prologue", ""),
            "prompt": body.get("prompt", ""),
            "docs": list(body.get("docs") or []),
            "urls": list(body.get("urls") or []),
            "from": 2,
            "create_time": now,
            "update_time": now,
        }
        self.knowledge[kb["_id"]] = kb
        return kb

    def get_knowledge(self, knowledge_id: Any) -> dict[str, Any]:
        """One knowledge base (1003 missing id, 1232 unknown)."""
        if not isinstance(knowledge_id, str) or not knowledge_id:
            raise EmulatorApiError(1003, "Parameter error: id can not be empty")
        kb = self.knowledge.get(knowledge_id)
        if kb is None:
            raise EmulatorApiError(1232, "knowledge base not found")
        return kb

    def update_knowledge(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Update the fields given (1232 unknown, 1233 name taken)."""
        kb = self.get_knowledge(body.get("id"))
        name = body.get("name")
        if name is not None and any(k["name"] == name and k is not kb for k in self.knowledge.values()):
            raise EmulatorApiError(1233, "knowledge base already exists")
        for key in ("name", "prologue", "prompt", "docs", "urls"):
            if key in body:
                kb[key] = body[key]
        kb["update_time"] = int(time.time() * 1000)
        return kb

    def delete_knowledge(self, knowledge_id: Any) -> None:
        """Delete a knowledge base (1232 unknown)."""
        self.get_knowledge(knowledge_id)
        del self.knowledge[knowledge_id]
