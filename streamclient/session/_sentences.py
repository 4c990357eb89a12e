"""Cut a stream of text deltas (an LLM's tokens) into pieces the avatar can start speaking: sentences first.

Pure: text and the caller's clock in, pieces out; no I/O, no clock reads. The caller (``session.say_stream``)
feeds deltas with :meth:`SentenceSegmenter.feed`, asks :meth:`~SentenceSegmenter.next_deadline` when a run-on
answer must be cut anyway and calls :meth:`~SentenceSegmenter.expire` then, and :meth:`~SentenceSegmenter.flush` at
the end of the stream.

Where a piece ends:

* after a sentence end: ``. ! ? …`` followed by white space (closing quotes and brackets stay with the sentence),
  or a CJK full stop, exclamation or question mark (no space needed). A ``.`` does not end a sentence in
  ``3.14``, after a known abbreviation (``Mr.``, ``Dr.``, ``vs.``), a dotted one (``e.g.``, ``U.S.``) or an
  initial (a capital letter: ``J. R. R.``);
* after a line break;
* after a clause mark (``, ; :`` followed by white space, or a CJK comma, enumeration comma, semicolon or colon),
  once the piece is at least ``clause_min_chars`` long, so a long sentence starts sooner while short ones keep
  their prosody;
* at ``max_chars`` (at the last clause mark or white space before it, if any), so no piece outgrows one frame;
* when the piece's first character has waited ``max_wait`` seconds, so a stalled or unpunctuated answer starts.

A sentence end that is the last thing received is cut at once when it cannot be anything else (``!``, ``?``, a CJK
mark, or a ``.`` after an ordinary word), so the token that completes a sentence sends it; an ambiguous one
(``3.``, ``Mr.``, ``...``) waits for the next delta.

Guarantees: the pieces, joined, are exactly the text fed; no piece is empty; no piece is longer than ``max_chars``;
a piece without a letter or digit is only ever emitted by :meth:`~SentenceSegmenter.flush` or at ``max_chars``.
"""

from __future__ import annotations

import unicodedata

from streamclient.errors import InvalidArgumentError

__all__ = ("SentenceSegmenter",)

_LATIN_ENDS = frozenset(".!?\u2026")
_CJK_ENDS = frozenset("\u3002\uff01\uff1f")
_CLOSERS = frozenset("\"')]}\u00bb\u201d\u2019\u300d\u300f\uff09\u3011\u3015\u3009\u300b")
_LATIN_CLAUSES = frozenset(",;:")
_CJK_CLAUSES = frozenset("\uff0c\u3001\uff1b\uff1a")
_ANY_END = _LATIN_ENDS | _CJK_ENDS
_MARKS = _ANY_END | _LATIN_CLAUSES | _CJK_CLAUSES
_OPENERS = "\"'([{\u00ab\u201c\u2018\u300c\u300e\uff08\u3010"
# Lower-cased words that a "." follows without ending the sentence (dotted ones such as "e.g." are caught
# by their inner dot, single letters as initials). Words that often end sentences ("etc.", "Inc.") are not here.
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "fig", "approx", "cf", "ca"})


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _initial(word: str) -> bool:
    """Whether ``word`` (before a ".") is an initial, as in "J. R. R. Tolkien"."""
    return len(word) == 1 and word.isupper()


def _first_word(text: str) -> int:
    """The index of the first letter or digit (``len(text)`` if none)."""
    return next((i for i, ch in enumerate(text) if ch.isalnum()), len(text))


