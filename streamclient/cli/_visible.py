r"""Text from the avatar, a participant or the service, made safe to print on a terminal.

Remote text is untrusted: ``ESC ] 0 ; title ESC \`` would retitle the user's terminal, ``ESC [ 2 J`` clear it, a
carriage return overwrite what was printed. Every control character (Unicode category Cc: C0, DEL and C1) except
newline and tab is shown as a visible escape (``\x1b``) instead. ``--json`` output is never passed through here: it
stays exact (JSON escapes the C0 characters itself).
"""

from __future__ import annotations

import logging
import re

__all__ = ("VisibleFormatter", "visible")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def visible(text: str) -> str:
    r"""``text`` with every control character but newline and tab replaced by a visible ``\xNN`` escape."""
    return _CONTROL.sub(_escape, text)


class VisibleFormatter(logging.Formatter):
    """A log formatter whose lines never carry raw control characters (log messages can quote remote text)."""

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, made :func:`visible`."""
        return visible(super().format(record))
