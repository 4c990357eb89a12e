"""The OpenTelemetry API, loaded lazily once; ``None`` when it is not installed (telemetry is then a no-op)."""

from __future__ import annotations

import functools
import hashlib
import importlib
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from streamclient.telemetry._names import INSTRUMENTATION_SCOPE, METRICS, Attr

if TYPE_CHECKING:
    from streamclient.session.stats import SessionStats

__all__ = ("Runtime", "configure", "runtime", "text_hash")

_UNSET: Any = object()
_lock = threading.Lock()
_state: Runtime | None = _UNSET
_record_text = False
_stage_events = False
_providers: dict[str, Any] = {}


def _version() -> str:
    from streamclient._version import __version__

    return __version__


@dataclass
class _Totals:
    """Counters of the sessions that ended (the live ones are read from their stats at each collection)."""

    values: dict[str, int] = field(default_factory=dict)

    def add(self, stats: SessionStats) -> None:
        for f in fields(stats):
            value = getattr(stats, f.name)
            if isinstance(value, int):
                self.values[f.name] = self.values.get(f.name, 0) + value


class Runtime:
    """The tracer, the instruments and the live sessions' stats, for one configuration."""

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        trace = importlib.import_module("opentelemetry.trace")
        metrics = importlib.import_module("opentelemetry.metrics")
        self.trace = trace
        self.metrics = metrics
        self._given = tracer_provider is not None or meter_provider is not None
        self.context = importlib.import_module("opentelemetry.context")
        self.Observation = metrics.Observation
        self.Link = trace.Link
        self.StatusCode = trace.StatusCode
        version = _version()
        self.tracer = trace.get_tracer(INSTRUMENTATION_SCOPE, version, tracer_provider=tracer_provider)
        meter = metrics.get_meter(INSTRUMENTATION_SCOPE, version, meter_provider=meter_provider)
        self.live: dict[int, SessionStats] = {}
        self.totals = _Totals()
        #: Counts kept here and read by observable counters at collection: ``{name: {attribute values: count}}``
        #: (a dict increment per event instead of the SDK's measurement path; see :meth:`tally`).
        self.tallies: dict[str, dict[tuple[Any, ...], int]] = {}
        self._ids = itertools.count()
        self.instruments: dict[str, Any] = {}
        for spec in METRICS.values():
            if spec.kind == "counter":
                self.instruments[spec.name] = meter.create_counter(
                    spec.name, unit=spec.unit, description=spec.description
                )
            elif spec.kind == "updown_counter":
                self.instruments[spec.name] = meter.create_up_down_counter(
                    spec.name, unit=spec.unit, description=spec.description
                )
            elif spec.kind == "histogram":
                self.instruments[spec.name] = meter.create_histogram(
                    spec.name, unit=spec.unit, description=spec.description
                )
        observed: dict[str, Callable[[], Iterable[Any]]] = {
            "streamclient.frames": lambda: self._pairs("frames_sent", "frames_received"),
            "streamclient.io": lambda: self._pairs("bytes_sent", "bytes_received"),
            "streamclient.frames.rejected": lambda: [self.Observation(self._total("frames_rejected"))],
            "streamclient.send.retries": lambda: [self.Observation(self._total("send_retries"))],
            "streamclient.send.failures": lambda: [self.Observation(self._total("send_failures"))],
        }
        for spec in METRICS.values():
            if spec.kind == "observable_counter" and spec.name not in observed:
                self.tallies[spec.name] = {}
                observed[spec.name] = functools.partial(self._tallied, spec.name, spec.attributes)
        for name, read in observed.items():
            spec = METRICS[name]
            meter.create_observable_counter(
                name, callbacks=[_callback(read)], unit=spec.unit, description=spec.description
            )
        self.first_chunk_latency = self.instruments["streamclient.turn.first_chunk.latency"]
        self.audio_start_latency = self.instruments["streamclient.turn.audio_start.latency"]

    def active(self) -> bool:
        """Whether anything records: providers were given to :func:`configure`, or a global one is set (an SDK).

        With the API alone (its proxy and no-op providers) a session takes the no-op telemetry: nothing per turn.
        """
        if self._given:
            return True
        tracer_provider = self.trace.get_tracer_provider()
        meter_provider = self.metrics.get_meter_provider()
        return not (
            isinstance(tracer_provider, (self.trace.ProxyTracerProvider, self.trace.NoOpTracerProvider))
            and type(meter_provider).__name__ in ("_ProxyMeterProvider", "NoOpMeterProvider")
        )

    def add(self, name: str, value: float, attributes: dict[str, Any] | None = None) -> None:
        """Add to a counter (or an up-down counter)."""
        self.instruments[name].add(value, attributes)

    def record(self, name: str, value: float) -> None:
        """Record a histogram value."""
        self.instruments[name].record(value)

    def tally(self, name: str, key: tuple[Any, ...] = ()) -> None:
        """Count one event of an observable counter (``key``: its attribute values, in the spec's order)."""
        counts = self.tallies[name]
        counts[key] = counts.get(key, 0) + 1

    def _tallied(self, name: str, attributes: tuple[str, ...]) -> list[Any]:
        counts = list(self.tallies[name].items())  # (one C call: safe against the loop adding a key meanwhile)
        return [self.Observation(value, dict(zip(attributes, key, strict=True))) for key, value in counts]

    def register(self, stats: SessionStats) -> int:
        """Follow a live session's stats; returns the key to :meth:`unregister` it with."""
        key = next(self._ids)
        self.live[key] = stats
        return key

    def unregister(self, key: int) -> None:
        """The session ended: keep its counts in the totals."""
        stats = self.live.pop(key, None)
        if stats is not None:
            self.totals.add(stats)

    def _total(self, name: str) -> int:
        live: int = sum(getattr(s, name) for s in list(self.live.values()))
        return self.totals.values.get(name, 0) + live

    def _pairs(self, sent: str, received: str) -> list[Any]:
        return [
            self.Observation(self._total(sent), {Attr.DIRECTION: "transmit"}),
            self.Observation(self._total(received), {Attr.DIRECTION: "receive"}),
        ]


