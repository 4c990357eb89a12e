"""``client.knowledge``: knowledge bases, list/create/get/update/delete (§1.9)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from streamclient.api._resource import Resource, iterate_pages
from streamclient.api._validate import require_id, require_int, require_text
from streamclient.api.models import KnowledgeBase, KnowledgeBasePage
from streamclient.errors import InvalidArgumentError

__all__ = ("Knowledge",)

BASE = "/api/open/v4/knowledge"
LIMITS = {"name": 100, "prologue": 2000, "prompt": 10000}


def _fields(
    name: str | None,
    prologue: str | None,
    prompt: str | None,
    docs: Sequence[Mapping[str, Any]] | None,
    urls: Sequence[str] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in (("name", name), ("prologue", prologue), ("prompt", prompt)):
        if value is not None:
            body[key] = require_text(key, value, max_length=LIMITS[key], allow_empty=key != "name")
    if docs is not None:
        if not all(isinstance(d, Mapping) for d in docs):
            raise InvalidArgumentError("docs must be a sequence of {name, url, size} mappings")
        body["docs"] = [dict(d) for d in docs]
    if urls is not None:
        if isinstance(urls, (str, bytes)) or not all(isinstance(u, str) and u for u in urls):
            raise InvalidArgumentError("urls must be a sequence of non-empty strings")
        body["urls"] = list(urls)
    return body


class Knowledge(Resource):
    """Knowledge bases. Reached as ``client.knowledge``."""

    async def list(self, *, page: int = 1, size: int = 10, name: str | None = None) -> KnowledgeBasePage:
        """Fetch one page of knowledge bases (``data`` as an array or as ``data.knowledge_list``, §7.5).

        The bare array carries no total: ``count`` is then ``None`` and :meth:`iter` pages on until a short page.

        Args:
            page: page number, from 1.
            size: page size, 1..100.
            name: filter by name.

        Returns:
            The page.

        Raises:
            InvalidArgumentError: a bad argument; nothing was sent.
            APIError: the call failed.
        """
        params: dict[str, Any] = {
            "page": require_int("page", page, minimum=1),
            "size": require_int("size", size, minimum=1, maximum=100),
        }
        if name is not None:
            params["name"] = require_text("name", name, max_length=100)
        data = await self._core.request("GET", f"{BASE}/list", params=params, idempotent=True)
        result = self._parse(KnowledgeBasePage, data, method="GET", path=f"{BASE}/list")
        return result.model_copy(update={"page": result.page or page, "size": result.size or size})

    async def iter(self, *, size: int = 100, name: str | None = None) -> AsyncIterator[KnowledgeBase]:
        """Iterate over every knowledge base.

        Args:
            size: page size, 1..100.
            name: filter by name.

        Yields:
            Each knowledge base.

        Raises:
            InvalidArgumentError: a bad argument.
            APIError: a page could not be fetched.
        """
        async for item in iterate_pages(lambda page: self.list(page=page, size=size, name=name), size=size):
            yield item

    async def create(
        self,
        *,
        name: str | None = None,
        prologue: str | None = None,
        prompt: str | None = None,
        docs: Sequence[Mapping[str, Any]] | None = None,
        urls: Sequence[str] | None = None,
    ) -> KnowledgeBase:
        """Create a knowledge base (names are unique per team). Not retried once sent.

        Args:
            name: the name (at most 100 characters; optional, as in the KB docs).
            prologue: the opening greeting (at most 2000).
            prompt: instructions for the LLM (at most 10000).
            docs: documents ``{name, url, size}``.
            urls: web pages to use.

        Returns:
            The new knowledge base.

        Raises:
            InvalidArgumentError: a bad argument; nothing was sent.
            APIError: the call failed (``KnowledgeBaseExistsError`` for a duplicate name).
        """
        body = _fields(name, prologue, prompt, docs, urls)
        data = await self._core.request("POST", f"{BASE}/create", json=body, idempotent=False)
        return self._parse(KnowledgeBase, data, method="POST", path=f"{BASE}/create")

    async def get(self, knowledge_id: str) -> KnowledgeBase:
        """Fetch one knowledge base.

        Args:
            knowledge_id: its ``_id``.

        Returns:
            The knowledge base.

        Raises:
            InvalidArgumentError: the id is empty or malformed; nothing was sent.
            APIError: the call failed (``KnowledgeBaseNotFoundError`` when unknown).
        """
        params = {"id": require_id("knowledge_id", knowledge_id)}
        data = await self._core.request("GET", f"{BASE}/detail", params=params, idempotent=True)
        return self._parse(KnowledgeBase, data, method="GET", path=f"{BASE}/detail")

    async def update(
        self,
        knowledge_id: str,
        *,
        name: str | None = None,
        prologue: str | None = None,
        prompt: str | None = None,
        docs: Sequence[Mapping[str, Any]] | None = None,
        urls: Sequence[str] | None = None,
    ) -> KnowledgeBase:
        """Change fields of a knowledge base (only those given). Retried like a GET: it sets, never adds.

        Args:
            knowledge_id: its ``_id``.
            name: a new name.
            prologue: a new greeting.
            prompt: new instructions.
            docs: the new document list.
            urls: the new URL list.

        Returns:
            The knowledge base after the update (fetched again if the response did not carry it).

        Raises:
            InvalidArgumentError: a bad argument or nothing to update; nothing was sent.
            APIError: the call failed.
        """
        kid = require_id("knowledge_id", knowledge_id)
        body = _fields(name, prologue, prompt, docs, urls)
        if not body:
            raise InvalidArgumentError("update needs at least one field to change")
        data = await self._core.request("POST", f"{BASE}/update", json={"id": kid, **body}, idempotent=True)
        if isinstance(data, Mapping) and ("_id" in data or "id" in data):
            return self._parse(KnowledgeBase, data, method="POST", path=f"{BASE}/update")
        return await self.get(kid)

    async def delete(self, knowledge_id: str) -> None:
        """Delete a knowledge base.

        Args:
            knowledge_id: its ``_id``.

        Raises:
            InvalidArgumentError: the id is empty or malformed; nothing was sent.
            APIError: the call failed (``KnowledgeBaseNotFoundError`` when unknown).
        """
        kid = require_id("knowledge_id", knowledge_id)
        # The KB docs answer a bare {"code": 1000, "msg": "OK"}: no ``data`` to require.
        await self._core.request("DELETE", f"{BASE}/delete", json={"id": kid}, idempotent=True, require_data=False)
