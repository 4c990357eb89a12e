"""Request-side parameter models for session create (akool-api-and-protocol.md §1.4, OAS ``VoiceParams``).

Validated before anything is sent; unknown fields are kept and sent (the service adds fields over time).
Secrets (the ElevenLabs API key) are ``SecretStr``: hidden in ``repr``, revealed only in the request body.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer

__all__ = ("FAST_DIALOGUE_VOICES", "ElevenLabsSettings", "FastDialogueVoiceParams", "TurnDetection", "VoiceParams")

#: The preset voices of ``scene_mode="fast_dialogue"`` (OAS ``FastDialogueVoiceParams.voice_id``); voices from the
#: voice list are not available in that mode.
FastDialogueVoice = Literal["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]
FAST_DIALOGUE_VOICES: tuple[str, ...] = get_args(FastDialogueVoice)


class _Params(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class TurnDetection(_Params):
    """Voice-activity turn detection; the last three fields apply to ``server_vad`` only."""

    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(default=None, ge=0)
    silence_duration_ms: int | None = Field(default=None, ge=0)


class ElevenLabsSettings(_Params):
    """Use an ElevenLabs voice (put the ElevenLabs voice id in ``voice_id`` of the session)."""

    api_key: SecretStr | None = None
    model_id: str | None = None
    stability: float | None = Field(default=None, ge=0.0, le=1.0)
    similarity_boost: float | None = Field(default=None, ge=0.0, le=1.0)
    style: float | None = Field(default=None, ge=0.0, le=1.0)
    use_speaker_boost: bool | None = None

    @field_serializer("api_key", when_used="json-unless-none")
    def _reveal(self, value: SecretStr) -> str:
        """The wire needs the key itself (request bodies are never logged)."""
        return value.get_secret_value()


class VoiceParams(_Params):
    """``voice_params`` of session create: speaking speed, pronunciation, speech recognition, turn taking."""

    speed: float | None = Field(default=None, ge=0.8, le=1.2)
    pron_map: dict[str, str] | None = None
    stt_language: str | None = None
    stt_type: Literal["openai_realtime"] | None = None
    turn_detection: TurnDetection | None = None
    elevenlabs_settings: ElevenLabsSettings | None = None


class FastDialogueVoiceParams(BaseModel):
    """``voice_params`` for ``scene_mode="fast_dialogue"`` (OAS: ``additionalProperties: false``).

    Only a preset ``voice_id``, ``stt_language``, ``turn_detection`` and ``elevenlabs_settings``; any other field
    (``speed``, ``pron_map``, ...) is refused before anything is sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    voice_id: FastDialogueVoice | None = None
    stt_language: str | None = None
    turn_detection: TurnDetection | None = None
    elevenlabs_settings: ElevenLabsSettings | None = None
