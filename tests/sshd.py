"""A real OpenSSH server on 127.0.0.1 for the deploy tests, with throwaway keys.

`running_sshd(folder)` starts `sshd -D -e` on a free port with a temporary
host key and a temporary authorized client key, and yields an `SshServer`
whose `options` are the ssh client arguments (identity, pre-filled
known_hosts, batch mode) that `invoke publish` takes in PUBLISH_SSH_OPTIONS.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port, wait_until_serving

SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:" + os.environ.get("PATH", "")
READY_WITHIN = 20.0  # seconds; only a deadline for start-up, nothing is timed


@dataclass
class SshServer:
    host: str
    port: int
    user: str
    key: Path
    known_hosts: Path
    log: Path

    @property
    def options(self) -> str:
        return shlex.join([
            "-F", "/dev/null",  # no user ssh config can change the test
            "-i", str(self.key), "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
        ])

    def publish_environ(self, remote_path: Path) -> dict[str, str]:
        """The PUBLISH_SSH_* variables that point `invoke publish` at this server."""
        return {
            "PUBLISH_SSH_HOST": self.host,
            "PUBLISH_SSH_PORT": str(self.port),
            "PUBLISH_SSH_USER": self.user,
            "PUBLISH_SSH_PATH": str(remote_path),
            "PUBLISH_SSH_OPTIONS": self.options,
        }


def missing_tools() -> list[str]:
    return [name for name in ("sshd", "ssh", "ssh-keygen", "rsync")
            if shutil.which(name, path=SBIN_PATH) is None]


def _keygen(path: Path) -> None:
    subprocess.run([shutil.which("ssh-keygen", path=SBIN_PATH), "-q", "-t", "ed25519", "-N", "",
                    "-C", "filmreviews-test", "-f", str(path)], check=True)


@contextmanager
def running_sshd(folder: Path, host: str = "127.0.0.1"):
    """Run sshd for the duration of the block; the folder keeps its keys, config and log."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # sshd's privilege separation directory; it refuses to start without it.
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    host_key, client_key = folder / "host_key", folder / "client_key"
    _keygen(host_key)
    _keygen(client_key)
    authorized = folder / "authorized_keys"
    shutil.copy(client_key.with_suffix(".pub"), authorized)
    port = free_port(host)
    known_hosts = folder / "known_hosts"
    public_host_key = host_key.with_suffix(".pub").read_text().split()
    known_hosts.write_text(f"[{host}]:{port} {public_host_key[0]} {public_host_key[1]}\n")
    config = folder / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}",
        f"ListenAddress {host}",
        f"HostKey {host_key}",
        f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized}",
        "StrictModes no",  # the temporary folder's modes are not ssh's business here
        "UsePAM no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",  # tests run as root in CI
        "LogLevel VERBOSE",
    ]) + "\n")
    log = folder / "sshd.log"
    sshd = shutil.which("sshd", path=SBIN_PATH)
    with log.open("w") as log_file:
        process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)],
                                   stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_until_serving("sshd", host, port, process, log, greeting=b"SSH-", within=READY_WITHIN)
        yield SshServer(host, port, getpass.getuser(), client_key, known_hosts, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
