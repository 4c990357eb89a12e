"""``client.avatars``: the streaming-avatar catalogue, avatar detail, upload, and waiting for an upload (§1.7).

Readiness (§9): the v4 avatar detail carries no ``status`` in any revision of the OpenAPI file; the documented
status source of an upload is ``GET /api/open/v3/avatar/detail?id=<the upload's _id>``, whose ``data`` is an array
of records (``ai-tools-suite/avatar.mdx``). ``wait_until_ready`` polls that.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from streamclient.api._resource import Resource, iterate_pages
from streamclient.api._validate import UPLOAD_AVATAR_ID, require_choice, require_id, require_int, require_text
from streamclient.api.models import Avatar, AvatarPage, SessionStatus
from streamclient.errors import APITimeoutError, AvatarStatusUnavailableError, InvalidArgumentError

__all__ = ("Avatars",)

logger = logging.getLogger(__name__)

LIST_PATH = "/api/open/v4/liveAvatar/avatar/list"
DETAIL_PATH = "/api/open/v4/liveAvatar/avatar/detail"
UPLOAD_PATH = "/api/open/v3/avatar/create"  # upload stays on v3 (§1.3)
STATUS_PATH = "/api/open/v3/avatar/detail"  # the upload's status record, by its ``_id`` (§9)

_DONE = (SessionStatus.COMPLETED, SessionStatus.FAILED)


class Avatars(Resource):
    """Streaming avatars. Reached as ``client.avatars``."""

    async def list(self, *, platform: str = "open", page: int = 1, size: int = 100) -> AvatarPage:
        """Fetch one page of streaming avatars.

        Args:
            platform: ``open`` (default) or ``aigc``.
            page: page number, from 1.
            size: page size, 1..100.

        Returns:
            The page.

        Raises:
            InvalidArgumentError: a bad argument; nothing was sent.
            APIError: the call failed (``AkoolError`` subclasses for AKOOL codes).
        """
        params = {
            "platform": require_choice("platform", platform, {"open", "aigc"}),
            "page": require_int("page", page, minimum=1),
            "size": require_int("size", size, minimum=1, maximum=100),
        }
        data = await self._core.request("GET", LIST_PATH, params=params, idempotent=True)
        result = self._parse(AvatarPage, data, method="GET", path=LIST_PATH)
        return result.model_copy(update={"page": result.page or page, "size": result.size or size})

    async def iter(self, *, platform: str = "open", size: int = 100) -> AsyncIterator[Avatar]:
        """Iterate over the whole catalogue, page by page.

        Args:
            platform: ``open`` or ``aigc``.
            size: page size, 1..100.

        Yields:
            Each avatar.

        Raises:
            InvalidArgumentError: a bad argument.
            APIError: a page could not be fetched.
        """
        async for item in iterate_pages(lambda page: self.list(platform=platform, page=page, size=size), size=size):
            yield item

    async def get(self, avatar_id: str) -> Avatar:
        """Fetch one avatar (catalogue or uploaded).

        Args:
            avatar_id: the avatar id.

        Returns:
            The avatar (the v4 detail documents no ``status``: use ``wait_until_ready`` for uploads).

        Raises:
            InvalidArgumentError: the id is empty or malformed; nothing was sent.
            APIError: the call failed (``ContentNotFoundError`` when unknown).
        """
        params = {"avatar_id": require_id("avatar_id", avatar_id)}
        data = await self._core.request("GET", DETAIL_PATH, params=params, idempotent=True)
        return self._parse(Avatar, data, method="GET", path=DETAIL_PATH)

    async def upload(self, *, url: str, avatar_id: str, name: str, url_from: int = 1) -> Avatar:
        """Upload a streaming avatar from a video (about a minute, small head turns). Not retried once sent.

        Args:
            url: the video URL.
            avatar_id: the id to give it (letters and digits only).
            name: a display name.
            url_from: 1 for AKOOL and other direct links, 2 for YouTube/TikTok/X/Google Drive.

        Returns:
            The avatar as accepted (``status`` 1 queueing, ``id`` the record id to poll); pass it to
            ``wait_until_ready``. The docs show ``data`` as an object (OAS) or a one-element array (avatar docs):
            both are accepted.

        Raises:
            InvalidArgumentError: a bad argument; nothing was sent.
            APIError: the call failed (``AvatarUploadError`` for 1220/1223, ``ResourceExistsError`` for 1222).
        """
        body: dict[str, Any] = {
            "url": require_text("url", url, max_length=4096),
            "avatar_id": require_id("avatar_id", avatar_id, pattern=UPLOAD_AVATAR_ID),
            "name": require_text("name", name, max_length=256),
            "type": 2,
            "url_from": require_choice("url_from", url_from, {1, 2}),
        }
        data = await self._core.request("POST", UPLOAD_PATH, json=body, idempotent=False)
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if isinstance(data, Mapping):
            data = {"avatar_id": avatar_id, "name": name, **{k: v for k, v in data.items() if v is not None}}
        return self._parse(Avatar, data, method="POST", path=UPLOAD_PATH)

    async def status(self, upload_id: str) -> Avatar:
        """Fetch the status record of an avatar upload (``GET /api/open/v3/avatar/detail?id=``).

        Args:
            upload_id: the upload's record id (``Avatar.id``, the ``_id`` of the upload answer).

        Returns:
            The record (``data`` is an array in the docs: the element with this ``_id``, or the only element).

        Raises:
            InvalidArgumentError: the id is empty or malformed; nothing was sent.
            AvatarStatusUnavailableError: the answer holds no record for this id, or the record has no ``status``.
            APIError: the call failed (``ContentNotFoundError`` when unknown).
        """
        params = {"id": require_id("upload_id", upload_id)}
        data = await self._core.request("GET", STATUS_PATH, params=params, idempotent=True)
        url = self._core.base_url + STATUS_PATH
        records = data if isinstance(data, list) else [data]
        mappings = [r for r in records if isinstance(r, Mapping)]
        record = next((r for r in mappings if r.get("_id", r.get("id")) == upload_id), None)
        if record is None and len(mappings) == 1:
            record = mappings[0]  # the only record of an answer to ``?id=``, whatever it says its id is
        if record is None:
            raise AvatarStatusUnavailableError(
                f"GET {url}: the answer holds no record for upload {upload_id} ({len(records)} record(s))",
                method="GET",
                url=url,
            )
        avatar = self._parse(Avatar, {**record, "_id": record.get("_id") or upload_id}, method="GET", path=STATUS_PATH)
        if avatar.status is None:
            raise AvatarStatusUnavailableError(
                f"GET {url}: the record of upload {upload_id} has no 'status'; its readiness cannot be known",
                method="GET",
                url=url,
            )
        return avatar

    async def wait_until_ready(
        self,
        upload: Avatar | str,
        *,
        timeout: float = 900.0,
        interval: float = 5.0,
        on_progress: Callable[[Avatar], None] | None = None,
    ) -> Avatar:
        """Poll an avatar upload's status record (see :meth:`status`) until it is 3 (ready) or 4 (failed).

        Waiting uses the client's retry policy ``sleep`` and ``clock`` (both injectable in tests).

        Args:
            upload: what :meth:`upload` returned, or the upload's record id (its ``_id``; not the ``avatar_id``).
            timeout: give up after this many seconds.
            interval: seconds between polls.
            on_progress: called with each polled ``Avatar`` (e.g. to print its status).

        Returns:
            The avatar in its final state (the upload's ``avatar_id`` and ``name`` filled in when the record lacks
            them): check ``status`` (``SessionStatus.COMPLETED`` = usable, ``SessionStatus.FAILED`` = failed).

        Raises:
            InvalidArgumentError: a bad argument, or an upload answer without ``_id``; nothing was sent.
            AvatarStatusUnavailableError: the status record has no ``status`` (fails at once, no polling).
            APITimeoutError: the avatar was still processing after ``timeout`` seconds.
            APIError: a poll failed.
        """
        if isinstance(upload, Avatar):
            if not upload.id:
                raise InvalidArgumentError("the upload answer carried no '_id': its status cannot be polled")
            upload_id, known = upload.id, {"avatar_id": upload.avatar_id, "name": upload.name}
        else:
            upload_id, known = require_id("upload", upload), {}
        if timeout <= 0 or interval <= 0:
            raise InvalidArgumentError("timeout and interval must be positive")
        policy = self._core.retry
        deadline = policy.clock() + timeout
        while True:
            avatar = await self.status(upload_id)
            missing = {k: v for k, v in known.items() if v is not None and getattr(avatar, k) is None}
            if missing:
                avatar = avatar.model_copy(update=missing)
            if on_progress is not None:
                on_progress(avatar)
            if avatar.status in _DONE:
                logger.info("avatar upload %s finished with status %s", upload_id, avatar.status)
                return avatar
            if policy.clock() + interval > deadline:
                raise APITimeoutError(
                    f"avatar upload {upload_id} was not ready after {timeout:g}s (last status {avatar.status})",
                    method="GET",
                    url=self._core.base_url + STATUS_PATH,
                )
            await policy.sleep(interval)
