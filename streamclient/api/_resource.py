"""Shared plumbing of the resource namespaces.

A reference to ``HttpCore``, and model parsing that lets no raw pydantic error escape.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from streamclient.api._envelope import response_error
from streamclient.api._http import HttpCore

__all__ = ("Resource",)

M = TypeVar("M", bound=BaseModel)


class Resource:
    """Base of ``client.sessions``, ``client.avatars``, ...: holds the shared ``HttpCore``."""

    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _parse(self, model: type[M], data: Any, *, method: str, path: str) -> M:
        """Validate ``data`` into ``model``; a mismatch becomes ``APIResponseError`` (pydantic's error chained)."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise response_error(
                model.__name__, method=method, url=self._core.base_url + path, http_status=None, cause=exc
            ) from exc
