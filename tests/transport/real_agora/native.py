"""Build the C stand-in for Agora's native library (``native_stub.c``) with the system compiler, cached per user.

The SDK's Python wrapper binds a few hundred C symbols when its modules are imported; the data-stream path needs
about thirty of them, which ``native_stub.c`` implements. The rest are generated here, at test time, as no-ops that
record their call and return 0 (``NULL`` for handles), from the names the fetched sdist binds (``agora_lib.<name>``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.transport.real_agora.sdist import cache_dir

__all__ = ("NativeUnavailable", "build_native_stub")

STUB_SOURCE = Path(__file__).with_name("native_stub.c")
_BOUND = re.compile(r"\bagora_lib\.([A-Za-z_]\w*)")
_DEFINED = re.compile(r"^[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\([^;]*\)\s*\{", re.MULTILINE)


class NativeUnavailable(Exception):
    """No C compiler, or the build failed; the message is the one-line skip reason."""


def _bound_symbols(sdist: Path) -> list[str]:
    names: set[str] = set()
    for path in sorted((sdist / "agora" / "rtc").rglob("*.py")):
        names.update(_BOUND.findall(path.read_text(encoding="utf-8")))
    return sorted(names)


def _generated_source(sdist: Path, stub: str) -> str:
    defined = set(_DEFINED.findall(stub))
    lines = ["/* Generated at test time: no-op stand-ins for the symbols native_stub.c does not implement. */"]
    lines.append("void stub_note(const char *name);")
    for name in _bound_symbols(sdist):
        if name not in defined:
            lines.append(f'long long {name}(void) {{ stub_note("{name}"); return 0; }}')
    return "\n".join(lines) + "\n"


def build_native_stub(sdist: Path) -> tuple[Path, Path]:
    """Compile the stub (once per source and compiler) and return ``(libagora_rtc_sdk.so, libaosl.so)`` paths.

    Raises:
        NativeUnavailable: no C compiler on ``PATH`` (``$CC`` or ``cc``), or compiling failed.
    """
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise NativeUnavailable("no C compiler (cc) on PATH to build the native stand-in")
    stub = STUB_SOURCE.read_text(encoding="utf-8")
    generated = _generated_source(sdist, stub)
    key = hashlib.sha256(f"{compiler}\0{stub}\0{generated}".encode()).hexdigest()[:16]
    out = cache_dir() / "agora-native-stub" / key
    rtc, aosl = out / "libagora_rtc_sdk.so", out / "libaosl.so"
    if rtc.is_file() and aosl.is_file():
        return rtc, aosl
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as scratch:
        work = Path(scratch)
        (work / "generated.c").write_text(generated)
        (work / "empty.c").write_text("int streamclient_aosl_stand_in;\n")
        flags = ["-shared", "-fPIC", "-O1", "-pthread", "-Wall", "-Werror"]
        for target, sources in (
            (work / rtc.name, [str(STUB_SOURCE), str(work / "generated.c")]),
            (work / aosl.name, [str(work / "empty.c")]),
        ):
            try:
                result = subprocess.run(
                    [compiler, *flags, "-o", str(target), *sources],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise NativeUnavailable(f"the C compiler {compiler} could not run: {exc}") from exc
            if result.returncode != 0:
                raise NativeUnavailable(f"building the native stand-in failed: {result.stderr.strip()[:300]}")
        for built in (aosl, rtc):  # rtc last: its presence means the pair is complete
            os.replace(work / built.name, built)
    return rtc, aosl
