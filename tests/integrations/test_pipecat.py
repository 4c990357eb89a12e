"""AkoolAvatarService in a real pipecat pipeline, against the embedded emulator (no network, no credentials)."""

from __future__ import annotations

import anyio
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    MetricsFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData

from streamclient.emulator.avatar_room import AvatarRoom
from streamclient.errors import InvalidTokenError
from tests.integrations.pipecat_harness import Bot, running_bot, tokens

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


async def open_room(bot: Bot) -> AvatarRoom:
    """The emulator room of the bot's session, once the avatar is in it."""
    await bot.emulator.wait_until(lambda: bot.akool.session is not None and bot.akool.session.avatar_uid is not None)
    session = bot.akool.session
    assert session is not None
    assert session.session_id is not None
    room = bot.emulator.room_for(session.session_id)
    assert room is not None
    return room


async def test_a_user_transcript_is_answered_through_the_avatar() -> None:
    async with running_bot([ANSWER], metrics=True) as bot:
        room = await open_room(bot)
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.wait_turns(1)
        assert room.avatar is not None
        received = room.avatar.received_texts
        await bot.end()  # EndFrame: the session is closed before the pipeline finishes
        assert bot.emulator.open_session_count() == 0
    assert bot.llm.prompts == ["What is a streaming avatar?"]  # the transcript reached the LLM through the context
    assert bot.messages("user") == ["What is a streaming avatar?"]
    assert bot.turns == [(ANSWER, False)]
    assert bot.messages("assistant") == [ANSWER]  # what the avatar spoke back, recorded in the context
    assert received == SENTENCES  # each sentence its own message, sent as it was complete
    spoken = "".join(f.text for f in bot.recorder.of(TTSTextFrame))
    assert spoken == ANSWER
    assert not bot.recorder.of(LLMTextFrame)  # the LLM's text is consumed, like a TTS service does
    kinds = [type(f) for f in bot.recorder.frames]
    assert kinds.index(TTSStartedFrame) < kinds.index(TTSTextFrame) < kinds.index(TTSStoppedFrame)
    assert kinds.index(TTSStoppedFrame) < kinds.index(LLMFullResponseEndFrame)
    assert kinds.index(BotStartedSpeakingFrame) < kinds.index(BotStoppedSpeakingFrame)
    ttfb = [d for f in bot.recorder.of(MetricsFrame) for d in f.data if isinstance(d, TTFBMetricsData)]
    ours = [d for d in ttfb if d.processor == bot.akool.name and d.model is not None]  # (pipecat reports 0s at start)
    assert sorted(str(d.model) for d in ours) == ["audio_start", "first_chunk"]  # one reply: one of each
    assert all(d.value >= 0 for d in ours)
    assert bot.emulator.open_session_count() == 0
    assert not bot.errors


async def test_barge_in_interrupts_the_avatar_and_the_context_keeps_the_cut_text() -> None:
    long_answer = ANSWER + " It also lets you interrupt it whenever you like. And this part is never said."
    async with running_bot([long_answer, "Sure, I stopped."], token_interval=0.03, speech_cps=150.0) as bot:
        room = await open_room(bot)
        await room.inject_user_speech("Tell me about streaming avatars.")
        avatar = room.avatar
        await bot.emulator.wait_until(lambda: avatar is not None and len(avatar.received_texts) >= 2, timeout=15)
        await room.inject_user_speech("Wait, stop!")
        await bot.wait_turns(2)
        assert avatar is not None
        interrupted_count = avatar.interrupted_count
    (first, first_cut), (second, second_cut) = bot.turns
    assert first_cut
    assert first.startswith(SENTENCES[0])  # what was spoken before the barge-in is in the context
    assert "never said" not in first  # and nothing after the cut
    assert len(first) < len(long_answer)
    assert bot.llm.tokens_sent < len(tokens(long_answer)) + len(tokens(second))  # the first answer was cut short
    assert (second, second_cut) == ("Sure, I stopped.", False)
    assert bot.messages("user") == ["Tell me about streaming avatars.", "Wait, stop!"]
    assert bot.messages("assistant") == [first, "Sure, I stopped."]
    assert interrupted_count >= 1
    assert bot.emulator.open_session_count() == 0


async def test_cancelling_the_pipeline_closes_the_session() -> None:
    async with running_bot([ANSWER]) as bot:
        room = await open_room(bot)
        assert bot.akool.session is not None
        session_id = bot.akool.session.session_id
        assert session_id is not None
        assert bot.emulator.open_session_count() == 1
        await room.inject_user_speech("Say something long.")
        await bot.emulator.wait_until(lambda: bool(room.avatar and room.avatar.speaking))
        await bot.worker.cancel()
        assert bot.run is not None
        with anyio.fail_after(30):
            await bot.run  # the pipeline has finished: the CancelFrame passed the service once the session closed
        assert bot.emulator.open_session_count() == 0
        listed = await bot.client.sessions.get(session_id)  # the emulator's REST state
    assert listed.status == 3
    assert bot.akool.session is None


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


async def test_end_frame_lets_the_avatar_finish_its_answer_before_closing() -> None:
    async with running_bot([ANSWER], speech_cps=300.0) as bot:
        room = await open_room(bot)
        await room.inject_user_speech("What is a streaming avatar?")
        await bot.emulator.wait_until(lambda: bool(room.avatar and room.avatar.speaking))
        await bot.end()  # queued behind the LLM's answer; the service waits for the avatar to finish it
        assert room.avatar is not None
        received = room.avatar.received_texts
        replies = room.avatar.replies
    assert received == SENTENCES
    assert replies == SENTENCES  # every sentence spoken to the end
    assert bot.turns == [(ANSWER, False)]
    assert bot.emulator.open_session_count() == 0


async def test_a_tts_speak_frame_is_spoken_and_recorded() -> None:
    async with running_bot([ANSWER]) as bot:
        room = await open_room(bot)
        await bot.worker.queue_frame(TTSSpeakFrame("Hello! How can I help you today?"))
        await bot.wait_turns(1)
        assert room.avatar is not None
        received = room.avatar.received_texts
    assert received == ["Hello! ", "How can I help you today?"]
    assert bot.turns == [("Hello! How can I help you today?", False)]
    assert bot.messages("assistant") == ["Hello! How can I help you today?"]


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
