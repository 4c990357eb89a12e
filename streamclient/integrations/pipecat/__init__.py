"""An AKOOL streaming avatar as a pipecat service: it speaks the LLM's streamed text and hears the user.

Install with ``pip install "streamclient[pipecat]"``::

    from streamclient.integrations.pipecat import AkoolAvatarService

    akool = AkoolAvatarService(avatar_id="dvp_Tristan_cloth2_1080P")  # AKOOL_API_KEY from the environment
    pipeline = Pipeline([akool.input(), context.user(), llm, akool, context.assistant()])

The avatar takes the place of speech-to-text, text-to-speech and the video service: AKOOL recognises the user's
speech in its room and the avatar speaks and lip-syncs there. See :class:`AkoolAvatarService`.
"""

from __future__ import annotations

try:
    import pipecat  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError('streamclient.integrations.pipecat needs pipecat: pip install "streamclient[pipecat]"') from exc

from streamclient.integrations.pipecat._service import AkoolAvatarService

__all__ = ("AkoolAvatarService",)
