"""Which of the documented answer shapes the emulator's REST side uses, where AKOOL's docs show more than one.

The defaults follow the most authoritative source for each point (akool-api-and-protocol.md §7, §9): the OpenAPI
file, else the page that documents the endpoint. Every other documented shape is one option away, so a client can
be tested against each of them through real HTTP (``ResponseShapes.variants()``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

from streamclient.errors import InvalidArgumentError

__all__ = ("ResponseShapes",)

_CHOICES: dict[str, tuple[object, ...]] = {
    "close_with_data": (False, True),
    "session_list_key": ("result", "data"),
    "token_location": ("top", "data"),
    "knowledge_list_shape": ("array", "knowledge_list"),
    "tokens_in_detail": (False, True),
    "upload_answer": ("object", "array"),
    "trtc_names": ("trtc", "trtc_sdk"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseShapes:
    """The emulator's choice between documented answer shapes (defaults: the docs' primary shape).

    Attributes:
        close_with_data: session close answers ``data`` ``{session_id, status: "closed", closed_at}`` (the
            close-session page's sample) instead of a bare ``{code, msg}`` (OAS).
        session_list_key: the session list's item key: ``result`` (OAS) or ``data`` (seed document).
        token_location: where ``getToken`` puts the token: ``top`` level (authentication page) or ``data``
            (the SDK best-practice snippet).
        knowledge_list_shape: the knowledge list's ``data``: a bare ``array`` (KB page) or an object
            ``{count, knowledge_list}`` (the official demo reads ``data.knowledge_list``).
        tokens_in_detail: session detail and list answers carry the RTC token too; the older docs' examples leave
            it out (only the create answer has it).
        upload_answer: avatar upload ``data`` as an ``object`` (OAS) or a one-element ``array`` (avatar page).
        trtc_names: TRTC credential names in session answers: ``trtc_*`` (implementation guide, demo) or
            ``trtc_sdk_*`` (OAS ``Credentials``).
    """

    close_with_data: bool = False
    session_list_key: Literal["result", "data"] = "result"
    token_location: Literal["top", "data"] = "top"
    knowledge_list_shape: Literal["array", "knowledge_list"] = "array"
    tokens_in_detail: bool = False
    upload_answer: Literal["object", "array"] = "object"
    trtc_names: Literal["trtc", "trtc_sdk"] = "trtc"

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value not in _CHOICES[item.name] or isinstance(value, bool) != isinstance(_CHOICES[item.name][0], bool):
                raise InvalidArgumentError(f"ResponseShapes.{item.name} must be one of {_CHOICES[item.name]!r}")

    @classmethod
    def variants(cls) -> list[ResponseShapes]:
        """The defaults, each documented alternative on its own, and all alternatives at once (for tests)."""
        singles = [replace(cls(), **{name: choices[1]}) for name, choices in _CHOICES.items()]  # type: ignore[arg-type]  # names and values come from _CHOICES, which mirrors the fields
        everything = cls(**{name: choices[1] for name, choices in _CHOICES.items()})  # type: ignore[arg-type]  # as above
        return [cls(), *singles, everything]

    def describe(self) -> str:
        """The options that differ from the defaults, e.g. ``"close_with_data=True"`` (``"docs defaults"``)."""
        default = ResponseShapes()
        changed = [
            f"{f.name}={getattr(self, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return ",".join(changed) or "docs defaults"
