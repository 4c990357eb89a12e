"""A scripted conversation against the emulator, recorded by the real OpenTelemetry SDK (no mocks)."""

from __future__ import annotations

import hashlib
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import ReadableSpan

from streamclient.api import AsyncAkoolClient
from streamclient.emulator import Emulator, EmulatorConfig, Fault, FaultPlan
from streamclient.errors import CommandError
from streamclient.session import SessionOptions, connect
from streamclient.session.events import ConnectionChanged
from tests.telemetry.conftest import Otel

AVATAR = "dvp_Tristan_cloth2_1080P"
OPTIONS = SessionOptions(avatar_join_timeout=5, reply_timeout=10, command_timeout=5, close_timeout=5, message_timeout=1)
FIRST = "The first turn is short."
SECOND = "The second turn loses a chunk of its reply on the way back. " * 5
THIRD = "The third turn is long and gets interrupted while the avatar speaks it. " * 30
# Frames to the client: 0-2 are turn 1 (audio_start, its one chunk, audio_end); 3 is turn 2's audio_start and 4, 5,
# ... its reply chunks: dropping 5 loses the reply's second chunk.
LOST = FaultPlan(script={5: Fault.DROP})


async def scripted_conversation() -> None:
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0, faults_to_client=LOST)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            first = await session.say(FIRST)
            assert first.reply == FIRST
            second = await session.say(SECOND)
            assert second.incomplete
            third = session.say(THIRD)
            assert await third.wait_reply_started(timeout=10)
            await session.interrupt()
            assert (await third).interrupted
            with pytest.raises(CommandError):
                await session.set_params(language="xx-unknown")
        assert emu.open_session_count() == 0


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


async def test_a_scripted_conversation_yields_the_span_tree_and_the_metrics(otel: Otel) -> None:
    await scripted_conversation()
    spans = otel.finished()
    session = _one(spans, "streamclient.session")
    assert session.parent is None
    attrs = dict(session.attributes or {})
    assert attrs["streamclient.session.close_reason"] == "closed"
    assert attrs["streamclient.session.billed_duration"] == 60.0
    assert attrs["streamclient.session.turns"] == 3
    assert str(attrs["streamclient.session.id"])
    assert {"joined", "avatar_ready"} <= {e.name for e in session.events}

    def children(name: str) -> list[ReadableSpan]:
        return [s for s in spans if s.name == name and s.parent is not None]

    session_id = session.context.span_id
    for name in ("streamclient.session.create", "streamclient.session.join"):
        (child,) = children(name)
        assert child.parent is not None
        assert child.parent.span_id == session_id
    turns = sorted(children("streamclient.turn say"), key=lambda s: s.start_time or 0)
    assert [t.parent.span_id for t in turns if t.parent is not None] == [session_id] * 3
    outcomes = [(t.attributes or {})["streamclient.turn.outcome"] for t in turns]
    assert outcomes == ["completed", "incomplete", "interrupted"]
    first, second, third = (dict(t.attributes or {}) for t in turns)
    assert first["streamclient.turn.text.length"] == len(FIRST)
    assert first["streamclient.turn.frames"] == 1
    assert second["streamclient.turn.incomplete"] is True
    assert third["streamclient.turn.interrupted"] is True
    # A flag that did not happen is absent (false; the outcome says it too): two attributes fewer on most turns.
    assert "streamclient.turn.interrupted" not in first
    assert "streamclient.turn.incomplete" not in first
    assert "streamclient.turn.interrupted" not in second
    assert first["streamclient.turn.text.sha256"] == hashlib.sha256(FIRST.encode()).hexdigest()[:16]
    assert first["streamclient.turn.reply.length"] == len(FIRST)
    assert int(str(third["streamclient.turn.frames"])) > 1
    assert not turns[0].events  # the stages are attributes (events only with stage_events=True)
    raw = [first[f"streamclient.turn.{stage}"] for stage in ("sent", "first_chunk", "audio_start", "audio_end")]
    assert all(isinstance(at, float) for at in raw), raw
    stages = [float(str(at)) for at in raw]
    assert min(stages) >= 0, stages
    assert stages[0] <= min(stages[1], stages[2]) <= stages[3]  # seconds after queued (the span's start), in order
    assert turns[0].end_time is not None
    assert turns[0].start_time is not None
    assert stages[3] * 1e9 <= turns[0].end_time - turns[0].start_time + 1000  # within the span

    (interrupt,) = children("streamclient.command interrupt")
    assert (interrupt.attributes or {})["streamclient.command.ack_code"] == 1000
    (refused,) = children("streamclient.command set-params")
    refused_attrs = dict(refused.attributes or {})
    assert refused_attrs["streamclient.command.ack_code"] == 1003
    assert refused_attrs["error.type"] == "CommandError"
    assert refused.status.status_code.name == "ERROR"
    assert all(s.parent is not None and s.parent.span_id == session_id for s in (interrupt, refused))

    points = otel.metric_points()
    assert points["streamclient.sessions.created"] == [({}, 1)]
    assert points["streamclient.sessions.open"] == [({}, 0)]
    assert points["streamclient.sessions.closed"] == [({"streamclient.session.close_reason": "closed"}, 1)]
    assert points["streamclient.sessions.billed_duration"] == [({}, 60.0)]
    turns_by_outcome = {str(a["streamclient.turn.outcome"]): v for a, v in points["streamclient.turns"]}
    assert turns_by_outcome == {"completed": 1, "incomplete": 1, "interrupted": 1}
    assert points["streamclient.interrupts"] == [({}, 1)]
    assert points["streamclient.replies.incomplete"][0][1] >= 1  # type: ignore[operator]
    commands = {
        (a["streamclient.command.name"], a["streamclient.command.ack_code"]): v
        for a, v in points["streamclient.commands"]
    }
    assert commands == {("interrupt", 1000): 1, ("set-params", 1003): 1}
    assert points["streamclient.turn.first_chunk.latency"][0][1] == 3  # a count: every turn got a first chunk
    frames = {a["network.io.direction"]: v for a, v in points["streamclient.frames"]}
    assert frames["transmit"] > 3  # type: ignore[operator]
    assert frames["receive"] > 5  # type: ignore[operator]
    io = {a["network.io.direction"]: v for a, v in points["streamclient.io"]}
    assert io["transmit"] > len(THIRD)  # type: ignore[operator]


