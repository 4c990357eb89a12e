"""Log everything a session does as JSON lines: bot text, user transcripts, speaking state, acks.

Run: python examples/transcript_logger.py [OUTPUT.jsonl]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import anyio

from examples._target import AVATAR_ID, target
from streamclient.session import BotMessage, SessionEvent, UserTranscript, connect


def as_json(event: SessionEvent, now: float) -> str:
    record = {"t": round(now, 3), "type": type(event).__name__, **dataclasses.asdict(event)}
    return json.dumps(record, ensure_ascii=False)


async def main(output: Path | None) -> None:
    async with target() as (client, _emulator):
        session = connect(client, avatar_id=AVATAR_ID, duration=120, mode_type=2)
        events = session.events()
        lines: list[str] = []
        async with anyio.create_task_group() as tg:

            async def log_all() -> None:
                async for event in events:  # ends when the session closes
                    lines.append(as_json(event, anyio.current_time()))
                    if isinstance(event, (BotMessage, UserTranscript)):
                        print(lines[-1])

            tg.start_soon(log_all)
            async with session:
                await session.ask("What can you do?")
                await session.ask("Tell me more, please.")
        if output is not None:
            await anyio.Path(output).write_text("\n".join(lines) + "\n", encoding="utf-8")
            print(f"{len(lines)} events written to {output}")


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]) if len(sys.argv) > 1 else None)
