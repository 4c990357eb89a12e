"""``client.voices``: the voice list with its filters (§1.8)."""

from __future__ import annotations

from typing import Any

from streamclient.api._resource import Resource
from streamclient.api._validate import require_choice, require_int, require_text
from streamclient.api.models import VoicePage

__all__ = ("Voices",)

LIST_PATH = "/api/open/v4/voice/list"


class Voices(Resource):
    """Voices. Reached as ``client.voices``."""

    async def list(
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
        """Fetch one page of voices.

        Args:
            voice_type: 1 your cloned voices, 2 AKOOL voices (the wire's ``type``).
            page: page number, from 1.
            size: page size, from 1.
            support_stream: ``True`` only voices usable for streaming, ``False`` only the others.
            style: filter by style.
            gender: filter by gender.
            age: filter by age.
            scenario: filter by scenario.
            name: filter by name.

        Returns:
            The page.

        Raises:
            InvalidArgumentError: a bad argument; nothing was sent.
            APIError: the call failed.
        """
        params: dict[str, Any] = {
            "type": require_choice("voice_type", voice_type, {1, 2}),
            "page": require_int("page", page, minimum=1),
            "size": require_int("size", size, minimum=1),  # the voice docs set no maximum
        }
        if support_stream is not None:
            params["support_stream"] = 1 if support_stream else 2
        for key, value in (("style", style), ("gender", gender), ("age", age), ("scenario", scenario), ("name", name)):
            if value is not None:
                params[key] = require_text(key, value, max_length=256)
        data = await self._core.request("GET", LIST_PATH, params=params, idempotent=True)
        result = self._parse(VoicePage, data, method="GET", path=LIST_PATH)
        return result.model_copy(update={"page": result.page or page, "size": result.size or size})
