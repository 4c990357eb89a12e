"""Every span, attribute and metric name of streamclient's telemetry, in one place (docs/observability.md shows it).

Names follow OpenTelemetry's semantic-convention style: one prefix (``streamclient.``), dot-separated namespaces,
UCUM units (``s``, ``By``, ``{session}``), standard attributes where one exists (``error.type``,
``network.io.direction``, ``http.request.method``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ("EMULATOR_METRICS", "INSTRUMENTATION_SCOPE", "METRICS", "SPANS", "Attr", "MetricSpec", "Span")

INSTRUMENTATION_SCOPE = "streamclient"


class Span:
    """Span names."""

    SESSION = "streamclient.session"
    CREATE = "streamclient.session.create"
    JOIN = "streamclient.session.join"
    TURN_SAY = "streamclient.turn say"
    TURN_STREAM = "streamclient.turn say_stream"
    COMMAND = "streamclient.command"  # + " <cmd>": "streamclient.command set-params"
    RECONNECT = "streamclient.session.reconnect"
    SWEEP = "streamclient.sweep"


class Attr:
    """Attribute names (never a token, a key or user text: lengths and hashes, unless text recording is on)."""

    SESSION_ID = "streamclient.session.id"
    AVATAR_ID = "streamclient.avatar.id"
    TRANSPORT = "streamclient.transport"
    DURATION = "streamclient.session.billed_duration"
    CLOSE_REASON = "streamclient.session.close_reason"
    CLOSE_ERROR = "streamclient.session.close_error"
    ATTACHED = "streamclient.session.attached"
    TURNS = "streamclient.session.turns"
    MESSAGE_ID = "streamclient.message.id"
    TEXT_LENGTH = "streamclient.turn.text.length"
    TEXT_HASH = "streamclient.turn.text.sha256"
    TEXT = "streamclient.turn.text"
    REPLY_LENGTH = "streamclient.turn.reply.length"
    REPLY = "streamclient.turn.reply"
    FRAMES = "streamclient.turn.frames"
    PIECES = "streamclient.turn.pieces"
    INTERRUPTED = "streamclient.turn.interrupted"
    INCOMPLETE = "streamclient.turn.incomplete"
    OUTCOME = "streamclient.turn.outcome"
    SENT = "streamclient.turn.sent"
    FIRST_CHUNK = "streamclient.turn.first_chunk"
    AUDIO_START = "streamclient.turn.audio_start"
    AUDIO_END = "streamclient.turn.audio_end"
    COMMAND = "streamclient.command.name"
    ACK_CODE = "streamclient.command.ack_code"
    RECONNECT_OUTCOME = "streamclient.reconnect.outcome"
    CONNECTION_REASON = "streamclient.connection.reason"
    BUDGET_LIMIT = "streamclient.budget.limit"
    SWEEP_DRY_RUN = "streamclient.sweep.dry_run"
    SWEEP_FOUND = "streamclient.sweep.found"
    SWEEP_CLOSED = "streamclient.sweep.closed"
    SWEEP_OUTCOME = "streamclient.sweep.outcome"
    REFUSAL_CODE = "streamclient.emulator.refusal.code"
    ERROR_TYPE = "error.type"
    DIRECTION = "network.io.direction"
    HTTP_METHOD = "http.request.method"


#: The stages of a turn. The span starts when the turn was queued; the others are attributes of the turn span, in
#: seconds after its start (``Attr.SENT`` ...); also span events with ``configure(stage_events=True)``.
TURN_EVENTS = ("queued", "sent", "first_chunk", "audio_start", "audio_end")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One instrument: its name, kind, unit, attributes and meaning."""

    name: str
    kind: str  # counter | updown_counter | histogram | observable_counter
    unit: str
    attributes: tuple[str, ...]
    description: str


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("streamclient.sessions.open", "updown_counter", "{session}", (), "Sessions open now (billing)."),
        MetricSpec("streamclient.sessions.created", "counter", "{session}", (), "Sessions created through the API."),
        MetricSpec(
            "streamclient.sessions.closed",
            "counter",
            "{session}",
            (Attr.CLOSE_REASON,),
            "Sessions ended, by reason (also attached ones, and those whose create failed: reason error).",
        ),
        MetricSpec(
            "streamclient.sessions.billed_duration",
            "counter",
            "s",
            (),
            "Seconds of session duration asked for at create (AKOOL charges the duration up front).",
        ),
        MetricSpec(
            "streamclient.turns", "observable_counter", "{turn}", (Attr.OUTCOME,), "Turns resolved, by outcome."
        ),
        MetricSpec(
            "streamclient.turn.first_chunk.latency",
            "histogram",
            "s",
            (),
            "From a turn's last frame sent to the first chunk of its reply.",
        ),
        MetricSpec(
            "streamclient.turn.audio_start.latency",
            "histogram",
            "s",
            (),
            "From a turn's last frame sent to the avatar's audio_start.",
        ),
        MetricSpec("streamclient.interrupts", "observable_counter", "{interrupt}", (), "Interrupts sent."),
        MetricSpec(
            "streamclient.replies.incomplete",
            "observable_counter",
            "{message}",
            (),
            "Received messages that never completed (chunks lost, or cut by an interrupt).",
        ),
        MetricSpec(
            "streamclient.commands",
            "counter",
            "{command}",
            (Attr.COMMAND, Attr.ACK_CODE, Attr.ERROR_TYPE),
            "Commands answered (ack code) or failed (error type); refused ones carry their non-1000 code.",
        ),
        MetricSpec(
            "streamclient.frames",
            "observable_counter",
            "{frame}",
            (Attr.DIRECTION,),
            "Data-stream frames sent (transmit) and received (receive).",
        ),
        MetricSpec(
            "streamclient.io",
            "observable_counter",
            "By",
            (Attr.DIRECTION,),
            "Data-stream bytes sent (transmit) and received (receive).",
        ),
        MetricSpec(
            "streamclient.frames.rejected",
            "observable_counter",
            "{frame}",
            (),
            "Received frames refused by the codec (malformed, oversized, ...).",
        ),
        MetricSpec(
            "streamclient.send.retries",
            "observable_counter",
            "{retry}",
            (),
            "Frame sends retried after the channel's rate limit refused them.",
        ),
        MetricSpec(
            "streamclient.send.failures",
            "observable_counter",
            "{frame}",
            (),
            "Frame sends that failed for good.",
        ),
        MetricSpec(
            "streamclient.api.retries",
            "counter",
            "{retry}",
            (Attr.HTTP_METHOD, Attr.ERROR_TYPE),
            "REST requests retried (rate limit, 5xx, network), by method and error class.",
        ),
        MetricSpec(
            "streamclient.reconnects",
            "counter",
            "{reconnect}",
            (Attr.RECONNECT_OUTCOME,),
            "Channel reconnects (the transport's SDK lost the connection and retried), by outcome.",
        ),
        MetricSpec(
            "streamclient.budget.refusals",
            "counter",
            "{create}",
            (Attr.BUDGET_LIMIT,),
            "Session creates refused before the network by a budget limit, by limit.",
        ),
        MetricSpec(
            "streamclient.sweeps",
            "counter",
            "{sweep}",
            (Attr.SWEEP_DRY_RUN, Attr.ERROR_TYPE),
            "Sweeps run (dry runs too), and those that failed (error type).",
        ),
        MetricSpec(
            "streamclient.sweep.sessions",
            "counter",
            "{session}",
            (Attr.SWEEP_OUTCOME,),
            "Sessions a sweep closed, found already closed, or failed to close.",
        ),
        MetricSpec(
            "streamclient.ledger.lease.renewals",
            "counter",
            "{renewal}",
            (),
            "Renewals of this process's lease on the fleet ledger (PostgreSQL).",
        ),
        MetricSpec(
            "streamclient.ledger.lease.lapses",
            "counter",
            "{lapse}",
            (),
            "Renewals that found the lease lapsed (the process was paused or cut off: its sessions may be swept).",
        ),
    )
}

