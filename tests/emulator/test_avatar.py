"""The scripted avatar, end to end over loopback: REST create -> RoomTransport -> room -> avatar."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from streamclient.codec.commands import interrupt, set_action, set_params
from streamclient.codec.events import ChatDelta, ChatMessage
from streamclient.codec.frames import CommandFrame
from streamclient.emulator import Emulator, SessionInfo

from .emulator_harness import client_peer, fast_config


@pytest.mark.parametrize("reply_mid", ["request", "fresh"])
async def test_mode_1_retells_the_text_under_the_configured_mid(reply_mid: str) -> None:
    async with Emulator(fast_config(reply_mid=reply_mid)) as emu, client_peer(emu, mode_type=1) as peer:
        text = "Hello there. This is a retelling test with several sentences! Does it work? Yes."
        mid = await peer.say(text)
        await peer.wait_for(lambda: len(peer.messages()) == 1 and "audio_end" in peer.avatar_events())
        [reply] = peer.messages()
        assert reply.text == text
        assert (reply.mid == mid) is (reply_mid == "request")  # the docs' examples reuse it (the default)
        assert reply.chunks > 1  # released unit by unit as it is spoken
        assert peer.avatar_events() == ["audio_start", "audio_end"]
        avatar = peer.room.avatar
        assert avatar is not None
        assert avatar.received_texts == [text]
        assert avatar.replies == [text]
        assert not avatar.speaking


async def test_mode_2_default_responder_is_deterministic() -> None:
    async with Emulator(fast_config()) as emu, client_peer(emu, mode_type=2) as peer:
        await peer.say("What is the weather?")
        await peer.wait_for(lambda: len(peer.messages()) == 1)
        assert peer.messages()[0].text == "You said: What is the weather?"
        long_question = "Why " + "is the sky blue and the grass green " * 4 + "?"
        await peer.say(long_question)
        await peer.wait_for(lambda: len(peer.messages()) == 2)
        assert peer.messages()[1].text.startswith("You said: Why")
        assert "turn 2" in peer.messages()[1].text


async def test_mode_2_custom_streaming_responder() -> None:
    seen: list[SessionInfo] = []

    async def responder(text: str, info: SessionInfo) -> AsyncIterator[str]:
        seen.append(info)
        for word in ("Echo", ": ", text.upper()):
            yield word

    async with Emulator(fast_config(responder=responder)) as emu, client_peer(emu) as peer:
        await peer.say("ping")
        await peer.wait_for(lambda: len(peer.messages()) == 1)
        assert peer.messages()[0].text == "Echo: PING"
        assert seen[0].mode == 2
        assert seen[0].session_id == peer.session_id


async def test_reply_speaking_time_is_proportional_to_length() -> None:
    config = fast_config(speech_chars_per_second=200.0)
    async with Emulator(config) as emu, client_peer(emu, mode_type=1) as peer:
        text = "a" * 40 + " " + "b" * 39  # 80 chars -> 0.4 s of speech
        start = anyio.current_time()
        await peer.say(text)
        await peer.wait_for(lambda: "audio_end" in peer.avatar_events())
        assert anyio.current_time() - start >= 0.35


async def test_replies_queue_behind_the_current_one() -> None:
    async with Emulator(fast_config(speech_chars_per_second=400.0)) as emu, client_peer(emu, mode_type=1) as peer:
        await peer.say("first reply " * 5)
        await peer.say("second")
        await peer.wait_for(lambda: len(peer.messages()) == 2 and len(peer.avatar_events()) == 4)
        assert [m.text for m in peer.messages()] == ["first reply " * 5, "second"]
        assert peer.avatar_events() == ["audio_start", "audio_end", "audio_start", "audio_end"]


async def test_interrupt_stops_the_reply_mid_way_without_fin() -> None:
    async with Emulator(fast_config(speech_chars_per_second=100.0, reply_chunk_chars=10)) as emu:
        async with client_peer(emu, mode_type=1) as peer:
            avatar = peer.room.avatar
            assert avatar is not None
            await peer.say("one two three four five six seven eight nine ten eleven twelve thirteen")
            await peer.wait_for(lambda: any(isinstance(e, ChatDelta) for e in peer.events))
            mid = await peer.command(interrupt())
            ack = await peer.ack(mid)
            assert (ack.code, ack.cmd) == (1000, "interrupt")
            await peer.wait_for(lambda: "audio_end" in peer.avatar_events() and not avatar.speaking)
            assert avatar.interrupted_count == 1
            assert avatar.replies == []
            assert peer.messages() == []  # no fin frame: the cut reply never completes
            reply_mid = avatar.reply_mids[0]
            frames_after = len([e for e in peer.events if isinstance(e, ChatDelta) and e.mid == reply_mid])
            # the avatar keeps working afterwards, and nothing more came for the cut reply
            await peer.say("again")
            await peer.wait_for(lambda: len(peer.messages()) == 1)
            assert peer.messages()[0].text == "again"
            assert frames_after == len([e for e in peer.events if isinstance(e, ChatDelta) and e.mid == reply_mid])


async def test_interrupt_when_idle_is_acked() -> None:
    async with Emulator(fast_config()) as emu, client_peer(emu) as peer:
        ack = await peer.ack(await peer.command(interrupt()))
        assert ack.ok


async def test_set_params_validated_acked_and_applied() -> None:
    async with Emulator(fast_config()) as emu, client_peer(emu, mode_type=2) as peer:
        avatar = peer.room.avatar
        assert avatar is not None
        ok = await peer.ack(
            await peer.command(set_params(mode=1, language="es", voice_id="emu_voice_lucia", speed=1.1))
        )
        assert (ok.code, ok.msg) == (1000, "OK")
        assert (avatar.mode, avatar.language, avatar.voice_id, avatar.speed) == (1, "es", "emu_voice_lucia", 1.1)
        listed = await peer.ack(await peer.command(set_params(language="af-ZA")))  # a code as the list gives it
        assert (listed.code, avatar.language) == (1000, "af-ZA")
        bad = [
            CommandFrame(mid="b1", cmd="set-params", data={"mode": 3}),
            CommandFrame(mid="b2", cmd="set-params", data={"lang": "xx"}),
            CommandFrame(mid="b2v", cmd="set-params", data={"vparams": {"vid": "v1"}}),  # not in the voice list
            CommandFrame(mid="b2w", cmd="set-params", data={"vid": "v1"}),
            CommandFrame(mid="b3", cmd="set-params", data={"vparams": {"speed": 2.0}}),
            CommandFrame(mid="b4", cmd="set-params", data={"vparams": "fast"}),
            CommandFrame(mid="b5", cmd="dance"),
        ]
        for frame in bad:
            result = await peer.ack(await peer.command(frame))
            assert result.code == 1003, frame
            assert result.msg
        assert (avatar.mode, avatar.language, avatar.speed) == (1, "af-ZA", 1.1)  # nothing applied
        # mode 1 now: the avatar retells
        await peer.say("retell me")
        await peer.wait_for(lambda: len(peer.messages()) == 1)
        assert peer.messages()[0].text == "retell me"


async def test_set_action() -> None:
    async with Emulator(fast_config()) as emu, client_peer(emu) as peer:
        ok = await peer.ack(await peer.command(set_action(action="nod", expression="happiness")))
        assert ok.code == 1000
        bad = await peer.ack(await peer.command(CommandFrame(mid="x1", cmd="set-action", data={"action": "fly"})))
        assert bad.code == 1003
        avatar = peer.room.avatar
        assert avatar is not None
        assert [(c.cmd, c.code) for c in avatar.commands] == [("set-action", 1000), ("set-action", 1003)]


async def test_injected_user_speech_is_relayed_and_answered_in_mode_2() -> None:
    async with Emulator(fast_config()) as emu, client_peer(emu, mode_type=2) as peer:
        await peer.room.inject_user_speech("hello avatar")
        await peer.wait_for(lambda: len(peer.messages("bot")) == 1)
        assert [m.text for m in peer.messages("user")] == ["hello avatar"]
        assert peer.messages("bot")[0].text == "You said: hello avatar"


async def test_injected_user_speech_in_mode_1_is_not_answered() -> None:
    async with Emulator(fast_config()) as emu, client_peer(emu, mode_type=1) as peer:
        await peer.room.inject_user_speech("just a transcript")
        await peer.wait_for(lambda: len(peer.messages("user")) == 1)
        await peer.say("sync")  # a later retelling proves the avatar did not answer the transcript
        await peer.wait_for(lambda: len(peer.messages("bot")) == 1)
        assert [m.text for m in peer.messages("bot")] == ["sync"]


async def test_chat_message_events_are_codec_messages() -> None:
    async with Emulator(fast_config()) as emu, client_peer(emu, mode_type=1) as peer:
        await peer.say("x")
        await peer.wait_for(lambda: len(peer.messages()) == 1)
        assert isinstance(peer.messages()[0], ChatMessage)
        assert peer.room.avatar is not None
        assert peer.messages()[0].sender == peer.room.avatar.uid


async def test_interrupt_closes_a_streaming_responder() -> None:
    closed = anyio.Event()
    release = anyio.Event()

    async def responder(text: str, info: SessionInfo) -> AsyncIterator[str]:
        try:
            yield "Thinking. "
            await release.wait()  # never set: the stream is still open when the interrupt comes
            yield "never said"
        finally:
            closed.set()

    async with Emulator(fast_config(responder=responder)) as emu, client_peer(emu) as peer:
        await peer.say("question")
        await peer.wait_for(lambda: "audio_start" in peer.avatar_events())
        assert (await peer.ack(await peer.command(interrupt()))).ok
        with anyio.fail_after(5):
            await closed.wait()
        await peer.wait_for(lambda: "audio_end" in peer.avatar_events())
        assert peer.room.avatar is not None
        assert peer.room.avatar.interrupted_count == 1


async def test_a_failing_responder_abandons_only_that_reply(caplog: pytest.LogCaptureFixture) -> None:
    async def responder(text: str, info: SessionInfo) -> str:
        if text == "boom":
            raise RuntimeError("responder bug")
        return "fine"

    async with Emulator(fast_config(responder=responder)) as emu, client_peer(emu) as peer:
        await peer.say("boom")
        await peer.wait_for(lambda: peer.avatar_events() == ["audio_start", "audio_end"])
        await peer.say("ok?")
        await peer.wait_for(lambda: len(peer.messages()) == 1)
        assert peer.messages()[0].text == "fine"
    assert "responder failed" in caplog.text
