"""The moderation queue on the web server, reached from the writer's machine
over SSH -- the access ``invoke publish`` already uses, and no other way in.

``RemoteQueue.run(argv)`` runs ``<LINKBACKS_REMOTE_PYTHON> -m linkbacks.cli
<argv> --db <LINKBACKS_REMOTE_DB> --json`` on the server with ``ssh`` (the
user's own ssh, keys and known_hosts; ``BatchMode`` so it never stops to ask
for a password) and returns the JSON payload it printed. The receiver has
no HTTP route for any of this: without the writer's SSH credentials nobody
can list, approve or read pending responses.
"""

from __future__ import annotations

import json
import shlex
import subprocess

from reelnotes.settings import RemoteModeration

SSH_TIMEOUT = 300.0  # reverify fetches every approved source; the rest takes a second


class RemoteQueueError(Exception):
    """The command could not be run on the server, or said no; the message is for the user."""


class RemoteQueue:
    """The moderation queue in the receiver's database on the server."""

    def __init__(self, remote: RemoteModeration, ssh: str = "ssh", timeout: float = SSH_TIMEOUT):
        self.remote = remote
        self.ssh = ssh
        self.timeout = timeout

    def command(self, argv: list[str]) -> list[str]:
        """The ssh command line. The remote command is one shell-quoted
        string: the server's shell sees each argument as one word."""
        r = self.remote
        remote_command = shlex.join([r.python, "-m", "linkbacks.cli", *argv, "--db", r.db, "--json"])
        return [self.ssh, "-p", str(r.port), "-o", "BatchMode=yes", *r.ssh_options, "--",
                f"{r.user}@{r.host}", remote_command]

    def run(self, argv: list[str]) -> dict:
        where = f"{self.remote.user}@{self.remote.host} (port {self.remote.port})"
        try:
            done = subprocess.run(self.command(argv), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=self.timeout)
        except FileNotFoundError:
            raise RemoteQueueError("Moderating on the server needs ssh: install the OpenSSH client "
                                   "(Debian/Ubuntu: apt-get install openssh-client), or use --local") from None
        except subprocess.TimeoutExpired:
            raise RemoteQueueError(f"{where} did not answer within {self.timeout:g} s") from None
        payload = _json(done.stdout)
        if done.returncode == 0 and payload is not None and "error" not in payload:
            return payload
        if payload is not None and isinstance(payload.get("error"), str):
            raise RemoteQueueError(f"On the server: {payload['error']}")
        detail = _last_line(done.stderr) or _last_line(done.stdout) or f"exit status {done.returncode}"
        if done.returncode == 255:  # ssh's own failure: connection, host key or authentication
            raise RemoteQueueError(
                f"Cannot reach {where} over SSH: {detail}. Check PUBLISH_SSH_HOST, PUBLISH_SSH_PORT, "
                "PUBLISH_SSH_USER and PUBLISH_SSH_OPTIONS in publishconf.py, or use --local")
        raise RemoteQueueError(
            f"The moderation command failed on {where}: {detail}. Check LINKBACKS_REMOTE_PYTHON "
            f"({self.remote.python!r}: the Python of the virtualenv the receiver runs from)")


def _json(text: str) -> dict | None:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        payload = json.loads(lines[-1])  # a login banner or motd may come first
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _last_line(text: str) -> str:
    from .listing import terminal_text

    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return terminal_text(lines[-1], 300) if lines else ""
