"""OpenTelemetry export for the command line and the emulator, driven by the standard ``OTEL_*`` variables.

When an exporter is named (``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``) or an OTLP endpoint is set
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``..._TRACES_ENDPOINT``, ``..._METRICS_ENDPOINT``: the exporter is then ``otlp``, as
``opentelemetry-instrument`` does), and ``opentelemetry-sdk`` is installed, a command configures the SDK from the
environment with the SDK's own configurator (the one ``opentelemetry-instrument`` runs) and flushes on the way out.
Without the variables, or without the SDK, nothing is imported, done or printed. ``OTEL_SDK_DISABLED=true`` turns
it off; a process already configured (run under ``opentelemetry-instrument``) is left as it is.

The emulator adds its own view (:func:`watch_emulator`): rooms and sessions open, frames refused and dropped, seconds
billed, read from the emulator when the metric reader collects.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from streamclient.telemetry import EMULATOR_METRICS, Attr

if TYPE_CHECKING:
    from streamclient.emulator import Emulator

__all__ = ("exported", "from_environment", "watch_emulator")

T = TypeVar("T")

logger = logging.getLogger(__name__)
#: Whether the running command configured the SDK from the environment.
_configured = False

_EXPORTERS = ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")
_ENDPOINTS = {
    "traces": ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    "metrics": ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
}


def _wanted(environ: dict[str, str] | os._Environ[str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if any(environ.get(name, "").strip().lower() not in ("", "none") for name in _EXPORTERS):
        return True
    return any(environ.get(name, "").strip() for name in (*_ENDPOINTS["traces"], *_ENDPOINTS["metrics"]))


def from_environment() -> list[Any]:
    """Configure the SDK from the ``OTEL_*`` variables if they ask for export; the providers made (to flush).

    Returns ``[]`` when nothing is asked, the SDK is not installed, or the process is already configured.
    """
    if not _wanted(os.environ):
        return []
    try:
        configuration = importlib.import_module("opentelemetry.sdk._configuration")
        trace = importlib.import_module("opentelemetry.trace")
        metrics = importlib.import_module("opentelemetry.metrics")
    except ImportError:
        return []  # no SDK: the variables are for another process, or for later
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return []  # configured already (opentelemetry-instrument, or the application)
    names: dict[str, list[str]] = {}
    for signal, variable in (("traces", "OTEL_TRACES_EXPORTER"), ("metrics", "OTEL_METRICS_EXPORTER")):
        if not os.environ.get(variable, "").strip() and any(os.environ.get(v) for v in _ENDPOINTS[signal]):
            names[signal] = ["otlp"]  # an endpoint without an exporter named: OTLP (opentelemetry-instrument's default)
    try:
        configuration._OTelSDKConfigurator().configure(
            trace_exporter_names=names.get("traces"), metric_exporter_names=names.get("metrics")
        )
    except Exception as exc:  # an exporter named but not installed, a bad value: say so once, run without
        logger.warning("OpenTelemetry export is off: the OTEL_* settings could not be applied (%s)", exc)
        return []
    return [trace.get_tracer_provider(), metrics.get_meter_provider()]


def exported(main: Callable[[], Awaitable[T]]) -> Callable[[], Coroutine[Any, Any, T]]:
    """``main`` exporting its telemetry while it runs (see :func:`from_environment`), flushed when it ends."""

    @functools.wraps(main)
    async def run() -> T:
        global _configured
        providers = from_environment()
        _configured = bool(providers)
        try:
            return await main()
        finally:
            _configured = False
            for provider in providers:  # (not awaited: this runs even when a signal cancelled the command)
                with contextlib.suppress(Exception):
                    provider.shutdown()  # a last export (metrics: one final collection), then the exporters close

    return run


def watch_emulator(emulator: Emulator) -> None:
    """Observe ``emulator`` (rooms, sessions, refused and dropped frames, billed seconds) through the global meter.

    Nothing is done unless this command exports (:func:`exported` configured the SDK from the environment).
    """
    if not _configured:
        return
    try:
        metrics = importlib.import_module("opentelemetry.metrics")
    except ImportError:
        return
    from streamclient._version import __version__

    meter = metrics.get_meter("streamclient.emulator", __version__)
    ref = weakref.ref(emulator)
    observation = metrics.Observation

    def read(what: str) -> list[Any]:
        emu = ref()
        if emu is None:
            return []
        rooms = list(emu.rooms.values())
        if what == "rooms":
            return [observation(sum(1 for room in rooms if not room.closed))]
        if what == "sessions":
            return [observation(emu.open_session_count())]
        if what == "billed":
            return [observation(emu.billed_seconds())]
        if what == "dropped":
            return [observation(sum(room.dropped for room in rooms))]
        refused: dict[int, int] = {}
        for room in rooms:
            for code, count in list(room.rejected.items()):
                refused[code] = refused.get(code, 0) + count
        return [observation(count, {Attr.REFUSAL_CODE: code}) for code, count in sorted(refused.items())]

    makers = {
        "observable_counter": meter.create_observable_counter,
        "observable_updown_counter": meter.create_observable_up_down_counter,
    }
    for what, spec in EMULATOR_METRICS.items():

        def callback(options: Any, what: str = what) -> list[Any]:  # noqa: ARG001 (the SDK passes CallbackOptions)
            return read(what)

        makers[spec.kind](spec.name, callbacks=[callback], unit=spec.unit, description=spec.description)
