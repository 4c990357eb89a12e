r"""JSONL recordings of the frames that went through the emulator's rooms, and their replay.

One line per delivered frame::

    {"t": 0.1234, "dir": "in", "sender": "900001", "frame": "{\\"v\\":2,...}", "channel": "emu-..."}

* ``t``: seconds since the recorder started (monotonic clock).
* ``dir``: ``"out"`` for client -> avatar, ``"in"`` for avatar -> client (the client's point of view).
* ``sender``: the uid that sent the frame.
* ``frame``: the frame as UTF-8 text. Bytes that are not valid UTF-8 (only possible with corruption faults on
  binary data) are kept losslessly as lone surrogates (``surrogateescape``); :attr:`Record.data` restores them.
* ``channel``: the room's channel.

A frame that a receiver in the emulator refused (the scripted avatar) adds one more line after it, without ``dir``::

    {"t": 0.124, "refused": "not_json", "by": "1900001", "sender": "900001", "excerpt": "{\\"v\\":2", "channel": "c"}

``refused`` is the decoder's reason, ``by`` the refusing uid, ``excerpt`` the frame's first bytes (printable).
:func:`replay` skips these lines; :func:`refusals` reads them.

Frames are recorded when the room *delivers* them, after fault injection: a recording is what each side actually
received, so replaying the ``"in"`` records into ``ProtocolConnection(Role.CLIENT)`` reproduces the client's events.
``streamclient frames decode`` reads this format (the ``"in"`` records).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from streamclient.errors import InvalidArgumentError

__all__ = ("Direction", "Record", "Recorder", "Refusal", "refusals", "replay")

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One recorded frame."""

    t: float
    dir: Direction
    sender: str
    frame: str
    channel: str | None = None

    @property
    def data(self) -> bytes:
        """The frame's exact bytes."""
        return self.frame.encode("utf-8", errors="surrogateescape")

    def to_json(self) -> str:
        """This record as one JSONL line (without the newline)."""
        obj: dict[str, object] = {"t": round(self.t, 6), "dir": self.dir, "sender": self.sender, "frame": self.frame}
        if self.channel is not None:
            obj["channel"] = self.channel
        return json.dumps(obj, separators=(",", ":"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """A frame a receiver in the emulator refused, and why."""

    t: float
    reason: str
    by: str
    sender: str
    excerpt: str
    channel: str | None = None

    def to_json(self) -> str:
        """This refusal as one JSONL line (without the newline)."""
        obj: dict[str, object] = {
            "t": round(self.t, 6),
            "refused": self.reason,
            "by": self.by,
            "sender": self.sender,
            "excerpt": self.excerpt,
        }
        if self.channel is not None:
            obj["channel"] = self.channel
        return json.dumps(obj, separators=(",", ":"))


class Recorder:
    """Appends records to a JSONL file; flushed after every line so a crash loses nothing.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._clock = clock
        self._start = clock()
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")
        self.count = 0

    def record(self, direction: Direction, *, sender: str, data: bytes, channel: str | None = None) -> None:
        """Write one frame. Ignored after :meth:`close`."""
        if self._file is None:
            return
        text = data.decode("utf-8", errors="surrogateescape")
        rec = Record(t=self._clock() - self._start, dir=direction, sender=sender, frame=text, channel=channel)
        self._file.write(rec.to_json() + "\n")
        self._file.flush()
        self.count += 1

    def record_refusal(self, *, reason: str, by: str, sender: str, excerpt: str, channel: str | None = None) -> None:
        """Write that ``by`` refused a frame from ``sender`` for ``reason``. Ignored after :meth:`close`."""
        if self._file is None:
            return
        refusal = Refusal(
            t=self._clock() - self._start, reason=reason, by=by, sender=sender, excerpt=excerpt, channel=channel
        )
        self._file.write(refusal.to_json() + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def replay(path: str | Path) -> Iterator[Record]:
    """Yield the frame records of a recording, in file order (refusal lines are skipped).

    Raises:
        InvalidArgumentError: a line is not a valid record (the message gives the line number).
    """
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if "refused" in obj and "dir" not in obj:
                    continue
                direction = obj["dir"]
                if direction not in ("in", "out"):
                    raise ValueError(f"bad dir {direction!r}")
                channel = obj.get("channel")
                yield Record(
                    t=float(obj["t"]),
                    dir=direction,
                    sender=str(obj["sender"]),
                    frame=str(obj["frame"]),
                    channel=None if channel is None else str(channel),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidArgumentError(f"{path}: line {lineno} is not a recording record: {exc}") from exc


def refusals(path: str | Path) -> Iterator[Refusal]:
    """Yield the refusal lines of a recording, in file order (frame records are skipped).

    Raises:
        InvalidArgumentError: a refusal line is malformed (the message gives the line number).
    """
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if '"refused"' not in line:
                continue
            try:
                obj = json.loads(line)
                if "dir" in obj:
                    continue
                channel = obj.get("channel")
                yield Refusal(
                    t=float(obj["t"]),
                    reason=str(obj["refused"]),
                    by=str(obj["by"]),
                    sender=str(obj["sender"]),
                    excerpt=str(obj["excerpt"]),
                    channel=None if channel is None else str(channel),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidArgumentError(f"{path}: line {lineno} is not a refusal record: {exc}") from exc
