"""The emulator's house: no import circles between its modules (the room does not know what an avatar is)."""

from __future__ import annotations

import ast
from pathlib import Path

import streamclient.emulator

PACKAGE = Path(streamclient.emulator.__file__).parent
PREFIX = "streamclient.emulator."


def _imports(path: Path) -> set[str]:
    """The emulator modules ``path`` imports, ``TYPE_CHECKING`` imports included (a circle for a reader too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(n.removeprefix(PREFIX) for n in names if n.startswith(PREFIX) and n.count(".") == 2)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {m: _imports(PACKAGE / f"{m}.py") & modules for m in modules}


def test_the_room_does_not_know_what_an_avatar_is() -> None:
    graph = _graph()
    assert "avatar" not in graph["room"]
    assert "avatar_room" not in graph["room"]


def test_no_module_of_the_emulator_imports_itself_back() -> None:
    graph = _graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert circles == []
