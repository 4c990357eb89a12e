"""say_stream benchmark: how soon a streamed LLM answer reaches the transport.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_say_stream.py [sentences]``. Not part of CI's pass/fail.

Both parts open an ``AvatarSession`` over a loopback transport that timestamps every frame it accepts (Agora's
limits: 6000 B/s, 30 messages/s, 1024 B frames), with a peer that speaks every chat message back at once.

1. Sentence latency: a fake LLM streams ``SENTENCES`` sentences word by word (a token every 5 ms, ~12 sentences a
   second, under the 30 messages/s budget), the final mark (``.``, ``!``, ``?``) as a token of its own, like
   LLM tokenizers. Measured: ``perf_counter`` just before the generator yields the token that completes a sentence
   -> ``perf_counter`` when the transport received the first frame of that sentence's chat message. Target
   (issue 15): p99 under 2 ms.
2. First words: an answer of ~150 tokens streamed at 50 tokens a second (a typical hosted LLM). ``say_stream`` vs a
   naive bot that collects the whole answer and then calls ``say``. Measured: first token yielded -> first frame at
   the transport, and -> the last frame of the answer at the transport.
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator

import anyio
from _common import FakeClient, RecordingTransport, machine, percentile, print_table

from streamclient.codec import ChatFrame, ChatMessage, ProtocolConnection, Role, decode_frame
from streamclient.session import SessionOptions, connect
from streamclient.transport.base import FrameReceived, JoinParams
from streamclient.transport.loopback import LoopbackTransport

SENTENCES = int(sys.argv[1]) if len(sys.argv) > 1 else 300
OPTIONS = SessionOptions(avatar_join_timeout=5, command_timeout=5, close_timeout=2, reply_timeout=30)
WORDS = (
    "streaming avatars speak the words of a language model as soon as each sentence of its answer is complete".split()
)
ANSWER = (
    "A streaming avatar is a digital human that speaks and moves in real time. "
    "You send it text, and it answers with a voice and a face that match the words. "
    "Because it renders as it speaks, a conversation with it feels natural and quick. "
    "Bots usually pair it with a language model that writes the answer. "
    "The model streams its answer token by token, and the avatar can start with the first sentence. "
    "That way the user hears the beginning of the answer while the rest is still being written, "
    "which cuts the waiting time from seconds to a fraction of a second. "
    "If the user interrupts, the bot stops the avatar and stops reading the model's stream."
)
ANSWER_TOKENS = re.findall(r"\s*\w+|\s*[^\w\s]", ANSWER)
TOKEN_RATE = 50.0  # tokens per second


async def echo_peer(
    transport: LoopbackTransport, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Join as the avatar and speak every complete chat message back at once (no audio events)."""
    conn = ProtocolConnection(Role.AVATAR)
    await transport.join(JoinParams(app_id="app", channel="channel", uid="avatar-7", token="t"))
    task_status.started()
    async for event in transport.events():
        if not isinstance(event, FrameReceived):
            continue
        conn.receive_data(event.data, sender=event.sender, now=anyio.current_time())
        for ev in conn.events_received():
            if isinstance(ev, ChatMessage):
                conn.send_chat(ev.text)
        for datagram in conn.data_to_send(anyio.current_time()):
            await transport.send(datagram)


def first_frames(transport: RecordingTransport) -> list[tuple[float, str]]:
    """``(time, mid)`` of the first frame of each chat message, in order."""
    seen: set[str] = set()
    out: list[tuple[float, str]] = []
    for t, data in transport.sent:
        frame = decode_frame(data)
        if isinstance(frame, ChatFrame) and frame.mid not in seen:
            seen.add(frame.mid)
            out.append((t, frame.mid))
    return out


