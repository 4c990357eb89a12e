"""The AKOOL REST API client: sessions, avatars, voices, languages and knowledge bases.

``AsyncAkoolClient`` is the implementation; ``AkoolClient`` runs it from synchronous code. Every failure is a
``streamclient.errors.APIError`` (an ``AkoolError`` subclass per AKOOL code); bad arguments raise
``InvalidArgumentError`` before anything is sent.

Example::

    async with AsyncAkoolClient() as client:  # AKOOL_API_KEY from the environment
        session = await client.sessions.create("dvp_Tristan_cloth2_1080P", duration=600, mode_type=2)
        try:
            ...  # join session.credentials
        finally:
            await client.sessions.close(session.id)
"""

from __future__ import annotations

from streamclient.api._client import AsyncAkoolClient
from streamclient.api._http import DEFAULT_BASE_URL
from streamclient.api._retry import RetryPolicy
from streamclient.api._sweep import SweepItem, SweepReport, sweep
from streamclient.api._sync import AkoolClient
from streamclient.api.models import (
    AgoraCredentials,
    Avatar,
    AvatarPage,
    AvatarStatus,
    Credentials,
    KnowledgeBase,
    KnowledgeBasePage,
    Language,
    LiveKitCredentials,
    Session,
    SessionPage,
    SessionStatus,
    TRTCCredentials,
    Voice,
    VoicePage,
)
from streamclient.api.params import ElevenLabsSettings, FastDialogueVoiceParams, TurnDetection, VoiceParams

__all__ = (
    "DEFAULT_BASE_URL",
    "AgoraCredentials",
    "AkoolClient",
    "AsyncAkoolClient",
    "Avatar",
    "AvatarPage",
    "AvatarStatus",
    "Credentials",
    "ElevenLabsSettings",
    "FastDialogueVoiceParams",
    "KnowledgeBase",
    "KnowledgeBasePage",
    "Language",
    "LiveKitCredentials",
    "RetryPolicy",
    "Session",
    "SessionPage",
    "SessionStatus",
    "SweepItem",
    "SweepReport",
    "TRTCCredentials",
    "TurnDetection",
    "Voice",
    "VoicePage",
    "VoiceParams",
    "sweep",
)
