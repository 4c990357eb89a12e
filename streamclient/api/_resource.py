"""Shared plumbing of the resource namespaces.

A reference to ``HttpCore``, and model parsing that lets no raw pydantic error escape.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from streamclient.api._envelope import response_error
from streamclient.api._http import HttpCore

__all__ = ("Resource", "iterate_pages")

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _Page(Protocol[T_co]):
    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def count(self) -> int | None: ...


async def iterate_pages(fetch: Callable[[int], Awaitable[_Page[T]]], *, size: int) -> AsyncIterator[T]:
    """Every item of every page ``fetch(page)`` returns, from page 1 until a short or empty page or ``count``.

    Without a total (``count`` is ``None``, e.g. the knowledge list's bare array) only a short or empty page ends
    the walk. A server that ignores ``page`` and answers the same full page again would make that endless, so a
    page equal to the previous one ends the walk too (with a warning: the list may be incomplete).
    """
    page, seen = 1, 0
    previous: Sequence[T] | None = None
    while True:
        result = await fetch(page)
        items = list(result.items)
        if previous is not None and items and items == previous:
            logger.warning("page %d repeats page %d; stopping (the server may ignore 'page')", page, page - 1)
            return
        for item in items:
            yield item
        seen += len(items)
        if not items or len(items) < size or (result.count is not None and seen >= result.count):
            return
        previous = items
        page += 1


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
