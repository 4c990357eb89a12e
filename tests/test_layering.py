"""The layering rules of house-style.md §2.2, checked on the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "streamclient"

# The codec is pure: these stdlib modules, pydantic, and streamclient.errors / streamclient.codec only.
CODEC_ALLOWED = {
    "__future__",
    "base64",
    "collections",
    "dataclasses",
    "enum",
    "functools",
    "itertools",
    "json",
    "math",
    "operator",
    "re",
    "secrets",
    "typing",
    "uuid",
    "pydantic",
    "pydantic_core",
    "streamclient.errors",
    "streamclient.codec",
}

# Token minting is pure too: hashing and packing, no I/O (it reads the clock only when the caller gives no time).
TOKENS_ALLOWED = {
    "__future__",
    "base64",
    "binascii",
    "collections",
    "dataclasses",
    "enum",
    "hashlib",
    "hmac",
    "secrets",
    "struct",
    "time",
    "typing",
    "zlib",
    "streamclient.errors",
    "streamclient.tokens",
}

FORBIDDEN = {
    "errors": {
        "streamclient.codec",
        "streamclient.api",
        "streamclient.transport",
        "streamclient.session",
    },
    "api": {
        "streamclient.transport",
        "streamclient.session",
        "streamclient.emulator",
        "streamclient.cli",
    },
    "transport": {
        "streamclient.api",
        "streamclient.session",
        "streamclient.emulator",
        "streamclient.cli",
    },
    "session": {"streamclient.emulator", "streamclient.cli"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _allowed(module: str, allowed: set[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


@pytest.mark.parametrize("path", sorted((PACKAGE / "codec").rglob("*.py")), ids=lambda p: p.name)
def test_codec_imports_only_the_allow_list(path: Path) -> None:
    bad = {m for m in _imports(path) if not _allowed(m, CODEC_ALLOWED)}
    assert not bad, f"{path.name} imports {sorted(bad)}: the codec must stay sans-I/O"


@pytest.mark.parametrize("path", sorted((PACKAGE / "tokens").rglob("*.py")), ids=lambda p: p.name)
def test_tokens_import_only_the_allow_list(path: Path) -> None:
    bad = {m for m in _imports(path) if not _allowed(m, TOKENS_ALLOWED)}
    assert not bad, f"{path.name} imports {sorted(bad)}: token minting must stay pure"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_do_not_import_upward(layer: str) -> None:
    target = PACKAGE / layer
    files = sorted(target.rglob("*.py")) if target.is_dir() else [PACKAGE / f"{layer}.py"]
    for path in files:
        if not path.exists():
            continue
        bad = {m for m in _imports(path) if _allowed(m, FORBIDDEN[layer])}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_import_streamclient_does_not_import_the_sdk_or_the_cli() -> None:
    # (rich is not checked: httpx imports it for its own CLI whenever it is installed.)
    import subprocess
    import sys

    code = (
        "import sys, streamclient, streamclient.transport, streamclient.codec, streamclient.api\n"
        "bad = [m for m in ('agora', 'typer', 'starlette', 'uvicorn', 'websockets') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _imports_pipecat(path: Path) -> bool:
    return any(m == "pipecat" or m.startswith("pipecat.") for m in _imports(path))


def test_only_the_pipecat_integration_imports_pipecat() -> None:
    root = PACKAGE.parent
    allowed = {PACKAGE / "integrations" / "pipecat", root / "tests" / "integrations"}
    files = [*PACKAGE.rglob("*.py"), *(root / "tests").rglob("*.py"), *(root / "examples").rglob("*.py")]
    bad = [
        str(path.relative_to(root))
        for path in files
        if _imports_pipecat(path)
        and not any(a in path.parents for a in allowed)
        and path != root / "examples" / "pipecat_bot.py"
    ]
    assert not bad, f"{bad} import pipecat: only streamclient.integrations.pipecat may (the extra is optional)"


def test_importing_every_other_module_leaves_pipecat_unloaded() -> None:
    import subprocess
    import sys

    modules = sorted(
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
        if "integrations" not in path.parts
    )
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nassert 'pipecat' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True)
