"""The keyword arguments of connect / set_params / set_action are typed: a typo fails mypy and raises at run time."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streamclient.api import AsyncAkoolClient
from streamclient.api.sessions import Sessions
from streamclient.codec import set_params as codec_set_params
from streamclient.emulator.handles import EmulatorHandle
from streamclient.errors import InvalidArgumentError
from streamclient.session import CommandParams, CreateOptions, connect
from streamclient.session.sync import connect_sync

ROOT = Path(__file__).resolve().parents[2]
AVATAR = "dvp_Tristan_cloth2_1080P"


def keyword_names(func: Any, *, without: set[str]) -> set[str]:
    params = inspect.signature(func).parameters.values()
    return {p.name for p in params if p.kind is p.KEYWORD_ONLY} - without


def test_create_options_are_the_fields_of_sessions_create() -> None:
    assert set(CreateOptions.__optional_keys__) == keyword_names(Sessions.create, without=set())


def test_command_params_are_the_fields_of_the_codec_command() -> None:
    assert set(CommandParams.__optional_keys__) == keyword_names(codec_set_params, without={"mid"})


def test_a_misspelt_create_option_raises_before_anything_is_sent() -> None:
    client = AsyncAkoolClient(api_key="unused", base_url="http://127.0.0.1:9")
    with pytest.raises(InvalidArgumentError, match=r"connect\(\) got an unknown argument 'mode_typ': did you mean"):
        connect(client, avatar_id=AVATAR, mode_typ=1)  # type: ignore[call-arg]
    with pytest.raises(InvalidArgumentError, match=r"'zzz': expected one of .*mode_type"):
        connect(client, avatar_id=AVATAR, zzz=1)  # type: ignore[call-arg]


def test_a_misspelt_option_of_connect_sync_raises(akool_emulator: EmulatorHandle) -> None:
    with pytest.raises(InvalidArgumentError, match="'duraton': did you mean 'duration'"):
        with connect_sync(akool_emulator.api_key, base_url=akool_emulator.base_url, avatar_id=AVATAR, duraton=60):  # type: ignore[call-arg]
            pass
    assert akool_emulator.open_session_count() == 0


async def test_misspelt_command_arguments_raise_and_send_nothing(
    akool_emulator: EmulatorHandle, akool_client: AsyncAkoolClient
) -> None:
    async with connect(akool_client, avatar_id=AVATAR, mode_type=1, duration=60) as session:
        with pytest.raises(
            InvalidArgumentError, match=r"set_params\(\) got an unknown argument 'langauge'.*'language'"
        ):
            await session.set_params(langauge="es")  # type: ignore[call-arg]
        with pytest.raises(InvalidArgumentError, match=r"set_action\(\) got an unknown argument 'expresion'"):
            await session.set_action("nod", expresion="happiness")  # type: ignore[call-arg]
        assert session.stats.commands_sent == 0
        assert (await session.set_params(language="es")).ok  # the right spelling still works
        assert (await session.set_action("nod", expression="happiness")).ok


def test_misspelt_command_arguments_raise_in_the_sync_facade(akool_emulator: EmulatorHandle) -> None:
    with connect_sync(
        akool_emulator.api_key, base_url=akool_emulator.base_url, avatar_id=AVATAR, mode_type=1
    ) as session:
        with pytest.raises(InvalidArgumentError, match="'langauge'"):
            session.set_params(langauge="es")  # type: ignore[call-arg]
        with pytest.raises(InvalidArgumentError, match="'expresion'"):
            session.set_action("nod", expresion="happiness")  # type: ignore[call-arg]
        assert session.set_action("nod").ok


SNIPPET = """
from streamclient.api import AsyncAkoolClient
from streamclient.session import AvatarSession, connect
from streamclient.session.sync import connect_sync


def good(client: AsyncAkoolClient) -> AvatarSession:
    return connect(client, avatar_id="a", mode_type=1, duration=60, voice_params={"speed": 1.0})


def bad(client: AsyncAkoolClient) -> AvatarSession:
    return connect(client, avatar_id="a", mode_typ=1)


async def commands(session: AvatarSession) -> None:
    await session.set_params(language="es", speed=1.1)
    await session.set_params(langauge="es")
    await session.set_action("nod", expresion="happiness")


def sync_bad() -> None:
    with connect_sync(avatar_id="a", duraton=60):
        pass
"""


@pytest.mark.timeout(300)
def test_mypy_rejects_misspelt_keywords(tmp_path: Path) -> None:
    snippet = tmp_path / "user_code.py"
    snippet.write_text(SNIPPET, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--hide-error-context", str(snippet)],
        cwd=ROOT,  # our config (pydantic plugin) and the mypy cache `make typecheck` filled
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    errors = [line.split(":", 1)[1] for line in done.stdout.splitlines() if ": error: " in line]
    expected = [
        '12: error: Unexpected keyword argument "mode_typ" for "connect"',
        '17: error: Unexpected keyword argument "langauge" for "set_params" of "AvatarSession"',
        '18: error: Unexpected keyword argument "expresion" for "set_action" of "AvatarSession"',
        '22: error: Unexpected keyword argument "duraton" for "connect_sync"',
    ]
    assert len(errors) == len(expected), done.stdout + done.stderr  # the well-spelt calls pass
    for error, start in zip(errors, expected, strict=True):
        assert error.startswith(start), done.stdout
