"""Argument checks that run before anything is sent.

A bad argument raises ``InvalidArgumentError`` and no request leaves the process.

Id patterns, per endpoint (the sources disagree, akool-api-and-protocol.md §1.4 and §1.7):

* ``CATALOGUE_ID`` ``^[A-Za-z0-9_-]{1,128}$`` for ids the service hands out or lists: session ``_id`` (24 hex
  digits in every example), catalogue avatar ids such as ``dvp_Tristan_cloth2_1080P`` (which contain ``_``),
  knowledge-base ids;
* ``UPLOAD_AVATAR_ID`` ``^[A-Za-z0-9]{1,128}$`` for the id a caller chooses when uploading an avatar (OAS and the
  seed document: "Can only contain a-zA-Z0-9");
* voice ids are only checked for being non-empty strings: they may be ElevenLabs ids or other third-party ids
  whose alphabet no source documents.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from streamclient.errors import InvalidArgumentError

__all__ = (
    "CATALOGUE_ID",
    "UPLOAD_AVATAR_ID",
    "require_choice",
    "require_id",
    "require_int",
    "require_text",
)

CATALOGUE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
UPLOAD_AVATAR_ID = re.compile(r"[A-Za-z0-9]{1,128}")


def require_id(name: str, value: Any, *, pattern: re.Pattern[str] = CATALOGUE_ID) -> str:
    """Check an id argument.

    Args:
        name: the argument name (for the message).
        value: the value given.
        pattern: the full-match pattern the id must satisfy.

    Returns:
        The id.

    Raises:
        InvalidArgumentError: not a string, empty, or not matching ``pattern``.
    """
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty string, got {value!r}")
    if not pattern.fullmatch(value):
        raise InvalidArgumentError(f"{name} {value!r} contains characters outside {pattern.pattern} (or is too long)")
    return value


def require_text(name: str, value: Any, *, max_length: int | None = None, allow_empty: bool = False) -> str:
    """Check a free-text argument.

    Args:
        name: the argument name.
        value: the value given.
        max_length: the longest allowed text, if any.
        allow_empty: whether ``""`` is acceptable.

    Returns:
        The text.

    Raises:
        InvalidArgumentError: not a string, empty (unless allowed) or too long.
    """
    if not isinstance(value, str) or (not value and not allow_empty):
        raise InvalidArgumentError(f"{name} must be a non-empty string, got {value!r}")
    if max_length is not None and len(value) > max_length:
        raise InvalidArgumentError(f"{name} is {len(value)} characters long; the limit is {max_length}")
    return value


def require_int(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """Check an integer argument against an inclusive range (``bool`` is rejected).

    Args:
        name: the argument name.
        value: the value given.
        minimum: smallest allowed value.
        maximum: largest allowed value, if bounded.

    Returns:
        The integer.

    Raises:
        InvalidArgumentError: not an int, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise InvalidArgumentError(f"{name} must be {bound}, got {value}")
    return value


def require_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """Check that an argument is one of ``choices``.

    Args:
        name: the argument name.
        value: the value given.
        choices: the allowed values.

    Returns:
        The value.

    Raises:
        InvalidArgumentError: the value is not allowed.
    """
    if isinstance(value, bool) or value not in choices:
        raise InvalidArgumentError(f"{name} must be one of {sorted(choices)!r}, got {value!r}")
    return value
