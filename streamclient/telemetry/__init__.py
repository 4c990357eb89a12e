"""OpenTelemetry traces and metrics for sessions, turns and commands (docs/observability.md).

Install the ``otel`` extra (``opentelemetry-api``) and configure an SDK (yours, or ``opentelemetry-instrument``);
streamclient then records through the global providers, or those given to :func:`configure`. Without
``opentelemetry-api`` installed every hook is a no-op and nothing of OpenTelemetry is imported.
"""

from __future__ import annotations

from streamclient.telemetry._fleet import budget_refusals, lease_renewed, traced_sweep
from streamclient.telemetry._names import EMULATOR_METRICS, METRICS, SPANS, TURN_EVENTS, Attr, MetricSpec, Span
from streamclient.telemetry._runtime import configure, runtime
from streamclient.telemetry._session import (
    NOOP,
    SessionTelemetry,
    api_retry,
    session_telemetry,
    traced_command,
    turn_context,
)

__all__ = (
    "EMULATOR_METRICS",
    "METRICS",
    "NOOP",
    "SPANS",
    "TURN_EVENTS",
    "Attr",
    "MetricSpec",
    "SessionTelemetry",
    "Span",
    "api_retry",
    "budget_refusals",
    "configure",
    "lease_renewed",
    "runtime",
    "session_telemetry",
    "traced_command",
    "traced_sweep",
    "turn_context",
)