class SentenceSegmenter:
    """Splits streamed text into speakable pieces; see the module docstring for the rules.

    Args:
        max_chars: the longest piece (characters); 200 fits one frame even with 4-byte characters.
        max_wait: seconds the first character of a piece may wait before the piece is cut anyway.
        clause_min_chars: the shortest piece that a clause mark may end.

    Raises:
        InvalidArgumentError: a bound is not positive.
    """

    def __init__(self, *, max_chars: int = 200, max_wait: float = 1.0, clause_min_chars: int = 60) -> None:
        if max_chars < 1 or max_wait <= 0 or clause_min_chars < 1:
            raise InvalidArgumentError("max_chars, max_wait and clause_min_chars must be positive")
        self.max_chars = max_chars
        self.max_wait = max_wait
        self.clause_min_chars = clause_min_chars
        self._buf = ""
        self._started: float | None = None

    @property
    def pending(self) -> str:
        """The text received but not cut yet."""
        return self._buf

    def feed(self, text: str, now: float) -> list[str]:
        """Add a delta received at ``now``; return the pieces it completes (often none)."""
        if not text:
            return []
        self._buf += text
        if self._started is None and _has_word(self._buf):
            self._started = now
        return self._cut(final=False, now=now)

    def next_deadline(self) -> float | None:
        """When :meth:`expire` must be called (``None``: nothing waits)."""
        return None if self._started is None else self._started + self.max_wait

    def expire(self, now: float) -> list[str]:
        """Cut what has waited ``max_wait``: at its last clause mark or white space, else all of it."""
        deadline = self.next_deadline()
        if deadline is None or now < deadline:
            return []
        buf = self._buf
        end = len(buf) if buf[-1].isspace() or not buf[-1].isalnum() else self._soft_cut(len(buf))
        pieces = [self._take(end or len(buf), now)]
        return pieces + self._cut(final=False, now=now)

    def flush(self) -> list[str]:
        """The stream ended: cut everything left."""
        pieces = self._cut(final=True, now=0.0)
        if self._buf:
            pieces.append(self._buf)
        self._buf = ""
        self._started = None
        return pieces

    # ------------------------------------------------------------------------------------------ internals

    def _take(self, end: int, now: float) -> str:
        piece, self._buf = self._buf[:end], self._buf[end:]
        self._started = now if _has_word(self._buf) else None
        return piece

    def _cut(self, *, final: bool, now: float) -> list[str]:
        pieces: list[str] = []
        while self._buf:
            end = self._boundary(final=final)
            if end is not None and end <= self.max_chars:
                pieces.append(self._take(end, now))
            elif len(self._buf) >= self.max_chars:
                pieces.append(self._take(self._hard_cut(), now))
            else:
                break
        return pieces

    def _boundary(self, *, final: bool) -> int | None:
        """The end of the first complete piece in the buffer, or ``None``."""
        buf, n = self._buf, len(self._buf)
        first_word = _first_word(buf)
        i = 0
        while i < n:
            ch = buf[i]
            end: int | None = None
            if ch in _LATIN_ENDS:
                j = self._skip(i, _LATIN_ENDS)
                k = self._skip(j, _CLOSERS)
                if k == n:
                    if final or self._certain_end(i, j):
                        end = k
                    else:
                        return None  # ambiguous: wait for the next delta
                elif buf[k].isspace() and self._sentence_end(i, j):
                    end = self._skip_space(k)
                i = max(k, i + 1)
            elif ch in _CJK_ENDS:
                end = self._skip_space(self._skip(self._skip(i, _ANY_END), _CLOSERS))
                i = end
            elif ch == "\n":
                end = self._skip_space(i)
                i = end
            elif ch in _LATIN_CLAUSES:
                k = self._skip(i + 1, _CLOSERS)
                if k < n and buf[k].isspace() and k >= self.clause_min_chars:
                    end = self._skip_space(k)
                i = k
            elif ch in _CJK_CLAUSES:
                k = self._skip(i + 1, _CLOSERS)
                if k >= self.clause_min_chars:
                    end = self._skip_space(k)
                i = k
            else:
                i += 1
            if end is not None and end > first_word:
                return end
        return None

    def _skip(self, i: int, chars: frozenset[str]) -> int:
        buf = self._buf
        while i < len(buf) and buf[i] in chars:
            i += 1
        return i

    def _skip_space(self, i: int) -> int:
        buf = self._buf
        while i < len(buf) and buf[i].isspace():
            i += 1
        return i

    def _word_before(self, i: int) -> str:
        start = i
        while start > 0 and not self._buf[start - 1].isspace():
            start -= 1
        return self._buf[start:i].lstrip(_OPENERS)

    def _sentence_end(self, i: int, j: int) -> bool:
        """Whether the marks ``buf[i:j]``, followed by white space, end a sentence."""
        if self._buf[i:j] != ".":
            return True
        word = self._word_before(i)
        return not ("." in word or _initial(word) or word.lower() in _ABBREVIATIONS)

    def _certain_end(self, i: int, j: int) -> bool:
        """Whether the marks ``buf[i:j]`` end a sentence whatever comes next."""
        marks = self._buf[i:j]
        if marks != ".":
            return "." not in marks
        word = self._word_before(i)
        return word.isalpha() and not _initial(word) and word.lower() not in _ABBREVIATIONS

    def _soft_cut(self, limit: int) -> int | None:
        """Where to cut the buffer within ``limit`` after white space or a CJK mark, if anywhere.

        The last such place that follows a punctuation mark wins if it keeps at least half of ``limit``; else the
        last such place.
        """
        buf = self._buf
        first_word = _first_word(buf)
        last: int | None = None
        for end in range(limit, first_word, -1):
            prev = buf[end - 1]
            if not (prev.isspace() or prev in _CJK_CLAUSES or prev in _CJK_ENDS):
                continue
            if last is None:
                last = end
            if end * 2 < limit:
                break
            mark = end - 1
            while mark > 0 and buf[mark].isspace():
                mark -= 1
            if buf[mark] in _MARKS:
                return end
        return last

    def _hard_cut(self) -> int:
        """Where to cut a buffer that reached ``max_chars`` without a boundary."""
        end = self._soft_cut(self.max_chars)
        if end is not None:
            return end
        end = self.max_chars
        while 1 < end < len(self._buf) and unicodedata.combining(self._buf[end]):
            end -= 1  # keep a combining mark with its base character
        return end
