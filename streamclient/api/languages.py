"""``client.languages``: the language list (``data.lang_list``, §1.8)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from streamclient.api._resource import Resource
from streamclient.api.models import Language

__all__ = ("Languages",)

LIST_PATH = "/api/open/v3/language/list"


class _LanguageList(BaseModel):
    lang_list: list[Language]


class Languages(Resource):
    """Languages. Reached as ``client.languages``."""

    async def list(self) -> list[Language]:
        """Fetch every supported language.

        Returns:
            The languages (``lang_code`` is what ``language=`` takes at session create).

        Raises:
            APIError: the call failed, or ``data`` had neither ``lang_list`` nor the list itself.
        """
        data: Any = await self._core.request("GET", LIST_PATH, idempotent=True)
        if isinstance(data, list):
            data = {"lang_list": data}
        return self._parse(_LanguageList, data, method="GET", path=LIST_PATH).lang_list
