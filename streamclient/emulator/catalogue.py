"""What the emulated account can use: the official avatars, voices and languages, and the avatars it uploads.

Uploads go 1 -> 2 -> 3 one ``avatar_step_seconds`` apart (a URL containing ``fail`` ends in 4 instead); an upload is
usable by a session once it is ready (status 3).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streamclient.emulator.api_error import EmulatorApiError

__all__ = (
    "ACCEPTED_LANGUAGES",
    "FAST_DIALOGUE_VOICES",
    "LANGUAGES",
    "OFFICIAL_AVATARS",
    "VOICES",
    "VOICE_CLONES",
    "Catalogue",
)

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


@dataclass
class _Upload:
    avatar: dict[str, Any]
    created_at: float
    fails: bool


class Catalogue:
    """The avatar catalogue (official avatars and the account's uploads) and the account's voices.

    Args:
        clock: monotonic clock in seconds (upload status steps).
        avatar_step_seconds: time between upload status steps 1 -> 2 -> 3.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, avatar_step_seconds: float = 0.05) -> None:
        self.clock = clock
        self.avatar_step_seconds = avatar_step_seconds
        #: the account's voice clones (voice list ``type=1``); tests may add their own.
        self.voice_clones: list[dict[str, Any]] = [dict(clone) for clone in VOICE_CLONES]
        self._uploads: dict[str, _Upload] = {}

    def __repr__(self) -> str:
        return f"Catalogue(uploads={len(self._uploads)}, voice_clones={len(self.voice_clones)})"

    def voice_ids(self) -> frozenset[str]:
        """Every usable voice id: the AKOOL voices and the finished voice clones."""
        clones = {c["voice_id"] for c in self.voice_clones if isinstance(c.get("voice_id"), str)}
        return frozenset(v["voice_id"] for v in VOICES) | clones

    def require_usable_avatar(self, avatar_id: str) -> None:
        """Refuse an avatar a session cannot use: unknown (1008) or an upload that is not ready (1003)."""
        if any(a["avatar_id"] == avatar_id for a in OFFICIAL_AVATARS):
            return
        upload = self._uploads.get(avatar_id)
        if upload is None:
            raise EmulatorApiError(1008, "The content you get does not exist")
        if self._upload_status(upload) != 3:
            raise EmulatorApiError(1003, "Parameter error: the avatar is not ready (status must be 3)")

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
