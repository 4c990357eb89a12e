"""The AKOOL error answer the emulator's REST side gives: a body code and message (HTTP 200, as AKOOL does)."""

from __future__ import annotations

__all__ = ("EmulatorApiError",)


class EmulatorApiError(Exception):
    """An AKOOL error answer: ``code``/``msg`` go into the envelope, with ``http_status`` (200 like AKOOL)."""

    def __init__(self, code: int, msg: str, *, http_status: int = 200) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
