"""One receiver instance in a process of its own, as production runs several:
``linkbacks.server.serve`` (what ``invoke linkbacks.serve`` runs) on a port
of 127.0.0.1, with sources on loopback allowed (the test blogs live there).

    python -m tests.linkbacks.instance --db URL --reviews-json FILE --port N [--workers 2] ...

``Instance.start(...)`` runs that and waits until it listens; ``stop()``
interrupts it (Ctrl-C: it finishes and gives back its claims), ``kill()``
is ``kill -9`` (it dies holding whatever it claimed).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Instance:
    def __init__(self, process: subprocess.Popen, port: int, log: Path):
        self.process = process
        self.port = port
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, db, reviews_json: Path, log: Path, *, workers: int = 2, lease: float = 60.0,
              poll: float = 1.0, ip_limit: str = "1000000/1", pair_limit: str = "1000000/1") -> Instance:
        port = free_port()
        command = [sys.executable, "-m", "tests.linkbacks.instance", "--db", str(db),
                   "--reviews-json", str(reviews_json), "--port", str(port), "--workers", str(workers),
                   "--lease", str(lease), "--poll", str(poll), "--ip-limit", ip_limit, "--pair-limit", pair_limit]
        with open(log, "ab") as output:
            process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1"})
        instance = cls(process, port, log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the instance exited ({process.returncode}): {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return instance
            except OSError:
                time.sleep(0.05)
        instance.kill()
        raise RuntimeError(f"the instance never listened on {port}: {log.read_text()[-2000:]}")

    def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _limit(text: str):
    from linkbacks.limits import RateLimit

    requests, _, seconds = text.partition("/")
    return RateLimit(int(requests), float(seconds))


def main(argv=None) -> None:
    from linkbacks.app import Config
    from linkbacks.server import serve

    parser = argparse.ArgumentParser(description="one receiver instance on 127.0.0.1 (tests and benchmarks)")
    parser.add_argument("--db", required=True)
    parser.add_argument("--reviews-json", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--site-url", default="https://example.org")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lease", type=float, default=60.0)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--ip-limit", default="1000000/1")
    parser.add_argument("--pair-limit", default="1000000/1")
    args = parser.parse_args(argv)
    limit = _limit("1000000/1")
    config = Config(db_path=args.db, reviews_json=Path(args.reviews_json), site_url=args.site_url,
                    allow_loopback=True, ip_limit=_limit(args.ip_limit), pair_limit=_limit(args.pair_limit),
                    status_limit=limit, webmention_workers=args.workers, webmention_lease=args.lease,
                    webmention_poll=args.poll)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    serve(config, "127.0.0.1", args.port)


if __name__ == "__main__":
    main()
