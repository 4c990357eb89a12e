"""The inspector's doors: ``emulator`` and ``demo`` print its URL (``demo --linger`` keeps it up), and
``frames view FILE.jsonl`` serves it on a recording; each runs as a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("AKOOL_")} | {"COLUMNS": "200"}
CLI = [sys.executable, "-c", "import sys; from streamclient.cli import main; sys.argv[0] = 'streamclient'; main()"]
URL = re.compile(r"(http://127\.0\.0\.1:\d+/inspector/)")


@contextmanager
def serving(*args: str) -> Iterator[tuple[str, list[str]]]:
    """Run the command until it prints the inspector's URL; yield it and the lines so far; then Ctrl-C it."""
    proc = subprocess.Popen([*CLI, *args], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line)
            if (found := URL.search(line)) is not None:
                break
        else:
            pytest.fail(f"no inspector URL in {lines!r}: {proc.stderr.read() if proc.stderr else ''}")
        yield found.group(1), lines
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.timeout(60)
def test_the_emulator_prints_the_inspector_url() -> None:
    with serving("emulator", "--api-key", "cli-key") as (url, _):
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert "<title>streamclient inspector</title>" in page.text
        assert httpx.get(url + "api/snapshot", timeout=10).json()["live"] is True


@pytest.mark.timeout(60)
def test_frames_view_serves_a_recording(tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    frame = '{"v":2,"type":"chat","mid":"m","idx":0,"fin":true,"pld":{"text":"from the file"}}'
    recording.write_text(json.dumps({"t": 0.1, "dir": "out", "sender": "7", "frame": frame}) + "\n", encoding="utf-8")
    with serving("frames", "view", str(recording)) as (url, lines):
        assert "1 records" in "".join(lines)
        snap = httpx.get(url + "api/snapshot", params={"room": "recording"}, timeout=10).json()
        assert snap["live"] is False
        assert [i["text"] for i in snap["items"] if i["k"] == "say"] == ["from the file"]


def test_frames_view_of_a_missing_file_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "frames", "view", str(tmp_path / "nope.jsonl")], env=ENV, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "no such file" in done.stderr


@pytest.mark.timeout(90)
def test_demo_prints_the_inspector_and_lingers() -> None:
    done = subprocess.run(
        [*CLI, "demo", "--speech-cps", "2000", "--linger", "0.2"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=80,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert URL.search(done.stdout) is not None
    assert "the inspector stays up for 0.2 s" in done.stdout
