"""Metrics (and a span per sweep) of the fleet ledger: budget refusals, sweeps, lease renewals and lapses.

Fed by one-line hooks (each marked ``# telemetry``) in ``streamclient.api._guard``, ``streamclient.api._sweep`` and
``streamclient.ledger``; each is a no-op without ``opentelemetry-api``. These events are rare (a create refused, a
sweep, a lease renewed every few seconds), so they go through the SDK's synchronous counters.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from streamclient.telemetry._names import Attr, Span
from streamclient.telemetry._runtime import runtime

__all__ = ("budget_refusals", "lease_renewed", "traced_sweep")

logger = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Any])


def _refused(exc: BaseException) -> None:
    from streamclient.errors import BudgetExceededError

    rt = runtime()
    if rt is not None and isinstance(exc, BudgetExceededError):
        rt.add("streamclient.budget.refusals", 1, {Attr.BUDGET_LIMIT: exc.limit})


def budget_refusals(method: _F) -> _F:
    """Count the ``BudgetExceededError`` raised by ``method`` (a budget check: sync or async), by limit."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def checked_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except Exception as exc:
                _refused(exc)
                raise

        return cast(_F, checked_async)

    @functools.wraps(method)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            _refused(exc)
            raise

    return cast(_F, checked)


def traced_sweep(function: _F) -> _F:
    """A span per ``sweep(client, *, close=..., ...)``; count the sweep and the sessions it closed or failed to."""

    @functools.wraps(function)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = runtime()
        if rt is None:
            return await function(*args, **kwargs)
        dry_run = not kwargs.get("close", False)
        attributes: dict[str, Any] = {Attr.SWEEP_DRY_RUN: dry_run}
        with rt.tracer.start_as_current_span(
            Span.SWEEP, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                report = await function(*args, **kwargs)
            except BaseException as exc:
                attributes[Attr.ERROR_TYPE] = type(exc).__name__
                span.set_attribute(Attr.ERROR_TYPE, type(exc).__name__)
                span.set_status(rt.StatusCode.ERROR, type(exc).__name__)
                rt.add("streamclient.sweeps", 1, attributes)
                raise
            counts = {
                "closed": len(report.closed),
                "already_closed": len(report.already_closed),
                "failed": len(report.failed),
            }
            span.set_attributes({Attr.SWEEP_FOUND: len(report.items), Attr.SWEEP_CLOSED: counts["closed"]})
            rt.add("streamclient.sweeps", 1, attributes)
            for outcome, count in counts.items():
                if count:
                    rt.add("streamclient.sweep.sessions", count, {Attr.SWEEP_OUTCOME: outcome})
            return report

    return cast(_F, wrapper)


def lease_renewed(lapsed: float | None) -> None:
    """This process's lease on the fleet ledger was renewed; ``lapsed``: the seconds it had lapsed for, if it had."""
    rt = runtime()
    if rt is None:
        return
    rt.add("streamclient.ledger.lease.renewals", 1)
    if lapsed is not None:
        rt.add("streamclient.ledger.lease.lapses", 1)
