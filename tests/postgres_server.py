"""A throwaway PostgreSQL cluster for the tests and benchmarks: Debian's
``postgresql`` package's own ``initdb`` and ``postgres``, a fresh data folder
in a temporary directory, listening on 127.0.0.1 (and a Unix socket in that
directory) on a free port, never touching a system cluster.

PostgreSQL refuses to run as root; as root the server runs as the
``postgres`` user the package creates (via ``runuser``).

    with PostgresServer.start() as server:
        url = server.new_database()   # postgresql://reelnotes@127.0.0.1:PORT/test_1
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

SUPERUSER = "reelnotes"
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
INSTALL_HINT = ("PostgreSQL's server programs (initdb, pg_ctl) are not installed: "
                "apt-get install postgresql (bash bootstrap.sh test does)")


class PostgresUnavailable(RuntimeError):
    pass


def server_bindir() -> Path:
    """The folder with initdb and pg_ctl: on PATH, or Debian's
    /usr/lib/postgresql/<version>/bin (the newest)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if not versions:
        raise PostgresUnavailable(INSTALL_HINT)
    return Path(versions[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    def __init__(self, folder: Path, port: int, bindir: Path, run_as: str | None):
        self.folder = folder
        self.port = port
        self.bindir = bindir
        self.run_as = run_as
        self._count = 0
        self._lock = threading.Lock()

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, cwd=self.folder, **kwargs)

    @classmethod
    def start(cls, folder: Path | None = None, settings: dict | None = None) -> PostgresServer:
        """A new cluster; ``settings``: server settings (default ``FAST``:
        nothing is flushed to disk -- a throwaway database)."""
        bindir = server_bindir()
        folder = Path(folder or tempfile.mkdtemp(prefix="reelnotes-pg-"))
        run_as = None
        if os.geteuid() == 0:
            run_as = "postgres" if _user_exists("postgres") else "nobody"
            os.chown(folder, pwd.getpwnam(run_as).pw_uid, -1)
        server = cls(folder, free_port(), bindir, run_as)
        try:
            server._run("initdb", "-D", str(server.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync")
            chosen = {"max_connections": "200", **(FAST if settings is None else settings)}
            options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 " + " ".join(
                f"-c {name}={value}" for name, value in chosen.items())
            server._run("pg_ctl", "-D", str(server.data), "-l", str(folder / "server.log"), "-w", "-t", "60",
                        "-o", options, "start")
        except subprocess.CalledProcessError as exc:
            log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
            shutil.rmtree(folder, ignore_errors=True)
            raise PostgresUnavailable(f"cannot start PostgreSQL: {exc.stderr or exc.stdout}{log}") from None
        return server

    def new_database(self, prefix: str = "test") -> str:
        """An empty database of its own; its URL."""
        import psycopg

        with self._lock:
            self._count += 1
            name = f"{prefix}_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
