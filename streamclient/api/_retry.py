"""The retry policy: pure decisions, no I/O (house-style.md §2.6).

Which failures are retried, and how long to wait, are decided here from plain values; ``_http.py`` runs the loop.
Two classes of request exist:

* **idempotent** (every GET, and session close): retried on connection errors, timeouts, HTTP 408/409/429/5xx and the
  AKOOL body codes in ``RetryPolicy.retry_codes`` (default 1005 "Frequent operation" and 1215 "liveAvatar processing
  is busy": both say "try again later", and repeating a read or a close cannot create anything);
* **not idempotent** (session create, uploads, knowledge-base writes): retried only when the failure proves the
  request never reached the server (the connection could not be opened, or no pooled connection was free).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

__all__ = ("RETRYABLE_STATUSES", "RetryPolicy", "backoff_delay", "parse_retry_after")

#: HTTP statuses worth another attempt for an idempotent request.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry (immutable; pass a new one to change it).

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_delay: first backoff delay in seconds; doubles per retry.
        max_delay: cap of one backoff delay.
        max_retry_after: a ``Retry-After`` up to this many seconds is honoured; longer ones fall back to backoff.
        total_timeout: no retry starts if it would begin later than this many seconds after the first attempt.
        retry_codes: AKOOL body codes retried for idempotent requests.
        sleep: the awaitable sleep (inject a recorder in tests).
        clock: monotonic clock for ``total_timeout``.
        jitter: returns a factor in [0.5, 1.0] applied to backoff delays (not to ``Retry-After``).
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    total_timeout: float = 60.0
    retry_codes: frozenset[int] = frozenset({1005, 1215})
    sleep: Callable[[float], Awaitable[None]] = field(default=anyio.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    jitter: Callable[[], float] = field(default=lambda: random.uniform(0.5, 1.0), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.initial_delay < 0 or self.max_delay < 0 or self.total_timeout < 0 or self.max_retry_after < 0:
            raise ValueError("delays and timeouts must be >= 0")

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry_number`` (0-based).

        Args:
            retry_number: how many retries already happened.
            retry_after: the server's ``Retry-After`` in seconds, if it sent one.

        Returns:
            ``retry_after`` when it is within ``[0, max_retry_after]``, else ``min(initial·2ⁿ, max_delay)·jitter``.
        """
        if retry_after is not None and 0 <= retry_after <= self.max_retry_after:
            return retry_after
        return backoff_delay(retry_number, initial=self.initial_delay, maximum=self.max_delay) * self.jitter()


def backoff_delay(retry_number: int, *, initial: float, maximum: float) -> float:
    """Exponential backoff without jitter: ``min(initial * 2**retry_number, maximum)``.

    Args:
        retry_number: how many retries already happened (0-based).
        initial: the first delay.
        maximum: the cap.

    Returns:
        The delay in seconds.
    """
    return float(min(initial * (2.0 ** min(retry_number, 62)), maximum))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP date.

    Args:
        value: the header value (``None`` if absent).
        now: the current Unix time for HTTP dates (defaults to ``time.time()``).

    Returns:
        Seconds to wait (never negative), or ``None`` if absent or unparsable.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