def _callback(read: Callable[[], Iterable[Any]]) -> Callable[[Any], Iterator[Any]]:
    def callback(options: Any) -> Iterator[Any]:  # noqa: ARG001 (the SDK passes CallbackOptions)
        yield from read()

    return callback


def runtime() -> Runtime | None:
    """The OpenTelemetry runtime, or ``None`` when ``opentelemetry-api`` is not installed (nothing is recorded)."""
    global _state
    state = _state
    if state is _UNSET:
        with _lock:
            if _state is _UNSET:
                try:
                    _state = Runtime(**_providers)
                except ImportError:
                    _state = None
            state = _state
    return state


def configure(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    record_text: bool | None = None,
    stage_events: bool | None = None,
) -> None:
    """Set where streamclient's spans and metrics go, and whether user text may be recorded.

    Without this, the global providers are used (``opentelemetry.trace.set_tracer_provider`` and
    ``opentelemetry.metrics.set_meter_provider``, or the SDK's ``OTEL_*`` auto-configuration). Sessions started
    afterwards use the new configuration.

    Args:
        tracer_provider: a ``TracerProvider`` to use instead of the global one.
        meter_provider: a ``MeterProvider`` to use instead of the global one.
        record_text: put the turn's text and the avatar's reply on turn spans (off by default: only their length
            and a SHA-256 prefix of the text are recorded). Turn it on only where traces may hold user data.
        stage_events: also record a turn's stages (queued, sent, first_chunk, audio_start, audio_end) as span
            events at their times, for trace views that draw events on the timeline (off by default: the stages
            are always turn-span attributes, in seconds after the turn was queued; five events cost more).
    """
    global _state, _record_text, _stage_events
    with _lock:
        _providers.clear()
        if tracer_provider is not None:
            _providers["tracer_provider"] = tracer_provider
        if meter_provider is not None:
            _providers["meter_provider"] = meter_provider
        if record_text is not None:
            _record_text = record_text
        if stage_events is not None:
            _stage_events = stage_events
        _state = _UNSET


def stage_events() -> bool:
    """Whether turn stages are also recorded as span events (:func:`configure`)."""
    return _stage_events


def text_hash(text: str) -> str:
    """A 16-hex-digit SHA-256 prefix of ``text``: what a turn span records of the text (with its length)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