SPANS: dict[str, str] = {
    Span.SESSION: "The session's life: create, join, avatar ready, close (close reason, billed duration).",
    Span.CREATE: "The create request (child of the session).",
    Span.JOIN: "Joining the channel (child of the session).",
    Span.TURN_SAY: "One say/ask: characters, frames, interrupted, incomplete, outcome; its stages as attributes.",
    Span.TURN_STREAM: "One say_stream answer: characters, pieces, frames, interrupted; its stages as attributes.",
    Span.COMMAND + " <cmd>": "One command and its ack: set-params, set-action, interrupt (ack code).",
    Span.RECONNECT: "The channel lost and retried by the transport's SDK, until connected again, failed or closed.",
    Span.SWEEP: "One sweep (dry run or closing): sessions found and closed.",
}

#: The emulator's own view (``streamclient emulator`` with the ``OTEL_*`` variables set), by what it reads.
EMULATOR_METRICS: dict[str, MetricSpec] = {
    "rooms": MetricSpec(
        "streamclient.emulator.rooms.open", "observable_updown_counter", "{room}", (), "Rooms open in the emulator."
    ),
    "sessions": MetricSpec(
        "streamclient.emulator.sessions.open",
        "observable_updown_counter",
        "{session}",
        (),
        "Emulated sessions neither closed nor expired.",
    ),
    "refused": MetricSpec(
        "streamclient.emulator.frames.refused",
        "observable_counter",
        "{frame}",
        (Attr.REFUSAL_CODE,),
        "Frames the emulated channel refused (rate limits, not in the channel), by the SDK-style code.",
    ),
    "dropped": MetricSpec(
        "streamclient.emulator.frames.dropped",
        "observable_counter",
        "{frame}",
        (),
        "Frames dropped by the emulator's fault injection.",
    ),
    "billed": MetricSpec(
        "streamclient.emulator.billed_duration", "observable_counter", "s", (), "Seconds billed by the emulator."
    ),
}
