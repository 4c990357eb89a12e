"""An AKOOL streaming avatar as a pipecat service: it speaks the LLM's streamed text and hears the user.

Install with ``pip install "streamclient[pipecat,agora]"`` (a real AKOOL session joins its room through the Agora
SDK) or ``pip install "streamclient[pipecat,emulator]"`` (against the local emulator); pipecat-ai needs
Python >= 3.11. See docs/pipecat.md::

    from streamclient.integrations.pipecat import AkoolAvatarService

    akool = AkoolAvatarService(avatar_id="dvp_Tristan_cloth2_1080P")  # AKOOL_API_KEY from the environment
    pipeline = Pipeline([akool.input(), context.user(), llm, akool, context.assistant()])

The avatar takes the place of speech-to-text, text-to-speech and the video service: AKOOL recognises the user's
speech in its room and the avatar speaks and lip-syncs there. See :class:`AkoolAvatarService`.
"""

from __future__ import annotations

import sys

#: What to install, for the error raised when pipecat is missing.
INSTALL = (
    'pip install "streamclient[pipecat,agora]" (a real AKOOL session) or '
    'pip install "streamclient[pipecat,emulator]" (the local emulator)'
)

try:
    import loguru  # noqa: F401  (pipecat's logger: a missing one means pipecat is missing too)
    import pipecat  # noqa: F401
except ImportError as exc:
    name = exc.name or "pipecat"
    python = "" if sys.version_info >= (3, 11) else " (pipecat-ai needs Python >= 3.11)"
    raise ModuleNotFoundError(
        f"{name} is not installed: streamclient.integrations.pipecat needs the pipecat extra{python}: {INSTALL}",
        name=name,
    ) from None

from streamclient.integrations.pipecat._service import AkoolAvatarService  # noqa: E402
from streamclient.integrations.pipecat._user_input import AkoolTurnBarrierFrame, AkoolUserInput  # noqa: E402

__all__ = ("AkoolAvatarService", "AkoolTurnBarrierFrame", "AkoolUserInput")