async def test_nothing_secret_or_said_is_exported(otel: Otel) -> None:
    await scripted_conversation()
    secrets = ("token", "key", "secret", "password", "credential")
    said = {FIRST, SECOND, THIRD, FIRST.split()[1], "interrupted while"}
    for span in otel.finished():
        everything = dict(span.attributes or {})
        for event in span.events:
            everything.update({f"{event.name}.{k}": v for k, v in (event.attributes or {}).items()})
        for name, value in everything.items():
            assert not any(word in name.lower() for word in secrets), name
            text = str(value)
            assert not any(s in text for s in said), (span.name, name)
            assert len(text) < 80, (span.name, name)  # ids, numbers, names, hash prefixes: never a token or a text


async def test_text_is_recorded_only_when_the_user_opts_in(otel: Otel) -> None:
    from streamclient import telemetry

    telemetry.configure(tracer_provider=otel.tracer_provider, record_text=True)
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            await session.say(FIRST)
    (turn,) = [s for s in otel.finished() if s.name == "streamclient.turn say"]
    assert (turn.attributes or {})["streamclient.turn.text"] == FIRST
    assert (turn.attributes or {})["streamclient.turn.reply"] == FIRST


async def test_a_turn_belongs_to_the_span_current_when_it_was_queued(otel: Otel) -> None:
    """What pipecat's tracing relies on: a span newer than the session's is current, the turn is its child."""
    tracer = otel.tracer_provider.get_tracer("app")
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            with tracer.start_as_current_span("llm turn") as outer:
                with anyio.fail_after(10):
                    await session.say(FIRST)
    spans = otel.finished()
    turn = _one(spans, "streamclient.turn say")
    session_span = _one(spans, "streamclient.session")
    assert turn.parent is not None
    assert turn.parent.span_id == outer.get_span_context().span_id
    assert [link.context.span_id for link in turn.links] == [session_span.context.span_id]


async def test_with_pipecat_tracing_the_avatar_turn_is_a_child_of_pipecats_turn_span(otel: Otel) -> None:
    """pipecat hands its services a TracingContext whose turn context is the current turn's span (a real one here)."""
    tracing_context = pytest.importorskip("pipecat.utils.tracing.tracing_context")  # pipecat needs Python >= 3.11
    from streamclient import telemetry

    class Service:  # what the avatar service is to pipecat: an AIService with its _tracing_context set at start
        _tracing_context = tracing_context.TracingContext()

    service = Service()
    pipecat_turn = otel.tracer_provider.get_tracer("pipecat").start_span("turn")
    service._tracing_context.set_turn_context(pipecat_turn.get_span_context())
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            with telemetry.turn_context(service):
                turn = session.say(FIRST)
            with anyio.fail_after(10):
                await turn
    pipecat_turn.end()
    spans = otel.finished()
    avatar_turn = _one(spans, "streamclient.turn say")
    assert avatar_turn.parent is not None
    assert avatar_turn.parent.span_id == pipecat_turn.get_span_context().span_id
    assert avatar_turn.context.trace_id == pipecat_turn.get_span_context().trace_id


