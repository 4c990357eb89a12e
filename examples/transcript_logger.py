"""Log everything a session does as JSON lines: bot text, user transcripts, speaking state, acks.

Run: python examples/transcript_logger.py [OUTPUT.jsonl]
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from streamclient.api import AsyncAkoolClient
from streamclient.session import BotMessage, SessionEvent, UserTranscript, connect

if TYPE_CHECKING:
    from streamclient.emulator import Emulator

AVATAR_ID = os.environ.get("AKOOL_AVATAR_ID", "dvp_Tristan_cloth2_1080P")


@asynccontextmanager
async def akool() -> AsyncIterator[tuple[AsyncAkoolClient, Emulator | None]]:
    """The AKOOL service when credentials are set (AKOOL_API_KEY); otherwise a local emulator (``emulator`` extra)."""
    if os.environ.get("AKOOL_API_KEY") or os.environ.get("AKOOL_CLIENT_ID"):
        async with AsyncAkoolClient() as client:
            yield client, None
        return
    from streamclient.emulator import Emulator, EmulatorConfig

    async with Emulator(EmulatorConfig(avatar_join_delay=0.05, speech_chars_per_second=400.0)) as emulator:
        print(f"(no AKOOL_API_KEY: running against a local emulator at {emulator.base_url})")
        async with AsyncAkoolClient(api_key=emulator.api_key, base_url=emulator.base_url) as client:
            yield client, emulator


def as_json(event: SessionEvent, now: float) -> str:
    record = {"t": round(now, 3), "type": type(event).__name__, **dataclasses.asdict(event)}
    return json.dumps(record, ensure_ascii=False)


async def main(output: Path | None) -> None:
    async with akool() as (client, _emulator):
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
