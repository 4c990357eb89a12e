"""AkoolAvatarService in a real pipecat pipeline, against the embedded emulator (no network, no credentials).

Written from a pipecat user's side: the aggregator pair around a scripted LLM, and the context's full message list
checked in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from pipecat.frames.frames import (
    AggregatedTextFrame,
    BotSpeakingFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InterimTranscriptionFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    MetricsFrame,
    TextFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.metrics.metrics import ProcessingMetricsData, TTFBMetricsData, TTSUsageMetricsData
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.aggregators.llm_text_processor import LLMTextProcessor
from pipecat.transcriptions.language import Language
from pipecat.utils.text.base_text_aggregator import TextType

from streamclient.errors import InvalidTokenError
from tests.integrations.pipecat_harness import AVATAR, SYSTEM, Bot, Step, running_bot, speak_in_chunks, tokens

ANSWER = (
    "A streaming avatar is a digital human that speaks in real time. "
    "It starts with the first sentence while the rest is still being written. "
    "That makes a conversation feel quick."
)
SENTENCES = [
    "A streaming avatar is a digital human that speaks in real time.",
    " It starts with the first sentence while the rest is still being written.",
    " That makes a conversation feel quick.",
]
LONG_ANSWER = ANSWER + " It also lets you interrupt it whenever you like. And this part is never said."


def ours(bot: Bot, kind: type) -> list[Any]:
    """The metrics data of ``kind`` the AKOOL service reported (not the worker's initial zeros)."""
    data: list[Any] = [d for f in bot.recorder.of(MetricsFrame) for d in f.data if isinstance(d, kind)]
    return [d for d in data if d.processor == bot.akool.name and d.model is not None]


async def test_a_user_transcript_is_answered_through_the_avatar() -> None:
    async with running_bot([ANSWER]) as bot:
        room = await bot.room()
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.wait_turns(1)
        assert room.avatar is not None
        received = room.avatar.received_texts
        await bot.end()  # EndFrame: the session is closed before the pipeline finishes
        assert bot.emulator.open_session_count() == 0
    assert bot.messages() == [("system", SYSTEM), ("user", "What is a streaming avatar?"), ("assistant", ANSWER)]
    assert bot.turns == [(ANSWER, False)]
    assert received == SENTENCES  # each sentence its own message, sent as it was complete
    spoken = bot.recorder.of(TTSTextFrame)
    assert "".join(f.text for f in spoken) == ANSWER
    assert {f.text_type for f in spoken} == {TextType.SENTENCE}  # spoken pieces, not words
    assert not bot.recorder.of(LLMTextFrame)  # the LLM's text is consumed, like a TTS service does
    kinds = [type(f) for f in bot.recorder.frames]
    assert kinds.index(TTSStartedFrame) < kinds.index(TTSTextFrame) < kinds.index(TTSStoppedFrame)
    assert kinds.index(TTSStoppedFrame) < kinds.index(LLMFullResponseEndFrame)
    assert kinds.index(BotStartedSpeakingFrame) < kinds.index(BotStoppedSpeakingFrame)
    assert not bot.errors


# ---------------------------------------------------------------------------------------------- barge-in order


@pytest.mark.parametrize("strategies", ["recommended", "external", "default"])
async def test_after_a_barge_in_the_llm_sees_where_it_was_cut_transcript_at_once(strategies: str) -> None:
    async with running_bot(
        [LONG_ANSWER, "Sure, I stopped."], token_interval=0.03, speech_cps=150.0, strategies=strategies
    ) as bot:
        room = await bot.room()
        avatar = room.avatar
        assert avatar is not None
        await room.inject_user_speech("Tell me about streaming avatars.")
        await bot.emulator.wait_until(lambda: len(avatar.received_texts) >= 2, timeout=15)
        await room.inject_user_speech("Wait, stop!")  # the whole transcript at once, as AKOOL often sends it
        await bot.wait_turns(2)
        assert avatar.interrupted_count >= 1
    (cut, was_cut), second = bot.turns
    assert was_cut
    assert cut.startswith(SENTENCES[0].strip())  # what was spoken before the barge-in
    assert "never said" not in cut
    assert second == ("Sure, I stopped.", False)
    first_prompt = [("system", SYSTEM), ("user", "Tell me about streaming avatars.")]
    assert bot.llm.runs == [
        first_prompt,
        [*first_prompt, ("assistant", cut), ("user", "Wait, stop!")],  # the LLM knew where it was cut
    ]
    assert bot.messages() == [*first_prompt, ("assistant", cut), ("user", "Wait, stop!"), ("assistant", second[0])]
    assert bot.emulator.open_session_count() == 0


@pytest.mark.parametrize("strategies", ["recommended", "default"])
async def test_after_a_barge_in_the_llm_sees_where_it_was_cut_transcript_spread_out(strategies: str) -> None:
    async with running_bot(
        [LONG_ANSWER, "Sure, I stopped."], token_interval=0.03, speech_cps=150.0, strategies=strategies
    ) as bot:
        room = await bot.room()
        avatar = room.avatar
        assert avatar is not None
        await room.inject_user_speech("Tell me about streaming avatars.")
        await bot.emulator.wait_until(lambda: len(avatar.received_texts) >= 2, timeout=15)
        await speak_in_chunks(room, ["Wait, ", "please ", "stop!"], gap=0.25)
        await bot.wait_turns(2)
    (cut, was_cut), second = bot.turns
    assert was_cut
    assert "never said" not in cut
    first_prompt = [("system", SYSTEM), ("user", "Tell me about streaming avatars.")]
    assert bot.llm.runs[1] == [*first_prompt, ("assistant", cut), ("user", "Wait, please stop!")]
    assert bot.messages() == [
        *first_prompt,
        ("assistant", cut),
        ("user", "Wait, please stop!"),
        ("assistant", "Sure, I stopped."),
    ]
    assert second == ("Sure, I stopped.", False)


async def test_user_transcripts_carry_the_session_language() -> None:
    async with running_bot([ANSWER], create_options={"language": "en"}) as bot:
        room = await bot.room()
        await speak_in_chunks(room, ["Hello ", "there."], gap=0.05)
        await bot.wait_turns(1)
    interims = bot.tap.of(InterimTranscriptionFrame)
    finals = bot.tap.of(TranscriptionFrame)
    assert [f.text for f in interims] == ["Hello ", "Hello there."]
    assert [(f.text, f.language) for f in finals] == [("Hello there.", Language.EN)]
    assert {f.language for f in interims} == {Language.EN}
    assert bot.messages()[:2] == [("system", SYSTEM), ("user", "Hello there.")]


# ---------------------------------------------------------------------------------------------- cancel


async def test_cancel_while_waiting_for_the_avatar_closes_the_session_before_the_runner_returns() -> None:
    # The avatar takes longer to join than pipecat waits for a cancel (shortened from 20 s to keep the test fast).
    async with running_bot([ANSWER], join_delay=4.0, cancel_timeout=1.0) as bot:
        await bot.emulator.wait_until(lambda: bot.emulator.open_session_count() == 1)
        assert bot.akool.session is None  # still waiting for the avatar
        await bot.worker.cancel()
        assert bot.run is not None
        with anyio.fail_after(10):
            await bot.run
        assert bot.emulator.open_session_count() == 0  # the moment the runner returned
        assert not bot.errors


async def test_cancel_while_creating_closes_the_session_once_its_id_is_known() -> None:
    async with running_bot([ANSWER], join_delay=4.0, cancel_timeout=2.0) as bot:
        bot.emulator.state.delay_next("session/create", 0.5)
        # (the delay applies to the create that is about to be sent: the pipeline starts in the background)
        await bot.emulator.wait_until(lambda: bot.emulator.open_session_count() == 1)
        await bot.worker.cancel()
        assert bot.run is not None
        with anyio.fail_after(10):
            await bot.run
        assert bot.emulator.open_session_count() == 0


async def test_cancelling_the_pipeline_while_speaking_closes_the_session() -> None:
    async with running_bot([ANSWER], speech_cps=150.0, cancel_timeout=2.0) as bot:
        room = await bot.room()
        assert bot.akool.session is not None
        session_id = bot.akool.session.session_id
        assert session_id is not None
        await room.inject_user_speech("Say something long.")
        await bot.emulator.wait_until(lambda: bool(room.avatar and room.avatar.speaking))
        await bot.worker.cancel()
        assert bot.run is not None
        with anyio.fail_after(10):
            await bot.run
        assert bot.emulator.open_session_count() == 0
        listed = await bot.client.sessions.get(session_id)  # the emulator's REST state
    assert listed.status == 3
    assert bot.akool.session is None


# ---------------------------------------------------------------------------------------------- what is spoken


async def test_an_interjection_inside_a_reply_is_said_whole_between_the_replys_sentences() -> None:
    ready = asyncio.Event()
    script: list[Step] = [
        *tokens("Let me check. The answer is"),
        TTSSpeakFrame("One moment please."),
        ready,
        *tokens(" here."),
    ]
    async with running_bot([script]) as bot:
        room = await bot.room()
        avatar = room.avatar
        assert avatar is not None
        await room.inject_user_speech("Where is it?")
        await bot.emulator.wait_until(lambda: len(avatar.received_texts) >= 2)
        ready.set()  # the rest of the reply comes once the interjection was said
        await bot.wait_turns(1)
        received = avatar.received_texts
    assert received == ["Let me check.", "One moment please.", " The answer is here."]  # no sentence split
    said = "Let me check. One moment please. The answer is here."
    assert bot.messages() == [("system", SYSTEM), ("user", "Where is it?"), ("assistant", said)]  # as spoken


async def test_a_tts_speak_frame_outside_a_reply_is_spoken_and_recorded() -> None:
    async with running_bot([ANSWER]) as bot:
        room = await bot.room()
        await bot.worker.queue_frame(TTSSpeakFrame("Hello! How can I help you today?"))
        await bot.wait_turns(1)
        assert room.avatar is not None
        received = room.avatar.received_texts
    assert received == ["Hello! ", "How can I help you today?"]
    assert bot.turns == [("Hello! How can I help you today?", False)]
    assert bot.messages() == [("system", SYSTEM), ("assistant", "Hello! How can I help you today?")]


async def test_text_frames_of_a_langchain_style_reply_are_spoken_and_recorded() -> None:
    def text(token: str) -> TextFrame:
        frame = TextFrame(token)
        frame.includes_inter_frame_spaces = True  # as pipecat's LangChain processor sends them
        return frame

    async with running_bot([[text(t) for t in tokens(ANSWER)]]) as bot:
        room = await bot.room()
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.wait_turns(1)
        assert room.avatar is not None
        received = room.avatar.received_texts
    assert received == SENTENCES
    assert bot.messages() == [("system", SYSTEM), ("user", "What is a streaming avatar?"), ("assistant", ANSWER)]


async def test_aggregated_sentences_from_the_llm_text_processor_are_spoken_and_recorded() -> None:
    async with running_bot([ANSWER], middle=[LLMTextProcessor()]) as bot:
        room = await bot.room()
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.wait_turns(1)
        assert room.avatar is not None
        received = room.avatar.received_texts
        replies = room.avatar.replies
    assert [r.strip() for r in received] == [s.strip() for s in SENTENCES]
    assert "".join(replies).split() == ANSWER.split()
    assert bot.messages() == [("system", SYSTEM), ("user", "What is a streaming avatar?"), ("assistant", ANSWER)]
    assert not bot.recorder.of(AggregatedTextFrame) or all(
        isinstance(f, TTSTextFrame) for f in bot.recorder.of(AggregatedTextFrame)
    )  # nothing unspoken passes on to the context


async def test_end_frame_lets_the_avatar_finish_its_answer_before_closing() -> None:
    async with running_bot([ANSWER], speech_cps=300.0) as bot:
        room = await bot.room()
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.emulator.wait_until(lambda: bool(room.avatar and room.avatar.speaking))
        await bot.end()  # queued behind the LLM's answer; the service waits for the avatar to finish it
        assert room.avatar is not None
        received = room.avatar.received_texts
        replies = room.avatar.replies
    assert received == SENTENCES
    assert replies == SENTENCES  # every sentence spoken to the end
    assert bot.messages() == [("system", SYSTEM), ("user", "What is a streaming avatar?"), ("assistant", ANSWER)]
    assert bot.emulator.open_session_count() == 0


# ---------------------------------------------------------------------------------------------- pipecat conventions


async def test_metrics_go_through_pipecats_helpers_with_the_service_name_as_model() -> None:
    params = PipelineParams(enable_metrics=True, enable_usage_metrics=True)
    async with running_bot([ANSWER, "Fine."], params=params) as bot:
        room = await bot.room()
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.wait_turns(1)
        await room.inject_user_speech("Thanks.")
        await bot.wait_turns(2)
    model = f"akool/{AVATAR}"
    ttfb = ours(bot, TTFBMetricsData)
    assert len(ttfb) == 4  # per reply: to the first reply chunk and to audio_start
    assert all(d.model == model and d.value >= 0 for d in ttfb)
    processing = ours(bot, ProcessingMetricsData)
    assert len(processing) == 2
    assert all(d.model == model for d in processing)
    usage = ours(bot, TTSUsageMetricsData)
    assert [d.value for d in usage] == [len(ANSWER), len("Fine.")]


async def test_report_only_initial_ttfb_is_honoured() -> None:
    params = PipelineParams(enable_metrics=True, report_only_initial_ttfb=True)
    async with running_bot([ANSWER, "Fine."], params=params) as bot:
        room = await bot.room()
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.wait_turns(1)
        await room.inject_user_speech("Thanks.")
        await bot.wait_turns(2)
    assert len(ours(bot, TTFBMetricsData)) == 1


async def test_metrics_off_means_no_metrics() -> None:
    async with running_bot([ANSWER]) as bot:
        room = await bot.room()
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.wait_turns(1)
    assert not ours(bot, TTFBMetricsData)
    assert not ours(bot, ProcessingMetricsData)


async def test_bot_speaking_heartbeats_while_the_avatar_speaks() -> None:
    async with running_bot([ANSWER], speech_cps=200.0) as bot:  # about a second of speech
        room = await bot.room()
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.wait_turns(1)
    kinds = [type(f) for f in bot.recorder.frames]
    started, stopped = kinds.index(BotStartedSpeakingFrame), kinds.index(BotStoppedSpeakingFrame)
    beats = [k for k in kinds[started:stopped] if k is BotSpeakingFrame]
    assert len(beats) >= 2
    assert BotSpeakingFrame not in kinds[stopped:]


# ---------------------------------------------------------------------------------------------- errors


async def test_a_failed_session_create_is_an_error_frame() -> None:
    async with running_bot([ANSWER], api_key="wrong-key") as bot:
        with anyio.fail_after(20):
            await bot.error_seen.wait()
    assert len(bot.errors) == 1
    error = bot.errors[0]
    assert "could not be started" in error.error
    assert isinstance(error.exception, InvalidTokenError)
    assert "wrong-key" not in error.error
    assert bot.emulator.open_session_count() == 0


async def test_a_session_that_ends_on_its_own_is_an_error_frame() -> None:
    async with running_bot([ANSWER], duration=1) as bot:
        with anyio.fail_after(20):
            await bot.error_seen.wait()
        assert bot.akool.session is None
    # (the emulator ends it at its duration; the session sees the room close, or its own timer, first)
    assert [e.error for e in bot.errors] in (
        ["the AKOOL session ended (expired)"],
        ["the AKOOL session ended (disconnected)"],
    )
    assert bot.emulator.open_session_count() == 0
