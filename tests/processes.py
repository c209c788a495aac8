"""Starting real servers for tests: a free port, and waiting until one answers."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_until_serving(name: str, host: str, port: int, process: subprocess.Popen, log: Path,
                       greeting: bytes = b"", within: float = 30.0) -> None:
    """Return once `process` accepts connections on host:port (and, with
    `greeting`, its first bytes start with it). A process that exits or never
    answers raises RuntimeError with its log. `within` is only a start-up
    deadline: nothing is timed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection((host, port), timeout=1) as conn:
                if not greeting or conn.recv(64).startswith(greeting):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not answer on {host}:{port}:\n{log.read_text()}")