async def test_a_refused_create_is_recorded_with_its_typed_class(otel: Otel) -> None:
    from streamclient.errors import StreamClientError

    config = EmulatorConfig(avatar_join_delay=0.05)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        with pytest.raises(StreamClientError) as refused:
            async with connect(client, avatar_id="no-such-avatar", mode_type=1, duration=60, options=OPTIONS):
                pass
    spans = otel.finished()
    create = _one(spans, "streamclient.session.create")
    session = _one(spans, "streamclient.session")
    for span in (create, session):
        assert (span.attributes or {})["error.type"] == type(refused.value).__name__
        assert span.status.status_code.name == "ERROR"
    assert (session.attributes or {})["streamclient.session.close_reason"] == "error"
    points = otel.metric_points()
    assert "streamclient.sessions.created" not in points or points["streamclient.sessions.created"] == [({}, 0)]
    assert points["streamclient.sessions.closed"] == [({"streamclient.session.close_reason": "error"}, 1)]


async def test_stage_events_on_request_are_the_stages_at_their_times(otel: Otel) -> None:
    from streamclient import telemetry

    telemetry.configure(tracer_provider=otel.tracer_provider, stage_events=True)
    try:
        config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0)
        async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
                await session.say(FIRST)
    finally:
        telemetry.configure(stage_events=False)
    turn = _one(otel.finished(), "streamclient.turn say")
    names = [e.name for e in turn.events]
    assert names[:2] == ["queued", "sent"], names
    assert names[-1] == "audio_end", names
    assert set(names) == {"queued", "sent", "first_chunk", "audio_start", "audio_end"}
    times = [e.timestamp for e in turn.events]
    assert times == sorted(times)
    assert times[0] == turn.start_time


async def test_a_reconnect_of_the_transport_is_a_span_and_is_counted(otel: Otel) -> None:
    """The library has no reconnect of its own: the transport's SDK reconnects, and says so (ConnectionChanged)."""
    from streamclient.transport.base import ConnectionState, ConnectionStateChanged

    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            events = session.events()
            transport: Any = session.transport
            for state in (ConnectionState.RECONNECTING, ConnectionState.CONNECTED, ConnectionState.RECONNECTING):
                transport._post(ConnectionStateChanged(state, 0))  # what the Agora SDK's callbacks post
            with anyio.fail_after(10):
                seen = 0
                async for event in events:
                    seen += isinstance(event, ConnectionChanged)
                    if seen == 3:
                        break
    reconnects = sorted(
        (s for s in otel.finished() if s.name == "streamclient.session.reconnect"), key=lambda s: s.start_time or 0
    )
    session_span = _one(otel.finished(), "streamclient.session")
    outcomes = [(s.attributes or {})["streamclient.reconnect.outcome"] for s in reconnects]
    assert outcomes == ["reconnected", "disconnected"]  # the second: still reconnecting when the session left
    assert all(s.parent is not None and s.parent.span_id == session_span.context.span_id for s in reconnects)
    assert [s.status.status_code.name for s in reconnects] == ["UNSET", "UNSET"]
    counted = {str(a["streamclient.reconnect.outcome"]): v for a, v in otel.metric_points()["streamclient.reconnects"]}
    assert counted == {"reconnected": 1, "disconnected": 1}


async def test_a_session_not_sampled_makes_no_turn_spans_and_its_turns_still_count(otel: Otel) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    from streamclient import telemetry

    unsampled = TracerProvider(sampler=ALWAYS_OFF)
    unsampled.add_span_processor(SimpleSpanProcessor(otel.spans))
    telemetry.configure(tracer_provider=unsampled, meter_provider=otel.metrics_provider)
    config = EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=3000.0)
    async with Emulator(config) as emu, AsyncAkoolClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        async with connect(client, avatar_id=AVATAR, mode_type=1, duration=60, options=OPTIONS) as session:
            await session.say(FIRST)
            await session.say(FIRST)
    assert otel.finished() == []
    assert otel.metric_points()["streamclient.turns"] == [({"streamclient.turn.outcome": "completed"}, 2)]