async def sentence_latency(count: int) -> tuple[list[float], int, int]:
    """Part 1: (latencies in seconds, sentences, pieces sent)."""
    rng = random.Random(15)
    completed_at: list[float] = []

    async def llm() -> AsyncIterator[str]:
        for _ in range(count):
            words = rng.sample(WORDS, rng.randint(5, 12))
            for i, word in enumerate(words):
                await anyio.sleep(0.005)
                yield (" " if i else "") + (word.capitalize() if i == 0 else word)
            await anyio.sleep(0.005)
            completed_at.append(time.perf_counter())
            yield rng.choice(".!?")
            await anyio.sleep(0.005)
            yield " "

    transport, peer = RecordingTransport.recording_pair()
    async with anyio.create_task_group() as tg:
        await tg.start(echo_peer, peer)
        async with connect(FakeClient().typed(), avatar_id="a", transport=transport, options=OPTIONS) as session:
            result = await session.say_stream(llm())
        tg.cancel_scope.cancel()
    frames = first_frames(transport)
    assert len(frames) == count, (len(frames), count)
    assert not result.interrupted
    return [t - c for (t, _), c in zip(frames, completed_at, strict=True)], count, len(frames)


async def first_words(streamed: bool) -> tuple[float, float, float, bool]:
    """Part 2, one trial: first token -> first frame, first token -> last frame, last token -> last frame (seconds),
    and whether the reply is the whole answer.
    """
    stamps: list[float] = []

    async def llm() -> AsyncIterator[str]:
        for token in ANSWER_TOKENS:
            await anyio.sleep(1 / TOKEN_RATE)
            stamps.append(time.perf_counter())
            yield token

    transport, peer = RecordingTransport.recording_pair()
    async with anyio.create_task_group() as tg:
        await tg.start(echo_peer, peer)
        async with connect(FakeClient().typed(), avatar_id="a", transport=transport, options=OPTIONS) as session:
            if streamed:
                result = await session.say_stream(llm())
            else:
                answer = "".join([token async for token in llm()])
                result = await session.say(answer)
        tg.cancel_scope.cancel()
    first, last = transport.sent[0][0], transport.sent[-1][0]
    return first - stamps[0], last - stamps[0], last - stamps[-1], result.reply == ANSWER


async def main_async() -> None:
    """Run both parts and print the table."""
    print(machine())
    latencies, sentences, pieces = await sentence_latency(SENTENCES)
    ms = [x * 1000 for x in latencies]
    trials = 3
    streamed = [await first_words(True) for _ in range(trials)]
    naive = [await first_words(False) for _ in range(trials)]
    first_s = statistics.median(x[0] for x in streamed)
    first_n = statistics.median(x[0] for x in naive)
    last_s = statistics.median(x[1] for x in streamed)
    last_n = statistics.median(x[1] for x in naive)
    tail_s = statistics.median(x[2] for x in streamed)
    tail_n = statistics.median(x[2] for x in naive)
    answer_ok = all(x[3] for x in streamed + naive)
    tokens = len(ANSWER_TOKENS)
    rows = [
        ("sentences streamed (token every 5 ms)", f"{sentences}", f"{pieces} chat messages, one per sentence"),
        ("completing token -> first frame, p50", f"{percentile(ms, 50):.3f} ms", ""),
        ("completing token -> first frame, p99", f"{percentile(ms, 99):.3f} ms", "target < 2 ms"),
        ("completing token -> first frame, max", f"{max(ms):.3f} ms", ""),
        (f"answer: {tokens} tokens at {TOKEN_RATE:g}/s, {len(ANSWER)} chars", f"{trials} trials", "medians below"),
        ("first token -> first frame, say_stream", f"{first_s * 1000:.0f} ms", ""),
        ("first token -> first frame, naive say", f"{first_n * 1000:.0f} ms", "waits for the whole answer"),
        ("first frame: naive / say_stream", f"{first_n / first_s:.1f}x", "sooner with say_stream"),
        ("first token -> last frame, say_stream", f"{last_s * 1000:.0f} ms", ""),
        ("first token -> last frame, naive say", f"{last_n * 1000:.0f} ms", ""),
        ("last token -> last frame, say_stream", f"{tail_s * 1000:.2f} ms", ""),
        ("last token -> last frame, naive say", f"{tail_n * 1000:.2f} ms", ""),
        ("reply == answer in every trial", f"{answer_ok}", ""),
    ]
    print_table(rows)
    if percentile(ms, 99) >= 2 or not answer_ok:
        print("MISSED a target")


if __name__ == "__main__":
    anyio.run(main_async)
